"""The workflow on a real single-node SLURM cluster (tests/cluster/slurm_cluster.sh), through profiles/slurm.

Runs where the cluster can be brought up (root, and slurm installed or apt-get available: CI); elsewhere
it is skipped with the reason. `make test-cluster` runs only this file.
"""

import csv
import json
import os
import subprocess
import time

import mlflow
import pytest
import yaml

from sqs.study.grid import is_variant
from workflow_helpers import ROOT, TINY, run_config

CLUSTER = ROOT / "tests/cluster/slurm_cluster.sh"
# The profile as users run it, plus what this cluster needs: no accounts, squeue polling, quick first poll.
SLURM_ARGS = (
    "--profile", str(ROOT / "profiles/slurm"), "--slurm-no-account", "--slurm-status-command", "squeue",
    "--slurm-init-seconds-before-status-checks", "5", "--jobs", "4", "--latency-wait", "5",
)  # fmt: skip
# The tiny config's plain cells at one temperature, each its own SLURM job: what the local run
# (tests/conftest.py) must reproduce cell for cell. (The variant cells are decoding jobs like these; their
# tokens follow measured timings, so they are run locally only.)
SLURM_TINY = {
    **TINY,
    "grid": {**TINY["grid"], "temperatures": [1.0], "adaptive": {"schemes": []}, "preemptive": {"schemes": []}},
}
N_SLURM_CELLS = 5  # ar, c-sqs, k-sqs, qs, top-p
# Same prompts, seeds and tokens on both sides: these columns must agree exactly (the wall clock may not).
DETERMINISTIC = (
    "scheme temperature K beta0 eta top_p n_tokens n_batches resampling_rate mean_accept_len draft_accept_rate "
    "accept_rate_pos1 uplink_bits_per_token dropped_mass expected_rejections bound_theorem1 "
    "latency_s tokens_per_s"  # priced by the compute profile: the same on every machine (issue #17)
).split()


def _cluster_possible() -> str | None:
    if os.environ.get("SQS_SKIP_CLUSTER"):
        return "SQS_SKIP_CLUSTER is set"
    out = subprocess.run(["bash", str(CLUSTER), "check"], capture_output=True, text=True)
    return None if out.returncode == 0 else out.stderr.strip()


_WHY_NOT = _cluster_possible()
pytestmark = pytest.mark.skipif(_WHY_NOT is not None, reason=f"no SLURM test cluster here: {_WHY_NOT}")


@pytest.fixture(scope="module")
def cluster():
    up = subprocess.run(["bash", str(CLUSTER), "up"], capture_output=True, text=True, timeout=900)
    assert up.returncode == 0, up.stdout + up.stderr
    yield
    subprocess.run(["bash", str(CLUSTER), "down"], capture_output=True, text=True, timeout=120)


# Issue #7's adaptive cells decide from measured compute times, so their tokens differ from run to run
# (their exactness in distribution is tested in test_adaptive.py); preemptive cells are left out with them.
def _plain(row: dict) -> bool:
    return not is_variant(row)


def _rows(work):
    """The summary rows of the cells the SLURM config runs (plain schemes at T = 1)."""
    with (work / "results/tables/summary.csv").open() as f:
        return sorted(
            (
                {k: r[k] for k in DETERMINISTIC}
                for r in csv.DictReader(f)
                if _plain(r) and float(r["temperature"]) == 1.0
            ),
            key=lambda r: tuple(r[k] for k in ("scheme", "temperature", "K", "beta0", "eta")),
        )


def _runs(work):
    client = mlflow.tracking.MlflowClient(tracking_uri=f"sqlite:///{work / 'results/mlflow/mlflow.db'}")
    exp = client.get_experiment_by_name(TINY["mlflow"]["experiment"])
    return client.search_runs([exp.experiment_id], max_results=100)


def test_tiny_config_on_slurm_matches_a_local_run(cluster, tiny_run, tmp_path):
    slurm, out, _ = run_config(tmp_path, "slurm", SLURM_TINY, *SLURM_ARGS)
    assert out.returncode == 0, out.stdout[-6000:] + out.stderr[-6000:]
    metrics = [json.loads(p.read_text()) for p in sorted((slurm / "results/runs").rglob("metrics.json"))]
    assert len(metrics) == N_SLURM_CELLS
    ids = [m["slurm_job_id"] for m in metrics]
    assert all(ids) and len(set(ids)) == N_SLURM_CELLS, f"every decoding job must run as its own SLURM job: {ids}"

    local, _ = tiny_run  # the full tiny config run locally (tests/conftest.py)
    rows = _rows(slurm)
    assert len(rows) == N_SLURM_CELLS and rows == _rows(local)
    tokens = lambda f: [json.loads(x)["tokens"] for x in f.read_text().splitlines()]  # noqa: E731
    for p in (slurm / "results/runs").rglob("records.jsonl"):
        assert tokens(p) == tokens(local / p.relative_to(slurm)), p
    s_runs = _runs(slurm)
    assert len(s_runs) == 1 + N_SLURM_CELLS
    key = lambda r: (r.data.params.get("scheme"), r.data.params.get("temperature"), r.data.params.get("K"))  # noqa: E731
    l_cells = {key(r): r for r in _runs(local) if r.data.tags["sqs.kind"] == "cell"}
    same = lambda r: {k: v for k, v in r.data.params.items() if k != "config_hash"}  # noqa: E731 (whole-config hash)
    for s in (r for r in s_runs if r.data.tags["sqs.kind"] == "cell"):
        loc = l_cells[key(s)]
        assert s.data.tags["sqs.slurm_job_id"] and not loc.data.tags["sqs.slurm_job_id"]
        assert same(s) == same(loc)
        assert s.data.metrics["resampling_rate"] == loc.data.metrics["resampling_rate"]


def test_a_failing_cluster_job_fails_the_run_with_its_log(cluster, tmp_path):
    bad = yaml.safe_load(yaml.safe_dump(TINY))
    bad["models"]["slm"] = "no-such-org/no-such-model-sqs"
    t0 = time.monotonic()
    _, out, _ = run_config(tmp_path, "bad", bad, *SLURM_ARGS, timeout=600)
    seconds = time.monotonic() - t0
    text = out.stdout + out.stderr
    assert out.returncode != 0
    assert seconds < 400, f"took {seconds:.0f} s: a failed job must not hang the run"
    assert "prepare_models" in text and "slurm_logs" in text, text[-4000:]

"""The workflow on a real single-node SLURM cluster (tests/cluster/slurm_cluster.sh), through profiles/slurm.

Runs where the cluster can be brought up (root, and slurm installed or apt-get available: CI); elsewhere
it is skipped with the reason. `make test-cluster` runs only this file.
"""

import csv
import json
import os
import subprocess
import time

import pytest
import yaml

from sqs.study.grid import is_variant
from workflow_helpers import ROOT, TINY, run_config

CLUSTER = ROOT / "tests/cluster/slurm_cluster.sh"
# The profile as users run it, plus what this cluster needs: no accounts, squeue polling, a first poll after a
# second (the plugin then waits 10 s longer each round nothing finished).
SLURM_ARGS = (
    "--profile", str(ROOT / "profiles/slurm"), "--slurm-no-account", "--slurm-status-command", "squeue",
    "--slurm-init-seconds-before-status-checks", "1", "--jobs", "4", "--latency-wait", "5",
)  # fmt: skip
# Two of the tiny config's plain practical cells at one temperature (cloud-only AR and C-SQS), each its own SLURM
# job, to the summary table: what the local run (tests/conftest.py) must reproduce cell for cell. The rest of the
# workflow runs on the cluster the same way (its rules and resources are the same); it is left out here to keep the
# test to the part a cluster changes: jobs on nodes writing the files the submit host reads.
SLURM_TINY = {
    **TINY,
    "regimes": {"practical": {}},
    "grid": {"temperatures": [1.0], "baselines": ["ar"], "k_sqs": {"K": []},
             "c_sqs": {"beta0": [0.01], "eta": [0.001]}, "top_p": {"top_p": []}},
}  # fmt: skip
N_SLURM_CELLS = 2  # ar, c-sqs
TARGET = "results/tables/summary.csv"
# Same prompts, seeds and tokens on both sides: these columns must agree exactly (the wall clock may not).
DETERMINISTIC = (
    "regime scheme temperature K beta0 eta top_p n_tokens n_batches resampling_rate mean_accept_len "
    "draft_accept_rate accept_rate_pos1 uplink_bits_per_token dropped_mass expected_rejections bound_theorem1 "
    "latency_s tokens_per_s"  # priced by the compute profile: the same on every machine
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


def _rows(work, cells: set) -> list[dict]:
    """The deterministic columns of ``cells`` (scheme, T) in a run's summary (plain practical cells)."""
    with (work / "results/tables/summary.csv").open() as f:
        rows = [r for r in csv.DictReader(f) if not is_variant(r) and r["regime"] == "practical"]
    return sorted(({k: r[k] for k in DETERMINISTIC} for r in rows if (r["scheme"], r["temperature"]) in cells),
                  key=lambda r: r["scheme"])  # fmt: skip


def test_tiny_cells_on_slurm_match_a_local_run(cluster, tiny_run, tmp_path):
    slurm, out, _ = run_config(tmp_path, "slurm", SLURM_TINY, *SLURM_ARGS, TARGET)
    assert out.returncode == 0, out.stdout[-6000:] + out.stderr[-6000:]
    metrics = [json.loads(p.read_text()) for p in sorted((slurm / "results/runs").rglob("metrics.json"))]
    assert len(metrics) == N_SLURM_CELLS
    ids = [m["slurm_job_id"] for m in metrics]
    assert all(ids) and len(set(ids)) == N_SLURM_CELLS, f"every decoding job must run as its own SLURM job: {ids}"

    local, _ = tiny_run  # the full tiny config run locally (tests/conftest.py)
    cells = {(m["scheme"], str(m["temperature"])) for m in metrics}
    rows = _rows(slurm, cells)
    assert len(rows) == N_SLURM_CELLS and rows == _rows(local, cells)
    assert not any(m["slurm_job_id"] for m in (json.loads(p.read_text()) for p in
                                               (local / "results/runs").rglob("metrics.json")))  # fmt: skip
    tokens = lambda f: [json.loads(x)["tokens"] for x in f.read_text().splitlines()]  # noqa: E731
    for p in (slurm / "results/runs").rglob("records.jsonl"):
        assert tokens(p) == tokens(local / p.relative_to(slurm)), p


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

"""Shared by the workflow tests: run Snakemake on this repository, and the tiny end-to-end config."""

import os
import shutil
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
SNAKEMAKE = shutil.which("snakemake", path=str(BIN)) or "snakemake"
# The tiny end-to-end config, standing alone (a --configfile replaces config/config.yaml): the fast pair
# (SmolLM2-135M in float64, its untrained early exit as the draft: no distillation in CI), 2 prompts, 2
# temperatures, 6 tokens, one cell per scheme family, the adaptive and preemptive variants and top-p in the
# practical regime; in the paper regime (no draft cap, the paper's link, this machine's calibrated compute, C-SQS
# charged as the paper counts) one temperature's ar, qs, k-sqs and c-sqs.
TINY = {
    "models": {
        "slm": "embedded:smollm2-135m-instruct@exit=14",
        "llm": "embedded:smollm2-135m-instruct",
        "dtype": "float64",  # rounds alike on every CPU: the recorded tokens hold on any machine
    },
    "data": {"n_prompts": 2},
    "cache": {"positions_per_prompt": 6},  # = decode.max_new_tokens: the trace decodes the sequences live cells do
    "decode": {"max_new_tokens": 6, "max_draft_len": 4},
    "grid": {
        "temperatures": [0.5, 1.0],
        "baselines": ["ar", "qs"],
        "k_sqs": {"K": [4]},
        "c_sqs": {"beta0": [0.01], "eta": [0.001]},
        "top_p": {"top_p": [0.9]},
        "adaptive": {"schemes": ["qs"], "ells": [50, 100]},
        "preemptive": {"schemes": ["k-sqs"], "K": [4]},
    },
    "regimes": {
        "practical": {},
        "paper": {
            "decode": {"max_draft_len": None, "accounting": "paper"},
            "link": {"preset": "paper"},
            "compute": {"profile": "calibrated"},
            "grid": {
                "temperatures": [1.0],
                "baselines": ["ar", "qs"],
                "k_sqs": {"K": [4]},
                "c_sqs": {"beta0": [0.01], "eta": [0.001]},
            },
        },
    },
    "analysis": {
        "temperatures": [0.5, 1.0],
        "figures": {"temperatures": [0.5, 1.0], "K": [4], "beta0": [0.01], "eta": [0.0, 0.001], "n_boot": 200},
        "sweep": {
            "temperatures": [0.5, 1.0],
            "K": [1, 4],
            "beta0": [0.01],
            "eta": [0.0, 0.001],
            "top_p": [0.9],
            "min_p": [0.1],
            "workers": 1,
        },
    },
    "resources": {"mem_mb": 4000},  # the fast pair (config.yaml's 6000 is for the Qwen pair)
    "mlflow": {"experiment": "sqs-tiny"},
}
# (scheme, policy, preemptive) of TINY's practical cells at each of its two temperatures, and its paper cells
TINY_CELLS = [("ar", "static", False), ("c-sqs", "static", False), ("k-sqs", "static", False),
              ("k-sqs", "static", True), ("qs", "static", False), ("qs", "adaptive", False),
              ("top-p", "static", False)]  # fmt: skip
TINY_PAPER_CELLS = [("ar", "static", False), ("c-sqs", "static", False), ("k-sqs", "static", False),
                    ("qs", "static", False)]  # fmt: skip
N_CELLS = 2 * len(TINY_CELLS) + len(TINY_PAPER_CELLS)  # decoding jobs (= MLflow child runs) of TINY


def snake(*args, cwd=ROOT, timeout=900):
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    return subprocess.run([SNAKEMAKE, *args], cwd=cwd, capture_output=True, text=True, env=env, timeout=timeout)


def write_config(tmp_path, cfg, name="cfg.yaml"):
    path = tmp_path / name
    path.write_text(yaml.safe_dump(cfg))
    return path


def run_config(tmp_path, name, cfg, *extra, timeout=1500):
    """Run the workflow on ``cfg`` in ``tmp_path/name``; returns (workdir, process, the shared args)."""
    path = write_config(tmp_path, cfg, f"{name}.yaml")
    work = tmp_path / name
    args = ("-s", str(ROOT / "Snakefile"), "--directory", str(work), "--configfile", str(path))
    return work, snake(*extra, *args, timeout=timeout), args


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rest(base: str, endpoint: str, body: dict | None = None, query: str = "") -> dict:
    """One MLflow REST call: POST with a JSON body, or GET with a query string."""
    import json
    import urllib.request

    url = f"{base}/api/2.0/mlflow/{endpoint}" + (f"?{query}" if query else "")
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as resp:
        return json.loads(resp.read())


@contextmanager
def mlflow_server(work, experiment: str = "sqs-tiny"):
    """`mlflow server` on a run's database, on 127.0.0.1: yields (base URL, the experiment's REST record)."""
    import time
    import urllib.error

    port = free_port()
    db = Path(work) / "results/mlflow/mlflow.db"
    server = subprocess.Popen(
        [str(BIN / "mlflow"), "server", "--backend-store-uri", f"sqlite:///{db}", "--host", "127.0.0.1",
         "--port", str(port), "--workers", "1"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=work,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(240):
            try:
                exp = rest(base, "experiments/get-by-name", query=f"experiment_name={experiment}")
                break
            except urllib.error.HTTPError:
                raise
            except OSError:  # not listening yet
                time.sleep(0.5)
        else:
            raise AssertionError("mlflow server did not come up")
        yield base, exp
    finally:
        server.terminate()
        server.wait(timeout=30)


# The tiny run's recording: every cell's deterministic summary columns, each plain cell's tokens, every cell's
# MLflow parameters. Re-recorded on 2026-12-02 when the tiny run moved to float64 forwards (in float32 one C-SQS
# cell's draft flipped between two CPU kinds; every other value moved by less than 1e-5 relative), with a cell's
# path regime/scheme/setting/policy/preemptive/temperature and min-p's column among the MLflow parameters.
# Re-record only for a change that is meant to change them, and say which in the commit:
#   python tests/workflow_helpers.py record [WORKDIR]   (runs the tiny config in a temporary directory, or reads
#   the finished tiny run in WORKDIR)
GOLDEN = ROOT / "tests/data/tiny_recorded.json"
DETERMINISTIC = (
    "n_prompts n_tokens n_batches resampling_rate mean_accept_len draft_accept_rate accept_rate_pos1 mean_draft_len "
    "uplink_bits_per_token uplink_bits_per_batch dropped_mass expected_rejections bound_theorem1 bound_discrepancy "
    "bound_distortion beta_last_mean mean_ell ell predraft_kept_share alpha budget_bits max_draft_len slm llm"
).split()
# The adaptive policy and preemptive drafting decide from the practical regime's priced compute (a named device
# pair prices every call by its shape), and each cell starts from empty KV caches in its own process: their
# trajectories are recorded and compared like every other cell's.


def cell_key(cell: dict) -> str:
    """A cell's key in the recording: its path under results/runs."""
    from sqs.study.grid import CELL_COLUMNS

    return "/".join(f"{c}~{cell[c]}" for c in CELL_COLUMNS)


def snapshot(work) -> dict:
    """What the recording holds, read off a finished tiny run in ``work``."""
    import csv
    import json
    import sqlite3

    with (Path(work) / "results/tables/summary.csv").open() as f:
        rows = list(csv.DictReader(f))
    summary = {}
    for r in rows:
        summary[cell_key(r)] = {c: r[c] for c in DETERMINISTIC}
    tokens = {}
    for p in sorted((Path(work) / "results/runs").rglob("records.jsonl")):
        cell = dict(x.split("~", 1) for x in p.parent.relative_to(Path(work) / "results/runs").parts)
        tokens[cell_key(cell)] = [json.loads(line)["tokens"] for line in p.read_text().splitlines() if line.strip()]
    db = sqlite3.connect(Path(work) / "results/mlflow/mlflow.db")
    params = {}
    for (rid,) in db.execute("select run_uuid from tags where key='sqs.kind' and value='cell'"):
        ps = dict(db.execute("select key, value from params where run_uuid=?", (rid,)).fetchall())
        params[cell_key(ps)] = {k: v for k, v in ps.items() if k not in ("config_hash", "git_commit")}
    db.close()
    return {"summary": summary, "tokens": tokens, "mlflow_params": params}


if __name__ == "__main__":
    import json
    import sys
    import tempfile

    if sys.argv[1:2] != ["record"] or len(sys.argv) > 3:
        sys.exit("usage: python tests/workflow_helpers.py record [WORKDIR of a finished tiny run]")
    if len(sys.argv) == 3:
        snap = snapshot(Path(sys.argv[2]))
    else:
        with tempfile.TemporaryDirectory() as tmp:
            work, out, _ = run_config(Path(tmp), "work", TINY, "--cores", "2")
            if out.returncode != 0:
                sys.exit(out.stdout[-5000:] + out.stderr[-5000:])
            snap = snapshot(work)
    snap["note"] = "the tiny config (TINY); written by `python tests/workflow_helpers.py record`"
    GOLDEN.write_text(json.dumps(snap, indent=1, sort_keys=True) + "\n")
    print(f"recorded {len(snap['summary'])} cells to {GOLDEN}")

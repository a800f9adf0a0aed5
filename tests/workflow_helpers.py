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
# The tiny end-to-end config: the fast pair (SmolLM2-135M in float32, its untrained early exit as the draft:
# no distillation in CI), 2 prompts, 2 temperatures, 6 tokens, one cell per scheme family, plus issue #7's
# two variants and top-p.
TINY = {
    "models": {
        "slm": "embedded:smollm2-135m-instruct@exit=14",
        "llm": "embedded:smollm2-135m-instruct",
        "dtype": "float32",
    },
    "data": {"n_prompts": 2},
    "cache": {"positions_per_prompt": 4},
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
    "analysis": {
        "temperatures": [0.5, 1.0],
        "sweep": {
            "temperatures": [0.5, 1.0],
            "K": [1, 4],
            "beta0": [0.01],
            "eta": [0.0, 0.001],
            "top_p": [0.9],
            "workers": 1,
        },
    },
    "resources": {"mem_mb": 4000},  # the fast pair (config.yaml's 6000 is for the Qwen pair)
    "mlflow": {"experiment": "sqs-tiny"},
}
# (scheme, policy, preemptive) of TINY's cells at each temperature
TINY_CELLS = [("ar", "static", False), ("c-sqs", "static", False), ("k-sqs", "static", False),
              ("k-sqs", "static", True), ("qs", "static", False), ("qs", "adaptive", False),
              ("top-p", "static", False)]  # fmt: skip
N_CELLS = 2 * len(TINY_CELLS)  # decoding jobs (= MLflow child runs) of TINY


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

"""The Snakemake workflow: lint, dry run, config validation, and a tiny real run."""

import csv
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
SNAKEMAKE = shutil.which("snakemake", path=str(Path(sys.executable).parent)) or "snakemake"


def snake(*args, cwd=ROOT):
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.run([SNAKEMAKE, *args], cwd=cwd, capture_output=True, text=True, env=env, timeout=600)


def test_lint_clean():
    out = snake("--lint")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "Congratulations" in out.stdout + out.stderr


def test_dry_run_default_config():
    out = snake("-n", "--forcerun", "all")
    assert out.returncode == 0, out.stdout + out.stderr


@pytest.mark.parametrize(
    "override,needle",
    [
        ({"ell": 0}, "ell"),
        ({"alpha": 1.5}, "alpha"),
        ({"eta": -0.1}, "eta"),
        ({"temperature": -1}, "temperature"),
        ({"k": 4096}, "simulation.k=4096"),
        ({"bogus": 1}, "bogus"),
    ],
)
def test_invalid_config_fails_dry_run(tmp_path, override, needle):
    cfg = yaml.safe_load((ROOT / "config/config.yaml").read_text())
    cfg["simulation"].update(override)
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(cfg))
    out = snake("-n", "--configfile", str(path))
    assert out.returncode != 0
    assert needle in out.stdout + out.stderr


def test_tiny_run(tmp_path):
    cfg = {"simulation": {"vocab_size": 64, "n_prompts": 2, "max_new_tokens": 8, "k": 4}}
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(cfg))
    work = tmp_path / "work"
    out = snake("--cores", "1", "-s", str(ROOT / "Snakefile"), "--directory", str(work), "--configfile", str(path))
    assert out.returncode == 0, out.stdout + out.stderr
    with (work / "results/tables/toy_summary.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert [r["scheme"] for r in rows] == ["sd", "dense", "k-sqs", "c-sqs", "top-p"]
    assert all(0.0 <= float(r["resampling_rate"]) <= 1.0 for r in rows)
    again = snake("-n", "-s", str(ROOT / "Snakefile"), "--directory", str(work), "--configfile", str(path))
    assert "Nothing to be done" in again.stdout + again.stderr

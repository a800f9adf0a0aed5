"""Mirror the study's files into MLflow: a parent run per workflow result, a child run per grid cell.

Files are the source of truth; this module only copies them into MLflow, idempotently:

- every run carries a content key as a tag (``sqs.invocation_key`` for the parent, ``sqs.cell_key`` for
  a child, hashes of the config and the files they mirror); a key that is already logged and finished
  is skipped, so re-running an unchanged workflow adds no runs, and a run left unfinished by a killed
  job is resumed (parent) or replaced (child) instead of duplicated;
- one process writes (the workflow's single ``mlflow_log`` rule), and every call retries on SQLite's
  "database is locked", so several workflows may share one ``mlflow.db``.

The default store is SQLite (``sqlite:///results/mlflow/mlflow.db``); MLflow 3 refuses the old file
store. Any tracking URI works, e.g. ``http://host:5000`` for a shared tracking server.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import subprocess
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

from sqs.protocol.schemes import get as scheme_spec
from sqs.study.config import study_config
from sqs.study.grid import PARAM_COLUMNS, is_preemptive

log = logging.getLogger(__name__)

PARAM_KEYS = (
    "regime", "scheme", "setting", "temperature", *PARAM_COLUMNS, "alpha", "ell", "budget_bits", "max_draft_len",
    "policy", "preemptive", "slm", "llm",
)  # fmt: skip
BATCH_SERIES = {
    "drafts": "batch_drafts",
    "accepted": "batch_accepted",
    "resampled": "batch_resampled",
    "uplink_bits": "batch_uplink_bits",
    "latency_s": "batch_latency_s",
    "support_size_mean": "batch_support_size",
    "dropped_mass_mean": "batch_dropped_mass",
    "beta_last": "batch_beta",
    "ell": "batch_ell",
    "uplink_bps": "batch_uplink_bps",
    "predrafted": "batch_predrafted",
    "predrafts_kept": "batch_predrafts_kept",
}


def content_hash(*parts) -> str:
    h = hashlib.sha256()
    for p in parts:
        h.update(p if isinstance(p, bytes) else json.dumps(p, sort_keys=True, default=str).encode())
    return h.hexdigest()[:16]


def git_commit(repo: Path) -> str:
    try:
        out = subprocess.run(["git", "-C", str(repo), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10)
        dirty = subprocess.run(
            ["git", "-C", str(repo), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    if out.returncode != 0:
        return "unknown"
    return out.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")


def _retry(fn: Callable, *args, attempts: int = 30, **kwargs):
    """Call ``fn``; on a locked SQLite database wait and try again (up to about a minute in all)."""
    for i in range(attempts):
        try:
            return fn(*args, **kwargs)
        except Exception as exc:
            if "database is locked" not in str(exc) or i == attempts - 1:
                raise
            time.sleep(min(0.2 * 2**i, 5.0))
    return None  # pragma: no cover


def _finite(metrics: dict) -> dict:
    out = {}
    for k, v in metrics.items():
        if isinstance(v, bool) or not isinstance(v, int | float):
            continue
        if math.isfinite(v):
            out[k] = float(v)
    return out


# The experiment's kind for MLflow 3's UI (runs, not GenAI traces). MLflow 3.17 lets its global
# "GenAI / Model training" switch override the tag; `?workflowType=machine_learning` in the URL sets the
# switch (docs/workflow.md).
EXPERIMENT_KIND = ("mlflow.experimentKind", "custom_model_development")


def _number(x) -> str:
    return f"{float(x):g}"


def cell_run_name(row: dict) -> str:
    """A cell's run name a person can tell apart: ``k-sqs K=16 T=0.6 (paper)``, ``c-sqs β₁=0.001 η=0.001 T=1
    (practical)``."""
    parts = [scheme_spec(str(row["scheme"])).cell_label(row)]
    if row.get("policy", "static") != "static":
        parts.append(str(row["policy"]))
    if is_preemptive(row):
        parts.append("preemptive")
    parts.append(f"T={_number(row['temperature'])}")
    if row.get("regime"):
        parts.append(f"({row['regime']})")
    return " ".join(parts)


def _find(client, experiment_id: str, tag: str, value: str):
    runs = _retry(client.search_runs, [experiment_id], filter_string=f"tags.`{tag}` = '{value}'", max_results=10)
    return runs[0] if runs else None


def log_study(
    *,
    tracking_uri: str,
    experiment: str,
    artifact_root: Path,
    config,
    summary_csv: Path,
    cells: list[tuple[dict, Path]],
    tables: list[Path] = (),
    figures: list[Path],
    repo: Path,
) -> dict:
    """Log the study; ``cells`` pairs each summary row with its per-prompt records file; ``tables`` go beside
    summary.csv on the parent run (the sweep, the verdicts); ``config``: the workflow's, parsed or as its dict
    (its hash is the dict's). Returns run ids."""
    import mlflow
    from mlflow.entities import Metric, Param, RunTag
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=tracking_uri)
    exp = _retry(client.get_experiment_by_name, experiment)
    if exp is None:
        artifact_root.mkdir(parents=True, exist_ok=True)
        try:
            exp_id = _retry(client.create_experiment, experiment, artifact_location=artifact_root.resolve().as_uri())
        except mlflow.exceptions.MlflowException:  # created meanwhile by another writer
            exp_id = _retry(client.get_experiment_by_name, experiment).experiment_id
    else:
        exp_id = exp.experiment_id
    _retry(client.set_experiment_tag, exp_id, *EXPERIMENT_KIND)  # new and existing experiments alike
    config = study_config(config)
    config_hash = content_hash(dict(config.source))
    commit = git_commit(repo)
    cell_keys = [content_hash(config_hash, row, path.read_bytes()) for row, path in cells]
    figure_bytes = [f.read_bytes() for f in figures]
    invocation = content_hash(config_hash, summary_csv.read_bytes(), cell_keys, *figure_bytes,
                              *(t.read_bytes() for t in tables))  # fmt: skip
    common = {"sqs.config_hash": config_hash, "sqs.git_commit": commit}

    parent = _find(client, exp_id, "sqs.invocation_key", invocation)
    if parent is not None and parent.info.status == "FINISHED":
        log.info("workflow result %s already logged as run %s: nothing to add", invocation, parent.info.run_id)
        return {"experiment_id": exp_id, "parent_run_id": parent.info.run_id, "added": 0}
    if parent is None:
        parent = _retry(
            client.create_run,
            exp_id,
            run_name=f"{experiment} @ {commit[:12]} ({time.strftime('%Y-%m-%d %H:%M')})",
            tags={"sqs.invocation_key": invocation, "sqs.kind": "workflow", **common},
        )
        params = {
            "slm": config.models.slm,
            "llm": config.models.llm,
            "config_hash": config_hash,
            "git_commit": commit,
            "n_cells": len(cells),
            **{f"decode.{k}": v for k, v in asdict(config.decode).items()},
            **{f"link.{k}": v for k, v in asdict(config.link).items()},
            "regimes": json.dumps(config.source.get("regimes") or {}, sort_keys=True),
            **{f"data.{k}": v for k, v in asdict(config.data).items() if v is not None},
        }
        _retry(client.log_batch, parent.info.run_id, params=[Param(k, str(v)[:6000]) for k, v in params.items()])
        added = 1
    else:
        added = 0  # a parent left unfinished by a killed run: resume it
    pid = parent.info.run_id
    children = {}
    for (row, path), key in zip(cells, cell_keys, strict=True):
        found = _find(client, exp_id, "sqs.cell_key", key)
        if found is not None and found.info.status == "FINISHED":
            children[key] = found.info.run_id
            continue
        if found is not None:  # left half-written by a killed run: replace it
            _retry(client.delete_run, found.info.run_id)
        run = _retry(
            client.create_run,
            exp_id,
            run_name=cell_run_name(row),
            tags={
                "regime": str(row.get("regime", "")),
                "scheme": str(row["scheme"]),
                "temperature": _number(row["temperature"]),
                "pair": f"{row.get('slm')} -> {row.get('llm')}",
                "mlflow.parentRunId": pid,
                "sqs.cell_key": key,
                "sqs.kind": "cell",
                "sqs.host": str(row.get("host")),
                "sqs.slurm_job_id": str(row.get("slurm_job_id") or ""),
                **common,
            },
        )
        rid = run.info.run_id
        params = [Param(k, str(row[k])) for k in PARAM_KEYS if k in row]
        params += [Param("config_hash", config_hash), Param("git_commit", commit)]
        now = int(time.time() * 1000)
        metrics = [Metric(k, v, now, 0) for k, v in _finite(row).items() if k not in PARAM_KEYS]
        by_position = [float(x) for x in str(row.get("accept_rate_by_position") or "").split(";") if x]
        metrics += [Metric("accept_rate_at_position", x, now, i + 1) for i, x in enumerate(by_position) if x == x]
        step = 0
        for rec in (json.loads(line) for line in path.read_text().splitlines() if line.strip()):
            for batch in rec.get("batches", []):
                metrics += [Metric(BATCH_SERIES[k], float(v), now, step) for k, v in batch.items() if k in BATCH_SERIES]
                step += 1
        _retry(client.log_batch, rid, params=params, tags=[RunTag("sqs.records", str(path))])
        for i in range(0, len(metrics), 900):
            _retry(client.log_batch, rid, metrics=metrics[i : i + 900])
        _retry(client.set_terminated, rid)
        children[key] = rid
        added += 1
    for t in (summary_csv, *tables):
        _retry(client.log_artifact, pid, str(t), "tables")
    for f in figures:  # under figures/, in the folder they have below results/figures (a regime's, or none)
        parts = f.parent.parts
        where = "/".join(("figures", *parts[parts.index("figures") + 1 :])) if "figures" in parts else "figures"
        _retry(client.log_artifact, pid, str(f), where)
        pdf = f.with_suffix(".pdf")
        if pdf.is_file():
            _retry(client.log_artifact, pid, str(pdf), where)
    _retry(client.set_terminated, pid)
    log.info("logged %d new runs (parent %s, experiment %s)", added, pid, experiment)
    return {"experiment_id": exp_id, "parent_run_id": pid, "children": children, "added": added}

"""The workflow's trace steps: the logits cache (and the live summary) in, a table and its figure out."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from sqs.outputs import figures
from sqs.steps.io import read_jsonl, write_table
from sqs.study.grid import compute_profile, is_variant
from sqs.system.compute import make_profile
from sqs.system.latency import LinkConfig
from sqs.trace.headroom import HEADROOM_COLUMNS, policy_headroom
from sqs.trace.logitcache import load_trace
from sqs.trace.regimes import cell_terms, regime_cells, regime_table, validate
from sqs.trace.sweep import (
    SWEEP_AXES,
    SWEEP_SCHEMES,
    SweepCell,
    calibrate,
    dense_sweep,
    profile_from_summary,
    theorem2_table,
)


def _live(summary_csv) -> list[dict]:
    return pd.read_csv(summary_csv).to_dict("records")


def _profile(config: dict, calibration_path, summary_csv):
    """The run's compute profile (its live cells were priced with it); under ``measured``, per-call
    prices fitted on the live cells."""
    cal = json.loads(Path(calibration_path).read_text()) if calibration_path else None
    profile = compute_profile(config, cal) if "models" in config else None
    return profile if profile is not None and not profile.measured else profile_from_summary(_live(summary_csv))


def calibration_files(cache_dir, summary_csv, config: dict, out_csv, fig_dir, calibration_path=None) -> list[dict]:
    """``trace_calibration``: every plain live cell predicted from the cache, and fig_trace_calibration."""
    tr = load_trace(cache_dir)
    profile = _profile(config, calibration_path, summary_csv)
    rows = calibrate(tr.slm, tr.llm, tr.segments, _live(summary_csv), config, profile, tr.mean_context)
    write_table(rows, out_csv)
    figures.fig_trace_calibration(pd.read_csv(out_csv), Path(fig_dir) / "fig_trace_calibration")
    return rows


def dense_sweep_files(cache_dir, summary_csv, config: dict, grid: dict, out_csv, fig_dir, workers: int = 1,
                      calibration_path=None):  # fmt: skip
    """``sweep_dense``: the dense sweep table, the best setting per temperature beside it, the heat map."""
    tr = load_trace(cache_dir)
    profile = _profile(config, calibration_path, summary_csv)
    rows = dense_sweep(tr.slm, tr.llm, tr.segments, _live(summary_csv), config, grid, workers=workers,
                       profile=profile, context=tr.mean_context)  # fmt: skip
    write_table(rows, out_csv)
    sw = pd.read_csv(out_csv)
    write_table(figures.best_per_temperature(sw).to_dict("records"),
                Path(out_csv).with_name("sweep_best_per_temperature.csv"))  # fmt: skip
    figures.fig_sweep_heatmap(sw, Path(fig_dir) / "fig_sweep_heatmap")
    return rows


def theorem2_files(cache_dir, temperature: float, beta0: float, alpha: float, etas: list[float], ell: int,
                   out_csv, fig_dir) -> list[dict]:  # fmt: skip
    """``theorem2``: C-SQS's running dropped mass along the trace against Theorem 2, and fig_theorem2."""
    tr = load_trace(cache_dir)
    rows = theorem2_table(tr.slm, tr.llm, temperature, beta0, alpha, etas, ell)
    write_table(rows, out_csv)
    figures.fig_theorem2(pd.read_csv(out_csv), Path(fig_dir) / "fig_theorem2", alpha)
    return rows


def headroom_files(cache_dir, summary_csv, config: dict, out_csv, fig_stem=None, calibration_path=None) -> list[dict]:
    """``policy_headroom``: the cache and the run's compute profile in, table (and fig_policy_headroom) out."""
    s = config["analysis"]["policies"]
    tr = load_trace(cache_dir)
    profile = _profile(config, calibration_path, summary_csv)
    rows = policy_headroom(
        tr.slm, tr.llm, tr.segments, list(s["temperatures"]), profile, LinkConfig(**config["link"]),
        ell=max(s["ells"]), budget_bits=int(config["decode"]["budget_bits"]), max_len=max(s["draft_lens"]),
        context=tr.mean_context,
    )  # fmt: skip
    write_table(rows, out_csv, HEADROOM_COLUMNS)
    if fig_stem is not None:
        figures.fig_policy_headroom(pd.read_csv(out_csv), fig_stem)
    return rows


def regimes_files(cache_dir, runs_dir, config: dict, out_csv, validation_csv, fig_dir,
                  calibration_path=None) -> list[dict]:  # fmt: skip
    """``regimes``: the (uplink, propagation) map per profile and temperature, live cells beside it."""
    r, d, m = config["analysis"]["regimes"], config["decode"], config["models"]
    cal = json.loads(Path(calibration_path).read_text()) if calibration_path else None
    profiles = {n: make_profile(n, m["slm"], m["llm"], cal) for n in r["profiles"]}
    link = LinkConfig(**config["link"])
    common = dict(alpha=float(d["alpha"]), ell=int(d["ell"]), budget_bits=int(d["budget_bits"]),
                  max_draft_len=int(d["max_draft_len"]), link=link)  # fmt: skip
    settings = {c: r.get(c, []) for c in SWEEP_AXES}
    cells = regime_cells([float(t) for t in r["temperatures"]], settings, **common)
    run_profile = (config.get("compute") or {}).get("profile", "measured")
    live = []  # the live plain cells whose setting the map holds (priced with the run's profile)
    for metrics in sorted(Path(runs_dir).rglob("metrics.json")):
        row = json.loads(metrics.read_text())
        if is_variant(row) or row["scheme"] not in SWEEP_SCHEMES:
            continue
        cell = SweepCell(row["scheme"], float(row["temperature"]), int(row["K"]), float(row["beta0"]),
                         float(row["eta"]), **common, top_p=float(row.get("top_p", 0.0)))  # fmt: skip
        if cell in cells:
            live.append((cell, read_jsonl(metrics.with_name("records.jsonl"))))
    tr = load_trace(cache_dir)
    terms = cell_terms(tr.slm, tr.llm, tr.segments, cells, profiles, tr.mean_context)
    rows = regime_table(terms, cells, profiles, tr.mean_context, int(d["max_new_tokens"]), link.downlink_bps)
    write_table(rows, out_csv)
    write_table(validate(terms, run_profile, live, link.downlink_bps), validation_csv)
    figures.fig_regimes(pd.read_csv(out_csv), Path(fig_dir) / "fig_regimes")
    return rows

"""The workflow's trace steps: the logits cache (and the live summary) in, a table and its figure out."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from sqs.outputs import figures
from sqs.steps.io import write_table
from sqs.study.grid import compute_profile
from sqs.system.latency import LinkConfig
from sqs.trace.headroom import HEADROOM_COLUMNS, policy_headroom
from sqs.trace.logitcache import load_trace
from sqs.trace.sweep import calibrate, dense_sweep, profile_from_summary, theorem2_table


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

"""The workflow's output steps: the summary table from every cell's row, the paper figures, the toy table."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from sqs.outputs import figures
from sqs.steps.io import write_table
from sqs.study.aggregate import summary_table
from sqs.study.simulate import SimulationConfig, simulate


def write_summary(metrics_paths: list, out_csv) -> None:
    """``aggregate``: every cell's ``metrics.json`` -> ``summary.csv``."""
    rows = [json.loads(Path(p).read_text()) for p in metrics_paths]
    write_table(summary_table(rows).to_dict("records"), out_csv)


def figures_files(summary_csv, stats_csv, out_dir, trace_csv=None) -> list[Path]:
    """``figures``: the tables in, every paper figure and ablation out, priced by the run's compute
    profile; the same figures from the wall clock beside it in ``<out_dir>/measured/``."""
    trace = pd.read_csv(trace_csv) if trace_csv else None
    summary, stats = pd.read_csv(summary_csv), pd.read_csv(stats_csv)
    paths = figures.draw_all(summary, stats, Path(out_dir), trace)
    wall = summary.assign(latency_s=summary.latency_measured_s, tokens_per_s=summary.tokens_per_s_measured,
                          speedup_vs_ar=summary.speedup_vs_ar_measured, latency_s_std=0.0)  # fmt: skip
    note = "latency: the wall clock of this machine (measured)"
    return paths + figures.draw_all(wall, stats, Path(out_dir) / "measured", trace, time_note=note)


def simulate_files(settings: dict, out_csv) -> list[dict]:
    """``toy``: every scheme on the exact toy pair -> toy_summary.csv."""
    rows = simulate(SimulationConfig(**settings), progress=False)
    write_table(rows, out_csv)
    return rows

"""The workflow's output steps: the summary table from every cell's row, the paper figures, the toy table."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from sqs.outputs import figures
from sqs.steps.io import write_table
from sqs.study.aggregate import summary_table
from sqs.study.config import FigureSettings, section
from sqs.study.simulate import SimulationConfig, simulate
from sqs.study.verdicts import verdicts


def write_summary(metrics_paths: list, out_csv) -> None:
    """``aggregate``: every cell's ``metrics.json`` -> ``summary.csv``."""
    rows = [json.loads(Path(p).read_text()) for p in metrics_paths]
    write_table(summary_table(rows).to_dict("records"), out_csv)


def figures_files(summary_csv, stats_csv, sweep_csv, out_dir, regimes: list[str], settings,
                  trace_csv=None) -> list[Path]:  # fmt: skip
    """``figures``: the tables in; per regime the paper's figures (trace model with intervals, live cells
    beside) and the live cells' own, priced by the regime's compute profile, the baselines again on the wall
    clock in ``<out_dir>/<regime>/measured/``; the variants and the cache's statistics once."""
    trace = pd.read_csv(trace_csv) if trace_csv else None
    summary, stats = pd.read_csv(summary_csv), pd.read_csv(stats_csv)
    sweep = pd.read_csv(sweep_csv)
    settings = section(FigureSettings, settings, "analysis.figures")
    return figures.draw_all(summary, stats, sweep, Path(out_dir), list(regimes), settings, trace)


def verdict_files(sweep_csv, figures_settings, out_csv) -> list[dict]:
    """``verdicts``: the sweep table and ``analysis.figures`` in, the verdict table out (sqs.study.verdicts)."""
    rows = verdicts(pd.read_csv(sweep_csv), section(FigureSettings, figures_settings, "analysis.figures"))
    write_table(rows, out_csv)
    return rows


def simulate_files(settings, out_csv) -> list[dict]:
    """``toy``: the ``simulation`` section in; every scheme on the exact toy pair -> toy_summary.csv."""
    rows = simulate(section(SimulationConfig, settings, "simulation"), progress=False)
    write_table(rows, out_csv)
    return rows

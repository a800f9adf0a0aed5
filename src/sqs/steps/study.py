"""The workflow's live drafting studies (target ``policies``): prompts in, a table and its figure out."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pandas as pd
from tqdm import tqdm

from sqs.outputs import figures
from sqs.outputs.catalog import study_figures
from sqs.steps.io import prompt_texts, read_csv_rows, write_table
from sqs.study.config import study_config
from sqs.study.decode import ModelPair
from sqs.study.grid import decode_config
from sqs.study.policies import PREEMPT_COLUMNS, STUDY_COLUMNS, compare_policies, compare_preemptive


def _adaptive(pair, texts, base, s, bar) -> tuple[list[dict], tuple]:
    rows = compare_policies(pair, texts, base, list(s.temperatures), list(s.draft_lens), list(s.ells), bar)
    return rows, STUDY_COLUMNS


def _preemptive(pair, texts, base, s, bar) -> tuple[list[dict], tuple]:
    base = replace(base, max_draft_len=s.preemptive_draft_len)
    return compare_preemptive(pair, texts, base, list(s.preemptive_temperatures), bar), PREEMPT_COLUMNS


# each study by the table it writes (its figure reads that table: sqs.outputs.catalog.study_figures); the
# scheme key of analysis.policies it runs
STUDIES = {"adaptive_vs_static": (_adaptive, "scheme"), "preemptive": (_preemptive, "preemptive_scheme")}


def run_study_files(study: str, config, prompts_path, out_csv, fig_dir, calibration_path=None) -> list[dict]:
    """One ``policy_study`` job (``study``: its table's name), priced by the run's compute profile; its table
    and the figure registered for it (``config``: the top level's sections the study reads)."""
    figures_of = study_figures("policy_study")
    if study not in STUDIES or study not in figures_of:
        raise ValueError(f"unknown study {study!r}; valid: {', '.join(s for s in STUDIES if s in figures_of)}")
    run, scheme_key = STUDIES[study]
    config = study_config(config)
    s = config.analysis.policies
    texts = prompt_texts(prompts_path)[: s.n_prompts]
    cell = {"scheme": getattr(s, scheme_key), "temperature": 0.0, "K": s.K}
    cal = json.loads(Path(calibration_path).read_text()) if calibration_path else None
    pair = ModelPair.of(config.models)
    base = replace(decode_config(cell, config, cal, configs=pair.configs()), max_new_tokens=s.max_new_tokens,
                   channel=s.channel)  # fmt: skip
    rows, columns = run(pair, texts, base, s, lambda xs: tqdm(xs, desc=f"{study} study", unit="run"))
    write_table(rows, out_csv, columns)
    figures.draw(figures_of[study].name, fig_dir, pd.read_csv(out_csv))
    return rows


def anchors_file(dssd_rows, out_csv, fig_dir=None) -> list[dict]:
    """``anchors``: the anchors' published claims beside this model's predictions (sqs.study.anchors), and
    fig_anchors."""
    from sqs.study.anchors import anchors_table

    rows = anchors_table(read_csv_rows(dssd_rows))
    write_table(rows, out_csv)
    if fig_dir is not None:
        figures.draw("fig_anchors", fig_dir, pd.read_csv(out_csv))
    return rows

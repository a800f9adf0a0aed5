"""The workflow's live drafting studies (target ``policies``): prompts in, a table and its figure out."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pandas as pd
from tqdm import tqdm

from sqs.outputs import figures
from sqs.steps.io import prompt_texts, write_table
from sqs.study.decode import ModelPair
from sqs.study.grid import channel_config, decode_config
from sqs.study.policies import PREEMPT_COLUMNS, STUDY_COLUMNS, compare_policies, compare_preemptive


def run_study_files(kind: str, config: dict, prompts_path, out_csv, fig_dir, calibration_path=None) -> list[dict]:
    """The ``adaptive_study`` / ``preemptive_study`` jobs (priced by the run's compute profile)."""
    if kind not in ("adaptive", "preemptive"):
        raise ValueError(f"unknown study {kind!r}; valid: adaptive, preemptive")
    s = config["analysis"]["policies"]
    texts = prompt_texts(prompts_path)[: int(s["n_prompts"])]
    scheme = s["scheme"] if kind == "adaptive" else s["preemptive_scheme"]
    cell = {"scheme": scheme, "temperature": 0.0, "K": int(s["K"]), "beta0": 0.0, "eta": 0.0, "top_p": 0.0}
    cal = json.loads(Path(calibration_path).read_text()) if calibration_path else None
    m = config["models"]
    pair = ModelPair.of(m)
    base = replace(decode_config(cell, config, cal, configs=pair.configs()),
                   max_new_tokens=int(s["max_new_tokens"]), channel=channel_config(s["channel"]))  # fmt: skip
    bar = lambda xs: tqdm(xs, desc=f"{kind} study", unit="run")  # noqa: E731
    if kind == "adaptive":
        rows = compare_policies(pair, texts, base, list(s["temperatures"]), list(s["draft_lens"]), list(s["ells"]), bar)
        write_table(rows, out_csv, STUDY_COLUMNS)
        figures.draw("fig_adaptive_vs_static", fig_dir, pd.read_csv(out_csv))
    else:
        base = replace(base, max_draft_len=int(s["preemptive_draft_len"]))
        rows = compare_preemptive(pair, texts, base, list(s["preemptive_temperatures"]), bar)
        write_table(rows, out_csv, PREEMPT_COLUMNS)
        figures.draw("fig_preemptive", fig_dir, pd.read_csv(out_csv))
    return rows

"""The workflow's cache step: score the prompts with both models into a logits cache (sqs.logitcache)."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
from tqdm import tqdm

from sqs.steps.io import read_jsonl, write_table
from sqs.study.decode import ModelPair, run_autoregressive
from sqs.system.latency import LinkConfig
from sqs.trace.logitcache import cache_statistics, load_trace

log = logging.getLogger(__name__)


def build_logits_cache(pair, records: list[dict], n_positions: int, seed: int, out_dir: Path, progress=None) -> dict:
    """Score every record with both models of ``pair`` (a :class:`sqs.decode.ModelPair`) into ``out_dir``."""
    if n_positions < 1:
        raise ValueError(f"n_positions must be >= 1, got {n_positions}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    slm_rows, llm_rows, index = [], [], []
    row = 0
    items = progress(records) if progress else records
    for i, rec in enumerate(items):
        prompt = pair.encode(rec["prompt"])
        if rec.get("reference"):
            cont = pair.tokenizer(" " + rec["reference"].strip(), add_special_tokens=False).input_ids[:n_positions]
            source = "reference"
        else:
            cont, source = _sample_continuation(pair.llm, prompt, n_positions, np.random.default_rng([seed, i])), "llm"
        if not cont:
            raise ValueError(f"prompt {i} ({rec['prompt']!r}) has an empty reference continuation")
        # score_logits returns len(cont) + 1 rows; the last one predicts past the reference
        llm_rows.append(pair.llm.score_logits(prompt, cont)[:-1].astype(np.float32))
        slm_rows.append(pair.slm.score_logits(prompt, cont)[:-1].astype(np.float32))
        index.append({"prompt": rec["prompt"], "prompt_ids": prompt, "tokens": cont, "row": row, "source": source})
        row += len(cont)
    np.save(out_dir / "slm_logits.npy", np.concatenate(slm_rows))
    np.save(out_dir / "llm_logits.npy", np.concatenate(llm_rows))
    (out_dir / "index.json").write_text(json.dumps(index))
    meta = {
        "slm": pair.slm_id,
        "llm": pair.llm_id,
        "vocab_size": pair.vocab_size,
        "n_prompts": len(index),
        "n_positions": row,
        "max_positions_per_prompt": n_positions,
        "seed": seed,
        "storage": "full float32 logits",
    }
    (out_dir / "meta.json").write_text(json.dumps(meta, indent=2))
    log.info("cached %d positions x V=%d for %d prompts in %s", row, pair.vocab_size, len(index), out_dir)
    return meta


def _sample_continuation(llm, prompt: list[int], n: int, rng: np.random.Generator) -> list[int]:
    """The LLM's own continuation at T = 1: the cloud-only AR decoder, its latency account unused."""
    return run_autoregressive(llm, prompt, n, 1.0, rng, LinkConfig())[0]


def build_cache_files(prompts_path: Path, models: dict, cache: dict, out_dir: Path) -> dict:
    """The workflow's cache step: the prompts file and the model section in, the cache directory out."""
    records = read_jsonl(prompts_path)
    pair = ModelPair(models["slm"], models["llm"], models["dtype"], models["device"])
    return build_logits_cache(
        pair,
        records,
        cache["positions_per_prompt"],
        cache["seed"],
        out_dir,
        progress=lambda xs: tqdm(xs, desc="cache logits", unit="prompt"),
    )


def write_cache_statistics(cache_dir: Path, temperatures: list[float], alpha: float, out_csv: Path) -> None:
    """The workflow's ``cache_stats`` job: support sizes and E[1 − TV] per temperature (cache_stats.csv)."""
    write_table(cache_statistics(load_trace(cache_dir), temperatures, alpha), out_csv)

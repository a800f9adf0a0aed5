"""The workflow's cache step: score the prompts with both models into a logits cache (sqs.logitcache)."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
from tqdm import tqdm

from sqs.protocol.probs import sample_probs, softmax_temperature
from sqs.steps.io import read_jsonl, write_table
from sqs.study.config import Cache, Models, section
from sqs.study.decode import ModelPair
from sqs.trace.logitcache import cache_statistics, load_cache

log = logging.getLogger(__name__)


def build_logits_cache(pair, records: list[dict], n_positions: int, seed: int, out_dir: Path, progress=None) -> dict:
    """Score every record with both models of ``pair`` (a :class:`sqs.decode.ModelPair`) into ``out_dir``."""
    if n_positions < 1:
        raise ValueError(f"n_positions must be >= 1, got {n_positions}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    slm_rows, llm_rows, index = [], [], []
    row = 0
    prompts = [pair.encode(rec["prompt"]) for rec in records]
    unreferenced = [i for i, rec in enumerate(records) if not rec.get("reference")]
    sampled = dict(zip(unreferenced, sample_continuations(pair.llm, [prompts[i] for i in unreferenced], n_positions,
                                                          [np.random.default_rng([seed, i]) for i in unreferenced]),
                       strict=True))  # fmt: skip
    items = progress(records) if progress else records
    for i, rec in enumerate(items):
        prompt = prompts[i]
        if rec.get("reference"):
            cont = pair.tokenizer.encode(" " + rec["reference"].strip(), special=False)[:n_positions]
            source = "reference"
        else:
            cont, source = sampled[i], "llm"
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


def sample_continuations(llm, prompts: list[list[int]], n: int, rngs: list, batch: int = 32) -> list[list[int]]:
    """The LLM's own continuations at T = 1 (float64 probabilities, each prompt its own generator), ``batch``
    prompts a forward: a step of 32 rows costs a CPU about what a few single-row steps do, so 64 openers
    sample in about a minute instead of five. A batched forward rounds differently from a single one, so
    the text differs from sequential sampling's; it is a sample of the same law."""
    out = []
    for a in range(0, len(prompts), batch):
        seqs = [list(map(int, p)) for p in prompts[a : a + batch]]
        sessions = [llm.session() for _ in seqs]  # one cache each, shared weights
        for _ in range(n):
            logits = llm.score_many(sessions, [s[:-1] for s in seqs], [[s[-1]] for s in seqs])
            for s, lg, rng in zip(seqs, logits, rngs[a : a + batch], strict=True):
                s.append(sample_probs(softmax_temperature(lg[-1], 1.0), rng))
        out += [s[len(p) :] for s, p in zip(seqs, prompts[a : a + batch], strict=True)]
    return out


def build_cache_files(prompts_path: Path, models, cache, out_dir: Path) -> dict:
    """The workflow's cache step: the prompts file and the ``models`` and ``cache`` sections in, the cache out."""
    records = read_jsonl(prompts_path)
    cache = section(Cache, cache)
    return build_logits_cache(
        ModelPair.of(section(Models, models)),
        records,
        cache.positions_per_prompt,
        cache.seed,
        out_dir,
        progress=lambda xs: tqdm(xs, desc="cache logits", unit="prompt"),
    )


def write_cache_statistics(cache_dir: Path, temperatures: list[float], alpha: float, out_csv: Path) -> None:
    """The workflow's ``cache_stats`` job: support sizes and E[1 − TV] per temperature (cache_stats.csv)."""
    write_table(cache_statistics(load_cache(cache_dir), temperatures, alpha), out_csv)

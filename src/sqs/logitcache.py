"""Teacher-forced SLM and LLM logits along reference continuations, stored once per model pair and data.

Both models score the same token sequences (prompt + reference continuation) in one forward pass each,
so every later question about the pair's distributions (support sizes, acceptance, trace sweeps) is
answered from files without running a model. A prompt without a reference (the embedded openers) gets
the LLM's own continuation sampled at T = 1 with a seeded generator; the index says which.

Storage is **full**: float32 logits over the shared vocabulary, ``(positions, V)`` per model, in
``slm_logits.npy`` and ``llm_logits.npy`` (memory-mappable). Nothing is truncated, so there is no
tail-mass error to bound; the cost is 4 V bytes a position per model (about 200 kB at V = 49 152).
``index.json`` maps rows to prompts; ``meta.json`` records the models, V and the settings.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np

from .probs import softmax_temperature, tv_distance

log = logging.getLogger(__name__)
FILES = ("slm_logits.npy", "llm_logits.npy", "index.json", "meta.json")


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
    from .decode import run_autoregressive
    from .latency import LinkConfig

    return run_autoregressive(llm, prompt, n, 1.0, rng, LinkConfig())[0]


def load_logits(cache_dir: Path) -> tuple[np.ndarray, np.ndarray, dict]:
    """(slm logits, llm logits, meta), the arrays memory-mapped."""
    cache_dir = Path(cache_dir)
    missing = [f for f in FILES if not (cache_dir / f).is_file()]
    if missing:
        raise FileNotFoundError(f"logits cache {cache_dir} lacks {missing}")
    meta = json.loads((cache_dir / "meta.json").read_text())
    return (
        np.load(cache_dir / "slm_logits.npy", mmap_mode="r"),
        np.load(cache_dir / "llm_logits.npy", mmap_mode="r"),
        meta,
    )


def support_size(probs: np.ndarray, mass: float) -> np.ndarray:
    """Per row, the fewest tokens whose probabilities sum to at least ``mass``."""
    s = -np.sort(-probs, axis=-1)
    c = np.cumsum(s, axis=-1)
    return np.minimum((c < mass * c[:, -1:]).sum(axis=-1) + 1, probs.shape[-1])


def cache_statistics(cache_dir: Path, temperatures: list[float], alpha: float, chunk: int = 64) -> list[dict]:
    """Per temperature and model: how many tokens hold 1 - alpha of the mass, and the pair's E[1 - TV]."""
    slm, llm, meta = load_logits(cache_dir)
    rows = []
    for t in temperatures:
        sizes: dict[str, list[np.ndarray]] = {"slm": [], "llm": []}
        accept = []
        for a in range(0, slm.shape[0], chunk):
            q = softmax_temperature(np.asarray(slm[a : a + chunk]), t)
            p = softmax_temperature(np.asarray(llm[a : a + chunk]), t)
            sizes["slm"].append(support_size(q, 1.0 - alpha))
            sizes["llm"].append(support_size(p, 1.0 - alpha))
            accept.append(1.0 - tv_distance(q, p))
        acc = np.concatenate(accept)
        for model, parts in sizes.items():
            k = np.concatenate(parts)
            rows.append(
                {
                    "temperature": t,
                    "model": model,
                    "model_id": meta[model],
                    "alpha": alpha,
                    "n_positions": int(k.size),
                    "support_mean": float(k.mean()),
                    "support_median": float(np.median(k)),
                    "support_p10": float(np.percentile(k, 10)),
                    "support_p90": float(np.percentile(k, 90)),
                    "accept_prob_mean": float(acc.mean()),
                }
            )
    return rows


def build_cache_files(prompts_path: Path, models: dict, cache: dict, out_dir: Path) -> dict:
    """The workflow's cache step: the prompts file and the model section in, the cache directory out."""
    from tqdm import tqdm

    from .decode import ModelPair

    records = [json.loads(line) for line in Path(prompts_path).read_text().splitlines() if line.strip()]
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
    import pandas as pd

    out = Path(out_csv)
    out.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(cache_statistics(cache_dir, temperatures, alpha)).to_csv(out, index=False)

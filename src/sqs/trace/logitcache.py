"""Teacher-forced SLM and LLM logits along reference continuations, stored once per model pair and data.

Both models score the same token sequences (prompt + reference continuation) in one forward pass each,
so every later question about the pair's distributions (support sizes, acceptance, trace sweeps) is
answered from files without running a model. A prompt without a reference (the embedded openers) gets
the LLM's own continuation sampled at T = 1 with a seeded generator; the index says which.

Storage is **full**: float32 logits over the shared vocabulary, ``(positions, V)`` per model, in
``slm_logits.npy`` and ``llm_logits.npy`` (memory-mappable). Nothing is truncated, so there is no
tail-mass error to bound; the cost is 4 V bytes a position per model (about 200 kB at V = 49 152).
``index.json`` maps rows to prompts; ``meta.json`` records the models, V and the settings.
:func:`load_cache` is the one reader; building the cache runs the models (:mod:`sqs.steps.cache`).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sqs.protocol.probs import softmax_temperature, tv_distance

log = logging.getLogger(__name__)
FILES = ("slm_logits.npy", "llm_logits.npy", "index.json", "meta.json")


@dataclass(frozen=True)
class LogitsCache:
    """A logits cache as every reader uses it: both models' logits (memory-mapped), its meta and index,
    and each prompt's [start, end) rows."""

    slm: np.ndarray
    llm: np.ndarray
    meta: dict
    index: list[dict]
    segments: list[tuple[int, int]]

    @property
    def contexts(self) -> list[int]:
        """Tokens before each segment's first position (its prompt): where a sequence's model calls start."""
        return [len(e.get("prompt_ids", [])) for e in self.index]

    @property
    def mean_context(self) -> float:
        """Mean tokens before a cached position (its prompt and the reference before it): the context the
        trace sweep prices model calls at."""
        n = [len(e.get("prompt_ids", [])) + i for e in self.index for i in range(len(e["tokens"]))]
        return float(np.mean(n)) if n else 64.0


def cache_segments(index: list[dict]) -> list[tuple[int, int]]:
    """[start, end) rows of each prompt's positions in a logits cache (``index.json``)."""
    return [(int(e["row"]), int(e["row"]) + len(e["tokens"])) for e in index]


def load_cache(cache_dir: Path) -> LogitsCache:
    """The one loader of a logits cache directory (the sweep, calibration, headroom, statistics, the CLI)."""
    slm, llm, meta = load_logits(cache_dir)
    index = json.loads((Path(cache_dir) / "index.json").read_text())
    return LogitsCache(slm, llm, meta, index, cache_segments(index))


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


def support_size(probs: np.ndarray, mass: float, order: np.ndarray | None = None) -> np.ndarray:
    """Per row, the fewest tokens whose probabilities sum to at least ``mass``; ``order``: each row's token ids
    by descending probability when known (a temperature keeps the logits' order), else sorted here."""
    s = -np.sort(-probs, axis=-1) if order is None else np.take_along_axis(probs, order, axis=-1)
    c = np.cumsum(s, axis=-1)
    return np.minimum((c < mass * c[:, -1:]).sum(axis=-1) + 1, probs.shape[-1])


def cache_statistics(cache: LogitsCache, temperatures: list[float], alpha: float, chunk: int = 64) -> list[dict]:
    """Per temperature and model: how many tokens hold 1 - alpha of the mass, and the pair's E[1 - TV].

    Each chunk of rows is argsorted once per model for every temperature (T > 0 keeps the logits' order;
    at T = 0 the distribution is one-hot, one token)."""
    slm, llm, meta = cache.slm, cache.llm, cache.meta
    temps = list(temperatures)
    sizes: dict[tuple, list[np.ndarray]] = {(m, t): [] for t in temps for m in ("slm", "llm")}
    accept: dict[float, list[np.ndarray]] = {t: [] for t in temps}
    for a in range(0, slm.shape[0], chunk):
        logits = {"slm": np.asarray(slm[a : a + chunk]), "llm": np.asarray(llm[a : a + chunk])}
        order = {m: np.argsort(-x, axis=1) for m, x in logits.items()}
        for t in temps:
            probs = {m: softmax_temperature(x, t) for m, x in logits.items()}
            for m, p in probs.items():
                sizes[(m, t)].append(support_size(p, 1.0 - alpha, order[m]) if t > 0 else np.ones(len(p), int))
            accept[t].append(1.0 - tv_distance(probs["slm"], probs["llm"]))
    rows = []
    for t in temps:
        acc = np.concatenate(accept[t]) if accept[t] else np.zeros(0)
        for model in ("slm", "llm"):
            k = np.concatenate(sizes[(model, t)]) if sizes[(model, t)] else np.zeros(0, int)
            rows.append(
                {
                    "temperature": t,
                    "model": model,
                    "model_id": meta[model],
                    "alpha": alpha,
                    "n_positions": int(k.size),
                    "support_mean": float(k.mean()) if k.size else float("nan"),
                    "support_median": float(np.median(k)) if k.size else float("nan"),
                    "support_p10": float(np.percentile(k, 10)) if k.size else float("nan"),
                    "support_p90": float(np.percentile(k, 90)) if k.size else float("nan"),
                    "accept_prob_mean": float(acc.mean()) if acc.size else float("nan"),
                }
            )
    return rows

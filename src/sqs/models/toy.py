"""Exact toy language models (Markov chains over a small vocabulary) whose distributions are known.

They stand in for the SLM and LLM wherever a test needs the target distribution in closed form: the
autoregressive law of the first tokens is a product of table rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, eq=False)
class MarkovLM:
    """Bigram model: logits of the next token depend on the last token only."""

    table: np.ndarray  # (V, V) logits; row = previous token

    @property
    def vocab_size(self) -> int:
        return int(self.table.shape[1])

    def next_logits(self, context: Sequence[int]) -> np.ndarray:
        return self.table[int(context[-1])].astype(np.float64)

    def score_logits(self, context: Sequence[int], continuation: Sequence[int]) -> np.ndarray:
        """Logits after ``context`` and after each prefix of ``continuation``: (len + 1, V)."""
        prev = [int(context[-1]), *(int(t) for t in continuation)]
        return self.table[prev].astype(np.float64)


def random_pair(vocab_size: int, rng: np.random.Generator, closeness: float = 0.7) -> tuple[MarkovLM, MarkovLM]:
    """An (SLM, LLM) pair: the SLM's logits are the LLM's plus independent noise.

    ``closeness`` in [0, 1] scales how much of the LLM the SLM shares; some entries are pushed to
    -inf in the LLM so that zero-probability tokens occur.
    """
    llm = rng.normal(0.0, 2.0, size=(vocab_size, vocab_size))
    llm[rng.random(llm.shape) < 0.15] = -np.inf
    llm[np.arange(vocab_size), rng.integers(vocab_size, size=vocab_size)] = 1.0  # keep every row alive
    noise = rng.normal(0.0, 2.0, size=llm.shape)
    slm = np.where(np.isfinite(llm), closeness * llm, -3.0) + (1.0 - closeness) * noise
    return MarkovLM(slm), MarkovLM(llm)

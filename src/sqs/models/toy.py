"""Exact toy language models (Markov chains over a small vocabulary) whose distributions are known.

They stand in for the SLM and LLM wherever a test needs the target distribution in closed form: the
autoregressive law of the first tokens is a product of table rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from sqs.models.interface import Loaded, ModelInfo, register_backend

TOY_PREFIX = "toy:"


@dataclass(frozen=True, eq=False)
class MarkovLM:
    """Bigram model: logits of the next token depend on the last token only."""

    table: np.ndarray  # (V, V) logits; row = previous token
    keeps_cache: ClassVar[bool] = False  # stateless: every call is its own
    batchable: ClassVar[bool] = False
    last_forward: ClassVar[None] = None

    @property
    def vocab_size(self) -> int:
        return int(self.table.shape[1])

    def reset(self) -> None:
        pass

    def session(self, vocab_size: int | None = None) -> MarkovLM:
        return self if vocab_size in (None, self.vocab_size) else MarkovLM(self.table[:, :vocab_size])

    def score_many(self, sessions, contexts, continuations) -> list[np.ndarray]:
        return [s.score_logits(c, x) for s, c, x in zip(sessions, contexts, continuations, strict=True)]

    def describe(self) -> ModelInfo:
        return ModelInfo(int(self.table.size), "cpu", None)

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


class ToyTokenizer:
    """A toy model's text is its token ids separated by spaces: ``"0 3 1"``."""

    def __init__(self, vocab_size: int) -> None:
        self.vocab_size = int(vocab_size)

    def __len__(self) -> int:
        return self.vocab_size

    @property
    def fingerprint(self) -> str:
        return f"toy:{self.vocab_size}"

    def encode(self, text: str, special: bool = True) -> list[int]:
        try:
            ids = [int(t) for t in text.split()]
        except ValueError:
            raise ValueError(f"a toy model's prompt is token ids separated by spaces, got {text!r}") from None
        if not ids or min(ids) < 0 or max(ids) >= self.vocab_size:
            raise ValueError(f"toy prompt {text!r}: give token ids in [0, {self.vocab_size})")
        return ids

    def decode(self, tokens: Sequence[int]) -> str:
        return " ".join(map(str, tokens))


def parse_toy(spec: str) -> tuple[int, int, float]:
    """``toy:V:seed:closeness`` -> (V, seed, closeness); the last two may be left out (0, 0.7)."""
    parts = spec[len(TOY_PREFIX) :].split(":")
    try:
        v = int(parts[0])
        seed = int(parts[1]) if len(parts) > 1 else 0
        closeness = float(parts[2]) if len(parts) > 2 else 0.7
    except (ValueError, IndexError):
        raise ValueError(f"toy model id must be toy:V[:seed[:closeness]], got {spec!r}") from None
    if len(parts) > 3 or not 2 <= v <= 4096 or not 0 <= closeness <= 1:
        raise ValueError(f"toy model id {spec!r}: need 2 <= V <= 4096 and 0 <= closeness <= 1")
    return v, seed, closeness


def toy_pair(spec: str) -> tuple[MarkovLM, MarkovLM]:
    """The (SLM, LLM) a toy id names: both sides build the same pair from its seed."""
    v, seed, closeness = parse_toy(spec)
    return random_pair(v, np.random.default_rng(seed), closeness)


def _load(model_id: str, dtype: str, device: str, side: str) -> Loaded:
    slm, llm = toy_pair(model_id)
    model = slm if side == "edge" else llm
    return Loaded(model, ToyTokenizer(model.vocab_size))


register_backend(TOY_PREFIX, _load)

"""Which model a side runs, and the identity the edge and the cloud compare when a session opens.

A real pair is a model id (``embedded:...``, a local directory, a hub id) and its tokenizer; the
identity is the cloud's id, the sha256 of the vocabulary, and V. A toy pair (``toy:V:seed:closeness``,
:func:`sqs.models.toy.random_pair`) has exact known distributions for the exactness tests: the edge
takes the pair's SLM and the server its LLM, both built from the same seed.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

import numpy as np

from sqs.models.toy import random_pair

TOY_PREFIX = "toy:"


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


def toy_pair(spec: str):
    v, seed, closeness = parse_toy(spec)
    return random_pair(v, np.random.default_rng(seed), closeness)


def tokenizer_fingerprint(tokenizer) -> str:
    """sha256 of the vocabulary (token -> id), the same for identical tokenizers."""
    vocab = sorted(tokenizer.get_vocab().items(), key=lambda kv: kv[1])
    return hashlib.sha256(json.dumps(vocab, ensure_ascii=False).encode()).hexdigest()


@dataclass
class LoadedModel:
    """One side's model: its id, tokenizer fingerprint, V, and what makes a per-session model."""

    name: str
    fingerprint: str
    vocab_size: int
    tokenizer: Any  # None for a toy model
    weights: Any  # the shared model (a transformers module or a MarkovLM)

    def session_model(self):
        """A model for one session: its own KV cache over the shared weights (a toy model is stateless)."""
        if self.tokenizer is None:
            return self.weights
        from sqs.models.backend import CausalLM

        return CausalLM(self.weights, self.vocab_size)

    def encode(self, text: str) -> list[int]:
        if self.tokenizer is None:  # a toy model reads its prompts as token ids: "0 3 1"
            try:
                ids = [int(t) for t in text.split()]
            except ValueError:
                raise ValueError(f"a toy model's prompt is token ids separated by spaces, got {text!r}") from None
            if not ids or min(ids) < 0 or max(ids) >= self.vocab_size:
                raise ValueError(f"toy prompt {text!r}: give token ids in [0, {self.vocab_size})")
            return ids
        ids = list(self.tokenizer(text).input_ids)
        if not ids:
            raise ValueError(f"prompt {text!r} has no tokens")
        return ids

    def decode(self, tokens: list[int]) -> str:
        return self.tokenizer.decode(tokens) if self.tokenizer is not None else " ".join(map(str, tokens))


def load_side(model_id: str, side: str, dtype: str = "bfloat16", device: str = "auto") -> LoadedModel:
    """The edge's SLM (``side='edge'``) or the cloud's LLM (``side='cloud'``) with its identity."""
    if side not in ("edge", "cloud"):
        raise ValueError(f"side must be edge or cloud, got {side!r}")
    if model_id.startswith(TOY_PREFIX):
        slm, llm = toy_pair(model_id)
        m = slm if side == "edge" else llm
        return LoadedModel(model_id, "toy", m.vocab_size, None, m)
    from sqs.models.backend import load_model, output_rows

    model, tok = load_model(model_id, dtype=dtype, device=device)
    v = len(tok)
    if output_rows(model) < v:
        raise ValueError(f"{model_id}: {output_rows(model)} output rows for a {v}-token vocabulary")
    return LoadedModel(model_id, tokenizer_fingerprint(tok), v, tok, model)

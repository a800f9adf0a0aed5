"""Which model a side runs, and the identity the edge and the cloud compare when a session opens.

A real pair is a model id (``embedded:...``, a local directory, a hub id) and its tokenizer; the
identity is the cloud's id, the sha256 of the vocabulary, and V. A toy pair (``toy:V:seed:closeness``,
:func:`sqs.models.toy.random_pair`) has exact known distributions for the exactness tests: the edge
takes the pair's SLM and the server its LLM, both built from the same seed.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqs.models.interface import LanguageModel, Tokenizer, encode_prompt, load


@dataclass
class LoadedModel:
    """One side's model: its id, tokenizer fingerprint, V, and what makes a per-session model."""

    name: str
    fingerprint: str
    vocab_size: int
    tokenizer: Tokenizer
    weights: LanguageModel  # the shared model; each session gets its own cache over it

    def session_model(self) -> LanguageModel:
        """A model for one session: its own cache over the shared weights."""
        return self.weights.session(self.vocab_size)

    def encode(self, text: str) -> list[int]:
        return encode_prompt(self.tokenizer, text)

    def decode(self, tokens: list[int]) -> str:
        return self.tokenizer.decode(tokens)


def load_side(model_id: str, side: str, dtype: str = "bfloat16", device: str = "auto") -> LoadedModel:
    """The edge's SLM (``side='edge'``) or the cloud's LLM (``side='cloud'``) with its identity."""
    loaded = load(model_id, dtype, device, side)
    v = len(loaded.tokenizer)
    if loaded.model.vocab_size < v:
        raise ValueError(f"{model_id}: {loaded.model.vocab_size} output rows for a {v}-token vocabulary")
    return LoadedModel(model_id, loaded.tokenizer.fingerprint, v, loaded.tokenizer, loaded.model)

"""What the rest of sqs asks of a language model and a tokenizer, and the backends that provide them.

The edge, the cloud, the study and the network only call these protocols; Hugging Face modules,
llama.cpp handles or toy tables stay inside their backend. A backend is a loader registered under a
model-id prefix (``embedded:``, ``toy:``; ``""`` takes local directories and hub ids), so a new runtime is
one module that registers itself, not edits across the code.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from sqs.protocol.verify import tree_path


class VocabularyMismatchError(ValueError):
    """The SLM and the LLM do not share one vocabulary."""


class LanguageModel(Protocol):
    """Next-token logits over ``vocab_size`` tokens, float64, with a cache the caller never manages.

    ``keeps_cache``: calls reuse what an earlier call computed (``last_forward`` is then the shape the
    model really ran, None for a cache hit); ``batchable``: :meth:`score_many` runs several sessions in one
    forward rather than one after another."""

    vocab_size: int
    keeps_cache: bool
    batchable: bool
    last_forward: tuple[int, int] | None

    def reset(self) -> None: ...

    def next_logits(self, context: Sequence[int]) -> np.ndarray: ...

    def score_logits(self, context: Sequence[int], continuation: Sequence[int]) -> np.ndarray: ...

    def session(self, vocab_size: int | None = None) -> LanguageModel:
        """A model with a cache of its own over the same weights (its logits cut to ``vocab_size``)."""
        ...

    def score_many(self, sessions: Sequence[LanguageModel], contexts: Sequence[Sequence[int]],
                   continuations: Sequence[Sequence[int]]) -> list[np.ndarray]:  # fmt: skip
        """``score_logits`` of several sessions of these weights."""
        ...

    def describe(self) -> ModelInfo: ...


def tree_logits(model: LanguageModel, context: Sequence[int], tokens: Sequence[int],
                parents: Sequence[int]) -> np.ndarray:  # fmt: skip
    """Logits after ``context`` (row 0) and after each node i of a token tree (row i + 1; ``parents[i]``: its
    parent, -1 the root): the model's own one-forward ``score_tree`` where it has one (a 4D mask), else one
    :meth:`LanguageModel.score_logits` along each leaf's path (every node lies on some leaf's path)."""
    if hasattr(model, "score_tree"):
        return model.score_tree(context, tokens, parents)
    tokens, parents = [int(t) for t in tokens], [int(u) for u in parents]
    has_child = {u for u in parents}
    out = np.empty((len(tokens) + 1, model.vocab_size))
    if not tokens:
        out[0] = model.next_logits(context)
    for leaf in [i for i in range(len(tokens)) if i not in has_child]:
        path = tree_path(parents, leaf)
        rows = model.score_logits(context, [tokens[i] for i in path])
        out[0] = rows[0]
        out[[i + 1 for i in path]] = rows[1:]
    return out


class Tokenizer(Protocol):
    """Text to token ids and back; ``fingerprint``: the sha256 of its vocabulary (equal for equal ones)."""

    @property
    def fingerprint(self) -> str: ...

    def __len__(self) -> int: ...

    def encode(self, text: str, special: bool = True) -> list[int]: ...

    def decode(self, tokens: Sequence[int]) -> str: ...


@dataclass(frozen=True)
class ModelInfo:
    """What the study records of a model: its parameter count, the device it runs on, and its architecture
    (``config``: the fields :func:`sqs.system.compute.shape_from_config` reads; None where it has none)."""

    parameters: int
    device: str
    config: dict | None = None


@dataclass(frozen=True)
class Loaded:
    model: LanguageModel
    tokenizer: Tokenizer


Loader = Callable[[str, str, str, str], Loaded]  # (model id, dtype, device, side) -> Loaded
BACKENDS: dict[str, Loader] = {}


def register_backend(prefix: str, loader: Loader) -> None:
    """Models whose id starts with ``prefix`` load through ``loader`` (the longest matching prefix wins)."""
    if prefix in BACKENDS:
        raise ValueError(f"a backend is already registered for model ids starting with {prefix!r}")
    BACKENDS[prefix] = loader


SLM_BACKENDS = {"transformers": "", "llama.cpp": "llama.cpp:"}  # the edge's runtimes, as id prefixes


def with_backend(model_id: str, backend: str) -> str:
    """``model_id`` run by ``backend`` (``transformers`` or ``llama.cpp``): the id its loader is registered for."""
    if backend not in SLM_BACKENDS:
        raise ValueError(f"model backend must be one of {', '.join(SLM_BACKENDS)}, got {backend!r}")
    prefix = SLM_BACKENDS[backend]
    return model_id if not prefix or model_id.startswith(prefix) else prefix + model_id


def load(model_id: str, dtype: str = "float32", device: str = "auto", side: str = "cloud") -> Loaded:
    """A model and its tokenizer; ``side`` (``edge`` or ``cloud``) picks a toy pair's member."""
    if side not in ("edge", "cloud"):
        raise ValueError(f"side must be edge or cloud, got {side!r}")
    prefix = max((p for p in BACKENDS if model_id.startswith(p)), key=len, default=None)
    if prefix is None:
        raise ValueError(f"no backend loads {model_id!r}; registered prefixes: {', '.join(map(repr, BACKENDS))}")
    return BACKENDS[prefix](model_id, dtype, device, side)


def encode_prompt(tokenizer: Tokenizer, text: str) -> list[int]:
    """A prompt's token ids; a prompt without any is refused here rather than failing in a model."""
    ids = tokenizer.encode(text)
    if not ids:
        raise ValueError(f"prompt {text!r} has no tokens")
    return ids


def shared_vocab_size(slm: Loaded, llm: Loaded) -> int:
    """The vocabulary both models' distributions are compared over.

    The tokenizers must be identical. Output layers may be padded past the tokenizer (GPT-Neo has 50257
    tokens and 50257 rows; other models round up); the padding rows are dropped."""
    if slm.tokenizer.fingerprint != llm.tokenizer.fingerprint:
        raise VocabularyMismatchError(
            "the SLM and LLM tokenizers differ: speculative decoding needs one shared vocabulary "
            f"(SLM has {len(slm.tokenizer)} tokens, LLM has {len(llm.tokenizer)})"
        )
    v = len(llm.tokenizer)
    if slm.model.vocab_size < v or llm.model.vocab_size < v:
        raise VocabularyMismatchError(
            f"output layers ({slm.model.vocab_size} SLM rows, {llm.model.vocab_size} LLM rows) are smaller than "
            f"the {v}-token vocabulary"
        )
    return v

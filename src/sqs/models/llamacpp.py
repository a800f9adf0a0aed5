"""The llama.cpp backend: an embedded model's GGUF file as shipped, run by llama-cpp-python.

``llama.cpp:<embedded id>`` (or ``models.slm_backend: llama.cpp`` / ``--slm-backend llama.cpp``) loads the
GGUF without any conversion, in its own quantization, with ``torch.get_num_threads()`` threads (the
workflow's and the CLI's thread setting). A forward computes the output layer only at the positions asked
for (the last one when drafting, every scored one for ``score_logits``), and logits come back cut to the
pair's V as float64, so q is computed in float64 whatever ran the model. The KV cache is rolled back to the
longest prefix the next request shares with it, so a rejected draft costs nothing to undo. Token ids and
the vocabulary fingerprint are the model's Hugging Face tokenizer's (the converted checkpoint's), the same
as the cloud's transformers model. Sessions made by :meth:`LlamaCppLM.session` share one llama.cpp
context: correct whatever the order of calls (each call compares its context with what the context holds),
fast when one session runs at a time, as an edge does.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Sequence

import numpy as np

from sqs.models.interface import Loaded, ModelInfo, register_backend

log = logging.getLogger(__name__)

PREFIX = "llama.cpp:"
N_CTX = int(os.environ.get("SQS_LLAMA_N_CTX", "512"))  # positions a context holds (its logits: N_CTX x V float32)
PIN = "llama-cpp-python==0.3.36"


class LlamaCppLM:
    """A llama.cpp context as :class:`sqs.models.interface.LanguageModel`."""

    keeps_cache = True
    batchable = False

    def __init__(self, llama, vocab_size: int, info: ModelInfo, rows: np.ndarray | None = None) -> None:
        if vocab_size > llama.n_vocab():
            raise ValueError(f"vocab_size={vocab_size} exceeds the model's {llama.n_vocab()} output rows")
        self._llama, self.vocab_size, self._info = llama, int(vocab_size), info
        # which held positions have their logits in llama.scores (shared by the context's sessions): a
        # catch-up forward computes the output layer for its last position only
        self._rows = np.zeros(N_CTX, dtype=bool) if rows is None else rows
        self.forward_tokens = 0
        self.last_forward: tuple[int, int] | None = None

    def reset(self) -> None:
        self._llama.reset()

    def _ensure(self, tokens: Sequence[int], rows_from: int) -> None:
        """Hold ``tokens`` in the KV cache with the logits of positions ``rows_from`` on."""
        tokens = [int(t) for t in tokens]
        if not tokens:
            raise ValueError("the context must hold at least one token")
        if len(tokens) > N_CTX:
            raise ValueError(f"a context of {len(tokens)} tokens exceeds llama.cpp's n_ctx = {N_CTX} (SQS_LLAMA_N_CTX)")
        self.last_forward = None
        held = self._llama.n_tokens
        limit = min(len(tokens), held)
        differ = np.flatnonzero(np.asarray(tokens[:limit]) != self._llama.input_ids[:limit])
        common = int(differ[0]) if differ.size else limit
        missing = np.flatnonzero(~self._rows[rows_from:common])
        common = rows_from + int(missing[0]) if missing.size else common  # a row never computed: run it again
        if common == len(tokens):
            return
        self._llama.n_tokens = common
        self._llama._ctx.kv_cache_seq_rm(-1, common, -1)  # the KV cache past the shared prefix
        self._decode(tokens[common:], rows_from)
        self.forward_tokens += len(tokens) - common
        self.last_forward = (len(tokens) - common, common)

    def _decode(self, tokens: list[int], rows_from: int) -> None:
        """llama-cpp-python's ``Llama.eval`` (pinned 0.3.36) with the output layer computed for positions
        ``rows_from`` on (and each batch's last) only: at V = 151,936 the output layer is most of the cost of
        a short forward's extra positions."""
        llama, n_vocab = self._llama, self._llama.n_vocab()
        for i in range(0, len(tokens), llama.n_batch):
            chunk, past = tokens[i : i + llama.n_batch], llama.n_tokens
            llama._batch.set_batch(batch=chunk, n_past=past, logits_all=False)
            keep = np.arange(past, past + len(chunk)) >= rows_from
            keep[-1] = True
            for j in np.flatnonzero(keep):
                llama._batch.batch.logits[j] = True
            llama._ctx.decode(llama._batch)
            llama.input_ids[past : past + len(chunk)] = chunk
            out = np.ctypeslib.as_array(llama._ctx.get_logits(), shape=(int(keep.sum()) * n_vocab,))
            llama.scores[past + np.flatnonzero(keep), :] = out.reshape(-1, n_vocab)
            self._rows[past : past + len(chunk)] = keep
            llama.n_tokens += len(chunk)

    def next_logits(self, context: Sequence[int]) -> np.ndarray:
        self._ensure(context, len(context) - 1)
        return self._llama.scores[len(context) - 1, : self.vocab_size].astype(np.float64)

    def score_logits(self, context: Sequence[int], continuation: Sequence[int]) -> np.ndarray:
        full = [*context, *continuation]
        self._ensure(full, len(context) - 1)
        return self._llama.scores[len(context) - 1 : len(full), : self.vocab_size].astype(np.float64)

    def session(self, vocab_size: int | None = None) -> LlamaCppLM:
        return LlamaCppLM(self._llama, vocab_size or self.vocab_size, self._info, self._rows)

    def score_many(self, sessions, contexts, continuations) -> list[np.ndarray]:
        return [s.score_logits(c, x) for s, c, x in zip(sessions, contexts, continuations, strict=True)]

    def describe(self) -> ModelInfo:
        return self._info


def _load(model_id: str, dtype: str, device: str, side: str) -> Loaded:
    import torch

    from sqs.models.backend import HFTokenizer
    from sqs.models.embedded import ensure_checkpoint, ensure_gguf, lookup

    base = model_id[len(PREFIX) :]
    if not base.startswith("embedded:") or "@exit=" in base:
        raise ValueError(f"{model_id!r}: the llama.cpp backend runs an embedded model's GGUF as shipped; give "
                         f"llama.cpp:<embedded id> ({', '.join(_embedded_ids())})")  # fmt: skip
    try:
        from llama_cpp import Llama
    except ImportError:
        raise ImportError(f"the llama.cpp backend needs {PIN} (make installs it; it builds from source in "
                          "about 5 minutes)") from None  # fmt: skip
    if device not in ("auto", "cpu"):
        log.warning("llama.cpp runs %s on the CPU here (device %r ignored)", base, device)
    lookup(base)  # an unknown embedded id is refused by name
    gguf, checkpoint = ensure_gguf(base), ensure_checkpoint(base)
    threads = torch.get_num_threads()
    llama = Llama(model_path=str(gguf), n_ctx=N_CTX, n_batch=N_CTX, n_threads=threads, n_threads_batch=threads,
                  logits_all=True, verbose=False)  # fmt: skip
    from transformers import AutoTokenizer

    config = json.loads((checkpoint / "config.json").read_text())
    info = ModelInfo(int(llama._model.n_params()), "cpu (llama.cpp)", config)
    log.info("llama.cpp: %s from %s, %d threads, n_ctx %d (%s ignored: the GGUF's own quantization)", base,
             gguf, threads, N_CTX, dtype)  # fmt: skip
    return Loaded(LlamaCppLM(llama, llama.n_vocab(), info), HFTokenizer(AutoTokenizer.from_pretrained(checkpoint)))


def _embedded_ids() -> list[str]:
    from sqs.models.embedded import EMBEDDED

    return list(EMBEDDED)


register_backend(PREFIX, _load)

"""The edge: SLM drafting, sparsify + quantize, sample from exactly q_hat, encode the uplink bytes."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from . import wire
from .budget import BitBudget
from .probs import softmax_temperature
from .schemes import Compressed, Scheme


@dataclass
class DraftBatch:
    """What the edge knows about the batch it just sent (never read by the cloud)."""

    message: bytes
    tokens: list[int]
    compressed: list[Compressed]
    q: list[np.ndarray] = field(repr=False)  # the SLM distributions before compression
    model_s: float = 0.0  # wall clock in SLM forwards (and temperature)
    protocol_s: float = 0.0  # wall clock in compress, sample and encode

    @property
    def payload_bits(self) -> int:
        return sum(c.bits for c in self.compressed)


class Edge:
    """Drafts up to ``max_draft_len`` tokens per batch while their payload fits ``budget_bits``.

    Schemes whose ``bit_budget_applies`` is False (float32 SD) are limited by the draft cap alone.
    """

    def __init__(
        self,
        model,
        scheme: Scheme,
        temperature: float,
        budget_bits: int,
        max_draft_len: int,
        rng: np.random.Generator,
    ) -> None:
        self.model = model
        self.scheme = scheme
        self.temperature = float(temperature)
        self.budget_bits = int(budget_bits)
        self.max_draft_len = int(max_draft_len)
        self.rng = rng
        self.tokens: list[int] = []

    def start(self, prompt: Sequence[int]) -> None:
        if len(prompt) == 0:
            raise ValueError("the prompt must hold at least one token")
        self.tokens = [int(t) for t in prompt]

    def draft(self) -> DraftBatch:
        limit = self.budget_bits if self.scheme.bit_budget_applies else 2**62
        budget = BitBudget(limit, self.max_draft_len)
        self.scheme.begin_batch()
        context = list(self.tokens)
        drafts: list[tuple[Compressed, int]] = []
        qs: list[np.ndarray] = []
        model_s = protocol_s = 0.0
        while not budget.full:
            t0 = time.perf_counter()
            q = softmax_temperature(self.model.next_logits(context), self.temperature)
            t1 = time.perf_counter()
            comp = self.scheme.compress(q)
            fits = budget.admit(comp.bits)
            token = comp.sample(self.rng) if fits else -1
            model_s += t1 - t0
            protocol_s += time.perf_counter() - t1
            if not fits:
                break  # sequential rule: this draft is not sent; C-SQS drops its update on end_batch
            drafts.append((comp, token))
            qs.append(q)
            context.append(token)
        t0 = time.perf_counter()
        v = self.model.vocab_size
        message = wire.encode_uplink(self.scheme.code, v, self.scheme.ell, self.scheme.fixed_k, drafts)
        protocol_s += time.perf_counter() - t0
        return DraftBatch(message, [t for _, t in drafts], [c for c, _ in drafts], qs, model_s, protocol_s)

    def receive(self, downlink: bytes, batch: DraftBatch) -> tuple[int, int]:
        """Apply the cloud's verdict: keep the accepted drafts, append the cloud's token."""
        num_accepted, token = wire.decode_downlink(downlink)
        if num_accepted > len(batch.tokens) or token >= self.model.vocab_size:
            raise wire.WireFormatError(f"downlink accepts {num_accepted} of {len(batch.tokens)} drafts, token {token}")
        self.scheme.end_batch(num_accepted)
        self.tokens.extend(batch.tokens[:num_accepted])
        self.tokens.append(token)
        return num_accepted, token

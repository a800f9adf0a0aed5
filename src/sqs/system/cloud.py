"""The cloud: decode the uplink bytes, score the whole draft with the LLM, verify, answer in bytes."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from sqs.protocol import wire
from sqs.protocol.probs import softmax_temperature
from sqs.protocol.verify import rejection_probability, verify
from sqs.system.compute import forward_of


@dataclass
class Verdict:
    """What the cloud knows after one batch (never read by the edge)."""

    message: bytes
    num_drafts: int
    num_accepted: int
    token: int
    uplink_bytes: int
    payload_bits: int
    rejection_prob: np.ndarray = field(repr=False)  # TV(q_hat_n, p_n) per draft position
    p: np.ndarray = field(repr=False)  # (L+1, V) target distributions
    q_hat: np.ndarray = field(repr=False)
    compute_s: float = 0.0  # wall clock: decode, LLM forward, verify, encode
    forward: tuple[int, int] = (0, 0)  # the LLM call: (new tokens, cached tokens)
    supports: list[int] = field(default_factory=list)  # each decoded draft's support size


class Cloud:
    def __init__(self, model, temperature: float, rng: np.random.Generator) -> None:
        self.model = model
        self.temperature = float(temperature)
        self.rng = rng
        self.tokens: list[int] = []

    def start(self, prompt: Sequence[int]) -> None:
        self.tokens = [int(t) for t in prompt]

    def handle(self, uplink: bytes) -> Verdict:
        t0 = time.perf_counter()
        msg = wire.decode_uplink(uplink)
        if msg.header.vocab_size != self.model.vocab_size:
            raise wire.WireFormatError(
                f"uplink for V={msg.header.vocab_size}, this cloud model has V={self.model.vocab_size}"
            )
        drafts = msg.tokens
        q_hat = msg.q_hat()
        p = softmax_temperature(self.model.score_logits(self.tokens, drafts), self.temperature)
        shape = forward_of(self.model, len(drafts) + 1, len(self.tokens) - 1)  # the drafts and the last token
        n_acc, token = verify(drafts, q_hat, p, self.rng)
        self.tokens.extend(int(t) for t in drafts[:n_acc])
        self.tokens.append(token)
        message = wire.encode_downlink(n_acc, token)
        elapsed = time.perf_counter() - t0  # the bookkeeping below is measurement, not cloud work
        return Verdict(
            message=message,
            num_drafts=len(drafts),
            num_accepted=n_acc,
            token=token,
            uplink_bytes=msg.num_bytes,
            payload_bits=msg.payload_bits,
            rejection_prob=rejection_probability(q_hat, p[: len(drafts)]),
            p=p,
            q_hat=q_hat,
            compute_s=elapsed,
            forward=shape,
            supports=[int(d.support.size) for d in msg.drafts],
        )

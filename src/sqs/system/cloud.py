"""The cloud: decode the uplink bytes, score the whole draft with the LLM, verify, answer in bytes."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from sqs.models.interface import tree_logits
from sqs.protocol import wire
from sqs.protocol.probs import softmax_temperature
from sqs.protocol.verify import rejection_probability, verify_match, verify_rule, verify_split, verify_tree
from sqs.system.compute import forward_of


@dataclass
class Verdict:
    """What the cloud knows after one batch (never read by the edge)."""

    message: bytes
    num_drafts: int
    num_accepted: int
    token: int  # -1: split verification rejected a draft, the edge draws the token from the logits sent down
    uplink_bytes: int
    payload_bits: int
    # TV(q_hat_n, p_n) per draft position: the exact rejection probability; for token ids alone 1 - p_n(x_n), the
    # one given the draft; NaN across a network
    rejection_prob: np.ndarray = field(repr=False)
    p: np.ndarray | None = field(repr=False)  # (L+1, V) target distributions; None from a remote cloud
    q_hat: np.ndarray | None = field(repr=False)
    compute_s: float = 0.0  # wall clock: decode, LLM forward, verify, encode
    forward: tuple[int, int] = (0, 0)  # the LLM call: (new tokens, cached tokens)
    supports: list[int] = field(default_factory=list)  # each decoded draft's support size
    round_trip_s: float | None = None  # a remote cloud: send to verdict on the edge's clock (sqs.net.client)
    server_s: float | None = None  # ... and the server's own time from the uplink's arrival to the verdict


def verify_uplink(msg: wire.UplinkMessage, p: np.ndarray, rng: np.random.Generator, rule: str = "token"
                  ) -> tuple[list[int], int | None, np.ndarray | None, np.ndarray]:  # fmt: skip
    """Verify a decoded uplink against the LLM's ``p`` ((L+1, V): after the text and each draft, or each node of
    a tree): drafts sent with a q_hat by ``rule``, token ids alone by exact match, a tree by its walk, split drafts
    by their q_hat(x) (next token None after a rejection: the edge draws it). Returns (the accepted drafts'
    indices, next token, q_hat or None, each draft's rejection probability: TV(q_hat_n, p_n), or given the draft
    1 - p_n(x_n) for token ids and tree nodes (p at the node's parent), 1 - min(1, p_n(x_n)/q_hat_n(x_n)) for
    split drafts)."""
    drafts = msg.tokens
    if msg.layout.tree:
        path, token = verify_tree(drafts, msg.parents, p, rng)
        return path, token, None, 1.0 - p[msg.parents + 1, drafts]
    if msg.layout.split:
        n_acc, token = verify_split(drafts, msg.q_values, p, rng)
        rejection, q_hat = 1.0 - np.minimum(1.0, p[np.arange(len(drafts)), drafts] / msg.q_values), None
    elif not msg.sends_q_hat:
        n_acc, token = verify_match(drafts, p, rng)
        rejection, q_hat = 1.0 - p[np.arange(len(drafts)), drafts], None
    else:
        q_hat = msg.q_hat()
        n_acc, token = verify_rule(rule)(drafts, q_hat, p, rng)
        rejection = rejection_probability(q_hat, p[: len(drafts)])
    return list(range(n_acc)), token, q_hat, rejection


class Cloud:
    """One session's verifier. ``limits`` bound what an uplink may cost to decode (:class:`wire.DecodeLimits`;
    a server passes its model's V and its limits); ``scheme_code`` pins the session's scheme; ``rule`` is how it
    verifies drafts sent with a q_hat (``token`` or ``block``: :mod:`sqs.protocol.verify`; both exact, the same
    bits); token ids sent alone are verified by exact match, split drafts by their q_hat(x) (after a rejection
    the logits go down and the next uplink carries the token the edge drew: ``awaiting`` until then)."""

    remote = False  # in this process (sqs.net.client.RemoteCloud is the other kind)

    def __init__(self, model, temperature: float, rng: np.random.Generator, limits: wire.DecodeLimits = wire.NO_LIMITS,
                 scheme_code: int | None = None, rule: str = "token") -> None:  # fmt: skip
        self.model = model
        self.rule = rule
        verify_rule(rule)  # an unknown rule is refused here, naming the valid ones
        self.temperature = float(temperature)
        self.rng = rng
        self.limits = limits
        self.scheme_code = scheme_code
        self.tokens: list[int] = []
        self.awaiting = False

    def start(self, prompt: Sequence[int]) -> None:
        self.tokens = [int(t) for t in prompt]
        self.awaiting = False

    def close(self) -> None:
        """Nothing to release in one process (a remote cloud closes its connection)."""

    def handle(self, uplink: bytes) -> Verdict:
        t0 = time.perf_counter()
        msg = self.prepare(uplink)
        return self.finish(msg, self.score(msg), time.perf_counter() - t0)

    def score(self, msg: wire.UplinkMessage) -> np.ndarray:
        """The LLM's logits for a decoded uplink: after the text and each draft (a chain), or each node (a tree:
        one forward with a tree mask where the model has one)."""
        if msg.layout.tree:
            return tree_logits(self.model, self.tokens, msg.tokens, msg.parents.tolist())
        return self.model.score_logits(self.tokens, msg.tokens)

    def prepare(self, uplink: bytes) -> wire.UplinkMessage:
        """Decode and check one uplink (the part of :meth:`handle` before the LLM call)."""
        msg = wire.decode_uplink(uplink, self.limits)
        if self.scheme_code is not None and msg.header.scheme_code != self.scheme_code:
            raise wire.WireFormatError(f"uplink of scheme code {msg.header.scheme_code} in a session opened for "
                                       f"{self.scheme_code}")  # fmt: skip
        if msg.header.vocab_size != self.model.vocab_size:
            raise wire.WireFormatError(
                f"uplink for V={msg.header.vocab_size}, this cloud model has V={self.model.vocab_size}"
            )
        carried = msg.header.carried
        if (carried is not None) != self.awaiting:
            raise wire.WireFormatError("an uplink after a split rejection must carry the edge's token, and only "
                                       f"then (carried {carried}, awaiting {self.awaiting})")  # fmt: skip
        if carried is not None:
            self.tokens.append(carried)
            self.awaiting = False
        return msg

    def finish(self, msg: wire.UplinkMessage, logits: np.ndarray, spent_s: float = 0.0) -> Verdict:
        """Verify the drafts against the LLM's ``logits`` over them (one call, maybe batched with other
        sessions': the model's ``score_many``) and answer; ``spent_s``: the work so far."""
        t0 = time.perf_counter()
        drafts = msg.tokens
        p = softmax_temperature(logits, self.temperature)
        shape = forward_of(self.model, len(drafts) + 1, len(self.tokens) - 1)  # the drafts and the last token
        accepted, token, q_hat, rejection = verify_uplink(msg, p, self.rng, self.rule)
        n_acc = len(accepted)
        self.tokens.extend(int(drafts[i]) for i in accepted)
        if token is None:  # split verification rejected draft n_acc: its logits go down, the edge draws
            message, token, self.awaiting = wire.encode_logits_downlink(n_acc, logits[n_acc]), -1, True
        else:
            self.tokens.append(token)  # a tree's verdict names its deepest accepted node (+ 1), a chain's the count
            message = wire.encode_downlink(accepted[-1] + 1 if msg.layout.tree and accepted else n_acc, token)
        if msg.layout.tree:  # the record's p per draft: the law at each node's own position
            p = p[msg.parents + 1]
        elapsed = spent_s + time.perf_counter() - t0  # the bookkeeping below is measurement, not cloud work
        return Verdict(
            message=message,
            num_drafts=len(drafts),
            num_accepted=n_acc,
            token=token,
            uplink_bytes=msg.num_bytes,
            payload_bits=msg.payload_bits,
            rejection_prob=rejection,
            p=p,
            q_hat=q_hat,
            compute_s=elapsed,
            forward=shape,
            supports=[int(d.support.size) for d in msg.drafts],
        )

"""Draft-length and lattice-resolution policies: static (L, ell), or adaptive and model-based.

**The throughput model** the adaptive policy maximizes, per batch of L drafts at resolution ell over
an uplink of rate R (everything the edge can observe or measure itself):

    time(L)   = L t_edge + 8 (H + ceil(b_ell L / 8)) / R + d_prop + c_0 + c_1 (L + 1) + 8 D / R_down
    tokens(L) = 1 + sum_{j=1..L} prod_{i<=j} a_i

t_edge is the running mean of the edge's measured seconds per draft; c_0 + c_1 (L + 1) the cloud's
compute, fitted by least squares on the round trips the edge observed minus their link times; H and
D the uplink header and downlink message bytes. The acceptance of draft i at resolution ell is

    a_i(ell) = A(c_i) - (D_ell - D_used)

A(c) is a binned running mean of observed accepts against the draft's *confidence* c_i (its largest
quantized probability), with prior mean c itself; a second binned mean, whose prior is the first,
predicts the *next* draft's acceptance from the current one's confidence before it is made. D_ell is
the running mean quantization distortion TV(q, q̂_ell), and b_ell the running mean bits per draft:
the edge computes both for *every* resolution from the first draft of each batch (Algorithm 2 on the
same support; :func:`resolution_profile`), so resolutions are compared without trying each one.
The linear correction follows Theorem 1: a draft's rejection probability is at most TV(q, p) +
TV(q, q̂), and only the second term depends on ell.

**The policy.** Before a batch, ell is the resolution with the highest predicted tokens/s of a
typical batch at the current rate (mean confidence, the best draft length). While drafting, after
draft j the edge keeps going only if some continuation of m ≥ 1 more drafts (acceptance held at the
next-draft estimate) raises expected tokens per second above stopping now. The policy sees only the
edge's own drafts, its measurements and past verdicts, so every draft is still verified against
exactly the q̂ it was sampled from: the output stays exact.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from sqs.protocol import wire
from sqs.protocol.enumerative import bits_for
from sqs.protocol.lattice import quantize
from sqs.protocol.schemes import lattice_bits
from sqs.system.latency import LinkConfig


@dataclass(frozen=True)
class Plan:
    ell: int
    max_len: int


class StaticPolicy:
    """A fixed (L, ell): draft L tokens (while the bit budget allows) at resolution ell."""

    name = "static"
    wants_profile = False

    def __init__(self, draft_len: int, ell: int) -> None:
        if draft_len < 1 or ell < 1:
            raise ValueError(f"a static policy needs draft_len >= 1 and ell >= 1, got ({draft_len}, {ell})")
        self.draft_len, self.ell = int(draft_len), int(ell)

    def plan(self, rate_bps: float) -> Plan:
        return Plan(self.ell, self.draft_len)

    def keep_drafting(self, confidences: list[float], bits: list[int], rate_bps: float) -> bool:
        return True

    def observe(self, **_) -> None:
        return None


def confidence(comp) -> float:
    """The draft's largest quantized probability (float32 drafts: the largest weight)."""
    if comp.counts is not None:
        return float(comp.counts.max()) / comp.ell
    w = comp.weights
    return float(w.max() / w.sum())


@dataclass
class _Bins:
    """Running P(accept) per confidence bin; the prior mean is the confidence itself (or ``prior``)."""

    n_bins: int = 10
    weight: float = 2.0
    hits: np.ndarray = field(default=None)
    tries: np.ndarray = field(default=None)

    def __post_init__(self) -> None:
        self.hits = np.zeros(self.n_bins)
        self.tries = np.zeros(self.n_bins)

    def _bin(self, c: float) -> int:
        return min(int(c * self.n_bins), self.n_bins - 1)

    def add(self, c: float, accepted: bool) -> None:
        b = self._bin(c)
        self.tries[b] += 1
        self.hits[b] += accepted

    def __call__(self, c: float, prior: float | None = None) -> float:
        b = self._bin(c)
        mean = c if prior is None else prior
        return float((self.hits[b] + self.weight * mean) / (self.tries[b] + self.weight))


def resolution_profile(q: np.ndarray, comp, ells: list[int]) -> dict[int, tuple[float, int]]:
    """For each ell: (TV(q, q̂_ell), payload bits) of ``comp``'s support quantized at ell instead."""
    support = comp.support
    qs = np.asarray(q, dtype=np.float64)[support]
    fixed = comp.bits - comp.lattice_bits - comp.token_bits  # support and size fields do not depend on ell
    out = {}
    for ell in ells:
        counts = quantize(qs, ell)
        tv = 0.5 * (np.abs(qs - counts / ell).sum() + max(0.0, 1.0 - qs.sum()))
        nnz = int(np.count_nonzero(counts))
        out[ell] = (float(tv), int(fixed + lattice_bits(support.size, ell) + bits_for(nnz)))
    return out


class AdaptivePolicy:
    """Model-based choice of ell per batch and of the draft length while drafting (module docstring)."""

    name = "adaptive"
    wants_profile = True

    def __init__(self, ells: list[int], max_draft_len: int, link: LinkConfig) -> None:
        if not ells or min(ells) < 1:
            raise ValueError(f"ells must be a non-empty list of resolutions >= 1, got {ells!r}")
        if max_draft_len < 1:
            raise ValueError(f"max_draft_len must be >= 1, got {max_draft_len}")
        self.ells = sorted({int(e) for e in ells})
        self.max_draft_len = int(max_draft_len)
        self.link = link
        self.own = _Bins()  # P(draft accepted | its confidence)
        self.next = _Bins()  # P(next draft accepted | this draft's confidence)
        self.bits: dict[int, float | None] = {e: None for e in self.ells}  # running mean bits per draft
        self.dist: dict[int, float | None] = {e: None for e in self.ells}  # running mean TV(q, q_hat_ell)
        self.edge_s: float | None = None
        self._xtx = np.eye(2) * 1e-6
        self._xty = np.zeros(2)
        self.ell = self.ells[-1]
        self._conf = [0.0, 0.0]  # sum and count of evaluated drafts' confidences
        self._tokens = self._alive = 1.0

    def note_profile(self, profile: dict[int, tuple[float, int]]) -> None:
        """The edge's :func:`resolution_profile` of a draft: distortion and bits at every ell."""
        for e, (tv, bits) in profile.items():
            old_d, old_b = self.dist[e], self.bits[e]
            self.dist[e] = tv if old_d is None else 0.9 * old_d + 0.1 * tv
            self.bits[e] = bits if old_b is None else 0.9 * old_b + 0.1 * bits

    # --- the model -------------------------------------------------------------------------------
    def cloud_s(self, n_drafts: int) -> float:
        if self._xtx[0, 0] < 0.5:
            return 0.0
        c0, c1 = np.linalg.solve(self._xtx + np.diag([0.0, 1e-3]), self._xty)
        if c1 < 0:  # keep the model physical
            c0, c1 = self._xty[0] / self._xtx[0, 0], 0.0
        return float(c0 + c1 * (n_drafts + 1))

    def batch_time(self, n_drafts: int, payload_bits: float, rate_bps: float) -> float:
        """The learned compute of a batch of ``n_drafts`` and its messages on the link (the one link price)."""
        up = wire.UPLINK_HEADER_BYTES + math.ceil(payload_bits / 8)
        messages = self.link.messages_s(up, wire.DOWNLINK_BYTES, uplink_bps=rate_bps)
        return n_drafts * (self.edge_s or 0.0) + self.cloud_s(n_drafts) + messages

    def shift(self, ell: int, used: int) -> float:
        """How acceptance changes from resolution ``used`` to ``ell``: D_used - D_ell (Theorem 1)."""
        if self.dist[ell] is None or self.dist[used] is None:
            return 0.0
        return self.dist[used] - self.dist[ell]

    def _best_rate(self, a: float, bits: float, rate_bps: float, start=(1.0, 1.0, 0, 0.0)) -> tuple[float, int]:
        """Highest expected tokens/s over continuations of 0..cap more drafts at acceptance ``a``
        (at least one draft in all: a batch always carries one)."""
        tokens, alive, n, payload = start
        best = tokens / self.batch_time(n, payload, rate_bps) if n > 0 else -math.inf
        best_m = 0
        for m in range(1, self.max_draft_len - n + 1):
            alive *= a
            tokens += alive
            rate = tokens / self.batch_time(n + m, payload + m * bits, rate_bps)
            if rate > best:
                best, best_m = rate, m
        return best, best_m

    # --- the policy ------------------------------------------------------------------------------
    def plan(self, rate_bps: float) -> Plan:
        if all(self.bits[e] is not None for e in self.ells):
            c = self._conf[0] / self._conf[1] if self._conf[1] else 0.5
            here, used = self.own(c), self.ell  # typical acceptance at the resolution used so far

            def predicted(e: int) -> float:
                a = min(1.0, max(0.0, here + self.shift(e, used)))
                return self._best_rate(a, self.bits[e], rate_bps)[0]

            self.ell = max(self.ells, key=predicted)
        self._tokens, self._alive = 1.0, 1.0
        return Plan(self.ell, self.max_draft_len)

    def keep_drafting(self, confidences: list[float], bits: list[int], rate_bps: float) -> bool:
        self._alive *= min(1.0, self.own(confidences[-1]))
        self._tokens += self._alive
        if self.edge_s is None or len(confidences) >= self.max_draft_len:
            return False  # the first batch sends one draft: it measures the edge's time per draft
        # the next draft's acceptance, learned from pairs; until pairs are seen, this draft's own
        a_next = min(1.0, self.next(confidences[-1], prior=self.own(confidences[-1])))
        per_bits = self.bits[self.ell] if self.bits[self.ell] is not None else float(np.mean(bits))
        start = (self._tokens, self._alive, len(confidences), float(sum(bits)))
        return self._best_rate(a_next, per_bits, rate_bps, start)[1] > 0

    def observe(self, *, confidences: list[float], bits: list[int], num_accepted: int, edge_s: float,
                round_trip_s: float, rate_bps: float, ell: int) -> None:  # fmt: skip
        """Learn from one verified batch: what the edge measured and the cloud's verdict."""
        n = len(confidences)
        if n:
            per = edge_s / n
            self.edge_s = per if self.edge_s is None else 0.8 * self.edge_s + 0.2 * per
            if self.bits[ell] is None:  # no profile from the edge: learn this resolution's bits directly
                self.bits[ell] = float(np.mean(bits))
        link_s = self.batch_time(0, float(sum(bits)), rate_bps) - self.cloud_s(0)
        cloud = max(0.0, round_trip_s - link_s)
        x = np.array([1.0, n + 1.0])
        self._xtx += np.outer(x, x)
        self._xty += x * cloud
        for i in range(min(num_accepted + 1, n)):  # drafts past the first rejection were never evaluated
            ok = i < num_accepted
            self.own.add(confidences[i], ok)
            self._conf[0] += confidences[i]
            self._conf[1] += 1
            if i > 0:
                self.next.add(confidences[i - 1], ok)


def make_policy(name: str, *, draft_len: int, ell: int, ells: list[int] | None, link: LinkConfig):
    """``static`` (the fixed draft length and ell) or ``adaptive`` (over ``ells``, up to ``draft_len``)."""
    if name == "static":
        return StaticPolicy(draft_len, ell)
    if name == "adaptive":
        return AdaptivePolicy(list(ells or [ell]), draft_len, link)
    raise ValueError(f"unknown draft policy {name!r}; valid: static, adaptive")

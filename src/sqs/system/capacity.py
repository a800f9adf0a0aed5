"""One cloud serving many edges: per-edge speed, per-token latency, the cloud's cost and its capacity.

A single user's latency is not the only figure of merit: SLED and SpecEdge judge edge–cloud speculation by
what one cloud sustains when many edges share it. N edges run the same workload against one cloud that
verifies every uplink waiting at once in one batched forward (``sqs serve --batch-verify``), at most
``max_batch`` sessions a round. The model is a closed loop of N identical edges:

- an edge **thinks** for Z seconds between verdicts: its drafting (SLM calls and protocol), the uplink
  message, the propagation and the downlink message;
- the cloud runs **rounds**: a round of m sessions costs R(m) = one forward of m sequences of L + 1 tokens
  (:meth:`sqs.system.pricing.Pricer.cloud_batch_s`: weights read once, each sequence's KV cache and FLOPs
  its own) plus the sessions' decode-and-verify work on the host, shared by its cores (a DGX's share per
  GPU; this machine's one verifier thread);
- N edges fill g = ceil(N / max_batch) groups of m = ceil(N / g); a group's cycle is
  C = max(g R(m), Z + R(m)): either the cloud is the bottleneck (busy all the time, each group waits for the
  others) or the edges are (each group thinks while the cloud idles or serves the others).

Per edge: tokens/s = T / C with T the tokens a batch yields; per-token latency C / T; the cloud's busy
accelerator-seconds per 1,000 tokens 1000 g R(m) / (N T); **capacity** is the largest N whose per-token
latency meets an objective. Cloud-only AR is the same cloud doing continuous batching of N streams, with
both readings of the link explicit: **streamed** (one round trip per request: Z = 0, each token one round
of N sequences of one token, the propagation paid once per request) and **per token** (the edge asks for
each token: Z = propagation + the two messages). Rounds are deterministic and synchronized groups are
assumed (a live server's edges drift between groups; ``python -m sqs.net.study capacity`` measures how far
that moves the clock). The cloud's memory for KV caches is not a limit here (docs/capacity.md).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from sqs.protocol import wire
from sqs.system.pricing import Pricer

AR_SCHEME = "ar"
AR_MODES = ("ar-streamed", "ar-per-token")
REQUEST_BYTES = wire.DOWNLINK_BYTES  # what an AR-per-token request carries up: about one token's message
EDGE_COUNTS = tuple(2**i for i in range(9))  # 1 .. 256 edges


@dataclass(frozen=True)
class Workload:
    """What one edge's session costs per batch, in the mean (the trace model's expected totals divided by its
    batches, or a live cell's): drafts L, tokens gained T (accepted + 1), the edge's seconds, the messages'
    bytes, the cloud's seconds for this session alone (forward and protocol) and the context verified at.
    ``request_tokens``: the tokens one request asks for (AR streamed pays its propagation once per request)."""

    scheme: str
    drafts: float
    tokens: float
    edge_s: float
    uplink_bytes: float
    downlink_bytes: float
    cloud_s: float
    context: float
    request_tokens: float = 24.0

    @classmethod
    def from_terms(cls, scheme: str, terms: dict, context: float) -> Workload:
        """From :func:`sqs.trace.regimes.link_terms`' expected totals of a cell."""
        n = max(float(terms["batches"]), 1e-12)
        return cls(scheme, terms["drafts"] / n, terms["tokens"] / n, terms["edge_s"] / n, terms["uplink_bytes"] / n,
                   terms["downlink_bytes"] / n, terms["cloud_s"] / n, float(context),
                   terms["tokens"] / max(terms["prompts"], 1))  # fmt: skip

    @classmethod
    def autoregressive(cls, request_tokens: float, context: float) -> Workload:
        """Cloud-only AR: one token a round, nothing drafted."""
        return cls(AR_SCHEME, 0.0, 1.0, 0.0, REQUEST_BYTES, wire.DOWNLINK_BYTES, 0.0, float(context),
                   float(request_tokens))  # fmt: skip


def _groups(n_edges: int, max_batch: int) -> tuple[int, int]:
    g = math.ceil(n_edges / max_batch)
    return g, math.ceil(n_edges / g)


def round_s(pricer: Pricer, w: Workload, sessions: int) -> float:
    """One verification round of ``sessions`` edges running ``w``: one batched forward of L + 1 tokens each,
    and each session's own protocol work (its single-session cloud seconds less its forward) spread over the
    cloud host's cores."""
    n_new = w.drafts + 1.0
    protocol = max(w.cloud_s - pricer.cloud_batch_s(1, n_new, w.context), 0.0) if w.scheme != AR_SCHEME else 0.0
    waves = math.ceil(sessions / pricer.cloud_host_cores)
    return pricer.cloud_batch_s(sessions, n_new, w.context) + waves * protocol


def think_s(pricer: Pricer, w: Workload) -> float:
    """Z: what an edge spends between two verdicts outside the cloud (its compute and the link)."""
    return w.edge_s + pricer.messages_s(w.uplink_bytes, 1.0, w.downlink_bytes)


@dataclass(frozen=True)
class SharedMachine:
    """A testbed where the edges and the cloud share one machine's ``cores`` (the live check on this CPU): every
    edge's drafting and the cloud's rounds (on ``cloud_threads`` cores) then also queue for the same cores."""

    cores: int
    cloud_threads: int


def point(pricer: Pricer, w: Workload, n_edges: int, max_batch: int = 256, mode: str = "sd",
          shared: SharedMachine | None = None) -> dict:  # fmt: skip
    """Per-edge tokens/s, per-token latency, the cloud's busy share and accelerator-seconds per 1,000 tokens
    when ``n_edges`` edges run ``w`` (``mode``: ``sd``, or one of :data:`AR_MODES` for an AR workload)."""
    g, m = _groups(n_edges, max_batch)
    r = round_s(pricer, w, m)
    if mode == "ar-streamed":  # continuous batching: a stream's next token is the next round its group is in
        cycle = g * r
        latency = cycle / w.tokens + pricer.account_link.propagation_s / max(w.request_tokens, 1.0)
    else:
        cycle = max(g * r, think_s(pricer, w) + r)
        if shared is not None:  # the machine's cores: every edge's drafting and the cloud's rounds in one cycle
            cycle = max(cycle, (n_edges * w.edge_s + g * r * shared.cloud_threads) / shared.cores)
        latency = cycle / w.tokens
    return {
        "edges": n_edges,
        "round_sessions": m,
        "round_s": r,
        "cycle_s": cycle,
        "tokens_per_s_per_edge": 1.0 / latency,
        "latency_per_token_s": latency,
        "system_tokens_per_s": n_edges / latency,
        "cloud_busy": min(g * r / cycle, 1.0),
        "cloud_s_per_1k_tokens": 1000.0 * g * r / (n_edges * w.tokens),
    }


def capacity(pricer: Pricer, w: Workload, objective_s: float, max_batch: int = 256, mode: str = "sd",
             limit: int = 1 << 16) -> int:  # fmt: skip
    """The most edges whose per-token latency meets ``objective_s`` (0: not even one; ``limit``: at least that
    many). Latency grows with N, so a doubling search then bisection finds it."""
    ok = lambda n: point(pricer, w, n, max_batch, mode)["latency_per_token_s"] <= objective_s  # noqa: E731
    if not ok(1):
        return 0
    lo = 1
    while lo < limit and ok(min(2 * lo, limit)):
        lo = min(2 * lo, limit)
    if lo >= limit:
        return limit
    hi = min(2 * lo, limit)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if ok(mid) else (lo, mid)
    return lo


def capacity_rows(pricer: Pricer, workloads: list[Workload], ar: Workload, objective_s: float, max_batch: int,
                  counts=EDGE_COUNTS) -> list[dict]:  # fmt: skip
    """Every workload and both AR readings at each edge count, with each one's capacity under the objective."""
    runs = [(w, "sd") for w in workloads] + [(ar, m) for m in AR_MODES]
    rows = []
    for w, mode in runs:
        cap = capacity(pricer, w, objective_s, max_batch, mode)
        name = w.scheme if mode == "sd" else mode
        for n in counts:
            rows.append({"scheme": name, "mean_draft_len": w.drafts, "tokens_per_batch": w.tokens,
                         "think_s": 0.0 if mode == "ar-streamed" else think_s(pricer, w),
                         **point(pricer, w, n, max_batch, mode), "capacity": cap})  # fmt: skip
    return rows


def capacity_ratio(pricer: Pricer, workloads: list[Workload], ar: Workload, objective_s: float,
                   max_batch: int) -> dict:  # fmt: skip
    """The best workload's capacity against AR's at its better reading (streamed or per token): both, their
    ratio (NaN where AR serves no edge within the objective) and the best workload's scheme."""
    ratio = lambda a, b: a / b if b else float("nan")  # noqa: E731
    each = {m: capacity(pricer, ar, objective_s, max_batch, m) for m in AR_MODES}
    ar_cap = max(each.values())
    best_cap, best = max((capacity(pricer, w, objective_s, max_batch), w.scheme) for w in workloads)
    best = best if best_cap else "none"  # no scheme serves one edge within the objective
    return {"scheme": best, "capacity": best_cap, "ar_capacity": ar_cap, "capacity_vs_ar": ratio(best_cap, ar_cap),
            **{f"{m}_capacity": c for m, c in each.items()}}  # fmt: skip

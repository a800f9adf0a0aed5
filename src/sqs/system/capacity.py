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
- a round takes every uplink waiting when it starts (at most ``max_batch``); an uplink that finds the cloud
  busy with the others' round waits out that round, half of it on average. With b uplinks a round and the cloud
  busy a share rho of the time, an edge's cycle is C = Z + rho (1 - b / N) R(b) / 2 + R(b) (1 - b / N: the share
  of rounds it is not in); all edges' batches arrive at N / C a
  second and b = max(1, N R(b) / C) of them meet in a round: a fixed point (the mean values of a closed
  queue with gated batch service).

Per edge: tokens/s = T / C with T the tokens a batch yields; per-token latency C / T; the cloud's
accelerator-seconds per 1,000 tokens 1000 R(b) / (b T); **capacity** is the largest N whose per-token latency
meets an objective. Cloud-only AR is the same cloud doing continuous batching of N streams, with both
readings of the link explicit: **streamed** (one round trip per request: every stream is in every round,
groups of ``max_batch`` taking turns, the propagation paid once per request) and **per token** (the edge asks
for each token: the closed loop above with Z = propagation + the two messages). On a testbed where the edges
share one machine's cores, with or without the cloud (:class:`SharedMachine`, the live check on this CPU),
compute stretches when it asks for more cores than there are; ``python -m sqs.net.study capacity``
measures the model against the clock. The cloud's memory for KV caches is not a limit here (docs/capacity.md).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from sqs.protocol import wire
from sqs.protocol.schemes import SCHEMES
from sqs.system.pricing import Pricer

AR_SCHEME = "ar"
AR_MODES = ("ar-streamed", "ar-per-token")
# the anchors' baselines (docs/capacity.md, "The anchors"): SD with both models on the cloud's accelerator and no
# link (SpecEdge's server-only SpecExec); AR in static batches that run to their longest request (the batching
# SLED's and DiP-SD's baselines use); the SLM alone on the edge (another output law: marked, never a speedup)
BASELINES = ("server-only", "ar-static", "edge-only")
MODES = ("sd", *AR_MODES, *BASELINES)
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
    draft_calls: float | None = None  # SLM forwards a round (default: one a draft, a chain)
    draft_width: float = 1.0  # tokens each of them scores (a tree's frontier)

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


def round_s(pricer: Pricer, w: Workload, sessions: float) -> float:
    """One verification round of ``sessions`` edges running ``w``: the session alone (``w.cloud_s``: its forward and
    protocol work; at least the forward), what the other sequences add to the batched forward, and their
    protocol work on the cloud host's cores, a wave of sessions at a time."""
    return _round(pricer, w, _session_parts(pricer, w), sessions)


def _round(pricer: Pricer, w: Workload, parts: tuple, sessions: float) -> float:
    n_new, alone, protocol, cores = parts
    waves = math.ceil(max(sessions, 1.0) / cores)
    return max(w.cloud_s, alone) + pricer.cloud_batch_s(sessions, n_new, w.context) - alone + (waves - 1) * protocol


def _session_parts(pricer: Pricer, w: Workload) -> tuple:
    """What a round's price needs of one session: its tokens, its forward alone, its protocol work, the host's
    cores."""
    n_new = w.drafts + 1.0
    alone = pricer.cloud_batch_s(1, n_new, w.context)
    return n_new, alone, max(w.cloud_s - alone, 0.0), pricer.cloud_host_cores


def think_s(pricer: Pricer, w: Workload) -> float:
    """Z: what an edge spends between two verdicts outside the cloud (its compute and the link)."""
    return w.edge_s + pricer.messages_s(w.uplink_bytes, 1.0, w.downlink_bytes)


@dataclass(frozen=True)
class SharedMachine:
    """A testbed on one machine (the live check on this CPU): the edges (one thread each) run on ``cores``
    cores and stretch together when they ask for more than there are. The cloud's rounds (``cloud_threads``
    threads) share those cores, stretching with them, or run on cores of their own (``cloud_apart``: the
    processes pinned apart, as an edge and a cloud on two machines)."""

    cores: int
    cloud_threads: int
    cloud_apart: bool = False


def _gated(pricer: Pricer, w: Workload, n: int, max_batch: int, machine: SharedMachine | None) -> tuple:
    """The closed loop's mean values: a round takes every uplink waiting when it starts (up to ``max_batch``), an
    uplink that finds the cloud busy with others waits out that round (half a round on average). The batch size
    b is the fixed point of b = N R(b) / C(b) (bisection; the implied b falls as b grows), the busy share rho
    solves rho = N R / (b C(rho)) with C linear in rho (a quadratic); on a shared machine the compute stretch is
    the fixed point of the cores it asks for (the edges' alone when the cloud has cores of its own). Returns
    (cycle, round, b, busy share)."""
    cap_b = float(min(n, max_batch))
    apart = machine is not None and machine.cloud_apart
    parts, z = _session_parts(pricer, w), think_s(pricer, w)  # once a solve: the search prices many rounds

    def rnd(b: float) -> float:
        return _round(pricer, w, parts, b)

    full = rnd(cap_b)

    def at(b: float, stretch: float) -> tuple:
        r = rnd(b) * (1.0 if apart else stretch)
        base = z + w.edge_s * (stretch - 1.0) + r
        wait = (1.0 - b / n) * r / 2.0  # per unit of busy share: half of another group's round
        load = n * r / b
        busy = (-base + math.sqrt(base * base + 4.0 * wait * load)) / (2.0 * wait) if wait > 0 else load / base
        busy = min(busy, 1.0)
        cycle = max(base + busy * wait, n * full * (1.0 if apart else stretch) / cap_b)  # full rounds back to back
        return cycle, r, busy, min(max(n * r / cycle, 1.0), cap_b)

    def solve(stretch: float) -> tuple:
        lo, hi = 1.0, cap_b
        if at(hi, stretch)[3] >= hi:
            lo = hi
        for _ in range(50):
            if hi - lo < 1e-6 * hi:  # b is a mean count: a millionth is far below what moves a capacity
                break
            mid = 0.5 * (lo + hi)
            lo, hi = (mid, hi) if at(mid, stretch)[3] >= mid else (lo, mid)
        cycle, r, busy, _ = at(lo, stretch)
        return cycle, r, lo, busy

    stretch = 1.0
    cycle, r, b, busy = solve(stretch)
    for _ in range(100 if machine is not None else 0):  # cores asked for by the unstretched work, a second
        demand = (n / cycle) * (w.edge_s + (0.0 if apart else rnd(b) * machine.cloud_threads / b))
        new = max(1.0, stretch * demand / machine.cores)
        if abs(new - stretch) < 1e-9 * new:
            break
        stretch = new
        cycle, r, b, busy = solve(stretch)
    return cycle, r, b, busy


def static_stretch(sessions: float) -> float:
    """Rounds a static batch of ``sessions`` requests runs per token of a mean request: the batch runs to its
    longest, E[max of m] / mean = 2 m / (m + 1) for lengths i.i.d. uniform between 0 and twice their mean (an
    assumption: no anchor publishes its length distribution; equal lengths would make it 1)."""
    m = max(float(sessions), 1.0)
    return 2.0 * m / (m + 1.0)


def server_only_round_s(pricer: Pricer, w: Workload, sessions: float) -> float:
    """A round of server-only SD: ``w.drafts`` SLM steps and the verification, each one forward of all
    ``sessions`` sequences on the cloud's accelerator; verification fused there (no wire, no host work)."""
    n = max(sessions, 1.0)
    calls = w.drafts if w.draft_calls is None else w.draft_calls
    return calls * pricer.server_draft_s(n, w.draft_width, w.context) + pricer.cloud_batch_s(n, w.drafts + 1.0,
                                                                                              w.context)


def server_only_candidates(workloads: list[Workload]) -> list[Workload]:
    """The workloads server-only SD can be priced for: a chain's (one SLM call a draft), or one that names its
    calls; a tree's expanded nodes are not in the trace's totals, so pricing each node as a call would overcharge."""
    def tree(w: Workload) -> bool:
        layout = getattr(SCHEMES.get(w.scheme), "layout", None)
        return layout is not None and layout.family == "tree"

    return [w for w in workloads if w.draft_calls is not None or not tree(w)]


def _streamed(n_edges: int, max_batch: int) -> tuple[int, int]:
    """Continuous batching: every stream in every round, groups of at most ``max_batch`` taking turns."""
    g = math.ceil(n_edges / max_batch)
    return g, math.ceil(n_edges / g)


def point(pricer: Pricer, w: Workload, n_edges: int, max_batch: int = 256, mode: str = "sd",
          machine: SharedMachine | None = None) -> dict:  # fmt: skip
    """Per-edge tokens/s, per-token latency, the cloud's busy share and accelerator-seconds per 1,000 tokens
    when ``n_edges`` edges run ``w`` (``mode``: ``sd``; one of :data:`AR_MODES`, ``ar-static`` or ``edge-only``
    for an AR workload; ``server-only`` for an SD workload whose drafts the cloud makes)."""
    if mode not in MODES:
        raise ValueError(f"unknown capacity mode {mode!r}; valid: {', '.join(MODES)}")
    once = pricer.account_link.propagation_s / max(w.request_tokens, 1.0)  # a request's one round trip, per token
    per_1k = None
    if mode == "edge-only":  # each edge its own device: nothing shared, no cloud
        cycle, r, b, busy = pricer.edge_forward_s(1, int(w.context)), 0.0, 0.0, 0.0
        latency, per_1k = cycle, 0.0
    elif mode in ("ar-streamed", "server-only", "ar-static"):
        g, b = _streamed(n_edges, max_batch)
        r = server_only_round_s(pricer, w, b) if mode == "server-only" else round_s(pricer, w, b)
        stretch = static_stretch(b) if mode == "ar-static" else 1.0
        cycle, busy = g * r * stretch, 1.0
        latency = cycle / w.tokens + once
        per_1k = 1000.0 * r * stretch / (b * w.tokens)
    else:
        cycle, r, b, busy = _gated(pricer, w, n_edges, max_batch, machine)
        latency = cycle / w.tokens
    return {
        "edges": n_edges,
        "round_sessions": b,
        "round_s": r,
        "cycle_s": cycle,
        "tokens_per_s_per_edge": 1.0 / latency,
        "latency_per_token_s": latency,
        "system_tokens_per_s": n_edges / latency,
        "cloud_busy": busy,
        "cloud_s_per_1k_tokens": 1000.0 * round_s(pricer, w, b) / (b * w.tokens) if per_1k is None else per_1k,
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
    """Every workload, both AR readings and the anchors' baselines (:data:`BASELINES`; server-only SD runs the
    workload of most server-only capacity) at each edge count, with each one's capacity under the objective, and
    what a workload's capacity would be with its verification work on the accelerator (no host protocol work a
    session: the rejection sampler fused into the forward, as GPU servers run it). ``workload``: the scheme whose
    drafts a row runs (``ar`` for AR)."""
    runs = [(w, "sd") for w in workloads] + [(ar, m) for m in (*AR_MODES, "ar-static", "edge-only")]
    if chains := server_only_candidates(workloads):
        runs.append((max(chains, key=lambda w: (capacity(pricer, w, objective_s, max_batch, "server-only"),
                                                w.tokens)), "server-only"))  # fmt: skip
    rows = []
    for w, mode in runs:
        cap = capacity(pricer, w, objective_s, max_batch, mode)
        fused = capacity(pricer, replace(w, cloud_s=0.0), objective_s, max_batch, mode) if mode == "sd" else cap
        name = w.scheme if mode == "sd" else mode
        for n in counts:
            rows.append({"scheme": name, "workload": w.scheme, "mean_draft_len": w.drafts, "tokens_per_batch": w.tokens,
                         "think_s": think_s(pricer, w) if mode in ("sd", "ar-per-token") else 0.0,
                         **point(pricer, w, n, max_batch, mode), "capacity": cap,
                         "capacity_verified_on_accelerator": fused})  # fmt: skip
    return rows


def capacity_ratio(pricer: Pricer, workloads: list[Workload], ar: Workload, objective_s: float,
                   max_batch: int) -> dict:  # fmt: skip
    """The best workload's capacity against AR's at its better reading (streamed or per token): both, their
    ratio (NaN where AR serves no edge within the objective) and the best workload's scheme; beside them the
    anchors' baselines (static-batching AR; server-only SD at its best workload) and the ratio to each."""
    ratio = lambda a, b: a / b if b else float("nan")  # noqa: E731
    each = {m: capacity(pricer, ar, objective_s, max_batch, m) for m in AR_MODES}
    ar_cap = max(each.values())
    best_cap, best = max((capacity(pricer, w, objective_s, max_batch), w.scheme) for w in workloads)
    best = best if best_cap else "none"  # no scheme serves one edge within the objective
    static = capacity(pricer, ar, objective_s, max_batch, "ar-static")
    chains = server_only_candidates(workloads)
    server = max((capacity(pricer, w, objective_s, max_batch, "server-only") for w in chains), default=0)
    return {"scheme": best, "capacity": best_cap, "ar_capacity": ar_cap, "capacity_vs_ar": ratio(best_cap, ar_cap),
            **{f"{m}_capacity": c for m, c in each.items()}, "ar-static_capacity": static,
            "server-only_capacity": server, "capacity_vs_ar_static": ratio(best_cap, static),
            "capacity_vs_server_only": ratio(best_cap, server)}  # fmt: skip

"""The trace model of whole sequences: each prompt's generation as the session runs it, in expectation.

:func:`sqs.trace.sweep.position_stats` gives, per cached position n, the exact rejection probability
r_n = TV(q̂_n, p_n) of a draft there, its wire bits, the bits the budget rule charges and its support.
A prompt's cached segment of N positions stands for a sequence of N generated tokens. A batch that starts
after j generated tokens drafts, as the live edge does,

    L_j = the longest run of drafts at j, j+1, ... whose charged bits fit B (the sequential rule),
          capped by max_draft_len and by the tokens still wanted (at most N - j - 1 drafts),

accepts a drafts with P(A = a) = Π_{i<a}(1 − r_{j+i}) r_{j+a} (a < L_j) or all of them (token by token;
block verification keeps a or more with P(A >= a) from :mod:`sqs.trace.blocks`), and the next
batch starts at j + a + 1. The probability π_j that some batch starts at j follows forward from π_0 = 1,
so every expected total of the sequence (batches, drafts, resampled batches, bits, each side's seconds)
is Σ_j π_j × (that batch's expectation): exact under the trace model, with no window that must fit the
segment and no overshoot past N. When the budget, not the cap, ends a batch, the edge has computed one
more draft that did not fit, unless even the cheapest draft could not have (:meth:`Edge.draft`); that
forward is charged as live.

Each prompt's expectations form one :class:`sqs.system.metrics.Tally` (counts in expectation), so the
trace's rates are pooled exactly as live cells' are, and the bootstrap over prompts reads the same
fields. Assumptions shared with the sweep (docs/trace-sweeps.md): contexts are the cached reference's,
and C-SQS's threshold follows the trace's positions.
"""

from __future__ import annotations

import numpy as np

from sqs.protocol import wire
from sqs.protocol.budget import batch_lengths
from sqs.protocol.schemes import get as scheme_spec
from sqs.system.compute import ComputeProfile
from sqs.system.latency import LinkConfig
from sqs.system.metrics import Tally
from sqs.system.pricing import Pricer
from sqs.trace.trees import tree_rounds


def _padded(stats: dict, segments: list[tuple[int, int]], width: int) -> dict:
    """Per-position arrays as (segments, N_max + width) rows, zero past each segment's end."""
    n_max = max(hi - lo for lo, hi in segments)
    out = {}
    for key, x in stats.items():
        rows = np.zeros((len(segments), n_max + width))
        for s, (lo, hi) in enumerate(segments):
            rows[s, : hi - lo] = x[lo:hi]
        out[key] = rows
    return out


def _starts(x: np.ndarray, segments: list[tuple[int, int]], width: int) -> np.ndarray:
    """Per-start rows (rows, depth + 1) as (segments, N_max, width): ones past each segment's end, zeros past
    the depth carried (no batch reaches it)."""
    n_max = max(hi - lo for lo, hi in segments)
    out = np.ones((len(segments), n_max, width))
    have = min(width, x.shape[1])
    for s, (lo, hi) in enumerate(segments):
        out[s, : hi - lo, :have] = x[lo:hi, :have]
        out[s, : hi - lo, have:] = 0.0
    return out


def _law(at_least: np.ndarray) -> np.ndarray:
    """P(A = a) from P(A >= a) along the last axis (zero past the longest batch)."""
    return at_least - np.concatenate([at_least[..., 1:], np.zeros((*at_least.shape[:-1], 1))], axis=-1)


def expected_tallies(stats: dict, segments: list[tuple[int, int]], cell, profile: ComputeProfile,
                     link: LinkConfig, vocab_size: int, contexts: list[int] | None = None,
                     accepted_at: bool = False):  # fmt: skip
    """One expected Tally per segment (prompt) for ``cell`` (a :class:`sqs.trace.sweep.SweepCell`).

    ``stats``: :func:`position_stats`' arrays for the cell (``r``, ``bits``, ``charge``, ``dropped``, ``k``,
    ``tv_qp``); ``contexts``: the tokens before each segment's first position (its prompt), which with the
    position prices every model call as live cells are priced; ``link`` prices the messages. No wall clock
    is modelled: ``tokens_per_s_measured`` of these tallies is NaN.

    ``accepted_at``: also return, per trace row, the probability that the token there is an accepted draft
    (the positions at which C-SQS commits its threshold update, Algorithm 1), as ``(tallies, array)``.
    """
    if not segments:
        raise ValueError("the trace has no segments")
    spec = scheme_spec(cell.scheme)
    lens = np.array([hi - lo for lo, hi in segments])
    n_seg, n_max = len(segments), int(lens.max())
    cap = n_max - 1 if cell.max_draft_len is None else min(int(cell.max_draft_len), n_max - 1)
    w = max(cap, 0)
    x = _padded({k: np.asarray(stats[k], dtype=np.float64) for k in ("r", "bits", "charge", "dropped", "k", "tv_qp")},
                segments, w + 1)  # fmt: skip
    ctx0 = np.asarray(contexts if contexts is not None else [64] * n_seg, dtype=np.int64)
    if ctx0.size != n_seg:
        raise ValueError(f"{ctx0.size} contexts for {n_seg} segments")
    j = np.arange(n_max)
    win = lambda a: np.lib.stride_tricks.sliding_window_view(a, w + 1, axis=1)[:, :n_max, :]  # noqa: E731
    r, charge, bits, ks = win(x["r"]), win(x["charge"]), win(x["bits"]), win(x["k"])

    # the batch at j: drafts by the budget's sequential rule, the cap and the tokens still wanted
    room = np.clip(np.minimum(cap, lens[:, None] - 1 - j[None, :]), 0, None)  # (S, N)
    # a scheme the budget does not limit (float32 q) drafts up to the cap and the tokens still wanted
    length, used = batch_lengths(charge if spec.budget else 0.0 * charge, cell.budget_bits, room)
    least = spec.make(**dict(cell.params)).min_charge(vocab_size) if spec.budget else 0  # as the live edge asks
    wasted = (length < room) & (used + least <= cell.budget_bits) if spec.budget else np.zeros_like(room, bool)
    steps = length + wasted  # SLM forwards and compresses of the batch
    drafted = np.arange(w + 1)[None, None, :] < length[..., None]
    stepped = np.arange(w + 1)[None, None, :] < steps[..., None]

    # acceptance: keep_i = P(draft i is examined), P(A = a)
    keep = np.concatenate([np.ones((n_seg, n_max, 1)), np.cumprod(1.0 - np.where(drafted, r, 0.0), axis=2)], axis=2)
    a_idx = np.arange(w + 2)[None, None, :]
    p_a = np.where(a_idx < length[..., None], keep * np.concatenate([r, np.zeros((n_seg, n_max, 1))], axis=2), 0.0)
    p_a = np.where(a_idx == length[..., None], keep, p_a)

    if cell.verify == "block":  # Sun et al.: P(A >= a) from sqs.trace.blocks, the same drafts and bits
        if int(length.max()) + 1 > stats["keep"].shape[1]:
            raise ValueError(f"block survival carried to depth {stats['keep'].shape[1] - 1}, a batch drafts "
                             f"{int(length.max())}: position_stats was not given this cell")  # fmt: skip
        keep = np.where(a_idx <= length[..., None], _starts(stats["keep"], segments, w + 2), 0.0)
        p_a = _law(keep)

    if spec.layout.tree:  # a token tree's rounds (sqs.trace.trees): its nodes, SLM calls, payload, accepted law
        length, steps, tree_bits, keep = tree_rounds(
            stats["tq"], stats["tp"], segments, w, w, cell.budget_bits, vocab_size)  # fmt: skip
        drafted = np.arange(w + 1)[None, None, :] < length[..., None]
        stepped = np.arange(w + 1)[None, None, :] < steps[..., None]
        p_a = _law(keep)

    # where batches start: pi_j
    pi = np.zeros((n_seg, n_max + w + 2))
    pi[:, 0] = 1.0
    for jj in range(n_max):
        pi[:, jj + 1 : jj + w + 3] += pi[:, jj : jj + 1] * p_a[:, jj, :]
    pi = pi[:, :n_max] * (j[None, :] < lens[:, None])

    # each batch's prices (compute by shape, as live cells are priced; the link by whole messages)
    pricer = Pricer(profile, link)
    pos_ctx = ctx0[:, None] + j[None, :]  # tokens before position j
    steps_ctx = pos_ctx[..., None] + np.arange(w + 1)[None, None, :]
    edge_step = pricer.table(lambda c: pricer.edge_forward_s(1, c), steps_ctx)
    edge_model = np.where(stepped, edge_step, 0.0).sum(axis=2)
    verify = pricer.table(pricer.cloud_forward_s, length + 1, pos_ctx)
    proto_e = pricer.table(lambda k: pricer.edge_protocol_s(cell.scheme, k), ks)
    proto_c = pricer.table(lambda k: pricer.cloud_protocol_s(cell.scheme, k), ks)
    edge_proto = np.where(stepped, proto_e, 0.0).sum(axis=2)
    cloud_s = verify + np.where(drafted, proto_c, 0.0).sum(axis=2)
    payload = tree_bits if spec.layout.tree else np.where(drafted, bits, 0.0).sum(axis=2)
    up_bytes = wire.UPLINK_HEADER_BYTES + np.ceil(payload / 8.0)
    accepted = (p_a * a_idx).sum(axis=2)
    resampled = np.where(length > 0, 1.0 - np.take_along_axis(keep, length[..., None], axis=2)[..., 0], 0.0)
    down_bytes = np.full(resampled.shape, float(wire.DOWNLINK_BYTES))
    if spec.layout.split:  # a rejection sends the logits down (float32, as the cache's) and the edge draws
        down_bytes += resampled * (wire.logits_downlink_bytes(vocab_size) - wire.DOWNLINK_BYTES)
        edge_proto = edge_proto + resampled * pricer.edge_protocol_s(cell.scheme, vocab_size)
    dropped = np.where(drafted, win(x["dropped"]), 0.0).sum(axis=2)
    tv_qp = np.where(drafted, win(x["tv_qp"]), 0.0).sum(axis=2)
    grid = ks / (4.0 * cell.ell) if spec.lattice else 0.0  # the lattice's share of Theorem 1's distortion
    distortion = np.where(drafted, win(x["dropped"]) + grid, 0.0).sum(axis=2)
    rejections = np.where(drafted, r, 0.0).sum(axis=2)

    if accepted_at:  # P(the token at position n is an accepted draft): batches from j accept draft i w.p. keep_{i+1}
        committed = np.zeros((n_seg, n_max + w + 1))
        for i in range(w + 1):
            committed[:, i : i + n_max] += pi * np.where(drafted[:, :, i], keep[:, :, i + 1], 0.0)
        rows = np.zeros(max(hi for _, hi in segments))
        for s, (lo, hi) in enumerate(segments):
            rows[lo:hi] = committed[s, : hi - lo]

    tallies = []
    for s in range(n_seg):
        w_s = pi[s]

        def e(a, w_s=w_s, s=s) -> float:
            """The sequence's expected total of a per-batch quantity: each batch start weighted by pi."""
            return float(w_s @ a[s])

        t = Tally(prompts=0, tokens=int(lens[s]))
        t.batches, t.drafts, t.accepted, t.resampled = float(w_s.sum()), e(length), e(accepted), e(resampled)
        t.payload_bits, t.uplink_bytes = e(payload), e(up_bytes)
        t.downlink_bytes = e(down_bytes)
        t.dropped_mass, t.expected_rejections = e(dropped), e(rejections)
        t.bound_discrepancy, t.bound_theorem1 = e(tv_qp), e(tv_qp + distortion)
        t.bound_distortion = e(distortion)
        t.edge_s, t.protocol_s, t.cloud_s = e(edge_model + edge_proto), e(edge_proto), e(cloud_s)
        t.uplink_s = float(w_s @ link.uplink_s(up_bytes[s]))
        t.propagation_s = t.batches * link.propagation_s
        t.downlink_s = float(link.downlink_s(t.downlink_bytes))
        t.reached = [float(w_s @ np.where(i < length[s], keep[s, :, i], 0.0)) for i in range(int(length[s].max()))]
        t.accepted_at = [float(w_s @ np.where(i < length[s], keep[s, :, i + 1], 0.0))
                         for i in range(int(length[s].max()))]  # fmt: skip
        if spec.lattice:
            t.ell_sum, t.ell_batches = t.batches * cell.ell, t.batches
        t.uplink_bps_sum = t.batches * link.uplink_bps
        t.add_prompt(t.edge_s + t.uplink_s + t.propagation_s + t.cloud_s + t.downlink_s)
        tallies.append(t)
    return (tallies, rows) if accepted_at else tallies


def ar_tallies(segments: list[tuple[int, int]], profile: ComputeProfile, link: LinkConfig,
               contexts: list[int] | None = None) -> list[Tally]:  # fmt: skip
    """Cloud-only AR over the same sequences, priced as a live one is (:meth:`Pricer.ar_stream`): one forward a
    token, one downlink message a token, one propagation for the stream."""
    pricer, out = Pricer(profile, link), []
    for s, (lo, hi) in enumerate(segments):
        n, c0 = hi - lo, int(contexts[s]) if contexts is not None else 64
        acc = pricer.ar_stream([(1, c0 + i) for i in range(n)])
        t = Tally(tokens=n, cloud_s=acc.cloud_s, propagation_s=acc.propagation_s, downlink_s=acc.downlink_s,
                  downlink_bytes=n * wire.DOWNLINK_BYTES)  # fmt: skip
        for _ in range(n):
            t.add_batch(0, 0)
        t.add_prompt(acc.total_s)
        out.append(t)
    return out

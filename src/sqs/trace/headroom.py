"""How much any per-batch draft-length rule could gain over the best static draft length, from the trace.

An adaptive drafting policy is asked to beat the best static (L, ell) by 5 %. Whether that is possible at
all depends on how well the acceptance of the *next* draft can be predicted before it is made. This
module answers it from the logits cache, with no live decoding.

Per cached position n at temperature T (dense QS at resolution ell, exact: ``sweep.position_stats``):
r_n = TV(q̂_n, p_n) is the draft's rejection probability, b_n its payload bits and c_n = max q_n the
SLM's confidence. A batch that starts at n with L drafts yields 1 + sum_{j<=L} prod_{i<j}(1 - r_{n+i})
tokens in expectation, in the time of the trace model (:class:`sqs.system.pricing.Pricer`: edge seconds per
draft, uplink bits / rate, propagation, cloud seconds per batch and per verified token, downlink).
L = 0 is a batch without drafts: the cloud samples one token from p, a round trip per token.

Rules compared, each averaged over every start position (tokens over time):

* static L for L = 0..max_len (budget rule and cap as live);
* ``oracle_any_L``: per start the L that maximizes the aggregate rate knowing every r (no edge can);
* ``confidence_gated``: the adaptive policy's own rule class: one draft, then one more while the last
  draft's confidence c is at least theta (tuned on the trace; ``drafting_share`` is then the share of
  batches with more than one draft);
* threshold rules that draft one token when a predictor is at least theta and none otherwise, theta
  tuned on the same trace (optimistic): ``oracle`` (1 - r_n itself, which no edge can know before it
  drafts), ``previous_accept`` (1 - r_{n-1}: more than the edge sees, which is only the previous
  verdict), ``previous_confidence`` (c_{n-1}, what the edge does know).

The oracle's gain bounds what any one-draft-or-none rule can gain; the causal predictors show how much
of it is reachable.
"""

from __future__ import annotations

import numpy as np

from sqs.protocol import wire
from sqs.protocol.budget import batch_lengths
from sqs.system.compute import ComputeProfile
from sqs.system.latency import LinkConfig
from sqs.system.pricing import Pricer
from sqs.trace.sweep import SweepCell, position_stats

HEADROOM_COLUMNS = ("temperature", "rule", "tokens_per_s", "drafting_share", "threshold", "gain_vs_best_static")
PREDICTORS = ("oracle", "previous_accept", "previous_confidence")


def _confidence(slm_logits: np.ndarray, temperature: float) -> np.ndarray:
    x = np.asarray(slm_logits, dtype=np.float64)
    if temperature == 0:
        return np.ones(x.shape[0])
    z = (x - x.max(axis=1, keepdims=True)) / temperature
    return 1.0 / np.exp(z).sum(axis=1)


def policy_headroom(
    slm_logits: np.ndarray,
    llm_logits: np.ndarray,
    segments: list[tuple[int, int]],
    temperatures: list[float],
    profile: ComputeProfile,
    link: LinkConfig,
    ell: int = 200,
    budget_bits: int = 5000,
    max_len: int = 4,
    context: float = 64.0,
) -> list[dict]:
    """One row per temperature and rule (module docstring); ``gain_vs_best_static`` is relative.
    ``profile`` prices compute as live cells are priced (protocol work aside), at ``context`` tokens.

    Every rule is scored on the same starts: positions with a previous position and ``max_len`` more
    in the same segment (``max_len`` shrinks to what the longest segment allows).
    """
    longest = max((hi - lo for lo, hi in segments), default=0)
    if longest < 2:
        raise ValueError("the trace needs a segment of at least 2 positions (a batch start and its predecessor)")
    max_len = min(max_len, longest - 1)  # a short trace compares shorter static lengths
    rows = []
    pricer = Pricer(profile, link)
    win = np.lib.stride_tricks.sliding_window_view
    for t in temperatures:
        cell = SweepCell("qs", float(t), ell=ell, budget_bits=budget_bits, max_draft_len=max_len, link=link)
        stats = position_stats(slm_logits, llm_logits, [cell])[cell]
        conf = _confidence(slm_logits, float(t))
        parts = [(lo, hi) for lo, hi in segments if hi - lo >= max_len + 1]
        if not parts:
            raise ValueError(f"no window of {max_len + 1} positions fits the trace segments")
        starts = np.concatenate([np.arange(lo + 1, hi - max_len + 1) for lo, hi in parts])
        ok = np.concatenate([win(1.0 - stats["r"][lo:hi], max_len)[1:] for lo, hi in parts])  # (starts, L)
        bits = np.concatenate([win(stats["bits"][lo:hi], max_len)[1:] for lo, hi in parts])
        cum_bits = np.cumsum(bits, axis=1)
        cap, _ = batch_lengths(bits, budget_bits, np.full(starts.size, max_len))  # the budget rule, per start
        # tokens[:, L] and time[:, L] of a batch of L drafts from each start (L beyond the budget: capped)
        alive = np.concatenate([np.ones((starts.size, 1)), np.cumprod(ok, axis=1)], axis=1)
        length = np.minimum(np.arange(max_len + 1)[None, :], cap[:, None])
        tokens = np.take_along_axis(np.cumsum(alive, axis=1), length, axis=1)
        payload = np.where(length > 0, np.take_along_axis(cum_bits, np.maximum(length - 1, 0), axis=1), 0.0)
        edge = length * pricer.edge_forward_s(1, int(context))  # protocol work aside, as the rules compare
        cloud = pricer.table(lambda n: pricer.cloud_forward_s(n, int(context)), length + 1)
        up = wire.UPLINK_HEADER_BYTES + np.ceil(payload / 8)
        time_s = pricer.batch(edge, 0.0, up, cloud, wire.DOWNLINK_BYTES).total_s
        static = {n: float(tokens[:, n].sum() / time_s[:, n].sum()) for n in range(max_len + 1)}
        best_static = max(static.values())
        for n, rate in static.items():
            rows.append(_row(t, f"static L={n}", rate, float(n > 0), float("nan"), best_static))
        rows.append(_row(t, "oracle_any_L", *_oracle(tokens, time_s), float("nan"), best_static))
        predictors = {
            "oracle": ok[:, 0],
            "previous_accept": 1.0 - stats["r"][starts - 1],
            "previous_confidence": conf[starts - 1],
        }
        rows.append(_row(t, "confidence_gated", *_gated(tokens, time_s, conf, starts, cap, max_len), best_static))
        for name, pred in predictors.items():
            best = (-np.inf, 0.0, np.nan)
            for theta in np.unique(np.concatenate([pred, [np.inf]])):
                draft = (pred >= theta) & (cap >= 1)
                rate = (
                    np.where(draft, tokens[:, 1], tokens[:, 0]).sum()
                    / np.where(draft, time_s[:, 1], time_s[:, 0]).sum()
                )
                if rate > best[0]:
                    best = (float(rate), float(draft.mean()), float(theta))
            rows.append(_row(t, name, best[0], best[1], best[2], best_static))
    return rows


def _gated(tokens, time_s, conf, starts, cap, max_len) -> tuple[float, float, float]:
    """The adaptive policy's own rule class: one draft, then another while the last draft's confidence
    is at least theta (tuned). Returns (rate, share of batches with more than one draft, theta)."""
    follow = conf[starts[:, None] + np.arange(max_len - 1)[None, :]] if max_len > 1 else np.zeros((starts.size, 0))
    idx = np.arange(starts.size)
    best = (-np.inf, 0.0, np.nan)
    for theta in np.unique(np.concatenate([follow.ravel(), [np.inf]])):
        n = np.minimum(1 + np.cumprod(follow >= theta, axis=1).sum(axis=1), cap)
        rate = float(tokens[idx, n].sum() / time_s[idx, n].sum())
        if rate > best[0]:
            best = (rate, float((n > 1).mean()), float(theta))
    return best


def _oracle(tokens: np.ndarray, time_s: np.ndarray) -> tuple[float, float]:
    """The best aggregate rate of any per-start choice of L knowing every r (Dinkelbach iterations)."""
    rate = float(tokens[:, 0].sum() / time_s[:, 0].sum())
    for _ in range(50):
        pick = np.argmax(tokens - rate * time_s, axis=1)
        idx = np.arange(pick.size)
        new = float(tokens[idx, pick].sum() / time_s[idx, pick].sum())
        if new <= rate * (1 + 1e-12):
            break
        rate = new
    return rate, float((pick > 0).mean())


def _row(t, rule, rate, share, theta, best_static) -> dict:
    return {
        "temperature": float(t),
        "rule": rule,
        "tokens_per_s": float(rate),
        "drafting_share": float(share),
        "threshold": float(theta),
        "gain_vs_best_static": float(rate / best_static - 1.0),
    }

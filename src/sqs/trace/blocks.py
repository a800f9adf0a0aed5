"""Block verification's kept length in expectation over cached positions (the trace model of ``verify: block``).

Sun et al.'s block verification (:func:`sqs.protocol.verify.verify_block`) keeps the first i drafts of a block
with probability P(tau >= i | x_1..x_i) = a_i, its weight a_i = min(1, a_{i-1} p_i(x_i) / q̂_i(x_i)), a_0 = 1,
whatever the drafts after them (tests/test_blocks.py checks it against ``kept_law`` by enumeration). Under the
trace model's assumption (a draft at depth i of a block that starts at cached position j has the q̂ and p of
position j + i, whatever drafts came before it), the drafts are independent, x_i ~ q̂_{j+i}, and w_i = -log a_i
follows Lindley's recursion

    w_i = max(0, w_{i-1} + D_i),    D = log(q̂(x) / p(x)),  x ~ q̂

so P(tau >= i) = E[exp(-w_i)]. Its law is carried on a :class:`Grid` (steps of 0.002 up to w = 16) by one FFT
convolution a depth for every start at once. ``split`` (the estimate) gives each D's mass to its two
neighbouring grid points so that E[exp(-D)] is kept: min(1, a r) is linear in r away from 1, so the error is
small but for steps far below the grid's at the clip w = 0 (measured against exact enumeration on the cached
pair: E[tau] within 1e-4 tokens a block of four drafts). ``lower`` and ``upper`` round every D up or down (w
beyond the span dropped or held): Lindley's recursion is monotone in each D, so they bound P(tau >= i) from
below and above, exactly.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import fft

MODES = ("split", "lower", "upper")


@dataclass(frozen=True)
class Grid:
    """Where the law of w is carried: steps of ``delta`` up to ``span`` (beyond it w is held at ``span``, or
    dropped for the lower bound)."""

    delta: float = 0.002
    span: float = 16.0

    @property
    def g(self) -> int:
        return round(self.span / self.delta)

    @property
    def width(self) -> int:
        """A kernel's shifts: -g .. g + 1 grid steps."""
        return 2 * self.g + 2


GRID = Grid()


def kernels(q_hat: np.ndarray, p: np.ndarray, mode: str = "split", grid: Grid = GRID) -> np.ndarray:
    """Per row, the law of one draft's step D = log(q̂(x)/p(x)), x ~ q̂, on ``grid``: (rows, ``grid.width``)
    masses at shifts -g .. g + 1. ``q_hat``, ``p``: (rows, m) the q̂ and p of each row's tokens (q̂ 0: padding).
    A draft p gives 0 keeps nothing after it (a = 0): its mass is left out. A step below -span takes any w to 0,
    so it is held there, exactly."""
    if mode not in MODES:
        raise ValueError(f"unknown rounding mode {mode!r}; valid: {', '.join(MODES)}")
    q_hat = np.asarray(q_hat, dtype=np.float64)
    p = np.asarray(p, dtype=np.float64)
    live = (q_hat > 0) & (p > 0)
    d = np.log(np.where(live, q_hat, 1.0)) - np.log(np.where(live, p, 1.0))
    d = np.clip(d, -grid.span, grid.span)  # past the span (held there, or dropped for the lower bound: survival)
    k = np.floor(d / grid.delta)
    if mode == "split":  # lam at k, 1 - lam at k + 1, so that the mean of exp(-D) is kept
        lo, hi = np.exp(-k * grid.delta), np.exp(-(k + 1) * grid.delta)
        lam = np.clip((np.exp(-d) - hi) / (lo - hi), 0.0, 1.0)
    else:
        lam = np.full(d.shape, 1.0 if mode == "upper" else 0.0)
    rows, width = q_hat.shape[0], grid.width
    base = (np.arange(rows) * width)[:, None] + (k.astype(np.int64) + grid.g)
    mass = np.where(live, q_hat, 0.0)
    out = np.bincount(base.ravel(), (mass * lam).ravel(), minlength=rows * width)
    out += np.bincount((base + 1).ravel(), (mass * (1.0 - lam)).ravel(), minlength=rows * width + 1)[: rows * width]
    return out.reshape(rows, width)


def survival(kern: np.ndarray, segments: list[tuple[int, int]], depth: int, mode: str = "split",
             grid: Grid = GRID, chunk: int = 256) -> np.ndarray:  # fmt: skip
    """P(tau >= i), i = 0 .. depth, for a block of up to ``depth`` drafts from each cached row of each segment:
    (rows, depth + 1), by the row the block starts at (1 outside the segments). ``kern``: :func:`kernels` of every
    cached row (in ``mode``, on ``grid``). Depths past a segment's end repeat the last value (no draft is made
    there)."""
    g = grid.g
    low = min(int(np.argmax(kern.any(axis=0))), g)  # the most negative step any row takes (or none): below, empty
    kern, neg = kern[:, low:], g - low  # column c now holds a step of c - neg grid steps
    n = fft.next_fast_len(g + kern.shape[1], real=True)
    starts = [(lo + j, hi) for lo, hi in segments for j in range(hi - lo)]
    out = np.ones((kern.shape[0], depth + 1))
    values = np.exp(-grid.delta * np.arange(g + 1))
    for c in range(0, len(starts), chunk):
        first = np.array([r for r, _ in starts[c : c + chunk]])
        end = np.array([hi for _, hi in starts[c : c + chunk]])
        base = int(first.min())  # the rows this chunk's blocks read, transformed once
        spectra = fft.rfft(kern[base : int(end.max())], n=n, axis=1)
        state = np.zeros((first.size, g + 1))
        state[:, 0] = 1.0
        for i in range(depth):
            at = first + i
            conv = fft.irfft(fft.rfft(state, n=n, axis=1) * spectra[np.minimum(at, end - 1) - base], n=n, axis=1)
            conv = np.clip(conv[:, : g + kern.shape[1]], 0.0, None)  # index t holds w = t - neg
            nxt = conv[:, neg : neg + g + 1].copy()
            nxt[:, 0] += conv[:, :neg].sum(axis=1)
            if mode != "lower":
                nxt[:, g] += conv[:, neg + g + 1 :].sum(axis=1)
            state = np.where((at < end)[:, None], nxt, state)
            out[first, i + 1] = state @ values
    return out

"""A goodness-of-fit test of counts against a target law, calibrated at any vocabulary size and sample count.

Why binned Pearson chi-square and not the plain one: the chi-square law of Pearson's statistic is asymptotic
in every cell's expected count. At V = 151,936 and a few thousand draws almost every cell expects far less
than one draw, and a test that keeps such cells alone rejects exact samplers at many times its level (the
helper this replaces: 35 % of exact Zipf samplers at p < 1e-4, V = 49,152, n = 2,000). Here every cell
expected to hold fewer than ``min_expected`` draws is pooled, in order of probability, into consecutive
bins that each expect at least that many, so the asymptotics hold in every bin at any V and n. The number
of bins is capped (``max_bins``): with thousands of degrees of freedom a fault on the few likeliest tokens
drowns in the noise of the tail, so the tail is cut into at most ``max_bins`` - (cells alone) bins of
equal expected count instead. Why not a Monte Carlo p-value: it is exact but random, costs a resampling
of all V cells per replicate, and reaches p = 1e-4 only with 10,000 replicates; the binned test's
calibration is measured instead (:mod:`sqs.lossless.calibration`, docs/tests.md).

A draw on a cell of zero target probability is an impossible event under the target: p-value 0.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import optimize, stats

MIN_EXPECTED = 10.0
MAX_BINS = 64


@dataclass(frozen=True)
class GofResult:
    """One test: the p-value, the statistic and its degrees of freedom, the sample size, and the smallest
    total-variation distance between the binned laws that the test detects with ``power`` at ``alpha``."""

    pvalue: float
    statistic: float
    df: int
    n: int
    impossible: int  # draws on cells of zero target probability
    detectable_tv: float
    alpha: float = 0.01
    power: float = 0.9

    def rejects(self, alpha: float | None = None) -> bool:
        return self.pvalue < (self.alpha if alpha is None else alpha)


def bins_for(probs: np.ndarray, n: int, min_expected: float = MIN_EXPECTED, max_bins: int = MAX_BINS) -> np.ndarray:
    """Bin index of every cell (-1 for cells of zero probability), for ``n`` draws from ``probs``.

    The likeliest cells stand alone while they expect ``min_expected`` draws (at most half the bins); the
    rest are cut, in order of probability, into consecutive bins of equal expected count, each at least
    ``min_expected``; a remainder too small for a bin of its own joins the last bin.
    """
    p = np.asarray(probs, dtype=np.float64)
    if p.ndim != 1 or p.size == 0 or not np.isfinite(p).all() or (p < 0).any() or not p.sum() > 0:
        raise ValueError("the target law must be a 1-D vector of finite non-negative numbers with positive sum")
    if n < 1:
        raise ValueError(f"need at least one draw, got n={n}")
    if min_expected <= 0 or max_bins < 2:
        raise ValueError(f"need min_expected > 0 and max_bins >= 2, got {min_expected} and {max_bins}")
    expected = p / p.sum() * n
    out = np.full(p.size, -1, dtype=np.int64)
    order = np.argsort(-expected, kind="stable")
    order = order[expected[order] > 0]
    e = expected[order]
    alone = int(min(np.searchsorted(-e, -min_expected, side="right"), max_bins // 2))
    out[order[:alone]] = np.arange(alone)
    tail = e[alone:]
    if tail.size == 0:
        return out
    total = float(tail.sum())
    size = max(min_expected, total / (max_bins - alone))
    cum = np.cumsum(tail)
    labels = np.empty(tail.size, dtype=np.int64)
    start, base, g = 0, 0.0, alone
    while start < tail.size:  # one bin an iteration (at most max_bins): close it once it expects `size`
        end = int(np.searchsorted(cum, base + size * (1 - 1e-12), side="left"))
        if end >= tail.size:  # the remainder expects less than a bin: it joins the last bin
            labels[start:] = max(g - 1, 0)
            break
        labels[start : end + 1] = g
        base, start, g = float(cum[end]), end + 1, g + 1
    out[order[alone:]] = labels
    return out


def _per_bin(b: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Sum of ``weights`` over each bin of :func:`bins_for`'s labels ``b`` (cells labelled -1 left out)."""
    kept = b >= 0
    return np.bincount(b[kept], weights=weights[kept], minlength=int(b.max()) + 1)


def gof_test(counts: np.ndarray, probs: np.ndarray, alpha: float = 0.01, power: float = 0.9,
             min_expected: float = MIN_EXPECTED, max_bins: int = MAX_BINS) -> GofResult:  # fmt: skip
    """Binned Pearson chi-square of ``counts`` (draws per cell) against the law ``probs`` (module docstring)."""
    counts = np.asarray(counts)
    if counts.shape != np.shape(probs):
        raise ValueError(f"counts of shape {counts.shape} against a law of shape {np.shape(probs)}")
    if (counts < 0).any() or not np.all(np.equal(np.mod(counts, 1), 0)):
        raise ValueError("counts must be non-negative integers")
    counts = counts.astype(np.int64).ravel()
    probs = np.asarray(probs, dtype=np.float64).ravel()
    n = int(counts.sum())
    b = bins_for(probs, max(n, 1), min_expected, max_bins)
    impossible = int(counts[b < 0].sum())
    observed, expected = _per_bin(b, counts), _per_bin(b, probs / probs.sum() * n)
    df = observed.size - 1
    tv = detectable_tv(n, df, alpha, power) if n > 0 else float("inf")
    if impossible:
        return GofResult(0.0, float("inf"), df, n, impossible, tv, alpha, power)
    if n == 0 or df == 0:  # one possible outcome (or nothing drawn): nothing can disagree
        return GofResult(1.0, 0.0, df, n, 0, tv, alpha, power)
    stat = float(((observed - expected) ** 2 / expected).sum())
    return GofResult(float(stats.chi2.sf(stat, df)), stat, df, n, 0, tv, alpha, power)


def detectable_tv(n: int, df: int, alpha: float = 0.01, power: float = 0.9) -> float:
    """Every pair of laws whose binned total-variation distance is at least this is told apart with ``power``.

    Pearson's statistic under an alternative is (asymptotically) non-central chi-square with non-centrality
    n w^2, w^2 = sum_i (pi_i - p_i)^2 / p_i, and by Cauchy-Schwarz w >= 2 TV: so TV >= w*/2 suffices, where
    w* is the effect at which the test reaches ``power`` with ``df`` degrees of freedom and ``n`` draws.
    """
    if df < 1:
        return float("inf")
    crit = stats.chi2.isf(alpha, df)
    lam = optimize.brentq(lambda x: stats.ncx2.sf(crit, df, x) - power, 1e-9, 1e7)
    return 0.5 * float(np.sqrt(lam / n))


def gof_power(alternative: np.ndarray, probs: np.ndarray, n: int, alpha: float = 0.01,
              min_expected: float = MIN_EXPECTED, max_bins: int = MAX_BINS) -> float:  # fmt: skip
    """Power of :func:`gof_test` at ``n`` draws when they follow ``alternative`` instead of ``probs``.

    The binned statistic is non-central chi-square with non-centrality n sum_b (a_b - p_b)^2 / p_b over the
    test's own bins; a draw on a cell of zero target probability rejects outright.
    """
    alt = np.asarray(alternative, dtype=np.float64).ravel()
    p = np.asarray(probs, dtype=np.float64).ravel()
    alt, p = alt / alt.sum(), p / p.sum()
    b = bins_for(p, n, min_expected, max_bins)
    pb, ab = _per_bin(b, p), _per_bin(b, alt)
    nb = pb.size
    stray = float(alt[b < 0].sum())
    miss_stray = (1.0 - stray) ** n
    if nb < 2:
        return 1.0 - miss_stray
    lam = n * float(((ab - pb) ** 2 / pb).sum())
    chi = float(stats.ncx2.sf(stats.chi2.isf(alpha, nb - 1), nb - 1, lam)) if lam > 0 else alpha
    return 1.0 - miss_stray * (1.0 - chi)

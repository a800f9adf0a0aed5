"""Sparse lattice quantization (the SQS paper's Algorithm 2) and the exact index of a lattice point.

A distribution over a support of ``K`` tokens is mapped to integer counts ``b`` with ``sum(b) == ell``;
the quantized distribution is ``b / ell``. Because the counts are integers, the edge can sample its
draft token from exactly that distribution (see :func:`sample_counts`), which is what keeps the
verified text distributed exactly as the cloud model's.
"""

from __future__ import annotations

import numpy as np

from sqs.protocol.enumerative import bits_for, composition_count, composition_rank, composition_unrank


def _check_ell(ell: int) -> int:
    if isinstance(ell, bool) or not isinstance(ell, int | np.integer) or int(ell) < 1:
        raise ValueError(f"ell (lattice resolution) must be an integer >= 1, got {ell!r}")
    return int(ell)


def _select(keys: np.ndarray, m: int) -> np.ndarray:
    """Indices of the ``m`` smallest keys, ties taken lowest index first, in O(n)."""
    if m >= keys.size:
        return np.arange(keys.size)
    kth = np.partition(keys, m - 1)[m - 1]
    strict = np.flatnonzero(keys < kth)
    ties = np.flatnonzero(keys == kth)[: m - strict.size]
    return np.concatenate([strict, ties])


def quantize(probs: np.ndarray, ell: int) -> np.ndarray:
    """Algorithm 2 of the SQS paper: the lattice point ``b`` (int64 counts, ``sum(b) == ell``).

    ``probs`` is renormalized first (it is the retained part of a sparsified distribution). Algorithm 2
    as printed rounds the raw top-K probabilities; their deficit ell * (1 - S) can exceed K, which the
    one-unit-per-entry correction cannot repair, and the distortion bound (20) is stated for the
    normalized q_bar, so q_bar is what is quantized.
    Step 6 rounds ``ell * q`` to the nearest integer; if the counts then miss ``ell`` by ``d``,
    steps 9-15 move the ``|d|`` entries with the largest (if over) or smallest (if under) rounding
    error ``zeta = b' - ell * q`` by one. Among equal ``zeta`` the lower index goes first.
    """
    ell = _check_ell(ell)
    q = np.asarray(probs, dtype=np.float64)
    if q.ndim != 1 or q.size == 0:
        raise ValueError(f"probs must be a non-empty 1-D vector, got shape {q.shape}")
    total = q.sum()
    if not np.isfinite(total) or q.min() < 0:  # an inf or a NaN anywhere makes the sum one
        raise ValueError("probs must be finite and non-negative")
    if not total > 0:
        raise ValueError("probs must have positive mass")
    top = 3 * ell
    if q.size > 4 * top:  # only the top 3 ell can hold a count (see _top_counts): the rest is left at 0
        idx = np.flatnonzero(q >= np.partition(q, q.size - top)[q.size - top])
        b = np.zeros(q.size, dtype=np.int64)
        b[idx] = _counts(ell * (q[idx] / total), ell)
        return b
    return _counts(ell * (q / total), ell)  # normalize first, then scale: the reference computation's order


def _counts(x: np.ndarray, ell: int) -> np.ndarray:
    """Steps 6-15 of Algorithm 2 on the scaled values ``x``.

    On the top 3 ell entries of a larger vector this gives the full vector's counts there, bit for bit:
    every entry with x >= 1/2 is among them (at most 2 ell of those sum to <= ell); every entry left out
    has b = 0 and zeta = -x above the zeta of each of the >= ell top entries rounded to 0, so it is never
    among the |d| <= ell raised when the counts fall short; when they overshoot, only entries with
    zeta > 0 (all inside) are lowered. ``b.sum()`` is an integer sum, the same over either set."""
    b = np.floor(x + 0.5).astype(np.int64)
    d = int(b.sum()) - ell
    if d != 0:
        zeta = b - x
        if d > 0:
            b[_select(-zeta, d)] -= 1
        else:
            b[_select(zeta, -d)] += 1
    if (b < 0).any():  # pragma: no cover - impossible: only entries with zeta > 0 are decreased
        raise AssertionError("lattice quantization produced a negative count")
    return b


def rank(counts: np.ndarray) -> int:
    """Index of a lattice point among the C(ell+K-1, K-1) points of its simplex (lexicographic)."""
    return composition_rank(counts)


def unrank(index: int, k: int, ell: int) -> np.ndarray:
    """The lattice point (int64 counts of length ``k`` summing to ``ell``) with that index."""
    if int(k) < 1:
        raise ValueError(f"k (support size) must be >= 1, got {k}")
    return composition_unrank(index, int(k), _check_ell(ell))


def num_points(k: int, ell: int) -> int:
    """Number of lattice points: C(ell+k-1, k-1), formula (2) of the paper before the log."""
    return composition_count(_check_ell(ell), int(k))


def index_bits(k: int, ell: int) -> int:
    """Exact wire cost of a lattice index: ceil(log2 C(ell+k-1, k-1))."""
    return bits_for(num_points(k, ell))


def sample_counts(counts: np.ndarray, ell: int, rng: np.random.Generator) -> int:
    """Position ``i`` with probability exactly ``counts[i] / ell``: one uniform integer, no floats."""
    u = int(rng.integers(ell))
    nz = np.flatnonzero(counts != 0)  # the u-th unit's entry among the non-zero counts (a bool mask: 6x faster)
    return int(nz[np.searchsorted(np.cumsum(counts[nz]), u, side="right")])

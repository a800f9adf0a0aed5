"""Exact enumerative codes: compositions (lattice points) and K-subsets of the vocabulary.

Each code is a bijection onto ``range(count)``, so a value costs exactly ``ceil(log2 count)`` bits on
the wire. Binomials come from GMP (gmpy2) because the subset code of a 512-token support over a 50k
vocabulary works with ~4,000-bit integers, where ``math.comb`` is about ten times slower.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import gmpy2
import numpy as np

_comb = gmpy2.comb
_divexact = gmpy2.divexact
_mpz = gmpy2.mpz


def bits_for(count: int) -> int:
    """Bits of a fixed-width field that can hold ``count`` distinct values: ceil(log2 count)."""
    count = int(count)
    if count < 1:
        raise ValueError(f"a code needs at least one value, got count={count}")
    return (count - 1).bit_length()


def _c(n: int, k: int):
    """C(n, k) as an mpz, with the symmetric (cheap) argument; 0 outside 0 <= k <= n."""
    if k < 0 or k > n:
        return _mpz(0)
    return _comb(n, min(k, n - k))


def composition_count(total: int, parts: int) -> int:
    """Number of weak compositions of ``total`` into ``parts`` parts: C(total+parts-1, parts-1)."""
    if parts < 1 or total < 0:
        raise ValueError(f"need parts >= 1 and total >= 0, got parts={parts}, total={total}")
    return int(_c(total + parts - 1, parts - 1))


def composition_rank(counts: Sequence[int] | np.ndarray) -> int:
    """Lexicographic rank of a weak composition among all compositions of the same total and length.

    Only non-zero parts contribute: the block of compositions whose part ``i`` is smaller than
    ``b`` has size C(r+k, k) - C(r-b+k, k) (hockey-stick identity), with ``r`` the remaining total and
    ``k`` the parts after ``i``. A dense 50k-part vector with ell = 100 thus costs ~100 binomials.
    """
    arr = np.asarray(counts)
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"counts must be a non-empty 1-D vector, got shape {arr.shape}")
    if arr.dtype.kind not in "iu":
        raise ValueError(f"counts must be integers, got dtype {arr.dtype}")
    if arr.min() < 0:
        raise ValueError("counts must be non-negative")
    size = arr.size
    remaining = int(arr.sum())
    rank = _mpz(0)
    for i in np.flatnonzero(arr != 0).tolist():
        k = size - i - 1
        if k == 0:
            break
        b = int(arr[i])
        rank += _c(remaining + k, k) - _c(remaining - b + k, k)
        remaining -= b
    return int(rank)


def composition_unrank(index: int, parts: int, total: int) -> np.ndarray:
    """Inverse of :func:`composition_rank`: the ``index``-th composition of ``total`` into ``parts``."""
    index = int(index)
    parts = int(parts)
    total = int(total)
    count = composition_count(total, parts)
    if not 0 <= index < count:
        raise ValueError(f"index {index} out of range [0, {count}) for parts={parts}, total={total}")
    out = np.zeros(parts, dtype=np.int64)
    idx = _mpz(index)
    r = total
    pos = 0
    while r > 0:
        m = parts - pos  # parts left, the current one included
        # Leading zeros: the compositions with m' parts left all come before any with a positive
        # part here, so jump to the smallest m' whose block still contains idx.
        lo, hi = 1, m
        while lo < hi:
            mid = (lo + hi) // 2
            if idx < _c(r + mid - 1, mid - 1):
                hi = mid
            else:
                lo = mid + 1
        m = lo
        pos = parts - m
        if m == 1:
            out[pos] = r
            break
        k = m - 1
        top = _c(r + k, k)
        # largest v in [1, r] with C(r+k,k) - C(r-v+k,k) <= idx
        lo, hi = 1, r
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if top - _c(r - mid + k, k) <= idx:
                lo = mid
            else:
                hi = mid - 1
        idx -= top - _c(r - lo + k, k)
        out[pos] = lo
        r -= lo
        pos += 1
    return out


def subset_count(universe: int, size: int) -> int:
    """Number of ``size``-subsets of a ``universe``-element set."""
    if not 0 <= size <= universe:
        raise ValueError(f"need 0 <= size <= universe, got size={size}, universe={universe}")
    return int(_c(universe, size))


def subset_rank(elements: Sequence[int] | np.ndarray) -> int:
    """Colexicographic rank of a set of distinct non-negative integers (combinatorial number system)."""
    arr = np.asarray(elements, dtype=np.int64)
    if arr.ndim != 1:
        raise ValueError(f"elements must be 1-D, got shape {arr.shape}")
    if arr.size and arr.min() < 0:
        raise ValueError("elements must be non-negative")
    srt = np.sort(arr)
    if srt.size > 1 and (np.diff(srt) == 0).any():
        raise ValueError("elements must be distinct")
    rank = _mpz(0)
    for i, c in enumerate(srt.tolist()):
        if c > i:  # C(c, i+1) is zero when c <= i
            rank += _comb(c, i + 1)
    return int(rank)


def _log_mpz(x) -> float:
    """Natural log of a positive (possibly huge) integer."""
    nbits = int(gmpy2.bit_length(x))
    if nbits <= 1000:
        return math.log(int(x))
    shift = nbits - 64
    return math.log(int(x >> shift)) + shift * math.log(2.0)


def _estimate_top(target: float, i: int, lo: int, hi: int) -> int:
    """Float estimate of the largest c in [lo, hi] with ln C(c, i) <= target.

    C(c, i) ~ (c - (i-1)/2)^i / i! gives the start and one Newton step on ln C(c, i) refines it;
    the caller corrects the last unit or two exactly.
    """
    lg = math.lgamma
    c = math.exp(min(700.0, (target + lg(i + 1.0)) / i)) + 0.5 * (i - 1)
    if c >= hi:
        return hi
    c = max(c, lo + 0.5)
    f = lg(c + 1.0) - lg(i + 1.0) - lg(c - i + 1.0) - target
    c -= f / math.log((c + 0.5) / max(c - i + 0.5, 1e-9))
    return max(lo, min(hi, int(c)))


def _exact_top(n_left, i: int, lo: int, hi: int, guess: int):
    """Largest c in [lo, hi] with C(c, i) <= n_left, and that binomial, starting from a guess.

    A good guess is fixed with at most a few exact unit steps (one multiply and one exact divide
    each); a poor one (the float estimate is weak when c is close to i) falls back to bisection.
    """
    c = guess
    value = _c(c, i)
    for _ in range(4):
        if value > n_left:
            if c == lo:
                break
            # C(c-1, i) = C(c, i) * (c - i) / c
            value = _divexact(value * (c - i), c) if c > i else _mpz(0)
            c -= 1
            continue
        if c == hi:
            return c, value
        nxt = _divexact(value * (c + 1), c + 1 - i) if c >= i else _c(c + 1, i)
        if nxt > n_left:
            return c, value
        value, c = nxt, c + 1
    # bisection on exact binomials: C(a, i) <= n_left < C(b + 1, i) throughout
    a, b = lo, hi
    while a < b:
        mid = (a + b + 1) // 2
        if _c(mid, i) <= n_left:
            a = mid
        else:
            b = mid - 1
    return a, _c(a, i)


def subset_unrank(index: int, universe: int, size: int) -> np.ndarray:
    """Inverse of :func:`subset_rank`: the sorted ``size``-subset of ``range(universe)`` with that rank.

    Each element is the largest ``c`` with C(c, i) <= remaining index. A float (lgamma) estimate of
    ``c`` is corrected by exact unit steps C(c±1, i) = C(c, i)·ratio, so each element costs about one
    fresh binomial instead of a binary search of them.
    """
    index = int(index)
    count = subset_count(universe, size)
    if not 0 <= index < count:
        raise ValueError(f"index {index} out of range [0, {count}) for a {size}-subset of {universe}")
    out = np.empty(size, dtype=np.int64)
    n_left = _mpz(index)
    upper = universe  # every later element is below the previous one
    for i in range(size, 0, -1):
        lo = i - 1  # C(i-1, i) == 0 <= n_left always holds
        hi = upper - 1
        if n_left == 0:
            c = lo
        else:
            c = _estimate_top(_log_mpz(n_left), i, lo, hi)
        c, value = _exact_top(n_left, i, lo, hi, c)
        out[i - 1] = c
        n_left -= value
        upper = c
    if n_left != 0:  # pragma: no cover - guarded by the range check above
        raise AssertionError("subset_unrank left a remainder")
    return out


def _complement(elements: np.ndarray, universe: int) -> np.ndarray:
    mask = np.ones(universe, dtype=bool)
    mask[elements] = False
    return np.flatnonzero(mask).astype(np.int64)


def support_index(support: np.ndarray, universe: int) -> int:
    """Index of a support (a K-subset of the vocabulary) in ``range(C(V, K))``.

    Colex rank of the subset, or of its complement when K > V/2: C(V, K) = C(V, V-K), so either is a
    bijection, and the complement keeps a near-full support (C-SQS with a low threshold) cheap.
    """
    support = np.asarray(support, dtype=np.int64)
    if 2 * support.size > universe:
        return subset_rank(_complement(support, universe))
    return subset_rank(support)


def support_from_index(index: int, universe: int, size: int) -> np.ndarray:
    """Inverse of :func:`support_index`: sorted token ids."""
    if 2 * size > universe:
        return _complement(subset_unrank(index, universe, universe - size), universe)
    return subset_unrank(index, universe, size)

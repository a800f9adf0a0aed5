"""Support selection: which tokens of the SLM distribution are kept before lattice quantization.

Every selector returns the support as sorted token ids (the canonical order of the subset code and
of the lattice counts). Ties in probability are broken towards the lower token id so that a
distribution always maps to one support, whatever numpy's partition order.
"""

from __future__ import annotations

import numpy as np


def _check_probs(q: np.ndarray) -> np.ndarray:
    q = np.asarray(q, dtype=np.float64)
    if q.ndim != 1 or q.size == 0:
        raise ValueError(f"q must be a non-empty 1-D probability vector, got shape {q.shape}")
    return q


def dense(q: np.ndarray) -> np.ndarray:
    """All V tokens: the dense quantize-and-sample (QS) baseline."""
    return np.arange(_check_probs(q).size, dtype=np.int64)


def top_k(q: np.ndarray, k: int) -> np.ndarray:
    """The ``k`` most probable tokens (K-SQS), in O(V)."""
    q = _check_probs(q)
    if isinstance(k, bool) or int(k) != k or not 1 <= int(k) <= q.size:
        raise ValueError(f"k must be an integer in [1, V={q.size}], got {k!r}")
    k = int(k)
    if k == q.size:
        return np.arange(q.size, dtype=np.int64)
    neg = -q
    kth = np.partition(neg, k - 1)[k - 1]
    strict = np.flatnonzero(neg < kth)
    ties = np.flatnonzero(neg == kth)[: k - strict.size]
    return np.sort(np.concatenate([strict, ties])).astype(np.int64)


def threshold(q: np.ndarray, beta: float) -> np.ndarray:
    """Tokens with ``q >= beta`` (C-SQS, eq. 6); never empty: the argmax is kept at least."""
    q = _check_probs(q)
    support = np.flatnonzero(q >= beta)
    if support.size == 0:
        support = np.array([int(np.argmax(q))])
    return support.astype(np.int64)


def top_p(q: np.ndarray, p: float) -> np.ndarray:
    """Smallest most-probable set holding at least mass ``p`` of ``q.sum()`` (nucleus), ties to lower ids.

    Only the top of q is sorted: the ``m`` largest values (and every tie of the m-th) are the first ``m`` of
    the full order, so their prefix sums are the full order's; ``m`` grows until they reach the target. A
    151,936-token vocabulary costs a partition and a sort of a few hundred entries, not a sort of all."""
    q = _check_probs(q)
    if not 0.0 < p <= 1.0:
        raise ValueError(f"top_p must be in (0, 1], got {p!r}")
    target = p * q.sum()
    m = 256
    while True:
        if m >= q.size:
            top = np.arange(q.size)
        else:
            top = np.flatnonzero(q >= np.partition(q, q.size - m)[q.size - m])
        order = top[np.lexsort((top, -q[top]))]  # descending prob, then ascending id
        cum = np.cumsum(q[order])
        n = int(np.searchsorted(cum, target, side="left")) + 1
        if n <= order.size or order.size == q.size:
            return np.sort(order[: min(n, q.size)]).astype(np.int64)
        m *= 8


def min_p(q: np.ndarray, min_p: float) -> np.ndarray:
    """Tokens at least ``min_p`` times as probable as the most probable one (min-p); never empty."""
    q = _check_probs(q)
    return np.flatnonzero(q >= min_p * q.max()).astype(np.int64)


def dropped_mass(q: np.ndarray, support: np.ndarray) -> float:
    """alpha_n: the SLM mass outside the support (eq. 4 before the expectation; Lemma 1's TV)."""
    q = np.asarray(q, dtype=np.float64)
    if support.size == q.size:  # every token kept (dense): nothing dropped, without an O(V) gather
        return 0.0
    total = float(q.sum())
    kept = float(q[support].sum())
    return max(0.0, (total - kept) / total)

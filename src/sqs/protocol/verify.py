"""Speculative-decoding verification (Leviathan et al., 2023) against the *decoded* q_hat."""

from __future__ import annotations

import numpy as np

from sqs.protocol.probs import sample_probs


def residual(p: np.ndarray, q_hat: np.ndarray) -> np.ndarray:
    """Unnormalized max(p - q_hat, 0); all zeros only when p == q_hat (up to rounding)."""
    return np.maximum(np.asarray(p, dtype=np.float64) - np.asarray(q_hat, dtype=np.float64), 0.0)


def verify(draft_tokens, q_hat: np.ndarray, p: np.ndarray, rng: np.random.Generator) -> tuple[int, int]:
    """Accept draft n with probability min(1, p(x)/q_hat(x)); resample the first rejection.

    ``q_hat`` is (L, V), ``p`` is (L+1, V): row L of ``p`` gives the bonus token when every draft is
    accepted. One uniform is drawn per examined draft, whether or not the ratio is >= 1, so the random
    stream does not depend on the values. Returns (number accepted, next token).
    """
    tokens = np.asarray(draft_tokens, dtype=np.int64).reshape(-1)
    q_hat = np.asarray(q_hat, dtype=np.float64)
    p = np.asarray(p, dtype=np.float64)
    n_draft = tokens.size
    if q_hat.ndim != 2 or p.ndim != 2 or q_hat.shape[0] != n_draft or p.shape[0] != n_draft + 1:
        raise ValueError(f"need q_hat (L, V) and p (L+1, V) for L={n_draft} drafts, got {q_hat.shape} and {p.shape}")
    if q_hat.shape[1] != p.shape[1]:
        raise ValueError(f"vocabulary mismatch: q_hat has {q_hat.shape[1]} columns, p has {p.shape[1]}")
    vocab = p.shape[1]
    for n in range(n_draft):
        x = int(tokens[n])
        if not 0 <= x < vocab:
            raise ValueError(f"draft token {x} outside the vocabulary [0, {vocab})")
        qx = q_hat[n, x]
        if not qx > 0:
            raise ValueError(f"draft token {x} at position {n} has q_hat = 0: it cannot have been sampled")
        if rng.random() * qx < p[n, x]:  # u < p/q without dividing
            continue
        res = residual(p[n], q_hat[n])
        return n, sample_probs(res if res.sum() > 0 else p[n], rng)
    return n_draft, sample_probs(p[n_draft], rng)


def rejection_probability(q_hat: np.ndarray, p: np.ndarray) -> np.ndarray:
    """Exact probability that a draft from q_hat is rejected by p: TV(q_hat, p) (eq. 14)."""
    return 0.5 * np.abs(np.asarray(q_hat, dtype=np.float64) - np.asarray(p, dtype=np.float64)).sum(-1)

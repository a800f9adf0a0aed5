"""Probability utilities shared by edge and cloud: temperature, exact sampling, distances.

Both models' logits go through :func:`softmax_temperature`, so temperature is applied the same way on
both sides; T = 0 is greedy (a one-hot at the argmax, lowest id on ties) on both sides. Everything is
float64: float16 probabilities break the exactness of the acceptance test.
"""

from __future__ import annotations

import numpy as np


def softmax_temperature(logits: np.ndarray, temperature: float) -> np.ndarray:
    """Softmax of ``logits / T`` along the last axis in float64; one-hot argmax when T == 0."""
    t = float(temperature)
    if not np.isfinite(t) or t < 0:
        raise ValueError(f"temperature must be a finite number >= 0, got {temperature!r}")
    z = np.asarray(logits, dtype=np.float64)
    if t == 0.0:
        out = np.zeros_like(z)
        np.put_along_axis(out, np.argmax(z, axis=-1)[..., None], 1.0, axis=-1)
        return out
    z = z / t  # one new array, then in place: the same operations, bit for bit, with fewer passes
    z -= z.max(axis=-1, keepdims=True)
    np.exp(z, out=z)
    z /= z.sum(axis=-1, keepdims=True)
    return z


def sample_probs(probs: np.ndarray, rng: np.random.Generator) -> int:
    """Index drawn from a float probability vector (need not be normalized); never a zero entry."""
    p = np.asarray(probs, dtype=np.float64)
    cum = np.cumsum(p)
    total = cum[-1]
    if not total > 0 or not np.isfinite(total):
        raise ValueError("cannot sample from a vector without positive finite mass")
    idx = int(np.searchsorted(cum, rng.random() * total, side="right"))
    if idx >= p.size:  # u * total rounded up to total: take the last token with positive mass
        idx = int(np.flatnonzero(p > 0)[-1])
    return idx


def tv_distance(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Total variation distance 0.5 * sum |a - b| along the last axis."""
    return 0.5 * np.abs(np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)).sum(axis=-1)

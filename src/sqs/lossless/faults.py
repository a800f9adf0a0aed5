"""The known faults of speculative-decoding code, as exact laws and as vectorized samplers of one round.

One round: the edge draws a draft x from its distribution, the cloud accepts it with min(1, p(x)/q_hat(x))
and otherwise draws from the residual max(p - q_hat, 0) (p itself when that is all zeros). The emitted
token then follows p exactly. Each fault below changes one step the way SD code gets it wrong, and
:func:`round_law` gives the law the emitted token then follows, in closed form: the power of a law test
against a fault is computed from it (:func:`sqs.lossless.gof.gof_power`) instead of guessed, and
:func:`sample_round` draws from it to check that computation by simulation.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from sqs.protocol.probs import softmax_temperature


def bfloat16(x: np.ndarray) -> np.ndarray:
    """``x`` rounded to bfloat16 (round to nearest even, as torch casts), back in float64."""
    bits = np.asarray(x, dtype=np.float32).view(np.uint32).astype(np.uint64)
    bits = (bits + 0x7FFF + ((bits >> 16) & 1)) >> 16 << 16
    return bits.astype(np.uint32).view(np.float32).astype(np.float64)


@dataclass(frozen=True)
class Round:
    """One draft position: the edge's q and the q_hat it sends, the target p, and the cloud's own p (equal to
    the target unless a fault makes them differ)."""

    q: np.ndarray
    q_hat: np.ndarray
    p: np.ndarray
    draft: np.ndarray  # the law the draft is drawn from (q_hat when exact)
    ratio_q: np.ndarray  # the q_hat the cloud's ratio and residual use
    cloud_p: np.ndarray
    inverted: bool = False  # accept with min(1, q_hat/p)
    residual_from_p: bool = False


FAULTS = (
    "acceptance min(1, q_hat/p)",
    "residual from p, not p - q_hat",
    "draft from q, verified with q_hat",
    "temperature on the edge only",
    "bfloat16 q_hat in the cloud",
)


def make_round(q: np.ndarray, q_hat: np.ndarray, p: np.ndarray, fault: str | None = None,
               cloud_p_untempered: np.ndarray | None = None) -> Round:  # fmt: skip
    """The round of the edge's ``q``, the ``q_hat`` it sends and the target ``p``, with one fault (None: exact).

    "temperature on the edge only" needs the cloud's p before temperature (``cloud_p_untempered``, the
    softmax at T = 1); without it the round is taken at T = 1, where that fault changes nothing.
    """
    q, q_hat, p = (np.asarray(a, dtype=np.float64) for a in (q, q_hat, p))
    exact = Round(q, q_hat, p, q_hat, q_hat, p)
    if fault is None:
        return exact
    if fault == FAULTS[0]:
        return replace(exact, inverted=True)
    if fault == FAULTS[1]:
        return replace(exact, residual_from_p=True)
    if fault == FAULTS[2]:
        return replace(exact, draft=q)
    if fault == FAULTS[3]:  # the edge divides by T, the cloud does not
        return replace(exact, cloud_p=p if cloud_p_untempered is None else np.asarray(cloud_p_untempered, float))
    if fault == FAULTS[4]:
        return replace(exact, ratio_q=bfloat16(q_hat))
    raise ValueError(f"unknown fault {fault!r}; known: {', '.join(FAULTS)}")


def logits_round(q_logits: np.ndarray, p_logits: np.ndarray, temperature: float, compress,
                 fault: str | None = None) -> Round:  # fmt: skip
    """:func:`make_round` from both models' logits at ``temperature`` (both sides), ``compress(q) -> q_hat``."""
    q = softmax_temperature(q_logits, temperature)
    p = softmax_temperature(p_logits, temperature)
    return make_round(q, compress(q), p, fault, softmax_temperature(p_logits, 1.0))


def fault_laws(q: np.ndarray, q_hat: np.ndarray, p: np.ndarray, cloud_p_untempered: np.ndarray | None = None
               ) -> dict[str, np.ndarray]:  # fmt: skip
    """The emitted token's law under each fault (:data:`FAULTS`), for one round."""
    return {f: round_law(make_round(q, q_hat, p, f, cloud_p_untempered)) for f in FAULTS}


def _acceptance(r: Round) -> np.ndarray:
    num, den = (r.ratio_q, r.cloud_p) if r.inverted else (r.cloud_p, r.ratio_q)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den > 0, np.minimum(1.0, num / np.where(den > 0, den, 1.0)), 1.0)


def _residual(r: Round) -> np.ndarray:
    res = r.cloud_p if r.residual_from_p else np.maximum(r.cloud_p - r.ratio_q, 0.0)
    return res / res.sum() if res.sum() > 0 else r.cloud_p / r.cloud_p.sum()


def round_law(r: Round) -> np.ndarray:
    """The exact law of the token one round emits: accepted drafts plus the rejected mass times the residual."""
    d = r.draft / r.draft.sum()
    a = _acceptance(r)
    return d * a + float((d * (1.0 - a)).sum()) * _residual(r)


def sample_round(r: Round, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` emitted tokens of independent rounds, drawn step by step as the round runs (not from round_law)."""
    d = np.cumsum(r.draft / r.draft.sum())
    x = np.minimum(np.searchsorted(d, rng.random(n) * d[-1], side="right"), d.size - 1)
    keep = rng.random(n) < _acceptance(r)[x]
    res = np.cumsum(_residual(r))
    y = np.minimum(np.searchsorted(res, rng.random(n) * res[-1], side="right"), res.size - 1)
    return np.where(keep, x, y)

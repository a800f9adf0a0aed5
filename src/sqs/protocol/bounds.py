"""The paper's theory as computable quantities: Theorem 1's per-token terms and Theorem 2's bound."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sqs.protocol.probs import tv_distance
from sqs.protocol.sparsify import dropped_mass


@dataclass(frozen=True)
class Theorem1Terms:
    """Per-token terms of bound (3): E[N_rej] <= sum TV(q, p) + sum (alpha_n + K_n / (4 ell_n))."""

    tv_slm_llm: float  # TV(q_n, p_n): SLM-LLM discrepancy
    dropped_mass: float  # alpha_n: mass outside the support
    lattice_term: float  # K_n / (4 ell_n): SLQ distortion bound
    tv_qhat_llm: float  # TV(q_hat_n, p_n): the exact rejection probability of this draft

    @property
    def bound(self) -> float:
        return self.tv_slm_llm + self.dropped_mass + self.lattice_term


def theorem1_terms(q: np.ndarray, q_hat: np.ndarray, p: np.ndarray, support: np.ndarray, ell: int) -> Theorem1Terms:
    """The terms for one position; ``ell = 0`` means no lattice (float32 SD): no distortion term."""
    q = np.asarray(q, dtype=np.float64)
    k = int(np.asarray(support).size)
    return Theorem1Terms(
        tv_slm_llm=float(tv_distance(q, p)),
        dropped_mass=dropped_mass(q, support),
        lattice_term=k / (4.0 * ell) if ell > 0 else 0.0,
        tv_qhat_llm=float(tv_distance(q_hat, p)),
    )


def theorem2_bound_paper(beta1: float, eta: float, alpha: float, num_tokens: int) -> float:
    """Right-hand side of (9) as printed: alpha + (|beta_1| + 1 + eta*alpha) / (eta * T)."""
    return alpha + (abs(beta1) + 1.0 + eta * alpha) / (eta * num_tokens)


def theorem2_bound_tight(beta1: float, eta: float, alpha: float, num_tokens: int) -> float:
    """A bound that holds for every eta > 0 (the printed one needs eta * (1 - 2 alpha) <= 1).

    Telescoping (8) gives sum alpha_n = alpha T + (beta_1 - beta_{T+1}) / eta. While beta < 0 the
    whole vocabulary is kept, alpha_n = 0 and beta rises, so beta_{T+1} >= min(beta_1, -eta (1 - alpha)).
    """
    lowest = min(beta1, -eta * (1.0 - alpha))
    return alpha + (beta1 - lowest) / (eta * num_tokens)

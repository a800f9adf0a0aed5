"""The batch-length rule: L = max{L : sum_{n<=L} b_n <= B}, applied token by token, plus a cap.

:class:`BitBudget` is the live edge's; :func:`batch_lengths` the same rule over windows of known costs
(the trace model, the headroom)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class BitBudget:
    """Running uplink budget of one batch. ``admit`` is called with each draft's exact bit cost."""

    budget_bits: int
    max_draft_len: int
    used_bits: int = 0
    num_drafts: int = 0

    def __post_init__(self) -> None:
        if self.budget_bits < 0:
            raise ValueError(f"budget_bits must be >= 0, got {self.budget_bits}")
        if self.max_draft_len < 0 or self.max_draft_len > 0xFFFF:
            raise ValueError(f"max_draft_len must be in [0, 65535], got {self.max_draft_len}")

    @property
    def full(self) -> bool:
        """No further draft can be sent (the cap is reached)."""
        return self.num_drafts >= self.max_draft_len

    def fits(self, bits: int) -> bool:
        """Whether a draft of ``bits`` would be admitted (nothing is taken)."""
        return not self.full and self.used_bits + bits <= self.budget_bits

    def admit(self, bits: int) -> bool:
        """Take a draft of ``bits`` if it fits; False ends the batch (the sequential rule)."""
        if not self.fits(bits):
            return False
        self.used_bits += bits
        self.num_drafts += 1
        return True


def batch_length(bits_per_token, budget_bits: int, max_draft_len: int) -> int:
    """L for a known sequence of per-token costs: the first prefix that no longer fits ends it."""
    b = BitBudget(budget_bits, max_draft_len)
    for bits in bits_per_token:
        if not b.admit(int(bits)):
            break
    return b.num_drafts


def batch_lengths(charges: np.ndarray, budget_bits: int, cap) -> tuple[np.ndarray, np.ndarray]:
    """The rule over windows: ``charges`` (..., W) the bits each next draft would be charged, ``cap`` (...,)
    the most drafts allowed. Returns each window's draft count and the bits those drafts use."""
    charges = np.asarray(charges, dtype=np.float64)
    cum = np.cumsum(charges, axis=-1)
    allowed = np.arange(charges.shape[-1]) < np.asarray(cap)[..., None]
    length = ((cum <= budget_bits) & allowed).cumprod(axis=-1).sum(axis=-1)
    zero = np.zeros((*cum.shape[:-1], 1))
    used = np.take_along_axis(np.concatenate([zero, cum], axis=-1), length[..., None], axis=-1)[..., 0]
    return length, used

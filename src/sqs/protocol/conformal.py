"""The C-SQS threshold controller: online conformal update (8) with checkpoint/backtrack (Algorithm 1).

Reading of Algorithm 1, steps 11-13: during drafting the edge applies (8) after every draft token,
so it holds beta_1, ..., beta_{L+1}. When the cloud reports T accepted drafts, step 12 recomputes
beta_{T+1} = beta_T - eta (alpha_T - alpha), which is exactly the value the edge already stored after
draft T; the next batch starts from it (step 13). Updates made for rejected drafts, and for drafts
that were compressed but did not fit the bit budget, are discarded. The committed updates therefore
run over the accepted draft tokens only, which is the sequence Theorem 2 averages over. With T = 0
the threshold stays at beta_1 (step 12 would refer to a token 0 that does not exist).
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class ConformalThreshold:
    """State of the threshold beta with the within-batch trajectory kept for backtracking."""

    beta: float
    alpha: float
    eta: float
    _trajectory: list[float] = field(default_factory=list, repr=False)
    committed: list[float] = field(default_factory=list, repr=False)

    def __post_init__(self) -> None:
        if not 0.0 < self.alpha < 1.0:
            raise ValueError(f"alpha (target dropped mass) must be in (0, 1), got {self.alpha!r}")
        if not self.eta >= 0.0:
            raise ValueError(f"eta (learning rate) must be >= 0, got {self.eta!r}")
        self.beta = float(self.beta)
        self._trajectory = [self.beta]
        self.committed = [self.beta]

    def begin_batch(self) -> None:
        """Checkpoint: the batch starts from the current beta."""
        self._trajectory = [self.beta]

    def update(self, dropped: float) -> float:
        """Update (8) after one draft token with dropped mass ``dropped``; returns the new beta."""
        self.beta = self.beta - self.eta * (float(dropped) - self.alpha)
        self._trajectory.append(self.beta)
        return self.beta

    def end_batch(self, num_accepted: int) -> float:
        """Backtrack to the value after the last accepted draft (steps 11-13)."""
        drafted = len(self._trajectory) - 1
        if not 0 <= num_accepted <= drafted:
            raise ValueError(f"num_accepted={num_accepted} outside [0, {drafted}] drafted updates")
        self.committed.extend(self._trajectory[1 : num_accepted + 1])
        self.beta = self._trajectory[num_accepted]
        self._trajectory = [self.beta]
        return self.beta

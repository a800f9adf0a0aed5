"""One additive tally of a decoding run's counts and sums, and the one place that turns it into rates.

Every producer (a session, cloud-only AR, a workflow cell, a live study, the toy simulation) adds
tallies and calls :meth:`Tally.rates`; nothing is pooled from rounded ratios. Rates are pooled over
batches (a prompt with more batches weighs more), as the paper's: resampling rate = resampled
batches / batches; mean accept length = (accepted drafts + batches) / batches; draft accept rate =
accepted / drafted. **Per-position acceptance** (as vLLM and llama.cpp report it): at draft position i,
accepted there over the batches that reached i with every earlier draft accepted; position 1's rate
estimates E[1 − TV(q̂, p)] whatever the draft length, where the draft accept rate falls as drafts get
longer. Latency is per prompt: ``latency_s`` the mean over prompts, ``latency_s_std`` their sample
standard deviation (ddof = 1; 0 for one prompt).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields

LATENCY_PARTS = ("edge", "protocol", "uplink", "propagation", "cloud", "downlink", "network")


@dataclass
class Tally:
    # what was generated, and how: prompts, tokens, batches, drafts; accepted drafts; resampled batches
    prompts: int = 0
    tokens: int = 0
    batches: int = 0
    drafts: int = 0
    accepted: int = 0
    resampled: int = 0
    # the wire
    payload_bits: int = 0
    uplink_bytes: int = 0
    downlink_bytes: int = 0
    # sums over drafts
    dropped_mass: float = 0.0
    expected_rejections: float = 0.0  # sum of TV(q̂, p) over drafts
    bound_theorem1: float = 0.0
    bound_discrepancy: float = 0.0
    bound_distortion: float = 0.0
    # time, summed over prompts
    latency_s: float = 0.0
    latency_sq_s2: float = 0.0  # sum over prompts of the squared prompt latency (for the spread)
    edge_s: float = 0.0
    protocol_s: float = 0.0
    uplink_s: float = 0.0
    propagation_s: float = 0.0
    cloud_s: float = 0.0
    downlink_s: float = 0.0
    network_s: float = 0.0  # a real link's measured time (sqs.net), where the parts above are not separable
    measured_latency_s: float = 0.0  # the wall clock beside a compute profile's price, summed over prompts
    ell_sum: float = 0.0  # over the batches that used a lattice
    ell_batches: int = 0
    uplink_bps_sum: float = 0.0  # over batches
    predrafted: int = 0
    predrafts_kept: int = 0
    beta_last_sum: float = 0.0  # C-SQS: each prompt's last threshold
    beta_prompts: int = 0
    reached: list[int] = field(default_factory=list)  # per draft position: batches that got there
    accepted_at: list[int] = field(default_factory=list)  # ... and accepted it

    def add_batch(self, drafts: int, accepted: int, ell: int | None = None, uplink_bps: float = 0.0) -> None:
        """One batch's counts (the per-position ones included); bits, bounds and times are added by the caller."""
        self.batches += 1
        self.drafts += drafts
        self.accepted += accepted
        self.resampled += int(accepted < drafts)
        for i in range(min(drafts, accepted + 1)):  # positions 0..accepted reached (if drafted)
            _bump(self.reached, i)
            if i < accepted:
                _bump(self.accepted_at, i)
        if ell:
            self.ell_sum += ell
            self.ell_batches += 1
        self.uplink_bps_sum += uplink_bps

    def add_prompt(self, latency_s: float) -> None:
        self.prompts += 1
        self.latency_s += latency_s
        self.latency_sq_s2 += latency_s * latency_s

    def __add__(self, other: Tally) -> Tally:
        out = Tally()
        for f in fields(Tally):
            a, b = getattr(self, f.name), getattr(other, f.name)
            if isinstance(a, list):
                n = max(len(a), len(b))
                setattr(out, f.name, [(a[i] if i < len(a) else 0) + (b[i] if i < len(b) else 0) for i in range(n)])
            else:
                setattr(out, f.name, a + b)
        return out

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> Tally:
        return cls(**{f.name: d[f.name] for f in fields(cls) if f.name in d})

    def per_position(self) -> list[float]:
        acc = self.accepted_at + [0] * (len(self.reached) - len(self.accepted_at))
        return [a / r if r else math.nan for a, r in zip(acc, self.reached, strict=True)]

    def rates(self) -> dict:
        """Every rate of ``summary.csv`` (names as there) from the counts."""
        nb, n = max(self.batches, 1), max(self.prompts, 1)
        pos = self.per_position()
        var = (self.latency_sq_s2 - self.latency_s**2 / n) / (n - 1) if self.prompts > 1 else 0.0
        parts = {f"latency_{p}_s": getattr(self, f"{p}_s") / n for p in LATENCY_PARTS}
        return {
            "n_prompts": self.prompts,
            "n_tokens": self.tokens,
            "n_batches": self.batches,
            "latency_s": self.latency_s / n,
            "latency_s_std": math.sqrt(max(var, 0.0)),
            "tokens_per_s": self.tokens / self.latency_s if self.latency_s > 0 else math.nan,
            "latency_measured_s": self.measured_latency_s / n,
            "tokens_per_s_measured": self.tokens / self.measured_latency_s if self.measured_latency_s > 0 else math.nan,
            "resampling_rate": self.resampled / nb,
            "mean_accept_len": (self.accepted + self.batches) / nb,
            "draft_accept_rate": self.accepted / self.drafts if self.drafts else math.nan,
            "accept_rate_pos1": pos[0] if pos else math.nan,
            "accept_rate_by_position": ";".join(f"{x:.4f}" for x in pos),
            "mean_draft_len": self.drafts / nb,
            "uplink_bits_per_token": self.payload_bits / max(self.tokens, 1),
            "uplink_bits_per_batch": self.payload_bits / nb,
            "dropped_mass": self.dropped_mass / self.drafts if self.drafts else 0.0,
            "expected_rejections": self.expected_rejections / nb,
            "bound_theorem1": self.bound_theorem1 / nb,
            "bound_discrepancy": self.bound_discrepancy / nb,
            "bound_distortion": self.bound_distortion / nb,
            **parts,
            "protocol_share_of_edge": self.protocol_s / self.edge_s if self.edge_s > 0 else 0.0,
            "beta_last_mean": self.beta_last_sum / self.beta_prompts if self.beta_prompts else math.nan,
            "mean_ell": self.ell_sum / self.ell_batches if self.ell_batches else 0.0,
            "mean_uplink_bps": self.uplink_bps_sum / nb,
            "predraft_kept_share": self.predrafts_kept / max(self.predrafted, 1),
        }


RATE_COLUMNS = tuple(Tally().rates())

# The rates a confidence interval is given for, each as the ratio of two tally fields summed over prompts
# (what :meth:`Tally.rates` computes them as): tokens per second, latency per prompt, resampled per batch.
CI_RATIOS = {"tokens_per_s": ("tokens", "latency_s"), "latency_s": ("latency_s", "prompts"),
             "resampling_rate": ("resampled", "batches")}  # fmt: skip
CI_COLUMNS = tuple(f"{m}_ci_{side}" for m in CI_RATIOS for side in ("low", "high"))


def bootstrap_ci(tallies, rng, n_boot: int = 2000, level: float = 0.95) -> dict:
    """Percentile bootstrap over prompts: resample the prompts with replacement, pool each resample's
    tallies as :meth:`Tally.rates` pools them, and take the central ``level`` of each rate in
    :data:`CI_RATIOS`. Prompts are the unit that varies (a cell's tokens within a prompt are not
    independent), so this is the interval a claim about the prompt population needs."""
    import numpy as np

    ts = [t if isinstance(t, Tally) else Tally.from_dict(t) for t in tallies]
    if not ts:
        raise ValueError("no tallies to bootstrap")
    n = len(ts)
    counts = rng.multinomial(n, np.full(n, 1.0 / n), size=n_boot).astype(np.float64)
    out = {}
    for name, (num, den) in CI_RATIOS.items():
        a = counts @ np.array([float(getattr(t, num)) for t in ts])
        b = counts @ np.array([float(getattr(t, den)) for t in ts])
        vals = np.divide(a, b, out=np.full(n_boot, np.nan), where=b > 0)
        lo, hi = (np.nanquantile(vals, [(1 - level) / 2, (1 + level) / 2]) if np.isfinite(vals).any()
                  else (math.nan, math.nan))  # fmt: skip
        out[f"{name}_ci_low"], out[f"{name}_ci_high"] = float(lo), float(hi)
    return out


def speedup_ci(ours, theirs, rng, n_boot: int = 2000, level: float = 0.95) -> tuple[float, float]:
    """Percentile bootstrap of one rate over another, prompts resampled in pairs: ``ours`` and ``theirs`` hold
    a (tokens, seconds) row per prompt, the same prompts in the same order, and each rate is its tokens over
    its seconds, pooled as :func:`bootstrap_ci` pools them."""
    import numpy as np

    a, b = np.asarray(ours, dtype=float), np.asarray(theirs, dtype=float)
    if a.ndim != 2 or a.shape != b.shape or a.shape[1] != 2 or not len(a):
        raise ValueError(f"need a (tokens, seconds) row per prompt on both sides, got shapes {a.shape} and {b.shape}")
    x = np.hstack([a, b])
    w = rng.multinomial(len(x), np.full(len(x), 1.0 / len(x)), size=n_boot) @ x
    lo, hi = np.quantile((w[:, 0] / w[:, 1]) / (w[:, 2] / w[:, 3]), [(1 - level) / 2, (1 + level) / 2])
    return float(lo), float(hi)


def _bump(xs: list[int], i: int) -> None:
    while len(xs) <= i:
        xs.append(0)
    xs[i] += 1


def pooled(tallies) -> Tally:
    """The sum of many tallies (prompts of a cell, cells of a study)."""
    out = Tally()
    for t in tallies:
        out = out + (t if isinstance(t, Tally) else Tally.from_dict(t))
    return out

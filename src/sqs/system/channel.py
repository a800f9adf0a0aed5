"""Time-varying uplink rates: a two-state Markov (Gilbert–Elliott) channel, or recorded rates replayed.

The rate in force is drawn once per batch (``next_rate``) and recorded with the batch; the edge is
assumed to know it when it plans the batch (the QS reference's policy observes it too). The
reference code uses 2 and 6 Mb/s with every transition probability 0.5, the defaults here.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass(frozen=True)
class ChannelConfig:
    """``kind``: ``fixed`` (the link's own uplink rate), ``gilbert-elliott`` or ``replay`` (a CSV file's rates)."""

    kind: str = "fixed"
    rates_bps: tuple[float, float] = (2e6, 6e6)  # Gilbert–Elliott: state 0 ("bad"), state 1 ("good")
    p_leave: tuple[float, float] = (0.5, 0.5)  # per batch: P(0 -> 1), P(1 -> 0)
    start_state: int = 0
    rates_csv: str | None = None  # one rate per batch in column ``uplink_bps``; replayed cyclically

    def __post_init__(self) -> None:
        kinds = ("fixed", "gilbert-elliott", "replay")
        if self.kind not in kinds:
            raise ValueError(f"channel kind must be one of {', '.join(kinds)}, got {self.kind!r}")
        if len(self.rates_bps) != 2 or not all(r > 0 for r in self.rates_bps):
            raise ValueError(f"rates_bps must be two positive rates, got {self.rates_bps!r}")
        if len(self.p_leave) != 2 or not all(0.0 <= p <= 1.0 for p in self.p_leave):
            raise ValueError(f"p_leave must be two probabilities in [0, 1], got {self.p_leave!r}")
        if self.start_state not in (0, 1):
            raise ValueError(f"start_state must be 0 or 1, got {self.start_state!r}")
        if self.kind == "replay" and not self.rates_csv:
            raise ValueError("a replay channel needs rates_csv: a CSV file with an uplink_bps column")


class RateProcess:
    """One realization of the channel; ``next_rate()`` is the uplink rate of the next batch in b/s."""

    def __init__(self, cfg: ChannelConfig, fixed_bps: float, rng: np.random.Generator) -> None:
        self.cfg = cfg
        self.fixed_bps = float(fixed_bps)
        self.rng = rng
        self.state = cfg.start_state
        self.recorded = read_rates(cfg.rates_csv) if cfg.kind == "replay" else None
        self.n = 0

    def next_rate(self) -> float:
        cfg, n = self.cfg, self.n
        self.n += 1
        if cfg.kind == "fixed":
            return self.fixed_bps
        if cfg.kind == "replay":
            return self.recorded[n % len(self.recorded)]
        if n > 0 and self.rng.random() < cfg.p_leave[self.state]:  # the first batch uses the start state
            self.state = 1 - self.state
        return float(cfg.rates_bps[self.state])


def read_rates(path: str | Path) -> list[float]:
    """Rates from a CSV with an ``uplink_bps`` column (one row per batch), validated."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"rates file {path} does not exist (a CSV with an uplink_bps column)")
    with path.open(newline="") as f:
        reader = csv.DictReader(f)
        if "uplink_bps" not in (reader.fieldnames or []):
            raise ValueError(f"rates file {path} has columns {reader.fieldnames}, needs 'uplink_bps'")
        rates = []
        for i, row in enumerate(reader, start=2):
            try:
                r = float(row["uplink_bps"])
            except ValueError:
                bad = row["uplink_bps"]
                raise ValueError(f"rates file {path} line {i}: uplink_bps={bad!r} is not a number") from None
            if not r > 0:
                raise ValueError(f"rates file {path} line {i}: uplink_bps={r} must be > 0")
            rates.append(r)
    if not rates:
        raise ValueError(f"rates file {path} has no rows")
    return rates

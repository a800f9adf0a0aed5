"""The link, and the latency account of one batch (priced by :class:`sqs.system.pricing.Pricer`).

    latency = edge compute + uplink bits / R_up + propagation + cloud compute + downlink bits / R_down

Compute is priced by the run's compute profile, or is the wall clock times a speed factor per side
(``edge_time_scale = 4`` models an edge device four times slower than this machine). Link bits are whole
messages, headers included. Every component is kept in the result.

The paper's account (SLM compute + uplink bits / rate + cloud verification) charges neither propagation
nor the downlink: that is the preset ``paper`` (:data:`LINK_PRESETS`), a ``downlink_bps`` of None.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields


@dataclass(frozen=True)
class LinkConfig:
    uplink_bps: float = 2e6  # the lower rate of the QS reference's two-state channel
    downlink_bps: float | None = 10e6  # None: the downlink is not charged (the paper's latency)
    propagation_s: float = 0.02  # per batch, both directions together
    edge_time_scale: float = 1.0
    cloud_time_scale: float = 1.0

    def __post_init__(self) -> None:
        for name in ("uplink_bps", "downlink_bps", "edge_time_scale", "cloud_time_scale"):
            val = getattr(self, name)
            if not (val is None and name == "downlink_bps") and not val > 0:
                raise ValueError(f"{name} must be > 0, got {val!r}")
        if not self.propagation_s >= 0:
            raise ValueError(f"propagation_s must be >= 0, got {self.propagation_s!r}")

    def uplink_s(self, nbytes, rate_bps: float | None = None):
        """Seconds ``nbytes`` take on the uplink (at ``rate_bps`` if given: a rate process's draw)."""
        return 8 * nbytes / (rate_bps or self.uplink_bps)

    def downlink_s(self, nbytes):
        """Seconds ``nbytes`` take on the downlink; 0 where the downlink is not charged."""
        return 0.0 * nbytes if self.downlink_bps is None else 8 * nbytes / self.downlink_bps

    def messages_s(self, uplink_bytes, downlink_bytes, batches=1.0, uplink_bps: float | None = None):
        """What ``batches`` batches' messages cost here: the uplink bytes, a propagation each, the downlink
        bytes (arrays work too)."""
        return self.uplink_s(uplink_bytes, uplink_bps) + batches * self.propagation_s + self.downlink_s(downlink_bytes)


# The paper's latency: SLM compute + uplink bits / rate + cloud verification (Sec. 4), no propagation and no
# downlink. The paper does not state its uplink rate; 2 Mb/s is the lower state of the two-state channel of
# its QS reference (arXiv 2507.00605), the rate this project's links default to.
LINK_PRESETS = {"paper": LinkConfig(uplink_bps=2e6, downlink_bps=None, propagation_s=0.0)}


def link_config(value) -> LinkConfig:
    """A link from a config value: a preset's name (:data:`LINK_PRESETS`), a dict of fields (with an optional
    ``preset`` they override), or a LinkConfig."""
    if isinstance(value, LinkConfig):
        return value
    if isinstance(value, str):
        value = {"preset": value}
    value = dict(value or {})
    preset = value.pop("preset", None)
    if preset is not None and preset not in LINK_PRESETS:
        raise ValueError(f"unknown link preset {preset!r}; valid: {', '.join(LINK_PRESETS)}")
    base = asdict(LINK_PRESETS[preset]) if preset else {}
    unknown = set(value) - {f.name for f in fields(LinkConfig)}
    if unknown:
        valid = ", ".join(f.name for f in fields(LinkConfig))
        raise ValueError(f"unknown link keys {sorted(unknown)}; valid: preset, {valid}")
    return LinkConfig(**{**base, **value})


@dataclass(frozen=True)
class BatchLatency:
    edge_s: float  # SLM forwards plus protocol work, scaled
    protocol_s: float  # the part of edge_s spent compressing and encoding, scaled
    uplink_s: float
    propagation_s: float
    cloud_s: float  # decode, LLM forward over the draft, verify, scaled
    downlink_s: float
    network_s: float = 0.0  # a real link (sqs.net): the measured round trip less the server's time, undivided

    @property
    def total_s(self) -> float:
        return self.edge_s + self.uplink_s + self.propagation_s + self.cloud_s + self.downlink_s + self.network_s

    def to_dict(self) -> dict:
        return {**asdict(self), "total_s": self.total_s}

"""Latency account of one batch: measured compute plus modelled link time.

    latency = edge compute + uplink bits / R_up + propagation + cloud compute + downlink bits / R_down

Compute times are measured wall clock on the machine running the code, multiplied by a speed factor
per side (``edge_time_scale = 4`` models an edge device four times slower than this machine). Link
bits are whole messages, headers included. Every component is kept in the result.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class LinkConfig:
    uplink_bps: float = 2e6  # the lower rate of the QS reference's two-state channel
    downlink_bps: float = 10e6
    propagation_s: float = 0.02  # per batch, both directions together
    edge_time_scale: float = 1.0
    cloud_time_scale: float = 1.0

    def __post_init__(self) -> None:
        for name in ("uplink_bps", "downlink_bps", "edge_time_scale", "cloud_time_scale"):
            val = getattr(self, name)
            if not val > 0:
                raise ValueError(f"{name} must be > 0, got {val!r}")
        if not self.propagation_s >= 0:
            raise ValueError(f"propagation_s must be >= 0, got {self.propagation_s!r}")


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


def batch_latency(
    link: LinkConfig,
    edge_model_s: float,
    edge_protocol_s: float,
    uplink_bytes: int,
    cloud_s: float,
    downlink_bytes: int,
) -> BatchLatency:
    edge_s = (edge_model_s + edge_protocol_s) * link.edge_time_scale
    return BatchLatency(
        edge_s=edge_s,
        protocol_s=edge_protocol_s * link.edge_time_scale,
        uplink_s=8 * uplink_bytes / link.uplink_bps,
        propagation_s=link.propagation_s,
        cloud_s=cloud_s * link.cloud_time_scale,
        downlink_s=8 * downlink_bytes / link.downlink_bps,
    )

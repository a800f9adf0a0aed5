"""One pricer: a run's compute profile and its link together, the one place time is priced.

A live session, cloud-only AR, the trace model's sequences, the regimes map and the draft-length
headroom all turn work into seconds here. Compute is a function of each call's shape under the
profile (:mod:`sqs.system.compute`: a named edge+cloud pair, this machine's calibration, per-call prices
fitted on live cells), or the wall clock under ``measured``, scaled by the link's speed factors. The
link prices a batch's messages (:meth:`sqs.system.latency.LinkConfig.messages_s`). A scheme without a
protocol price in a profile that has them is an error naming it, not zero seconds.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from sqs.protocol import wire
from sqs.system.compute import MEASURED, ComputeProfile
from sqs.system.latency import BatchLatency, LinkConfig


@dataclass(frozen=True)
class Pricer:
    """Seconds of model calls, protocol work and messages under ``profile`` and ``link``."""

    profile: ComputeProfile = MEASURED
    link: LinkConfig = field(default_factory=LinkConfig)

    @property
    def measured(self) -> bool:
        return self.profile.measured

    @property
    def account_link(self) -> LinkConfig:
        """The link as the account uses it: a profile models each device itself, so the measured time's speed
        factors (``edge_time_scale``, ``cloud_time_scale``) apply to the wall clock alone."""
        return self.link if self.measured else replace(self.link, edge_time_scale=1.0, cloud_time_scale=1.0)

    def relinked(self, **fields) -> Pricer:
        """The same compute over another link (a rate process's draw, a point of the regimes map)."""
        return replace(self, link=replace(self.link, **fields))

    # --- compute, by shape (a profile) ---------------------------------------------------------------
    def _sides(self):
        if self.measured:
            raise ValueError("the measured profile prices by the wall clock: there is no price of a call's shape")
        return self.profile.edge, self.profile.cloud

    def edge_forward_s(self, n_new: int, context: int) -> float:
        return self._sides()[0].forward_s(int(n_new), int(context))

    def cloud_forward_s(self, n_new: int, context: int) -> float:
        return self._sides()[1].forward_s(int(n_new), int(context))

    @property
    def cloud_host_cores(self) -> int:
        return self._sides()[1].host_cores

    def cloud_batch_s(self, sessions: float, n_new: float, context: float) -> float:
        """One batched verification: ``sessions`` sequences of ``n_new`` tokens after ``context`` (means
        allowed: a workload's mean draft length) in one forward (:mod:`sqs.system.capacity`)."""
        return self._sides()[1].forward_s(n_new, context, sessions)

    def server_draft_s(self, sessions: float, n_new: float, context: float) -> float:
        """One SLM forward of ``sessions`` sequences on the cloud's accelerator (server-only SD drafts there)."""
        self._sides()
        return self.profile.slm_on_cloud.forward_s(n_new, context, sessions)

    def edge_protocol_s(self, scheme: str, k: int) -> float:
        return self._sides()[0].protocol_s(scheme, int(k))

    def cloud_protocol_s(self, scheme: str, k: int) -> float:
        return self._sides()[1].protocol_s(scheme, int(k))

    # --- a batch -----------------------------------------------------------------------------------------
    def batch(self, edge_model_s: float, edge_protocol_s: float, uplink_bytes, cloud_s: float, downlink_bytes,
              uplink_bps: float | None = None) -> BatchLatency:  # fmt: skip
        """The latency account of one batch (arrays work too): each side's compute times its speed factor, the
        uplink message at ``uplink_bps`` (default the link's rate), propagation, the downlink message."""
        link = self.account_link
        return BatchLatency(
            edge_s=(edge_model_s + edge_protocol_s) * link.edge_time_scale,
            protocol_s=edge_protocol_s * link.edge_time_scale,
            uplink_s=link.uplink_s(uplink_bytes, uplink_bps),
            propagation_s=link.propagation_s,
            cloud_s=cloud_s * link.cloud_time_scale,
            downlink_s=link.downlink_s(downlink_bytes),
        )

    def priced_batch(self, scheme: str, edge_forwards, edge_supports, cloud_forward, cloud_supports,
                     uplink_bytes: int, downlink_bytes: int, uplink_bps: float | None = None):  # fmt: skip
        """A batch priced by its shapes: the SLM calls ``(new, cached)``, every compressed draft's support size
        at the edge, the LLM call, every decoded draft's support size in the cloud."""
        edge_model = sum(self.edge_forward_s(n, c) for n, c in edge_forwards)
        edge_protocol = sum(self.edge_protocol_s(scheme, k) for k in edge_supports)
        cloud = self.cloud_forward_s(*cloud_forward) + sum(self.cloud_protocol_s(scheme, k) for k in cloud_supports)
        return self.batch(edge_model, edge_protocol, uplink_bytes, cloud, downlink_bytes, uplink_bps)

    # --- cloud-only AR -----------------------------------------------------------------------------------
    def ar_stream(self, forwards, cloud_measured_s: float | None = None) -> BatchLatency:
        """Cloud-only AR as one account: the cloud's ``forwards`` ``(new, cached)``, one a token (priced, or
        ``cloud_measured_s`` of wall clock), one propagation for the whole stream (the cloud never waits for
        the edge), one downlink message a token; no edge, no uplink. The most favourable reading for the
        baseline, so a speedup over it is not inflated."""
        link = self.account_link
        if cloud_measured_s is not None:
            cloud = cloud_measured_s * link.cloud_time_scale
        else:
            cloud = sum(self.cloud_forward_s(n, c) for n, c in forwards)
        return BatchLatency(edge_s=0.0, protocol_s=0.0, uplink_s=0.0, propagation_s=link.propagation_s,
                            cloud_s=cloud, downlink_s=link.downlink_s(len(forwards) * wire.DOWNLINK_BYTES))  # fmt: skip

    # --- arrays: the trace model, the maps -----------------------------------------------------------------
    def table(self, fn, *values: np.ndarray) -> np.ndarray:
        """``fn`` of integer arrays of one shape (a shape's price), evaluated once per distinct tuple."""
        arrays = [np.asarray(v, dtype=np.int64) for v in values]
        shape = arrays[0].shape
        keys = np.stack([a.ravel() for a in arrays], axis=1)
        uniq, inv = np.unique(keys, axis=0, return_inverse=True)
        prices = np.array([fn(*row) for row in uniq.tolist()], dtype=np.float64)
        return prices[inv.ravel()].reshape(shape)

    def messages_s(self, uplink_bytes, batches=1.0, downlink_bytes=None, uplink_bps: float | None = None):
        """What ``batches`` batches' messages cost on the link (``downlink_bytes``: their total, default one
        verdict a batch)."""
        down = batches * wire.DOWNLINK_BYTES if downlink_bytes is None else downlink_bytes
        return self.account_link.messages_s(uplink_bytes, down, batches, uplink_bps)

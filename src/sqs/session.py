"""Run one prompt through an Edge and a Cloud that exchange only bytes, and measure it.

The runner is the measurement harness: it reads both sides' records (the edge's q, the cloud's p) to
compute Theorem 1's terms, but the edge and the cloud only ever see each other's messages.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

import numpy as np

from .bounds import theorem1_terms
from .cloud import Cloud
from .edge import Edge
from .latency import BatchLatency, LinkConfig, batch_latency, summarize


@dataclass
class BatchRecord:
    num_drafts: int
    num_accepted: int
    payload_bits: int
    uplink_bytes: int
    downlink_bytes: int
    support_sizes: list[int]
    dropped_mass: list[float]
    betas: list[float | None]
    rejection_prob: list[float]  # TV(q_hat_n, p_n), the exact per-draft rejection probability
    bound_theorem1: float  # sum over drafts of TV(q, p) + alpha_n + K_n / (4 ell)
    bound_discrepancy: float  # its SLM-LLM part: sum of TV(q, p)
    bound_distortion: float  # its sparsify + quantize part: sum of alpha_n + K_n / (4 ell)
    latency: BatchLatency

    @property
    def resampled(self) -> int:
        """1 when a draft was rejected and the cloud resampled it (at most one per batch)."""
        return int(self.num_accepted < self.num_drafts)


@dataclass
class SessionResult:
    prompt: list[int]
    tokens: list[int]  # generated continuation
    batches: list[BatchRecord] = field(repr=False)

    def summary(self) -> dict:
        b = self.batches
        n_batches = len(b)
        drafts = sum(x.num_drafts for x in b)
        accepted = sum(x.num_accepted for x in b)
        bits = sum(x.payload_bits for x in b)
        dropped = [d for x in b for d in x.dropped_mass]
        return {
            **summarize([x.latency for x in b], len(self.tokens)),
            "n_tokens": len(self.tokens),
            "n_batches": n_batches,
            "resampling_rate": sum(x.resampled for x in b) / max(n_batches, 1),
            "mean_accept_len": (accepted + n_batches) / max(n_batches, 1),
            "draft_accept_rate": accepted / drafts if drafts else float("nan"),
            "mean_draft_len": drafts / max(n_batches, 1),
            "uplink_bits_per_batch": bits / max(n_batches, 1),
            "uplink_bits_per_token": bits / max(len(self.tokens), 1),
            "uplink_bytes": sum(x.uplink_bytes for x in b),
            "downlink_bytes": sum(x.downlink_bytes for x in b),
            "dropped_mass": float(np.mean(dropped)) if dropped else 0.0,
            "expected_rejections": float(sum(sum(x.rejection_prob) for x in b)),
            "bound_theorem1": float(sum(x.bound_theorem1 for x in b)),
            "bound_discrepancy": float(sum(x.bound_discrepancy for x in b)),
            "bound_distortion": float(sum(x.bound_distortion for x in b)),
            "rejections": sum(x.resampled for x in b),
        }

    def to_dict(self) -> dict:
        return {
            "prompt": self.prompt,
            "tokens": self.tokens,
            **self.summary(),
            "batches": [asdict(x) for x in self.batches],
        }


def run_session(
    edge: Edge, cloud: Cloud, prompt: Sequence[int], max_new_tokens: int, link: LinkConfig | None = None
) -> SessionResult:
    """Alternate draft -> verify -> feedback until ``max_new_tokens`` tokens are generated."""
    link = link or LinkConfig()
    edge.start(prompt)
    cloud.start(prompt)
    batches: list[BatchRecord] = []
    generated = 0
    while generated < max_new_tokens:
        batch = edge.draft()
        verdict = cloud.handle(batch.message)
        n_acc, _ = edge.receive(verdict.message, batch)
        terms = [
            theorem1_terms(batch.q[n], comp.q_hat, verdict.p[n], comp.support, comp.ell)
            for n, comp in enumerate(batch.compressed)
        ]
        discrepancy = sum(t.tv_slm_llm for t in terms)
        distortion = sum(t.dropped_mass + t.lattice_term for t in terms)
        batches.append(
            BatchRecord(
                num_drafts=len(batch.tokens),
                num_accepted=n_acc,
                payload_bits=batch.payload_bits,
                uplink_bytes=len(batch.message),
                downlink_bytes=len(verdict.message),
                support_sizes=[c.k for c in batch.compressed],
                dropped_mass=[c.dropped_mass for c in batch.compressed],
                betas=[c.beta for c in batch.compressed],
                rejection_prob=verdict.rejection_prob.tolist(),
                bound_theorem1=discrepancy + distortion,
                bound_discrepancy=discrepancy,
                bound_distortion=distortion,
                latency=batch_latency(
                    link, batch.model_s, batch.protocol_s, len(batch.message), verdict.compute_s, len(verdict.message)
                ),
            )
        )
        generated += n_acc + 1
    if edge.tokens != cloud.tokens:  # pragma: no cover - would be a protocol bug
        raise AssertionError("edge and cloud disagree on the accepted text")
    tokens = edge.tokens[len(prompt) :][:max_new_tokens]
    return SessionResult(list(prompt), tokens, batches)

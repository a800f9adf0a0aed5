"""Run one prompt through an Edge and a Cloud that exchange only bytes, and measure it.

The runner is the measurement harness: it reads both sides' records (the edge's q, the cloud's p) to
compute Theorem 1's terms, but the edge and the cloud only ever see each other's messages.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace

from sqs.protocol.bounds import theorem1_terms
from sqs.system.channel import RateProcess
from sqs.system.cloud import Cloud
from sqs.system.compute import MEASURED, ComputeProfile
from sqs.system.edge import Edge
from sqs.system.latency import BatchLatency, LinkConfig
from sqs.system.metrics import LATENCY_PARTS, Tally
from sqs.system.pricing import Pricer


class CloudUnavailable(ConnectionError):
    """The cloud could not be reached, refused, or went away (a remote cloud, :mod:`sqs.net.client`)."""


class SessionInterrupted(RuntimeError):
    """A session stopped at ``batch`` because the cloud went away; ``result`` holds everything generated so far."""

    def __init__(self, batch: int, reason: str, result: SessionResult) -> None:
        super().__init__(f"stopped at batch {batch} after {len(result.tokens)} tokens: {reason}")
        self.batch, self.reason, self.result = batch, reason, result


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
    latency: BatchLatency  # priced by the run's compute profile (the wall clock under ``measured``)
    measured: BatchLatency | None = None  # the wall clock of each side's work, the same link; always kept
    uplink_bps: float = 0.0  # the rate in force for this batch
    ell: int | None = None  # the lattice resolution the edge used
    predrafted: int = 0  # preemptive drafting: drafts made while this batch was verified
    predrafts_kept: int = 0  # ... of which the next batch kept (all accepted and the guessed token right)
    predicted: BatchLatency | None = None  # a remote cloud: the latency model's price of the measured batch

    @property
    def resampled(self) -> int:
        """1 when a draft was rejected and the cloud resampled it (at most one per batch)."""
        return int(self.num_accepted < self.num_drafts)


@dataclass
class SessionResult:
    prompt: list[int]
    tokens: list[int]  # generated continuation
    batches: list[BatchRecord] = field(repr=False)

    def tally(self) -> Tally:
        """This prompt's counts and sums (sqs.system.metrics): what every pooled rate is computed from."""
        t = Tally(tokens=len(self.tokens))
        for x in self.batches:
            t.add_batch(x.num_drafts, x.num_accepted, x.ell, x.uplink_bps)
            t.payload_bits += x.payload_bits
            t.uplink_bytes += x.uplink_bytes
            t.downlink_bytes += x.downlink_bytes
            t.dropped_mass += float(sum(x.dropped_mass))
            t.expected_rejections += float(sum(x.rejection_prob))
            t.bound_theorem1 += x.bound_theorem1
            t.bound_discrepancy += x.bound_discrepancy
            t.bound_distortion += x.bound_distortion
            t.predrafted += x.predrafted
            t.predrafts_kept += x.predrafts_kept
            for part in LATENCY_PARTS:
                setattr(t, f"{part}_s", getattr(t, f"{part}_s") + getattr(x.latency, f"{part}_s"))
        betas = [b for x in self.batches for b in x.betas if b is not None]
        if betas:
            t.beta_last_sum, t.beta_prompts = betas[-1], 1
        t.add_prompt(sum(x.latency.total_s for x in self.batches))
        t.measured_latency_s = sum((x.measured or x.latency).total_s for x in self.batches)
        return t

    def summary(self) -> dict:
        """The prompt's rates (sqs.system.metrics.Tally.rates) and its tally under ``tally``."""
        t = self.tally()
        return {**t.rates(), "rejections": t.resampled, "uplink_bytes": t.uplink_bytes,
                "downlink_bytes": t.downlink_bytes, "predrafted": t.predrafted, "tally": t.to_dict()}  # fmt: skip

    def to_dict(self) -> dict:
        return {
            "prompt": self.prompt,
            "tokens": self.tokens,
            **self.summary(),
            "batches": [asdict(x) for x in self.batches],
        }


def run_session(
    edge: Edge,
    cloud: Cloud,
    prompt: Sequence[int],
    max_new_tokens: int,
    link: LinkConfig | None = None,
    rates: RateProcess | None = None,
    preemptive: bool = False,
    compute: ComputeProfile | None = None,
) -> SessionResult:
    """Alternate draft -> verify -> feedback until ``max_new_tokens`` tokens are generated.

    The edge never drafts past the tokens still wanted (a batch with k tokens to go carries at most k - 1
    drafts), so the last batch does no work whose tokens would be cut off.

    ``compute`` prices each side's work (:mod:`sqs.system.compute`): every model call by its shape and
    every draft's protocol work by its support size, so the latency is a function of the trajectory;
    ``measured`` (the default) keeps the wall clock. The wall clock is recorded beside either way, and a
    drafting policy learns from the same prices the latency uses.

    ``cloud`` is in-process (:class:`Cloud`) or across a network (:class:`sqs.net.client.RemoteCloud`).
    Across a network the latency is the edge's clock (``network_s``: the round trip less the server's
    own time), ``predicted`` is the latency model's price of the same batch from both sides' measured
    compute, and what needs the LLM's p (rejection probabilities, Theorem 1's SLM-LLM term) is NaN. If
    the cloud goes away, :class:`SessionInterrupted` carries the tokens generated so far.

    ``rates`` draws the uplink rate of each batch (default: the link's fixed rate). ``preemptive``:
    while the cloud verifies batch t the edge keeps drafting batch t+1 as if all of t were accepted
    and the cloud's next token were the SLM's guess (:meth:`Edge.predraft`). The account is a
    timeline: a batch's latency runs from the previous verdict's arrival to its own, so the edge's
    pre-drafting overlaps the round trip and is charged only where it delays the next send (a step
    still running when the verdict arrives finishes first); pre-drafts on a wrong prefix are dropped.
    """
    link = link or LinkConfig()
    compute = compute or MEASURED
    _check_session(edge, cloud, preemptive, compute)
    pricer, clock_pricer = Pricer(compute, link), Pricer(MEASURED, link)  # the run's prices, and the wall clock's
    batches: list[BatchRecord] = []
    edge.start(prompt)
    try:
        cloud.start(prompt)
    except CloudUnavailable as exc:
        raise SessionInterrupted(0, str(exc), SessionResult(list(prompt), [], [])) from exc
    generated = 0
    clock = edge_busy = 0.0  # the last verdict's arrival; when the edge finishes its current draft
    while generated < max_new_tokens:
        rate = rates.next_rate() if rates is not None else link.uplink_bps
        batch = edge.draft(rate, wanted=max_new_tokens - generated)
        try:
            verdict = cloud.handle(batch.message)
        except CloudUnavailable as exc:
            done = edge.tokens[len(prompt) :][:max_new_tokens]
            raise SessionInterrupted(len(batches), str(exc), SessionResult(list(prompt), done, batches)) from exc
        latency, measured, predicted = _price(edge, batch, verdict, rate, pricer, clock_pricer)
        round_trip = latency.total_s - latency.edge_s
        sent = max(clock, edge_busy) + latency.edge_s
        arrival = sent + round_trip
        made = 0
        if preemptive:  # the edge drafts on while it waits; waiting for an in-flight draft delays the send
            edge_busy, made = _predraft(edge, batch, sent, arrival, pricer)
            latency = replace(latency, edge_s=sent - clock)
        clock = arrival
        n_acc, _ = edge.receive(verdict.message, batch, round_trip)
        if edge.carried is not None:  # split verification: the edge drew the next token itself, after the verdict
            latency, measured, extra = _resampled(edge, latency, measured, pricer, clock_pricer)
            clock += extra
        batches.append(_record(batch, verdict, n_acc, latency, measured, predicted, rate, made, len(edge.pending)))
        generated += n_acc + 1
    # after a split rejection the cloud learns the edge's token with the next uplink, so it may lack the last one
    if not cloud.remote and edge.tokens[: len(edge.tokens) - cloud.awaiting] != cloud.tokens:  # pragma: no cover
        raise AssertionError("edge and cloud disagree on the accepted text")
    tokens = edge.tokens[len(prompt) :][:max_new_tokens]
    return SessionResult(list(prompt), tokens, batches)


def _check_session(edge: Edge, cloud, preemptive: bool, compute: ComputeProfile) -> None:
    if preemptive and (edge.policy is not None or edge.scheme.stateful or edge.scheme.spec.layout.tree):
        raise ValueError(
            "preemptive drafting needs no drafting policy and a stateless chain scheme (not one like c-sqs, whose "
            f"threshold checkpoint spans one batch, nor a tree); got policy={edge.policy is not None}, "
            f"scheme={edge.scheme.name}"
        )
    if cloud.remote and (preemptive or not compute.measured):
        raise ValueError("a remote cloud is timed by the clock: no preemptive drafting and no compute profile")


def _price(edge: Edge, batch, verdict, rate: float, pricer: Pricer, clock: Pricer):
    """(the batch's latency in the run's account, its wall-clock account, the model's price of a remote batch).

    Under a profile every call is priced by its shape, and the batch's own edge times become those prices, so a
    drafting policy learns from what the latency uses. Across a real link the wall clock is the edge's clock
    (the round trip less the server's own time) and the latency model's price of the same batch is kept beside.
    """
    up, down = len(batch.message), len(verdict.message)
    measured = clock.batch(batch.model_s, batch.protocol_s, up, verdict.compute_s, down, rate)
    predicted = None
    if verdict.round_trip_s is not None:
        predicted = measured
        measured = BatchLatency(edge_s=batch.model_s + batch.protocol_s, protocol_s=batch.protocol_s, uplink_s=0.0,
                                propagation_s=0.0, cloud_s=verdict.server_s, downlink_s=0.0,
                                network_s=max(verdict.round_trip_s - verdict.server_s, 0.0))  # fmt: skip
    if pricer.measured:
        return measured, measured, predicted
    latency = pricer.priced_batch(edge.scheme.name, batch.forwards, batch.supports, verdict.forward, verdict.supports,
                                  up, down, rate)  # fmt: skip
    batch.model_s, batch.protocol_s = latency.edge_s - latency.protocol_s, latency.protocol_s
    return latency, measured, predicted


def _resampled(edge: Edge, latency: BatchLatency, measured: BatchLatency, pricer: Pricer, clock: Pricer):
    """A batch's accounts with the edge's draw after a split rejection added to its protocol work: the wall clock
    it took, and under a profile one draft's protocol price at K = V (a sampling pass over V, as a draft's).
    Returns both accounts and the seconds added to the run's."""
    def more(acc: BatchLatency, s: float) -> BatchLatency:
        return replace(acc, edge_s=acc.edge_s + s, protocol_s=acc.protocol_s + s)

    measured = more(measured, edge.resample_s * clock.account_link.edge_time_scale)
    if pricer.measured:
        return measured, measured, edge.resample_s * clock.account_link.edge_time_scale
    extra = pricer.edge_protocol_s(edge.scheme.name, edge.model.vocab_size)
    return more(latency, extra), measured, extra


def _predraft(edge: Edge, batch, sent: float, arrival: float, pricer: Pricer) -> tuple[float, int]:
    """Preemptive drafting from the send to the verdict's arrival: (when the edge is free again, steps made). A
    step still running when the verdict arrives finishes first."""
    cursor, made = sent, 0
    while cursor < arrival:
        seconds, fits, shape, k = edge.predraft(batch)
        if pricer.measured:
            cursor += seconds * pricer.link.edge_time_scale
        else:
            cursor += pricer.edge_forward_s(*shape) + (pricer.edge_protocol_s(edge.scheme.name, k) if k else 0.0)
        made += 1
        if not fits:
            break
    return cursor, made


def _record(batch, verdict, n_acc: int, latency: BatchLatency, measured: BatchLatency, predicted, rate: float,
            made: int, kept: int) -> BatchRecord:  # fmt: skip
    """One batch's record, Theorem 1's terms included where the cloud's p is known (NaN across a network)."""
    if verdict.p is not None:
        terms = [theorem1_terms(batch.q[n], comp.q_hat, verdict.p[n], comp.support, comp.ell)
                 for n, comp in enumerate(batch.compressed)]  # fmt: skip
        discrepancy = sum(t.tv_slm_llm for t in terms)
        distortion = sum(t.dropped_mass + t.lattice_term for t in terms)
    else:  # the edge never sees p
        discrepancy = distortion = float("nan")
    return BatchRecord(
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
        latency=latency,
        measured=measured,
        uplink_bps=rate,
        ell=batch.ell,
        predrafted=made,
        predrafts_kept=kept,
        predicted=predicted,
    )

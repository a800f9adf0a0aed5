"""Where edge–cloud speculative decoding pays: predicted speedup over the link and the hardware.

From the logits cache (:mod:`sqs.trace.sweep`, :mod:`sqs.trace.sequence`), each cell's prompts have
expected totals of tokens, batches, compute seconds under a compute profile and uplink bytes, none of
which depend on the link (the budget rule counts bits, not seconds). Tokens per second at uplink rate
R and propagation d is then (:meth:`sqs.system.latency.LinkConfig.messages_s`)

    tokens / (compute + 8 bytes / R + batches (d + 8 D / R_down))

so a whole (R, d) map costs one trace pass per cell. Cloud-only AR streams each prompt's N tokens with
one propagation: N / (Σ t_cloud(1 token) + d + N 8 D / R_down). Per profile, temperature and (R, d) the
table keeps each scheme's best setting, its speedup over AR and over dense QS at the same point.

Validation: under a profile the latency of a live batch is a function of its trajectory, and a
static policy's trajectory does not depend on the link, so a live cell's recorded batches give its
tokens per second at any (R, d) exactly; :func:`validate` puts those beside the trace prediction over
the same prompts.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from sqs.protocol.schemes import SCHEMES
from sqs.system import capacity as cap
from sqs.system.compute import ComputeProfile
from sqs.system.latency import LinkConfig
from sqs.system.metrics import Tally, pooled
from sqs.system.pricing import Pricer
from sqs.trace.sequence import ar_tallies, expected_tallies
from sqs.trace.sweep import SweepCell, cell_predictions, grid_cells

RATES_BPS = tuple(float(x) for x in np.geomspace(1e5, 1e8, 10))  # 0.1 .. 100 Mb/s
PROPAGATION_S = (0.0, 0.01, 0.02, 0.05, 0.1, 0.2)
CHECK_POINTS = ((0.5e6, 0.1), (2e6, 0.02), (20e6, 0.0))  # (R, d) where live cells are compared


def _setting(cell: SweepCell) -> str:
    return SCHEMES[cell.scheme].cell_label(cell.columns())


@dataclass(frozen=True)
class PromptTerms:
    """What each prompt's time depends on besides the link (arrays, one entry a prompt): expected tokens,
    batches, drafts and accepted drafts, each side's compute seconds as priced, uplink and downlink bytes and
    the payload bits. Pooled, they are :func:`link_terms`; per prompt, they resample (sqs.trace.families)."""

    tokens: np.ndarray
    edge_s: np.ndarray
    cloud_s: np.ndarray
    uplink_bytes: np.ndarray
    downlink_bytes: np.ndarray
    batches: np.ndarray
    accepted: np.ndarray
    drafts: np.ndarray
    payload_bits: np.ndarray

    @classmethod
    def of(cls, tallies: list[Tally]) -> PromptTerms:
        return cls(*(np.array([getattr(t, f.name) for t in tallies], dtype=np.float64) for f in fields(cls)))

    @property
    def compute_s(self) -> np.ndarray:
        return self.edge_s + self.cloud_s

    def seconds(self, link: LinkConfig, rate_bps: float) -> np.ndarray:
        """Each prompt's seconds over ``link`` with its uplink at ``rate_bps``."""
        return self.compute_s + link.messages_s(self.uplink_bytes, self.downlink_bytes, self.batches, rate_bps)

    def totals(self) -> dict:
        """The sums over prompts (and their count)."""
        out = {f.name: float(getattr(self, f.name).sum()) for f in fields(self)}
        return {**out, "prompts": float(self.tokens.size), "compute_s": out["edge_s"] + out["cloud_s"]}


def link_terms(tallies) -> dict:
    """What a sequence's time depends on besides the link, as expected totals over its prompts
    (:class:`PromptTerms`, pooled)."""
    return PromptTerms.of(tallies).totals()


def cell_terms(slm, llm, segments, cells: list[SweepCell], profiles: dict[str, ComputeProfile],
               contexts=None) -> dict:  # fmt: skip
    """{(profile name, cell): link_terms} over one trace solution per cell (acceptance does not depend on prices)."""
    first = next(iter(profiles.values()))
    stats = {c: st for c, (st, _) in cell_predictions(slm, llm, cells, first, segments, contexts).items()}
    v = slm.shape[1]
    return {(name, c): link_terms(expected_tallies(stats[c], segments, c, prof, c.link, v, contexts))
            for name, prof in profiles.items() for c in cells}  # fmt: skip


def _link(rate_bps: float | None, propagation_s: float, downlink_bps: float | None) -> LinkConfig:
    return LinkConfig(uplink_bps=rate_bps or 1.0, propagation_s=propagation_s, downlink_bps=downlink_bps)


def tokens_per_s(terms: dict, rate_bps: float, propagation_s: float, downlink_bps: float | None) -> float:
    link = _link(rate_bps, propagation_s, downlink_bps)
    return terms["tokens"] / (terms["compute_s"] + link.messages_s(terms["uplink_bytes"], terms["downlink_bytes"],
                                                                   terms["batches"]))  # fmt: skip


def ar_terms(segments, profile: ComputeProfile, contexts=None) -> dict:
    t = pooled(ar_tallies(segments, profile, LinkConfig(), contexts))
    return {"tokens": t.tokens, "prompts": t.prompts, "cloud_s": t.cloud_s, "downlink_bytes": t.downlink_bytes}


def ar_tokens_per_s(terms: dict, propagation_s: float, downlink_bps: float | None) -> float:
    """AR streams each prompt with one propagation and sends nothing up."""
    link = _link(None, propagation_s, downlink_bps)
    return terms["tokens"] / (terms["cloud_s"] + link.messages_s(0, terms["downlink_bytes"], terms["prompts"]))


def regime_table(terms: dict, cells: list[SweepCell], profiles: dict[str, ComputeProfile], ar: dict,
                 downlink_bps: float | None, rates=RATES_BPS, props=PROPAGATION_S) -> list[dict]:  # fmt: skip
    """Per profile, T, R and d: each scheme's best setting, its tokens/s, speedup over AR and over QS
    (``ar``: :func:`ar_terms` per profile name)."""
    rows = []
    temps = sorted({c.temperature for c in cells})
    for name in profiles:
        for t in temps:
            mine = [c for c in cells if c.temperature == t]
            for d in props:
                base = ar_tokens_per_s(ar[name], d, downlink_bps)
                for r in rates:
                    rate = {c: tokens_per_s(terms[(name, c)], r, d, downlink_bps) for c in mine}
                    qs = max((v for c, v in rate.items() if c.scheme == "qs"), default=float("nan"))
                    for scheme in dict.fromkeys(c.scheme for c in mine):
                        best = max((c for c in mine if c.scheme == scheme), key=rate.get)
                        rows.append({
                            "profile": name, "temperature": t, "uplink_bps": r, "propagation_s": d,
                            "scheme": scheme, "setting": _setting(best), "tokens_per_s": rate[best],
                            "ar_tokens_per_s": base, "speedup_vs_ar": rate[best] / base,
                            "speedup_vs_qs": rate[best] / qs,
                        })  # fmt: skip
    return rows


def best_workloads(terms: dict, cells: list[SweepCell], profiles: dict[str, ComputeProfile], link: LinkConfig,
                   context: float, objective_s: float, max_batch: int) -> dict:  # fmt: skip
    """{(profile, T): {scheme: (cell, Workload)}}: each scheme at its cell of most capacity over ``link`` under the
    objective (ties: the fastest for one edge), as a :class:`sqs.system.capacity.Workload`."""
    out = {}
    for name, profile in profiles.items():
        pricer = Pricer(profile, link)
        for t in sorted({c.temperature for c in cells}):
            mine = {}
            for scheme in dict.fromkeys(c.scheme for c in cells):
                options = [(c, cap.Workload.from_terms(scheme, terms[(name, c)], context)) for c in cells
                           if c.scheme == scheme and c.temperature == t]  # fmt: skip
                if options:
                    mine[scheme] = max(options, key=lambda cw, pr=pricer: (
                        cap.capacity(pr, cw[1], objective_s, max_batch),
                        cap.point(pr, cw[1], 1, max_batch)["tokens_per_s_per_edge"]))  # fmt: skip
            out[(name, t)] = mine
    return out


def _ar_workload(ar: dict, name: str, context: float) -> cap.Workload:
    return cap.Workload.autoregressive(ar[name]["tokens"] / max(ar[name]["prompts"], 1), context)


def capacity_table(best: dict, profiles: dict[str, ComputeProfile], ar: dict, link: LinkConfig, context: float,
                   objective_s: float, max_batch: int, edges=cap.EDGE_COUNTS) -> list[dict]:  # fmt: skip
    """Per profile and T: each scheme at its best setting (:func:`best_workloads`) and cloud-only AR (streamed,
    and one round trip per token) against the number of edges sharing one cloud over ``link``."""
    rows = []
    for (name, t), mine in best.items():
        pricer = Pricer(profiles[name], link)
        settings = {s: _setting(c) for s, (c, _) in mine.items()}
        workloads = [w for _, w in mine.values()]
        for r in cap.capacity_rows(pricer, workloads, _ar_workload(ar, name, context), objective_s, max_batch,
                                   edges):  # fmt: skip
            rows.append({"profile": name, "temperature": t, "setting": settings.get(r["workload"], ""),
                         "objective_s": objective_s, **r})  # fmt: skip
    return rows


def capacity_map(best: dict, profiles: dict[str, ComputeProfile], ar: dict, downlink_bps: float | None,
                 context: float, objective_s: float, max_batch: int, rates=RATES_BPS,
                 props=PROPAGATION_S) -> list[dict]:  # fmt: skip
    """Per profile, T, uplink rate and propagation: the most edges one cloud serves within the objective with
    the best of the schemes (each at its setting of :func:`best_workloads`), and with cloud-only AR at its
    better reading; their ratio."""
    rows = []
    for (name, t), mine in best.items():
        workloads, ar_w = [w for _, w in mine.values()], _ar_workload(ar, name, context)
        for d in props:
            for r in rates:
                pricer = Pricer(profiles[name], _link(r, d, downlink_bps))
                rows.append({"profile": name, "temperature": t, "uplink_bps": r, "propagation_s": d,
                             **cap.capacity_ratio(pricer, workloads, ar_w, objective_s, max_batch)})  # fmt: skip
    return rows


def live_tokens_per_s(records: list[dict], rate_bps: float, propagation_s: float,
                      downlink_bps: float | None) -> float:  # fmt: skip
    """A live cell's tokens/s at another link: its recorded batches' priced compute and bytes, re-linked."""
    tokens = sum(r["n_tokens"] for r in records)
    link = _link(rate_bps, propagation_s, downlink_bps)
    seconds = sum(b["compute_s"] + link.messages_s(b["uplink_bytes"], b["downlink_bytes"])
                  for rec in records for b in rec["batches"])  # fmt: skip
    return tokens / seconds


def validate(live: list[tuple[SweepCell, list[dict], dict]], profile_name: str, downlink_bps: float | None,
             points=CHECK_POINTS) -> list[dict]:  # fmt: skip
    """Trace predictions beside live cells (re-linked) at each check point, under the run's profile:
    ``live`` holds (cell, its records, the trace's :func:`link_terms` over the same prompts)."""
    rows = []
    for cell, records, terms in live:
        for r, d in points:
            rows.append({
                "profile": profile_name, "temperature": cell.temperature, "scheme": cell.scheme,
                "setting": _setting(cell), "uplink_bps": r, "propagation_s": d, "n_prompts": len(records),
                "pred_tokens_per_s": tokens_per_s(terms, r, d, downlink_bps),
                "live_tokens_per_s": live_tokens_per_s(records, r, d, downlink_bps),
            })  # fmt: skip
    return rows


def regime_cells(temperatures, settings: dict, **common) -> list[SweepCell]:
    """The schemes' settings compared per point (``settings``: lists under each grid column)."""
    return grid_cells(temperatures, settings, with_dense=True, **common)

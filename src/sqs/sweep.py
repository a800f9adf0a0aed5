"""Trace-driven sweeps: predict every grid cell from the cached teacher-forced logits, no model run.

**The trace model.** The cache holds, for every position n of a reference continuation, the SLM's and
the LLM's next-token logits. At temperature T this gives q_n and p_n. For each cell the compressed
draft q̂_n is built exactly as the edge builds it (same support rule, Algorithm 2 with the same tie
order), so r_n = TV(q̂_n, p_n) is the exact probability that a draft at n is rejected, and b_n its exact
payload bits. A batch that starts at n drafts L_n tokens (the budget rule over b_n, b_{n+1}, ..., capped
by the draft length), accepts draft j with probability Π_{i<j}(1 − r_{n+i}), and is resampled with
probability 1 − Π_{i<L}(1 − r_{n+i}). Predictions average over every start n whose window lies in
its prompt's trace. Assumptions, and where live decoding differs:

- the context is always the reference text: live decoding continues from *its own* accepted tokens
  and resampled token, so its positions are other contexts than the trace's (same distribution of
  contexts only if the reference was sampled from the LLM at the same temperature);
- C-SQS's threshold runs along the trace with update (8) after every position, i.e. as if every draft
  were accepted; live, rejected drafts' updates are rolled back (Algorithm 1);
- compute times come from a :class:`ComputeProfile` (per draft token at the edge, per batch and per
  verified token in the cloud), not from measuring each cell.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field

import numpy as np

from . import wire
from .enumerative import bits_for
from .latency import LinkConfig, batch_latency
from .lattice import _select
from .probs import softmax_temperature
from .schemes import lattice_bits, size_bits, subset_bits

SWEEP_SCHEMES = ("qs", "k-sqs", "c-sqs")


@dataclass(frozen=True)
class SweepCell:
    scheme: str
    temperature: float
    K: int = 0
    beta0: float = 0.0
    eta: float = 0.0
    alpha: float = 0.0005
    ell: int = 100
    budget_bits: int = 5000
    max_draft_len: int = 8
    link: LinkConfig = field(default_factory=LinkConfig)

    def __post_init__(self) -> None:
        if self.scheme not in SWEEP_SCHEMES:
            raise ValueError(f"sweep scheme must be one of {', '.join(SWEEP_SCHEMES)}, got {self.scheme!r}")
        if self.scheme == "k-sqs" and self.K < 1:
            raise ValueError(f"k-sqs needs K >= 1, got {self.K}")


@dataclass(frozen=True)
class ComputeProfile:
    """Compute times the trace model charges: edge per draft token, cloud per batch + per verified token."""

    edge_s_per_draft: float
    cloud_s_per_batch: float
    cloud_s_per_token: float = 0.0

    @classmethod
    def from_summary(cls, rows: Iterable[dict]) -> ComputeProfile:
        """Fit from live ``summary.csv`` rows of speculative cells (least squares over cells)."""
        rows = [r for r in rows if r["scheme"] in SWEEP_SCHEMES and r["n_batches"] > 0]
        if not rows:
            raise ValueError("no speculative cells to profile compute times from")
        drafts = sum(r["mean_draft_len"] * r["n_batches"] for r in rows)
        edge = sum(r["latency_edge_s"] * r["n_prompts"] for r in rows)
        a = np.array([[r["n_batches"], r["n_batches"] * (r["mean_draft_len"] + 1)] for r in rows], dtype=float)
        y = np.array([r["latency_cloud_s"] * r["n_prompts"] for r in rows], dtype=float)
        (base, per_tok), *_ = np.linalg.lstsq(a, y, rcond=None)
        if base < 0 or per_tok < 0:  # keep the model physical: fall back to a per-batch cost only
            base, per_tok = float(y.sum() / a[:, 0].sum()), 0.0
        return cls(edge / drafts, float(base), float(per_tok))


def _quantize_rows(x: np.ndarray, ell: int) -> np.ndarray:
    """Algorithm 2 on every row of ``x`` (rows renormalized), bit-identical to :func:`sqs.lattice.quantize`.

    Rounding is vectorized; the correction of the few rows whose counts miss ``ell`` uses the same O(K)
    selection as the live quantizer (largest or smallest rounding error, ties to the lower index).
    """
    x = ell * (x / x.sum(axis=1, keepdims=True))
    b = np.floor(x + 0.5).astype(np.int64)
    d = b.sum(axis=1) - ell
    for row in np.flatnonzero(d):
        zeta = b[row] - x[row]
        if d[row] > 0:
            b[row, _select(-zeta, int(d[row]))] -= 1
        else:
            b[row, _select(zeta, int(-d[row]))] += 1
    return b


def _support_stats(q: np.ndarray, p: np.ndarray, ids: np.ndarray, ell: int) -> tuple[np.ndarray, ...]:
    """For supports ``ids`` (rows, sorted token ids): TV(q̂, p), dropped mass, nonzero counts."""
    qs = np.take_along_axis(q, ids, axis=1)
    ps = np.take_along_axis(p, ids, axis=1)
    counts = _quantize_rows(qs, ell)
    tv = 0.5 * (np.abs(counts / ell - ps).sum(axis=1) + np.clip(1.0 - ps.sum(axis=1), 0.0, None))
    dropped = np.clip((q.sum(axis=1) - qs.sum(axis=1)) / q.sum(axis=1), 0.0, None)
    return tv, dropped, np.count_nonzero(counts, axis=1)


def _top_ids(q: np.ndarray, k: int) -> np.ndarray:
    """Per row, the ``k`` most probable token ids ordered by (probability desc, id asc): ties as ``top_k``."""
    rows, v = q.shape
    if k >= v:
        return np.argsort(-q, axis=1, kind="stable")
    kth = -np.partition(-q, k - 1, axis=1)[:, k - 1 : k]
    strict = q > kth
    tie = q == kth
    need = k - strict.sum(axis=1, keepdims=True)
    mask = strict | (tie & (np.cumsum(tie, axis=1) <= need))
    ids = np.nonzero(mask)[1].reshape(rows, k)  # row-major: ids ascending within a row
    vals = np.take_along_axis(q, ids, axis=1)
    return np.take_along_axis(ids, np.argsort(-vals, axis=1, kind="stable"), axis=1)


def position_stats(slm_logits: np.ndarray, llm_logits: np.ndarray, cells: list[SweepCell], chunk: int = 64) -> dict:
    """Per cell and position: rejection probability r, payload bits, dropped mass, support size.

    All ``cells`` must share one temperature. C-SQS cells carry their threshold along the rows in order.
    """
    temps = {c.temperature for c in cells}
    if len(temps) != 1:
        raise ValueError(f"position_stats takes cells of one temperature, got {sorted(temps)}")
    t = temps.pop()
    n, v = slm_logits.shape
    out = {c: {k: np.zeros(n) for k in ("r", "bits", "dropped", "k")} for c in cells}
    tv_qp = np.zeros(n)  # TV(q, p): Theorem 1's SLM-LLM term, the same for every cell
    for c in cells:
        out[c]["tv_qp"] = tv_qp
    betas = {c: c.beta0 for c in cells if c.scheme == "c-sqs"}
    k_max = max((c.K for c in cells if c.scheme == "k-sqs"), default=0)
    c_cells = [c for c in cells if c.scheme == "c-sqs"]
    for a in range(0, n, chunk):
        q = softmax_temperature(np.asarray(slm_logits[a : a + chunk]), t)
        p = softmax_temperature(np.asarray(llm_logits[a : a + chunk]), t)
        rows = q.shape[0]
        top = _top_ids(q, min(k_max, v)) if k_max else None
        sl = slice(a, a + rows)
        tv_qp[sl] = 0.5 * np.abs(q - p).sum(axis=1)
        for c in cells:
            o = out[c]
            if c.scheme == "qs":
                ids = np.broadcast_to(np.arange(v), (rows, v))
                tv, dropped, nnz = _support_stats(q, p, ids, c.ell)
                o["r"][sl], o["dropped"][sl], o["k"][sl] = tv, dropped, v
                o["bits"][sl] = lattice_bits(v, c.ell) + np.array([bits_for(int(z)) for z in nnz])
            elif c.scheme == "k-sqs":
                ids = np.sort(top[:, : c.K], axis=1)
                tv, dropped, nnz = _support_stats(q, p, ids, c.ell)
                o["r"][sl], o["dropped"][sl], o["k"][sl] = tv, dropped, c.K
                o["bits"][sl] = (
                    subset_bits(v, c.K) + lattice_bits(c.K, c.ell) + np.array([bits_for(int(z)) for z in nnz])
                )
        for i in range(rows):  # the threshold depends on the previous position's dropped mass
            done: dict[tuple[int, int], tuple] = {}  # cells whose threshold keeps the same support share it
            for c in c_cells:
                ids = np.flatnonzero(q[i] >= betas[c])  # sparsify.threshold: sorted ids, never empty
                if ids.size == 0:
                    ids = np.array([int(np.argmax(q[i]))])
                k = ids.size  # the support {q >= beta} is determined by its size
                key = (k, c.ell)
                if key not in done:
                    tv, dropped, nnz = _support_stats(q[i : i + 1], p[i : i + 1], ids[None, :], c.ell)
                    bits = size_bits(v) + subset_bits(v, k) + lattice_bits(k, c.ell) + bits_for(int(nnz[0]))
                    done[key] = (tv[0], dropped[0], bits)
                tv0, dropped0, bits = done[key]
                o, j = out[c], a + i
                o["r"][j], o["dropped"][j], o["k"][j], o["bits"][j] = tv0, dropped0, k, bits
                betas[c] -= c.eta * (dropped0 - c.alpha)
    return out


def batch_predictions(stats: dict, segments: list[tuple[int, int]], cell: SweepCell, profile: ComputeProfile) -> dict:
    """Expected per-batch behaviour averaged over every start position whose window fits its segment."""
    r, bits = stats["r"], stats["bits"]
    m = cell.max_draft_len
    acc, res, tok, time_s, drafts, up_bits, bound, expect, disc = [], [], [], [], [], [], [], [], []
    distortion = stats["dropped"] + stats["k"] / (4.0 * cell.ell)
    for lo, hi in segments:
        for n in range(lo, hi - m + 1):
            cum = np.cumsum(bits[n : n + m])
            length = int(np.searchsorted(cum, cell.budget_bits, side="right"))
            length = max(min(length, m), 1) if cum[0] <= cell.budget_bits else 0
            keep = np.cumprod(1.0 - r[n : n + length])
            accepted = float(keep.sum())
            payload = float(cum[length - 1]) if length else 0.0
            t = batch_latency(
                cell.link,
                edge_model_s=length * profile.edge_s_per_draft,
                edge_protocol_s=0.0,
                uplink_bytes=wire.UPLINK_HEADER_BYTES + math.ceil(payload / 8),
                cloud_s=profile.cloud_s_per_batch + profile.cloud_s_per_token * (length + 1),
                downlink_bytes=wire.DOWNLINK_BYTES,
            ).total_s
            acc.append(accepted)
            res.append(1.0 - float(keep[-1]) if length else 0.0)
            tok.append(accepted + 1.0)
            time_s.append(t)
            drafts.append(length)
            up_bits.append(payload)
            window = slice(n, n + length)  # Theorem 1 over the drafted positions, as in the live account
            disc.append(float(stats["tv_qp"][window].sum()))
            bound.append(disc[-1] + float(distortion[window].sum()))
            expect.append(float(r[window].sum()))
    if not tok:
        raise ValueError(f"no batch window of {m} positions fits the trace segments")
    tokens_per_s = float(np.mean(tok) / np.mean(time_s))
    return {
        **{k: v for k, v in asdict(cell).items() if k != "link"},
        "pred_resampling_rate": float(np.mean(res)),
        "pred_mean_accept_len": float(np.mean(tok)),
        "pred_mean_draft_len": float(np.mean(drafts)),
        "pred_tokens_per_s": tokens_per_s,
        "pred_uplink_bits_per_batch": float(np.mean(up_bits)),
        "pred_dropped_mass": float(np.mean(stats["dropped"])),
        "pred_support_size": float(np.mean(stats["k"])),
        "pred_expected_rejections": float(np.mean(expect)),
        "pred_bound_theorem1": float(np.mean(bound)),
        "pred_bound_discrepancy": float(np.mean(disc)),
        "pred_bound_distortion": float(np.mean(bound) - np.mean(disc)),
        "n_starts": len(tok),
    }


def sweep(slm_logits, llm_logits, segments: list[tuple[int, int]], cells: list[SweepCell], profile: ComputeProfile,
          progress=None) -> list[dict]:  # fmt: skip
    """Every cell's predictions; cells are grouped by temperature so each softmax and sort is done once."""
    by_t: dict[float, list[SweepCell]] = {}
    for c in cells:
        by_t.setdefault(c.temperature, []).append(c)
    rows = []
    groups = progress(list(by_t.items())) if progress else by_t.items()
    for _, group in groups:
        stats = position_stats(slm_logits, llm_logits, group)
        rows.extend(batch_predictions(stats[c], segments, c, profile) for c in group)
    return rows


def cache_segments(index: list[dict]) -> list[tuple[int, int]]:
    """[start, end) rows of each prompt's trace in a logits cache (``index.json``)."""
    return [(int(e["row"]), int(e["row"]) + len(e["tokens"])) for e in index]


def calibrate(cache_dir, summary_csv, config: dict, out_csv) -> list[dict]:
    """Predict every live-decoded speculative cell of ``summary.csv`` from the cache; predicted beside measured.

    The compute profile is fitted on the same live cells (so latency is calibrated, not independent);
    the resampling rate and accept length use no live information at all.
    """
    import json
    from pathlib import Path

    import pandas as pd

    from .logitcache import load_logits

    live = pd.read_csv(summary_csv)
    live = live[live.scheme.isin(SWEEP_SCHEMES)]
    slm, llm, _ = load_logits(cache_dir)
    segments = cache_segments(json.loads((Path(cache_dir) / "index.json").read_text()))
    d, link = config["decode"], LinkConfig(**config["link"])
    cells = [
        SweepCell(r.scheme, float(r.temperature), int(r.K), float(r.beta0), float(r.eta), float(d["alpha"]),
                  int(d["ell"]), int(d["budget_bits"]), int(d["max_draft_len"]), link)
        for r in live.itertuples()
    ]  # fmt: skip
    profile = ComputeProfile.from_summary(live.to_dict("records"))
    preds = sweep(slm, llm, segments, cells, profile)
    rows = []
    for (_, m), p in zip(live.iterrows(), preds, strict=True):
        rows.append(
            {
                **{k: p[k] for k in ("scheme", "temperature", "K", "beta0", "eta")},
                "resampling_rate": m.resampling_rate,
                "pred_resampling_rate": p["pred_resampling_rate"],
                "mean_accept_len": m.mean_accept_len,
                "pred_mean_accept_len": p["pred_mean_accept_len"],
                "tokens_per_s": m.tokens_per_s,
                "pred_tokens_per_s": p["pred_tokens_per_s"],
                "latency_s": m.latency_s,
                "pred_latency_s": d["max_new_tokens"] / p["pred_tokens_per_s"],
                "bound_theorem1": m.bound_theorem1,
                "pred_bound_theorem1": p["pred_bound_theorem1"],
                "expected_rejections": m.expected_rejections,
                "pred_expected_rejections": p["pred_expected_rejections"],
                "uplink_bits_per_batch": m.uplink_bits_per_batch,
                "pred_uplink_bits_per_batch": p["pred_uplink_bits_per_batch"],
                "edge_s_per_draft": profile.edge_s_per_draft,
                "cloud_s_per_batch": profile.cloud_s_per_batch,
                "cloud_s_per_token": profile.cloud_s_per_token,
            }
        )
    out = Path(out_csv)
    out.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows).to_csv(out, index=False)
    return rows


def theorem2_table(slm_logits, llm_logits, temperature: float, beta0: float, alpha: float, etas: list[float],
                   ell: int = 100) -> list[dict]:  # fmt: skip
    """C-SQS along the whole cached trace for each η: running average of dropped mass vs Theorem 2's bound.

    The trace is the sequence Theorem 2 averages over (every update kept), so this is the theorem's
    own setting; both the printed bound (9) and the always-valid one (see README) are reported.
    """
    from .bounds import theorem2_bound_paper, theorem2_bound_tight

    cells = [SweepCell("c-sqs", temperature, beta0=beta0, eta=e, alpha=alpha, ell=ell) for e in etas]
    stats = position_stats(slm_logits, llm_logits, cells)
    rows = []
    for c in cells:
        running = np.cumsum(stats[c]["dropped"]) / np.arange(1, len(stats[c]["dropped"]) + 1)
        for n, avg in enumerate(running, start=1):
            rows.append(
                {
                    "eta": c.eta,
                    "tokens": n,
                    "running_dropped_mass": float(avg),
                    "bound_paper": theorem2_bound_paper(beta0, c.eta, alpha, n) if c.eta > 0 else math.inf,
                    "bound_tight": theorem2_bound_tight(beta0, c.eta, alpha, n) if c.eta > 0 else math.inf,
                    "support_size": float(stats[c]["k"][n - 1]),
                }
            )
    return rows


def write_theorem2(cache_dir, temperature: float, beta0: float, alpha: float, etas: list[float], ell: int,
                   out_csv) -> list[dict]:  # fmt: skip
    """The workflow's Theorem 2 step: the table for :func:`sqs.figures.fig_theorem2`."""
    from pathlib import Path

    import pandas as pd

    from .logitcache import load_logits

    slm, llm, _ = load_logits(cache_dir)
    rows = theorem2_table(slm, llm, temperature, beta0, alpha, etas, ell)
    Path(out_csv).parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows).to_csv(out_csv, index=False)
    return rows

"""Trace-driven sweeps: predict every grid cell from the cached teacher-forced logits, no model run.

**The trace model.** The cache holds, for every position n of a reference continuation, the SLM's and
the LLM's next-token logits. At temperature T this gives q_n and p_n. For each cell the compressed
draft q̂_n is built exactly as the edge builds it (same support rule, Algorithm 2 with the same tie
order), so r_n = TV(q̂_n, p_n) is the exact probability that a draft at n is rejected, b_n its exact
payload bits and c_n the bits the budget rule charges it (:func:`position_stats`). Each prompt's segment
is then decoded in expectation as the session decodes it (:mod:`sqs.trace.sequence`: the budget's
sequential rule, the draft cap, the tokens still wanted, acceptance from the r_n), giving one expected
:class:`sqs.system.metrics.Tally` per prompt; a cell's rates pool them as live cells pool theirs, and
its confidence intervals resample the prompts. Assumptions, and where live decoding differs:

- the context is always the reference text: live decoding continues from *its own* accepted tokens
  and resampled token, so its positions are other contexts than the trace's (same distribution of
  contexts only if the reference was sampled from the LLM at the same temperature);
- C-SQS's threshold runs along the trace with update (8) after every position, i.e. as if every draft
  were accepted; live, rejected drafts' updates are rolled back (Algorithm 1). It runs over the cell's
  prompts in sequence, or restarts at each under ``scheme_state: prompt``, as live;
- compute times come from a :class:`sqs.system.compute.ComputeProfile`, the same object live cells
  are priced with (a named device pair, this machine's calibration, or per-call prices fitted on the
  live cells), at each position's own context length, not from measuring each cell.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from functools import cached_property
from itertools import product

import numpy as np

from sqs.protocol.lattice import _select
from sqs.protocol.probs import softmax_temperature
from sqs.protocol.schemes import SCHEMES, grid_columns
from sqs.protocol.schemes import get as scheme_spec
from sqs.protocol.verify import verify_rule
from sqs.system.compute import ComputeProfile, per_call
from sqs.system.latency import LinkConfig
from sqs.system.metrics import bootstrap_ci, pooled
from sqs.trace import blocks
from sqs.trace.sequence import ar_tallies, expected_tallies

SWEEP_SCHEMES = tuple(n for n, sp in SCHEMES.items() if sp.vectorized is not None)
# grid column -> the scheme parameter it sets (K -> k, beta0 -> beta, ...), over the sweepable schemes
SWEEP_AXES = {c: n for name in SWEEP_SCHEMES for c, n in SCHEMES[name].columns().items()}


BATCH_FIELDS = ("budget_bits", "max_draft_len", "link", "scheme_state", "regime")
_ANY_PARAM = {f.name for sp in SCHEMES.values() for f in sp.param_fields()} | set(grid_columns())


@dataclass(frozen=True, init=False)
class SweepCell:
    """One trace cell: a scheme with its parameters (``params``, by registry name) at a temperature, the batch
    rule (B, the cap), the link, C-SQS's state scope and the regime that prices it.

    Built as ``SweepCell("k-sqs", 1.0, K=16, ell=100, budget_bits=5000, ...)``: a keyword is a swept column of
    the scheme (K, beta0, ...), a parameter name (k, ell, alpha, ...) or a batch field; another scheme's
    parameter is ignored (so one set of shared settings builds every scheme's cells), anything else raises.
    """

    scheme: str
    temperature: float
    params: tuple
    budget_bits: int
    max_draft_len: int | None  # None: no cap, the budget alone sets the draft length
    link: LinkConfig
    scheme_state: str  # C-SQS's threshold over the cell's prompts in sequence ("cell"), or restarted ("prompt")
    regime: str  # which study regime prices it (a key of the profiles a sweep is given)
    # the cloud's rule for drafts sent with a q̂ (sqs.protocol.verify.RULES); out of the repr, which seeds a
    # cell's bootstrap, so both rules of a cell resample the same prompts
    verify: str = field(default="token", repr=False)

    def __init__(self, scheme: str, temperature: float, *, params=None, budget_bits: int = 5000,
                 max_draft_len: int | None = 8, link: LinkConfig | None = None, scheme_state: str = "cell",
                 regime: str = "", verify: str = "token", **values) -> None:  # fmt: skip
        spec = scheme_spec(scheme)
        if spec.name not in SWEEP_SCHEMES:
            raise ValueError(f"sweep scheme must be one of {', '.join(SWEEP_SCHEMES)}, got {scheme!r}")
        verify_rule(verify)  # an unknown rule raises, naming the valid ones
        if not spec.layout.sends_q_hat:  # as the live cloud: token ids and trees by exact match, split by q̂(x)
            verify = "token"
        unknown = set(values) - _ANY_PARAM
        if unknown:
            raise TypeError(f"SweepCell got unknown settings {sorted(unknown)}")
        if params is None:
            names = {f.name for f in spec.param_fields()}
            by_column = {c: v for c, v in values.items() if c in spec.columns()}
            by_name = {n: v for n, v in values.items() if n in names}
            params = spec.params_from(by_column, by_name)
        params = dict(params)
        spec.make(**params)  # the runtime scheme checks every value (K >= 1, 0 < top_p <= 1, ...)
        for name, value in (("scheme", spec.name), ("temperature", float(temperature)),
                            ("params", tuple(sorted(params.items()))), ("budget_bits", int(budget_bits)),
                            ("max_draft_len", max_draft_len), ("link", link or LinkConfig()),
                            ("scheme_state", scheme_state), ("regime", regime), ("verify", verify)):  # fmt: skip
            object.__setattr__(self, name, value)

    def param(self, name: str):
        """A parameter by its registry name (``k``, ``beta``, ``ell``, ...)."""
        return dict(self.params)[name]

    @property
    def ell(self) -> int:
        """The lattice resolution; 0 for a scheme without a lattice."""
        return int(dict(self.params).get("ell", 0))

    def columns(self) -> dict:
        """Every registry column with this cell's value (0 where its scheme has no such parameter)."""
        own = {c: self.param(n) for c, n in scheme_spec(self.scheme).columns().items()}
        return {c: own.get(c, 0) for c in grid_columns()}

    def moves(self) -> bool:
        """Whether the scheme's state moves along the sequence at these parameters (C-SQS with eta > 0)."""
        spec = scheme_spec(self.scheme)
        return bool(spec.stateful and spec.moves and spec.moves(dict(self.params)))

    def selection(self) -> SweepCell:
        """What :func:`position_stats` depends on: the support rule and its state, not the batch rule, the
        verification rule or prices."""
        return replace(self, budget_bits=0, max_draft_len=None, link=LinkConfig(), regime="", verify="token")


def grid_cells(temperatures, axes: dict, with_dense: bool = True, **common) -> list[SweepCell]:
    """Per temperature, every sweepable scheme over the product of its columns' lists in ``axes``
    (``{"K": [...], "beta0": [...], "eta": [...], "top_p": [...]}``); schemes without columns once
    (``with_dense``). A scheme one of whose lists is empty or missing is left out."""
    cells = []
    for t in temperatures:
        for name in SWEEP_SCHEMES:
            cols = list(SCHEMES[name].columns())
            if not cols:
                cells += [SweepCell(name, float(t), **common)] if with_dense else []
                continue
            for values in product(*(list(axes.get(c) or []) for c in cols)):
                cells.append(SweepCell(name, float(t), **dict(zip(cols, values, strict=True)), **common))
    return cells


def is_preemptive(cell: dict) -> bool:
    """A grid cell or summary row with preemptive drafting on (a bool, or its text in a path or a CSV)."""
    x = cell.get("preemptive", False)
    return x.lower() in ("true", "1") if isinstance(x, str) else bool(x)


def is_variant(cell: dict) -> bool:
    """A variant cell or row: the adaptive policy or preemptive drafting (the trace models neither)."""
    return cell.get("policy", "static") != "static" or is_preemptive(cell)


def plain_rows(rows: Iterable[dict]) -> list[dict]:
    """Live summary rows of sweepable schemes under the static policy without preemption (what the trace models)."""
    return [r for r in rows if r["scheme"] in SWEEP_SCHEMES and not is_variant(r)]


def profile_from_summary(rows: Iterable[dict]) -> ComputeProfile:
    """Constant per-call prices fitted on live ``summary.csv`` rows of plain sweepable cells (least squares
    over cells): an SLM step, and a verification of n tokens as a base plus n per-token costs."""
    rows = [r for r in plain_rows(rows) if r["n_batches"] > 0]
    if not rows:
        raise ValueError("no speculative cells to profile compute times from")
    drafts = sum(r["mean_draft_len"] * r["n_batches"] for r in rows)
    edge = sum(r["latency_edge_s"] * r["n_prompts"] for r in rows)
    a = np.array([[r["n_batches"], r["n_batches"] * (r["mean_draft_len"] + 1)] for r in rows], dtype=float)
    y = np.array([r["latency_cloud_s"] * r["n_prompts"] for r in rows], dtype=float)
    (base, per_tok), *_ = np.linalg.lstsq(a, y, rcond=None)
    if base < 0 or per_tok < 0:  # keep the model physical: fall back to a per-batch cost only
        base, per_tok = float(y.sum() / a[:, 0].sum()), 0.0
    return per_call(edge / drafts, float(base), float(per_tok), name="fitted on the live cells")


def profile_columns(profile: ComputeProfile) -> dict:
    """The profile a prediction used, as table columns (per-call prices at a 64-token context)."""
    return {"compute": profile.name, "edge_s_per_draft": profile.edge.forward_s(1, 64),
            "cloud_s_per_batch": profile.cloud.forward_s(1, 64),
            "cloud_s_per_token": profile.cloud.forward_s(2, 64) - profile.cloud.forward_s(1, 64)}  # fmt: skip


def _quantize_rows(x: np.ndarray, ell: int) -> np.ndarray:
    """Algorithm 2 on every row of ``x`` (rows renormalized), bit-identical to :func:`sqs.protocol.lattice.quantize`.

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
    """For supports ``ids`` (rows, sorted token ids): TV(q̂, p), dropped mass, nonzero counts, and q̂ and p
    over the support (q̂ = counts / ell)."""
    qs = np.take_along_axis(q, ids, axis=1)
    ps = np.take_along_axis(p, ids, axis=1)
    counts = _quantize_rows(qs, ell)
    tv = 0.5 * (np.abs(counts / ell - ps).sum(axis=1) + np.clip(1.0 - ps.sum(axis=1), 0.0, None))
    dropped = np.clip((q.sum(axis=1) - qs.sum(axis=1)) / q.sum(axis=1), 0.0, None)
    return tv, dropped, np.count_nonzero(counts, axis=1), counts / ell, ps


class _Chunk:
    """One chunk of trace rows at one temperature: q and p, and q in descending order with its prefix sums.

    The descending order comes from the SLM logits (temperature does not change it), so one argsort per
    chunk serves every temperature. At T = 0 a row whose one-hot sits on a tied maximum the argsort did
    not put first is re-sorted by q itself.
    """

    def __init__(self, slm: np.ndarray, llm: np.ndarray, order: np.ndarray, t: float) -> None:
        self.q = softmax_temperature(slm, t)
        self.p = softmax_temperature(llm, t)
        flat = order + (np.arange(order.shape[0]) * order.shape[1])[:, None]
        self.qsorted = self.q.ravel().take(flat)  # a flat take is twice as fast as take_along_axis
        if t == 0:
            bad = np.flatnonzero((np.diff(self.qsorted, axis=1) > 0).any(axis=1))
            if bad.size:
                order = order.copy()
                for i in bad:
                    order[i] = np.argsort(-self.q[i], kind="stable")
                    self.qsorted[i] = self.q[i, order[i]]
        self.order = order
        self.cum = np.cumsum(self.qsorted, axis=1)
        self.qtot = self.q.sum(axis=1)
        self.ptot = self.p.sum(axis=1)
        diff = np.subtract(self.q, self.p)
        self.tv_qp = 0.5 * np.abs(diff, out=diff).sum(axis=1)
        self.rows, self.v = self.q.shape

    @cached_property
    def neg(self) -> np.ndarray:
        """−qsorted, ascending, for searchsorted (the threshold's selector alone needs it)."""
        return -self.qsorted


def _window_stats(ch: _Chunk, k: np.ndarray, s: np.ndarray, ell: int) -> tuple[np.ndarray, ...]:
    """TV(q̂, p), nonzero counts, and q̂ and p over the window (rows, about 3 ell: every token q̂ gives mass)
    when every row's support is its top-``k`` tokens with mass ``s``.

    Only the top few entries of a support can get a nonzero lattice count (at most 2 ell round up, at
    most ell are raised by the correction), and TV(q̂, p) = ½ (Σp + Σ_{b>0} (|b/ell − p| − p)) needs only
    those, so Algorithm 2 runs on a window of about 3 ell entries instead of the whole support. Rows the
    window cannot settle for certain (a tie in the rounding error at the selection boundary, or a
    selection that might reach past the window) come back with ``ok`` False for the exact path.
    """
    w = int(min(ch.v, max(int(k.max()), 1), 3 * ell + 64))
    rows = np.arange(ch.rows)
    ids = ch.order[:, :w]
    inside = np.arange(w)[None, :] < k[:, None]
    x = np.where(inside, ell * (ch.qsorted[:, :w] / s[:, None]), 0.0)
    b = np.floor(x + 0.5)
    d = b.sum(axis=1) - ell
    past = k > w  # rows whose support reaches past the window
    x_next = np.where(past, ell * (ch.qsorted[:, min(w, ch.v - 1)] / s), 0.0)
    ok = ~(past & (x_next >= 0.5))
    fix = np.flatnonzero(d != 0)
    if fix.size:
        sign = np.sign(d[fix])
        zeta = b[fix] - x[fix]
        key = np.where(inside[fix], np.where(sign[:, None] > 0, -zeta, zeta), np.inf)
        by = np.argsort(key, axis=1, kind="stable")
        ranked = np.take_along_axis(key, by, axis=1)
        m = np.abs(d[fix]).astype(np.int64)
        n_in = inside[fix].sum(axis=1)
        m_c = np.minimum(m, w) - 1
        kth = ranked[np.arange(fix.size), np.maximum(m_c, 0)]
        nxt = np.where(m < w, ranked[np.arange(fix.size), np.minimum(m, w - 1)], np.inf)
        good = (m <= n_in) & (kth < nxt)  # no tie across the boundary; enough candidates in the window
        limit = np.where(sign > 0, 0.0, -x_next[fix])  # what entries past the window would offer
        good &= ~past[fix] | (kth < limit)
        ok[fix] &= good
        rank = np.empty_like(by)
        np.put_along_axis(rank, by, np.broadcast_to(np.arange(w), by.shape), axis=1)
        b[fix] -= sign[:, None] * (rank < m[:, None])
    pw = ch.p[rows[:, None], ids]
    pos = b > 0
    tv = 0.5 * (ch.ptot + np.where(pos, np.abs(b / ell - pw) - pw, 0.0).sum(axis=1))
    return tv, pos.sum(axis=1), ok, np.where(pos, b / ell, 0.0), pw


def _exact_row(ch: _Chunk, i: int, ids: np.ndarray, ell: int) -> tuple[float, int, np.ndarray, np.ndarray]:
    """The live path for one row (sorted support ids): TV(q̂, p), nonzero count, q̂ and p where q̂ > 0."""
    tv, _, nnz, qh, ps = _support_stats(ch.q[i : i + 1], ch.p[i : i + 1], ids[None, :], ell)
    pos = qh[0] > 0
    return float(tv[0]), int(nnz[0]), qh[0, pos], ps[0, pos]


def position_stats(slm_logits: np.ndarray, llm_logits: np.ndarray, cells: list[SweepCell], chunk: int = 64,
                   segments: list[tuple[int, int]] | None = None, weights: dict | None = None) -> dict:  # fmt: skip
    """Per cell and position: rejection probability r, payload bits, the bits the budget charges, dropped
    mass, support size, TV(q, p).

    Cells may mix temperatures; C-SQS cells carry their threshold along the rows in order, restarting at
    each of ``segments``' starts under ``scheme_state: prompt``, and commit update (8) at each row in full
    or by ``weights[cell]`` (per row; :func:`cell_predictions`). Cells that differ only in their batch rule
    or prices share one computation (unless weighted). Each chunk of rows is argsorted once (by SLM logit)
    for every temperature and cell. Agrees with the live ``compress`` path to float rounding of the support
    mass (tests/test_sweep.py).
    """
    n, v = slm_logits.shape
    weights = weights or {}
    key = {c: (c if c in weights else c.selection()) for c in cells}
    unique = list(dict.fromkeys(key.values()))
    whole = segments or [(0, n)]
    deepest = max(hi - lo for lo, hi in whole) - 1
    depth: dict = {}  # a selection some block-verified cell reads -> the longest block any of them drafts
    for c in cells:
        if c.verify == "block":
            d = deepest if c.max_draft_len is None else min(int(c.max_draft_len), deepest)
            depth[key[c]] = max(depth.get(key[c], 0), d)
    # per chunk: q̂ and p of every token q̂ gives mass (a few ell a row), binned into kernels (128 kB a row) only
    # when that selection's survival is computed, so one selection's kernels live at a time; float32 q's rows
    # (all V) are binned at once, being larger than their kernels
    drafts: dict = {c: [] for c in depth}
    out = {c: {key: np.zeros(n) for key in ("r", "bits", "charge", "dropped", "k", "tv_qp")} for c in unique}
    by_t: dict[float, list[SweepCell]] = {}
    for c in unique:
        by_t.setdefault(c.temperature, []).append(c)
    starts = np.array(sorted({lo for lo, _ in segments or []}), dtype=np.int64)
    state: dict = {}  # what a selector carries along the rows (C-SQS's threshold)
    for a in range(0, n, chunk):
        slm = np.asarray(slm_logits[a : a + chunk])
        order = np.argsort(-slm, axis=1)
        sl = slice(a, a + slm.shape[0])
        for t, group in by_t.items():
            ch = _Chunk(slm, np.asarray(llm_logits[a : a + chunk]), order, t)
            ch.resets = starts[(starts >= a) & (starts < a + slm.shape[0])] - a  # prompt starts in this chunk
            ch.weights = {c: np.asarray(w)[sl] for c, w in weights.items() if c.temperature == t}
            for name in dict.fromkeys(c.scheme for c in group):
                spec = scheme_spec(name)
                mine = [c for c in group if c.scheme == name]
                if not spec.lattice:  # nothing to select or quantize: the rejection comes straight from q and p
                    for c in mine:
                        r, k = spec.vectorized.rejection(ch, c)
                        o = out[c]
                        o["tv_qp"][sl], o["r"][sl], o["k"][sl] = ch.tv_qp, r, k
                        o["bits"][sl] = o["charge"][sl] = spec.layout.token_bits_array(v, k, 0, k)
                        if c in drafts:  # float32 q: q̂ is q over all V, binned here (sqs.trace.blocks)
                            drafts[c].append(blocks.kernels(ch.q / ch.qtot[:, None], ch.p))
                        if spec.layout.tree:  # the children a node there offers (sqs.trace.trees)
                            tq, tp = spec.vectorized.ranked(ch, c)
                            o.setdefault("tq", np.zeros((n, tq.shape[1])))[sl] = tq
                            o.setdefault("tp", np.zeros((n, tq.shape[1])))[sl] = tp
                    continue
                for c, (k, s) in spec.vectorized.sizes(ch, mine, state).items():
                    o = out[c]
                    o["tv_qp"][sl] = ch.tv_qp
                    tv, nnz, ok, qh, pw = _window_stats(ch, k, s, c.ell)
                    ok &= ~spec.vectorized.unsafe(ch, c, k)
                    exact = {}
                    for i in np.flatnonzero(~ok):
                        tv[i], nnz[i], *exact[i] = _exact_row(ch, i, spec.vectorized.exact_ids(ch, i, c, int(k[i])),
                                                              c.ell)  # fmt: skip
                    if c in drafts:
                        drafts[c].append(_draft_atoms(qh, pw, exact))
                    o["r"][sl], o["k"][sl] = tv, k
                    o["dropped"][sl] = np.clip((ch.qtot - s) / ch.qtot, 0.0, None)
                    o["bits"][sl] = spec.layout.token_bits_array(v, k, c.ell, nnz)
                    o["charge"][sl] = spec.layout.charged_bits_array(v, k, c.ell, nnz,
                                                                     dict(c.params).get("accounting", "exact"))
    for c, d in depth.items():  # block verification's P(tau >= i) from each start (sqs.trace.blocks)
        if scheme_spec(c.scheme).budget:  # no block is longer than B over the cheapest draft's charge
            d = min(d, int(max(b.budget_bits for b in cells if key[b] == c and b.verify == "block")
                           // max(float(out[c]["charge"].min()), 1.0)))  # fmt: skip
        kern = np.concatenate([x if isinstance(x, np.ndarray) else blocks.kernels(*x) for x in drafts.pop(c)])
        out[c]["keep"] = blocks.survival(kern, whole, d)
    return {c: out[key[c]] for c in cells}


def _draft_atoms(qh: np.ndarray, pw: np.ndarray, exact: dict) -> tuple[np.ndarray, np.ndarray]:
    """A chunk's q̂ and p over the window, with the rows the exact path priced put in (padded with q̂ = 0)."""
    width = max([qh.shape[1], *(a.size for a, _ in exact.values())])
    q_hat, p = np.zeros((qh.shape[0], width)), np.zeros((qh.shape[0], width))
    q_hat[:, : qh.shape[1]], p[:, : qh.shape[1]] = qh, pw
    for i, (a, b) in exact.items():
        q_hat[i], p[i] = 0.0, 0.0
        q_hat[i, : a.size], p[i, : b.size] = a, b
    return q_hat, p


def cell_row(cell: SweepCell, tallies: list, profile: ComputeProfile, rng: np.random.Generator,
             n_boot: int = 2000) -> dict:  # fmt: skip
    """One cell's table row: its settings, the rates pooled over its prompts' expected tallies, and their
    bootstrap intervals over prompts (:func:`sqs.system.metrics.bootstrap_ci`)."""
    rates = pooled(tallies).rates()
    return {**cell_columns(cell), **rates, "ms_per_token": 1e3 / rates["tokens_per_s"],
            **bootstrap_ci(tallies, rng, n_boot), **profile_columns(profile)}  # fmt: skip


def cell_columns(cell: SweepCell) -> dict:
    """A cell's identifying columns: its regime, scheme, T, setting and every registry column, its other
    parameters by name (ell, alpha, ...), the batch rule and the link."""
    spec, link = scheme_spec(cell.scheme), cell.link
    cols = cell.columns()
    swept = set(spec.columns().values())
    return {"regime": cell.regime, "scheme": cell.scheme, "temperature": cell.temperature,
            "setting": spec.setting(cols), **cols, **{n: v for n, v in cell.params if n not in swept},
            "budget_bits": cell.budget_bits, "max_draft_len": cell.max_draft_len, "scheme_state": cell.scheme_state,
            "verify": cell.verify,
            "uplink_bps": link.uplink_bps, "downlink_bps": link.downlink_bps,
            "propagation_s": link.propagation_s}  # fmt: skip


_SHARED: dict = {}  # what forked sweep workers read: the logits (often memory-mapped), segments and prices


def _cell_rng(seed: int, cell: SweepCell) -> np.random.Generator:
    """A cell's own bootstrap generator: the same draws whichever task or process computes the cell."""
    return np.random.default_rng([seed, zlib.crc32(repr(cell).encode())])


def _profile_of(profiles, cell: SweepCell) -> ComputeProfile:
    return profiles[cell.regime] if isinstance(profiles, dict) else profiles


def cell_tallies(stats: dict, cell: SweepCell, profiles, segments, vocab_size: int, contexts=None) -> list:
    """The expected tallies of ``cell``'s prompts from its :func:`position_stats` arrays."""
    return expected_tallies(stats, segments, cell, _profile_of(profiles, cell), cell.link, vocab_size, contexts)


COMMIT_PASSES = 2  # fixed-point passes of C-SQS's committed updates (sqs.trace.sweep.cell_predictions)


def cell_predictions(slm, llm, cells: list[SweepCell], profiles, segments, contexts=None, passes: int = COMMIT_PASSES):
    """Every cell's per-position stats and its prompts' expected tallies, {cell: (stats, tallies)}.

    C-SQS commits update (8) only for accepted drafts (Algorithm 1), and which drafts are accepted depends on
    the supports the threshold picks. A cell with eta > 0 is therefore solved as a fixed point: its threshold
    first commits at every position, then at each position by the probability that the token there is an
    accepted draft under the previous pass's batches, ``passes`` times. A threshold that grows a support
    the budget cannot carry then stalls there, as live (no draft, so no committed update)."""
    v = slm.shape[1]
    stats = position_stats(slm, llm, cells, segments=segments)
    moving = [c for c in cells if c.moves()]
    weights: dict = {}
    for _ in range(passes if moving else 0):
        for c in moving:
            _, weights[c] = expected_tallies(stats[c], segments, c, _profile_of(profiles, c), c.link, v, contexts,
                                             accepted_at=True)  # fmt: skip
        stats.update(position_stats(slm, llm, moving, segments=segments, weights=weights))
    return {c: (stats[c], cell_tallies(stats[c], c, profiles, segments, v, contexts)) for c in cells}


def _sweep_task(cells: list[SweepCell]) -> list[dict]:
    s = _SHARED
    pred = cell_predictions(s["slm"], s["llm"], cells, s["profiles"], s["segments"], s["contexts"])
    return [cell_row(c, pred[c][1], _profile_of(s["profiles"], c), _cell_rng(s["seed"], c), s["n_boot"])
            for c in cells]  # fmt: skip


def sweep(slm_logits, llm_logits, segments: list[tuple[int, int]], cells: list[SweepCell], profiles,
          progress=None, workers: int = 1, contexts: list[int] | None = None, n_boot: int = 2000,
          seed: int = 0) -> list[dict]:  # fmt: skip
    """Every cell's row (:func:`cell_row`), in the order of ``cells``.

    ``profiles``: one :class:`ComputeProfile`, or one per regime name (``cell.regime``); ``contexts``: the
    tokens before each segment (its prompt). Cells are split into tasks by temperature (a task's rows are
    argsorted once for all its temperatures); ``workers`` > 1 runs tasks in forked processes, one per core.
    Each cell's bootstrap has its own generator from ``seed`` and the cell, so rows do not depend on how
    cells are split into tasks.
    """
    import multiprocessing as mp

    temps = sorted({c.temperature for c in cells})
    n_tasks = min(len(temps), max(1, 2 * workers if workers > 1 else 1))
    tasks = [[c for c in cells if c.temperature in set(temps[i::n_tasks])] for i in range(n_tasks)]
    _SHARED.update(slm=slm_logits, llm=llm_logits, segments=segments, profiles=profiles, contexts=contexts,
                   n_boot=n_boot, seed=seed)  # fmt: skip
    try:
        if workers > 1 and n_tasks > 1 and "fork" in mp.get_all_start_methods():
            with mp.get_context("fork").Pool(min(workers, n_tasks)) as pool:
                it = pool.imap(_sweep_task, tasks)
                done = list(progress(it, total=n_tasks) if progress else it)
        else:
            done = [_sweep_task(t) for t in (progress(tasks, total=n_tasks) if progress else tasks)]
    finally:
        _SHARED.clear()
    by_cell = {c: row for task, rows in zip(tasks, done, strict=True) for c, row in zip(task, rows, strict=True)}
    return [by_cell[c] for c in cells]


def ar_rows(segments, regimes: dict, temperatures, contexts=None, n_boot: int = 2000, seed: int = 0) -> list[dict]:
    """Cloud-only AR over the trace's sequences for each regime (``{name: (profile, link)}``) and T, priced as
    live AR is (its latency does not depend on T under a profile)."""
    rows = []
    for name, (profile, link) in regimes.items():
        tallies = ar_tallies(segments, profile, link, contexts)
        rates = pooled(tallies).rates()
        ci = bootstrap_ci(tallies, np.random.default_rng([seed, 1]), n_boot)
        for t in temperatures:
            cols = {"regime": name, "scheme": "ar", "temperature": float(t), "setting": "default",
                    **dict.fromkeys(grid_columns(), 0), "uplink_bps": link.uplink_bps,
                    "downlink_bps": link.downlink_bps, "propagation_s": link.propagation_s}  # fmt: skip
            rows.append({**cols, **rates, "ms_per_token": 1e3 / rates["tokens_per_s"], **ci,
                         **profile_columns(profile)})  # fmt: skip
    return rows


def with_speedups(rows: list[dict]) -> list[dict]:
    """``speedup_vs_ar`` (and its interval's ends, each over AR's point value) per regime and temperature."""
    ar = {(r["regime"], r["temperature"]): r["tokens_per_s"] for r in rows if r["scheme"] == "ar"}
    for r in rows:
        base = ar.get((r["regime"], r["temperature"]), math.nan)
        r["speedup_vs_ar"] = r["tokens_per_s"] / base
    return rows


PAPER_TEMPERATURES = tuple(round(0.05 * i, 2) for i in range(21))
PAPER_K = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512)
PAPER_BETA = (1e-5, 3e-5, 1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1)
PAPER_ETA = (0.0, 1e-4, 1e-3, 1e-2)


def paper_grid(
    temperatures=PAPER_TEMPERATURES, ks=PAPER_K, betas=PAPER_BETA, etas=PAPER_ETA, top_ps=(), **common
) -> list[SweepCell]:
    """The dense sweep grid: dense QS, float32 SD and token ids alone once, K-SQS over ``ks``, C-SQS over
    ``betas`` x ``etas`` (and top-p over ``top_ps``), per T."""
    return grid_cells(temperatures, {"K": ks, "beta0": betas, "eta": etas, "top_p": top_ps}, **common)


CALIBRATED = ("resampling_rate", "mean_accept_len", "mean_draft_len", "tokens_per_s", "latency_s",
              "bound_theorem1", "expected_rejections", "uplink_bits_per_batch")  # fmt: skip


def calibrate(slm, llm, segments, live: list[tuple[SweepCell, dict, list[int]]], profiles, contexts=None,
              n_boot: int = 2000, seed: int = 0) -> list[dict]:  # fmt: skip
    """Live cells predicted from the trace over the same prompts: ``live`` holds (the cell, its live summary
    row, the segments of its prompts). Predicted (``pred_``) beside measured, with the prediction's interval.

    ``profiles``: per regime, the profile its live cells were priced with (so predicted and measured latency
    are comparable). The resampling rate and accept length use no live information at all.
    """
    cells = [c for c, _, _ in live]
    solved = cell_predictions(slm, llm, cells, profiles, segments, contexts)  # every prompt, as the threshold runs
    rows = []
    for cell, measured, idx in live:
        segs = [segments[i] for i in idx]
        ctx = [contexts[i] for i in idx] if contexts is not None else None
        tallies = cell_tallies(solved[cell][0], cell, profiles, segs, slm.shape[1], ctx)
        pred = cell_row(cell, tallies, _profile_of(profiles, cell), _cell_rng(seed, cell), n_boot)
        row = {k: pred[k] for k in ("regime", "scheme", "temperature", "setting", *grid_columns(), "max_draft_len",
                                    "n_prompts")}  # fmt: skip
        for k in CALIBRATED:
            row[k], row[f"pred_{k}"] = measured[k], pred[k]
        row.update({f"pred_{k}": pred[k] for k in ("tokens_per_s_ci_low", "tokens_per_s_ci_high")})
        rows.append({**row, **profile_columns(_profile_of(profiles, cell))})
    return rows


def theorem2_table(slm_logits, llm_logits, temperature: float, beta0: float, alpha: float, etas: list[float],
                   ell: int = 100) -> list[dict]:  # fmt: skip
    """C-SQS along the whole cached trace for each η: running average of dropped mass vs Theorem 2's bound.

    The trace is the sequence Theorem 2 averages over (every update kept), so this is the theorem's
    own setting; both the printed bound (9) and the always-valid one (see README) are reported.
    """
    from sqs.protocol.bounds import theorem2_bound_paper, theorem2_bound_tight

    cells = [SweepCell("c-sqs", temperature, beta0=beta0, eta=e, alpha=alpha, ell=ell) for e in etas]
    stats = position_stats(slm_logits, llm_logits, cells)
    rows = []
    for c in cells:
        eta = c.param("eta")
        running = np.cumsum(stats[c]["dropped"]) / np.arange(1, len(stats[c]["dropped"]) + 1)
        for n, avg in enumerate(running, start=1):
            rows.append(
                {
                    "eta": eta,
                    "tokens": n,
                    "running_dropped_mass": float(avg),
                    "bound_paper": theorem2_bound_paper(beta0, eta, alpha, n) if eta > 0 else math.inf,
                    "bound_tight": theorem2_bound_tight(beta0, eta, alpha, n) if eta > 0 else math.inf,
                    "support_size": float(stats[c]["k"][n - 1]),
                }
            )
    return rows

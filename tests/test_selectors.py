"""The trace model's vectorized selectors (sqs.protocol.schemes.vectorized) against each scheme's live rule, on rows
full of ties with exact (dyadic) values, where the two could part: on every row the size, the kept mass and the
exact path's ids are the live rule's; a row the selector does not flag keeps the live rule's ids among its first
k in the chunk's order; a flagged row has a tie across the support's boundary (a flag costs the exact path)."""

import numpy as np
import pytest

import sqs
from sqs.protocol.schemes import SCHEMES
from sqs.trace.sweep import SweepCell


class _Rows:
    """A chunk as the selectors read it (vectorized's docstring), with the ties in a given order."""

    def __init__(self, q: np.ndarray, order: np.ndarray) -> None:
        self.q = q
        self.qsorted = np.take_along_axis(q, order, axis=1)
        self.order = order
        self.cum = np.cumsum(self.qsorted, axis=1)
        self.neg = -self.qsorted
        self.qtot = q.sum(axis=1)
        self.rows, self.v = q.shape
        self.resets = np.array([], dtype=np.int64)
        self.weights: dict = {}


def _tied_rows(seed: int, rows: int = 400, v: int = 6) -> _Rows:  # v = 1 and 2: the edges of the flags
    g = np.random.default_rng(seed)
    q = (g.integers(0, 4, size=(rows, v)) + 1) / 8.0  # values in {1/8, ..., 1/2}: ties everywhere, sums exact
    q[::3] *= 2.0  # and rows that are not normalized
    order = np.lexsort((g.random((rows, v)), -q), axis=1)  # descending q, ties in a random order
    return _Rows(q, order)


CELLS = [
    *(("k-sqs", {"K": k}) for k in (1, 2, 3, 5, 6, 9)),
    *(("c-sqs", {"beta0": b, "eta": 0.0}) for b in (0.125, 0.25, 0.3, 0.75)),
    *(("top-p", {"top_p": p}) for p in (0.25, 0.5, 0.9, 1.0)),
    *(("min-p", {"min_p": m}) for m in (0.25, 0.5, 1.0)),
    ("qs", {}),
]


@pytest.mark.parametrize("seed,v", [(0, 6), (1, 6), (2, 6), (3, 2), (4, 1)])
@pytest.mark.parametrize("scheme,values", CELLS, ids=[f"{s}-{v}" for s, v in CELLS])
def test_each_selector_is_its_live_rule_on_tied_rows(scheme, values, seed, v):
    ch = _tied_rows(seed, v=v)
    cell = SweepCell(scheme, 1.0, ell=16, **values)
    spec = SCHEMES[cell.scheme]
    params = dict(cell.params)
    if "k" in params:  # the live rule refuses K > V; the trace model keeps all V there, as the top V
        params["k"] = min(params["k"], ch.v)
    live = sqs.make_scheme(cell.scheme, **params)
    (k, s), = spec.vectorized.sizes(ch, [cell], {}).values()
    unsafe = spec.vectorized.unsafe(ch, cell, k)
    assert unsafe.dtype == bool and unsafe.shape == (ch.rows,)
    at = np.arange(ch.rows)
    kk = np.minimum(k, ch.v - 1)
    tie = (k < ch.v) & (ch.qsorted[at, np.maximum(kk - 1, 0)] == ch.qsorted[at, kk])  # the k-th and (k+1)-th tie
    differs = np.zeros(ch.rows, dtype=bool)
    for i in range(ch.rows):
        ids = live.select(ch.q[i])
        assert k[i] == ids.size and s[i] == ch.q[i, ids].sum(), (i, ids)
        np.testing.assert_array_equal(spec.vectorized.exact_ids(ch, i, cell, int(k[i])), ids)
        differs[i] = set(ch.order[i, : k[i]].tolist()) != set(ids.tolist())
    assert not (differs & ~unsafe).any()  # sound: every row whose first k are not the live ids is flagged
    assert not (unsafe & ~tie).any()  # tight: a flag needs a tie across the boundary
    if differs.any() or scheme in ("qs", "min-p"):
        return
    assert not unsafe.any(), "no row differs here: a flag would be spent for nothing"


def test_the_tied_rows_reach_both_sides_of_every_flag():
    """The rows above do hold flagged rows that really differ, for each rule that can flag (else the soundness
    check there could not fail)."""
    ch = _tied_rows(0)
    for scheme, values in (("k-sqs", {"K": 2}), ("c-sqs", {"beta0": 0.75, "eta": 0.0}), ("top-p", {"top_p": 0.5})):
        cell = SweepCell(scheme, 1.0, ell=16, **values)
        spec = SCHEMES[cell.scheme]
        (k, _), = spec.vectorized.sizes(ch, [cell], {}).values()
        live = sqs.make_scheme(cell.scheme, **dict(cell.params))
        differs = [set(ch.order[i, : k[i]].tolist()) != set(live.select(ch.q[i]).tolist()) for i in range(ch.rows)]
        assert any(differs) and spec.vectorized.unsafe(ch, cell, k).sum() > sum(differs) / 2, scheme


def test_the_threshold_carries_update_8_along_the_rows_with_restarts_and_weights():
    """beta moves by eta w (dropped - alpha) after each row, restarts at each prompt start for scheme_state
    'prompt', and a cell without weights (beside one with them) commits every row in full."""
    ch = _tied_rows(1, rows=60)
    ch.resets = np.array([0, 25, 40])
    g = np.random.default_rng(9)
    cells = [SweepCell("c-sqs", 1.0, ell=16, beta0=0.25, eta=0.05, alpha=0.1, scheme_state=st)
             for st in ("cell", "prompt")]
    weighted = SweepCell("c-sqs", 1.0, ell=16, beta0=0.25, eta=0.05, alpha=0.2)
    ch.weights = {weighted: g.random(ch.rows)}
    state: dict = {}
    got = sqs.protocol.schemes.vectorized.THRESHOLD.sizes(ch, [*cells, weighted], state)
    for c in [*cells, weighted]:
        beta, alpha, eta = c.param("beta"), c.param("alpha"), c.param("eta")
        w = ch.weights.get(c, np.ones(ch.rows))
        for i in range(ch.rows):
            if i in ch.resets and c.scheme_state == "prompt":
                beta = c.param("beta")
            ids = sqs.protocol.sparsify.threshold(ch.q[i], beta)
            assert got[c][0][i] == ids.size, (c.scheme_state, i)
            beta -= eta * w[i] * (1.0 - ch.q[i, ids].sum() / ch.qtot[i] - alpha)
        assert state[("beta", c)] == pytest.approx(beta, abs=1e-12)

"""Block verification in the trace model (sqs.trace.blocks): the kept-prefix law it rests on, the grid's error
against exact enumeration, and the trace against live sessions where contexts do not matter."""

import itertools

import numpy as np
import pytest

import sqs
from sqs.models.toy import MarkovLM
from sqs.protocol.verify import _block_weights, kept_law
from sqs.system.cloud import Cloud
from sqs.system.compute import per_call
from sqs.system.edge import Edge
from sqs.system.session import run_session
from sqs.trace import blocks
from sqs.trace.sweep import SweepCell, cell_predictions


def _dist(rng: np.random.Generator, v: int, zeros: int = 0) -> np.ndarray:
    x = rng.dirichlet(np.full(v, 0.6))
    x[rng.choice(v, size=zeros, replace=False)] = 0.0
    return x / x.sum()


def test_a_prefix_survives_block_verification_with_its_weight():
    """P(tau >= i | x_1..x_i) = a_i, averaged over the later drafts: the law the trace model rests on, checked by
    enumerating every draft block of a toy whose q and p change with the prefix."""
    v, n = 3, 3

    def dist(prefix, salt):
        return _dist(np.random.default_rng([*prefix, 7 + len(prefix), salt]), v)

    for first in range(v):
        surv, weight = np.zeros(n + 1), np.zeros(n + 1)
        for rest in itertools.product(range(v), repeat=n - 1):
            xs = (first, *rest)
            q = np.array([dist(xs[:i], 1) for i in range(n)])
            p = np.array([dist(xs[:i], 2) for i in range(n + 1)])
            w = np.prod([q[i, xs[i]] for i in range(1, n)])  # the later drafts' probability, given the first
            surv += w * kept_law("block", xs, q, p)[::-1].cumsum()[::-1]
            weight += w * _block_weights(np.array(xs), q, p)[0]
        assert surv[1] == pytest.approx(weight[1], abs=1e-12)  # conditioned on x_1 alone
    total_surv, total_a = np.zeros(n + 1), np.zeros(n + 1)
    for xs in itertools.product(range(v), repeat=n):
        q = np.array([dist(xs[:i], 1) for i in range(n)])
        p = np.array([dist(xs[:i], 2) for i in range(n + 1)])
        w = np.prod([q[i, xs[i]] for i in range(n)])
        total_surv += w * kept_law("block", xs, q, p)[::-1].cumsum()[::-1]
        total_a += w * _block_weights(np.array(xs), q, p)[0]
    np.testing.assert_allclose(total_surv, total_a, atol=1e-12)
    assert total_a[1] < 1 and total_a[3] > 0


def _exact(q: np.ndarray, p: np.ndarray, start: int, depth: int) -> np.ndarray:
    """E[a_i] for i = 0..depth by carrying a's law exactly (atoms), drafts x_i ~ q[start + i - 1] independent."""
    law, out = {1.0: 1.0}, [1.0]
    for i in range(depth):
        qa, pa = q[start + i], p[start + i]
        new: dict = {}
        for a, m in law.items():
            for x in np.flatnonzero(qa > 0):
                b = min(1.0, a * pa[x] / qa[x])
                new[b] = new.get(b, 0.0) + m * qa[x]
        law = new
        out.append(sum(a * m for a, m in law.items()))
    return np.array(out)


def _rows(rng: np.random.Generator, n: int, v: int) -> tuple[np.ndarray, np.ndarray]:
    """Rows that reach every branch of the grid: near-equal q and p (steps far below the grid's), a p of 0 on
    a drafted token, ratios beyond the span both ways, ordinary ones."""
    q, p = np.zeros((n, v)), np.zeros((n, v))
    for i in range(n):
        kind = i % 4
        q[i] = _dist(rng, v, zeros=1)
        if kind == 0:
            p[i] = q[i] * np.exp(rng.normal(scale=0.003, size=v))
        elif kind == 1:
            p[i] = _dist(rng, v)
            p[i, np.flatnonzero(q[i] > 0)[0]] = 0.0
        elif kind == 2:
            p[i] = _dist(rng, v)
            p[i, np.argmax(q[i])] = 1e-9  # a step of about +20: past the span
        else:
            p[i] = _dist(rng, v)
        p[i] /= p[i].sum()
    return q, p


def test_the_grid_bounds_the_exact_survival_and_its_estimate_is_within_1e_4():
    """On rows that reach every branch, ``lower`` <= exact <= ``upper`` at every depth (they are bounds by
    construction: Lindley's recursion is monotone in each step), and ``split``'s E[tau] is within 1e-4 tokens of
    the exact one (measured: under 3e-5 on the cached pair; a wrong fold of w < 0 or of the span misses by 1e-2)."""
    rng = np.random.default_rng(3)
    q, p = _rows(rng, 24, 5)
    segments, depth = [(0, 12), (12, 24)], 5
    got = {m: blocks.survival(blocks.kernels(q, p, m), segments, depth, m) for m in blocks.MODES}
    for lo, hi in segments:
        for start in range(lo, hi - depth + 1):
            want = _exact(q, p, start, depth)
            assert (got["lower"][start] <= want + 1e-12).all() and (want <= got["upper"][start] + 1e-12).all()
            assert got["split"][start, 1:].sum() == pytest.approx(want[1:].sum(), abs=1e-4)
        # past a segment's end no draft is made: the last value holds
        np.testing.assert_array_equal(got["split"][hi - 1, 2:], got["split"][hi - 1, 1])
    assert 1e-3 < (got["upper"] - got["lower"]).max() < 5e-3  # the bounds are not the estimate; measured 2.2e-3
    # starts split among chunks: the same values
    np.testing.assert_allclose(blocks.survival(blocks.kernels(q, p), segments, depth, chunk=5), got["split"],
                               atol=1e-12)  # fmt: skip
    # a span of 2 (a >= 0.135): steps past it, and below -2, are common; the bounds must still hold
    small = blocks.Grid(0.01, 2.0)
    tail = {m: blocks.survival(blocks.kernels(q, p, m, small), segments, depth, m, small) for m in blocks.MODES}
    for lo, hi in segments:
        for start in range(lo, hi - depth + 1):
            want = _exact(q, p, start, depth)
            assert (tail["lower"][start] <= want + 1e-12).all() and (want <= tail["upper"][start] + 1e-12).all()
    assert (tail["upper"] - tail["lower"]).max() > 0.1  # the span, not the step, sets these bounds


def test_steps_that_all_lower_the_weight_are_carried_too():
    """Rows where p puts mass off q̂'s support, so every draft's ratio p/q̂ is below 1 (every step D > 0): no
    step reaches below w = 0, and the weights only fall (a tiny run once had only such rows)."""
    q = np.array([[0.5, 0.5, 0.0], [0.7, 0.3, 0.0], [0.6, 0.4, 0.0]])
    p = np.array([[0.3, 0.3, 0.4], [0.5, 0.2, 0.3], [0.1, 0.3, 0.6]])
    got = blocks.survival(blocks.kernels(q, p), [(0, 3)], 3)
    want = _exact(q, p, 0, 3)
    assert got[0] == pytest.approx(want, abs=1e-4) and want[3] < want[2] < want[1] < 1


def test_the_grid_refuses_an_unknown_rounding():
    with pytest.raises(ValueError, match=r"^unknown rounding mode 'nearest'; valid: split, lower, upper$"):
        blocks.kernels(np.ones((1, 2)) / 2, np.ones((1, 2)) / 2, "nearest")


def test_a_trace_cell_applies_block_verification_only_where_a_q_hat_goes_up():
    with pytest.raises(ValueError, match=r"^unknown verification rule 'joint'; valid: token, block$"):
        SweepCell("k-sqs", 1.0, K=4, verify="joint")
    assert SweepCell("tokens", 1.0, verify="block").verify == "token"  # as live: the rule reads a q̂ only
    a, b = SweepCell("k-sqs", 1.0, K=4), SweepCell("k-sqs", 1.0, K=4, verify="block")
    assert a != b and a.selection() == b.selection() and repr(a) == repr(b)  # one bootstrap seed: paired


@pytest.mark.parametrize(("scheme", "values"), [("k-sqs", {"K": 4}), ("sd", {})])
def test_the_trace_model_of_block_verification_is_the_live_one_where_contexts_do_not_matter(scheme, values):
    """With q and p the same after every context, a prompt's expected rounds and accepted drafts under
    ``verify: block`` equal the live sessions' means (the cloud verifying by Sun et al.), to 5 standard errors
    over 400; and block verification keeps more than token verification of the same drafts."""
    rng = np.random.default_rng(1)
    v, n, cap = 12, 12, 4
    row_q = rng.normal(scale=1.5, size=v)
    row_p = row_q + rng.normal(scale=1.2, size=v)
    cells = [SweepCell(scheme, 1.0, **values, ell=100, max_draft_len=cap, verify=rule) for rule in ("token", "block")]
    solved = cell_predictions(np.tile(row_q, (n, 1)), np.tile(row_p, (n, 1)), cells, per_call(0.01, 0.02, 0.001),
                              [(0, n)])  # fmt: skip
    token, block = (solved[c][1][0] for c in cells)
    slm, llm = MarkovLM(np.tile(row_q, (v, 1))), MarkovLM(np.tile(row_p, (v, 1)))
    rounds, accepted = [], []
    for k in range(400):
        edge = Edge(slm, sqs.make_scheme(scheme, **({"k": 4, "ell": 100} if values else {})), 1.0, 5000, cap,
                    np.random.default_rng([k, 1]))  # fmt: skip
        res = run_session(edge, Cloud(llm, 1.0, np.random.default_rng([k, 2]), rule="block"), [0], n)
        rounds.append(len(res.batches))
        accepted.append(sum(b.num_accepted for b in res.batches))
    for live, want in ((rounds, block.batches), (accepted, block.accepted)):
        assert abs(np.mean(live) - want) <= 5 * np.std(live) / np.sqrt(len(live)) + 1e-9
    assert block.accepted / block.batches > token.accepted / token.batches + 0.01
    assert block.drafts / block.batches == pytest.approx(token.drafts / token.batches, rel=0.1)


def test_a_block_of_one_draft_is_priced_as_token_verification():
    """With one draft a block's only test is a_1 = min(1, p/q̂): the grid must give token verification's kept
    drafts to its own error (5e-8 measured; a misplaced fold of w < 0 moves it by 1e-2)."""
    rng = np.random.default_rng(4)
    slm = rng.normal(scale=2.0, size=(40, 50))
    llm = slm + rng.normal(scale=1.0, size=slm.shape)
    cells = [SweepCell(s, t, K=8, ell=20, max_draft_len=1, verify=rule) for s in ("k-sqs", "sd") for t in (0.3, 1.0)
             for rule in ("token", "block")]  # fmt: skip
    solved = cell_predictions(slm, llm, cells, per_call(0.01, 0.02, 0.001), [(0, 20), (20, 40)])
    for tok, blk in zip(cells[::2], cells[1::2], strict=True):
        for a, b in zip(solved[tok][1], solved[blk][1], strict=True):
            assert b.accepted == pytest.approx(a.accepted, abs=1e-6) and b.batches == pytest.approx(a.batches, abs=1e-6)
        assert solved[tok][1][0].accepted > 1

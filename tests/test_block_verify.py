"""Block verification (Sun et al., arXiv 2403.10444): the tokens it emits follow the LLM's law exactly, computed in
closed form over every draft block of a toy target and sampled through a real Edge and Cloud; it keeps at least as
many drafts as token-by-token verification in expectation, and more where a later ratio can make up a deficit."""

from itertools import product

import numpy as np
import pytest
from tests.conftest import LAW_ALPHA, TOY_SCHEMES

import sqs
from sqs.lossless import check_scheme, gof_test
from sqs.protocol.verify import block_weights, kept_law, verify_block, verify_rule
from sqs.system.cloud import Cloud


class _Toy:
    """Next-token laws of an SLM (sent as a sparse q_hat, zeros included) and an LLM, for every context."""

    def __init__(self, v: int, seed: int) -> None:
        self.v, self.seed, self._memo = v, seed, {}

    def law(self, kind: str, context: tuple) -> np.ndarray:
        key = (kind, context)
        if key not in self._memo:
            g = np.random.default_rng([self.seed, kind == "q", *context, len(context)])
            x = g.dirichlet(np.full(self.v, 0.6))
            if kind == "q":
                x[g.random(self.v) < 0.3] = 0.0  # a sparsified q_hat: tokens it cannot draft
                x = x / x.sum() if x.sum() > 0 else np.eye(self.v)[int(g.integers(self.v))]
            self._memo[key] = x
        return self._memo[key]

    def chain(self, prefix: tuple, n: int) -> np.ndarray:
        """The LLM's law of n tokens after ``prefix``, flattened (V ** n)."""
        if n == 0:
            return np.ones(1)
        p = self.law("p", prefix)
        return np.concatenate([p[y] * self.chain((*prefix, y), n - 1) for y in range(self.v)])


def _kept_law(rule: str, tokens, q_hat, p) -> tuple[np.ndarray, list[np.ndarray]]:
    """P(tau = i) for i = 0..L (sqs.protocol.verify.kept_law, checked here against the products it stands for),
    and the law of the next token after each tau, in closed form."""
    n = len(tokens)
    tau = kept_law(rule, tokens, q_hat, p)
    if rule == "block":
        a, h = block_weights(tokens, q_hat, p)
        want = [np.prod(1.0 - h[i:]) * (h[i - 1] if i else 1.0) for i in range(n + 1)]
        nxt = [np.maximum(a[i] * p[i] - q_hat[i], 0.0) for i in range(n)]
    else:
        acc = np.minimum(1.0, p[np.arange(n), tokens] / q_hat[np.arange(n), tokens])
        want = [np.prod(acc[:i]) * (1.0 - acc[i] if i < n else 1.0) for i in range(n + 1)]
        nxt = [np.maximum(p[i] - q_hat[i], 0.0) for i in range(n)]
    np.testing.assert_allclose(tau, want, rtol=0, atol=1e-15)
    nxt = [r / r.sum() if r.sum() > 0 else p[i] for i, r in enumerate(nxt)] + [p[n]]
    return tau, nxt


def _emitted_law(toy: _Toy, rule: str, n: int) -> tuple[np.ndarray, float]:
    """The law of the first n + 1 tokens after one round of n drafts (the rest from the LLM), and E[tau]."""
    law, kept = np.zeros(toy.v ** (n + 1)), 0.0
    for drafts in product(range(toy.v), repeat=n):
        q_hat = np.array([toy.law("q", drafts[:i]) for i in range(n)])
        weight = np.prod(q_hat[np.arange(n), drafts])
        if weight == 0:
            continue
        p = np.array([toy.law("p", drafts[:i]) for i in range(n + 1)])
        tau, nxt = _kept_law(rule, np.array(drafts), q_hat, p)
        kept += weight * float(tau @ np.arange(n + 1))
        for i in range(n + 1):
            for y in range(toy.v):
                prefix = (*drafts[:i], y)
                w = weight * tau[i] * nxt[i][y]
                if w:
                    start = np.ravel_multi_index(prefix, (toy.v,) * len(prefix)) * toy.v ** (n - i)
                    law[start : start + toy.v ** (n - i)] += w * toy.chain(prefix, n - i)
    return law, kept


@pytest.mark.parametrize("n", [1, 2, 3])
@pytest.mark.parametrize("seed", range(4))
def test_both_rules_emit_the_llms_law_exactly_and_block_keeps_at_least_as_many(n, seed):
    toy = _Toy(4, seed)
    target = toy.chain((), n + 1)
    laws = {rule: _emitted_law(toy, rule, n) for rule in ("token", "block")}
    for rule, (law, _) in laws.items():
        np.testing.assert_allclose(law, target, rtol=0, atol=1e-12, err_msg=rule)
    assert laws["block"][1] >= laws["token"][1] - 1e-12
    if n == 1:  # one draft: the two rules are the same test
        assert laws["block"][1] == pytest.approx(laws["token"][1], abs=1e-12)


def test_block_keeps_more_where_a_later_ratio_makes_up_a_deficit():
    """Two drafts, the first over-drafted by the SLM (p/q = 1/2), the second under (p/q = 2): token by token keeps
    both half the time; as a block the pair survives always (a_2 = min(1, 1/2 * 2) = 1)."""
    q_hat = np.array([[0.5, 0.5], [0.25, 0.75]])
    p = np.array([[0.25, 0.75], [0.5, 0.5], [1.0, 0.0]])
    a, h = block_weights([0, 0], q_hat, p)
    assert a.tolist() == [1.0, 0.5, 1.0] and h[-1] == 1.0
    rng = np.random.default_rng(1)
    assert {verify_block([0, 0], q_hat, p, rng) for _ in range(200)} == {(2, 0)}
    assert {sqs.verify([0, 0], q_hat, p, rng)[0] for _ in range(200)} == {0, 2}
    toy = _Toy(3, 11)
    assert _emitted_law(toy, "block", 3)[1] > _emitted_law(toy, "token", 3)[1] + 1e-3


def test_drafts_whose_q_hat_is_p_are_all_kept():
    """q_hat = p at every position: each a is 1 and each prefix test is 0/0, which passes."""
    g = np.random.default_rng(2)
    p = g.dirichlet(np.ones(4), size=4)
    q_hat = p[:3]
    for drafts in ([0, 1, 2], [3, 3, 0]):
        a, h = block_weights(drafts, q_hat, p)
        assert a.tolist() == [1.0] * 4 and h.tolist() == [1.0] * 3
        assert kept_law("block", drafts, q_hat, p).tolist() == [0.0, 0.0, 0.0, 1.0]
        assert all(verify_block(drafts, q_hat, p, g)[0] == 3 for _ in range(50))


def test_the_block_sampler_draws_tau_and_the_next_token_from_their_closed_form():
    toy = _Toy(4, 5)
    drafts = (1, 3, 0)
    q_hat = np.array([toy.law("q", drafts[:i]) for i in range(3)])
    drafts = tuple(int(np.flatnonzero(q_hat[i])[0]) if q_hat[i, d] == 0 else d for i, d in enumerate(drafts))
    q_hat = np.array([toy.law("q", drafts[:i]) for i in range(3)])
    p = np.array([toy.law("p", drafts[:i]) for i in range(4)])
    tau, nxt = _kept_law("block", np.array(drafts), q_hat, p)
    want = np.concatenate([tau[i] * nxt[i] for i in range(4)])  # cells (tau, next token)
    rng = np.random.default_rng(0)
    counts = np.zeros(16, dtype=np.int64)
    for _ in range(20_000):
        t, y = verify_block(drafts, q_hat, p, rng)
        counts[4 * t + y] += 1
    assert gof_test(counts, want, alpha=LAW_ALPHA).pvalue > LAW_ALPHA


@pytest.mark.slow
@pytest.mark.parametrize("name,params", [s for s in TOY_SCHEMES if s[0] != "ar"], ids=lambda s: str(s))
def test_every_q_hat_scheme_passes_the_lossless_check_under_block_verification(name, params):
    """Edge and Cloud exchanging bytes, the cloud verifying each batch as a block: the joint law of the first
    three tokens is the LLM's, with drafts both kept and resampled."""
    res = check_scheme(sqs.make_scheme(name, **params), sessions=6_000, alpha=LAW_ALPHA, seed=4, rule="block")
    assert res.tested and res.gof.impossible == 0 and res.fault_power == {}
    assert res.gof.pvalue > LAW_ALPHA, res.row()


def test_a_rule_is_named_or_refused():
    assert verify_rule("token") is sqs.verify and verify_rule("block") is verify_block
    with pytest.raises(ValueError, match=r"^unknown verification rule 'blocks'; valid: token, block$"):
        Cloud(None, 1.0, np.random.default_rng(0), rule="blocks")
    with pytest.raises(ValueError, match=r"^unknown verification rule 'tree'; valid: token, block$"):
        kept_law("tree", [0], np.array([[1.0]]), np.array([[1.0], [1.0]]))


def test_sqs_check_takes_the_rule(capsys):
    from sqs.cli import main

    assert main(["check", "--scheme", "c-sqs", "--param", "beta=0.15", "--verify", "block", "--sessions", "3000",
                 "--quiet", "--json"]) == 0  # fmt: skip
    out = capsys.readouterr()
    assert '"verify": "block"' in out.out and "consistent with" in out.err

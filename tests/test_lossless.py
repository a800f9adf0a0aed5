"""The lossless check itself: calibrated at large V, powerful where it says, and able to catch a broken scheme."""

from dataclasses import fields

import numpy as np
import pytest
from tests.conftest import LAW_ALPHA, TOY_SCHEMES

import sqs
from sqs.lossless import check_scheme, gof_power, gof_test
from sqs.lossless.calibration import fewest_draws, law, power_round
from sqs.lossless.faults import FAULTS, bfloat16, fault_laws, make_round, round_law, sample_round
from sqs.lossless.gof import bins_for
from sqs.protocol.schemes.compress import Compressed, TopKScheme


@pytest.mark.parametrize("kind", ["zipf", "peaked"])
def test_exact_samplers_are_rejected_at_about_alpha_at_large_vocabularies(kind):
    """V = 49,152 and 2,000 draws: almost every cell expects far less than one draw (the old helper rejected
    35 % of exact Zipf samplers at p < 1e-4 here). At alpha = 0.01 over 300 seeds: at most 2 alpha."""
    p = law(kind, 49_152)
    rng = np.random.default_rng(7)
    pvals = np.array([gof_test(rng.multinomial(2_000, p), p).pvalue for _ in range(300)])
    assert (pvals < 0.01).sum() <= 6
    assert (pvals < 0.5).mean() == pytest.approx(0.5, abs=0.1)  # uniform-ish, not stuck at 1


def test_power_is_what_the_test_predicts():
    """A sampler moving 5 % of the top token's mass to the second: at the n where gof_power says 0.9, it is
    caught in about 90 % of seeds; at a tenth of that n, mostly not."""
    p = law("zipf", 49_152)
    alt = p.copy()
    alt[0] -= 0.05 * p[0]
    alt[1] += 0.05 * p[0]
    n = int(fewest_draws(alt, p, 0.01))
    rng = np.random.default_rng(3)
    caught = np.mean([gof_test(rng.multinomial(n, alt), p).rejects() for _ in range(200)])
    assert 0.84 <= caught <= 0.96, (n, caught)
    assert gof_power(alt, p, n // 10, 0.01) < 0.3
    assert gof_power(p, p, n, 0.01) == pytest.approx(0.01)


def test_a_draw_on_an_impossible_cell_rejects_outright():
    p = np.array([0.5, 0.5, 0.0])
    res = gof_test(np.array([500, 499, 1]), p)
    assert res.pvalue == 0.0 and res.impossible == 1 and res.rejects()
    assert gof_test(np.array([500, 500, 0]), p).pvalue == 1.0
    assert gof_test(np.array([10, 0]), np.array([1.0, 0.0])).pvalue == 1.0  # one possible outcome
    with pytest.raises(ValueError, match="shape"):
        gof_test(np.array([1, 2]), p)
    with pytest.raises(ValueError, match="non-negative integers"):
        gof_test(np.array([1.5, 2, 0]), p)


@pytest.mark.parametrize("v,n", [(6, 50), (50, 2_000), (49_152, 2_000), (151_936, 100_000), (8, 10**7)])
def test_bins_each_expect_enough_and_are_few(v, n):
    p = law("zipf", v)
    p[-1] = 0.0  # a zero cell belongs to no bin
    b = bins_for(p, n)
    assert b[-1] == -1 and (b[:-1] >= 0).all()
    expected = np.bincount(b[b >= 0], weights=p[b >= 0] / p.sum() * n)
    assert b.max() + 1 <= 64 and (expected > 0).all()
    if n * p.sum() >= 20:  # at least two bins' worth: every bin expects at least 10 draws
        assert expected.min() >= 10 * (1 - 1e-9), expected.min()


def test_an_exact_round_emits_p_and_each_fault_does_not():
    for v in (8, 50):
        exact = power_round(v, None)
        np.testing.assert_allclose(round_law(exact), exact.p, atol=1e-12)
        for fault in FAULTS:
            r = power_round(v, fault)
            assert 0.5 * np.abs(round_law(r) - r.p).sum() > 0, fault
    g = np.random.default_rng(0)  # a round drawn step by step follows its computed law, fault or not
    for fault in (None, *FAULTS[:3]):
        r = power_round(8, fault)
        assert gof_test(np.bincount(sample_round(r, 200_000, g), minlength=8), round_law(r)).pvalue > LAW_ALPHA


def test_bfloat16_rounds_to_nearest_even():
    """7 stored mantissa bits: 1 + 2^-7 is kept, the ties 1 + 2^-8 and 1 + 3 2^-8 go to the even neighbour."""
    x = np.array([1.0, 1.0 + 2**-7, 1.0 + 2**-8, 1.0 + 3 * 2**-8, 0.1])
    np.testing.assert_array_equal(bfloat16(x)[:4], [1.0, 1.0 + 2**-7, 1.0, 1.0 + 2**-6])
    assert abs(bfloat16(x)[4] - 0.1) < 0.1 * 2**-8


def test_temperature_fault_needs_the_untempered_p():
    q, p = np.array([0.5, 0.5]), np.array([0.9, 0.1])
    laws = fault_laws(q, q, p)
    np.testing.assert_allclose(laws[FAULTS[3]], p)  # at T = 1 it changes nothing
    untempered = np.array([0.7, 0.3])
    np.testing.assert_allclose(round_law(make_round(q, q, p, FAULTS[3], untempered)), untempered)
    with pytest.raises(ValueError, match="unknown fault"):
        make_round(q, q, p, "no such fault")


GUARDED = FAULTS[:4]  # bfloat16 q_hat moves a toy law by ~1e-4: the wire's bit-identical round trip guards it
SESSIONS = 6_000


@pytest.mark.slow
@pytest.mark.parametrize("name,params", TOY_SCHEMES, ids=[s[0] for s in TOY_SCHEMES])
def test_every_scheme_passes_the_lossless_check(name, params):
    """Edge and cloud exchanging bytes (batches of up to 3 drafts): the joint law of the first three tokens is
    the LLM's, both outcomes happened, and the sample catches each guarded fault with power >= 0.9."""
    res = check_scheme(sqs.make_scheme(name, **params), sessions=SESSIONS, alpha=LAW_ALPHA, seed=3)
    assert res.tested and res.gof.impossible == 0
    assert res.gof.pvalue > LAW_ALPHA, res.row()
    if name in ("tokens", "tree"):  # no q_hat, so none of these faults: its own is below (a cloud keeping every draft)
        assert res.fault_power == {}
        return
    for fault in GUARDED:
        if name in ("sd", "split") and fault == FAULTS[2]:
            continue  # float32 SD and split verification send q itself (all or q(x)): drafting from q is what they do
        assert res.fault_power[fault] >= 0.9, (fault, res.fault_power[fault])


class _DraftsFromQ(Compressed):
    """A user's broken scheme: it sends q_hat but draws its draft from the SLM's own q (on q_hat's support, so
    that the wire takes it)."""

    def sample(self, rng):
        q = self._q[self.nonzero]
        return int(self.nonzero[rng.choice(self.nonzero.size, p=q / q.sum())])


class BrokenTopK(TopKScheme):
    def compress(self, q):
        c = super().compress(q)
        out = _DraftsFromQ(**{f.name: getattr(c, f.name) for f in fields(c)})
        object.__setattr__(out, "_q", q)
        return out


BrokenTopK.spec = TopKScheme.spec


def test_the_check_catches_a_scheme_that_drafts_from_q():
    res = check_scheme(BrokenTopK(k=3, ell=6), sessions=SESSIONS, alpha=LAW_ALPHA, seed=3)
    assert res.tested and res.gof.pvalue < LAW_ALPHA, res.row()


def test_the_check_catches_a_cloud_that_keeps_token_only_drafts_unchecked(monkeypatch):
    """Token ids alone: a cloud that keeps every draft (emitting the SLM's law) instead of matching its own draw."""
    from sqs.system import cloud

    monkeypatch.setattr(cloud, "verify_match", lambda drafts, p, rng: (len(drafts), sqs.protocol.probs.sample_probs(
        p[len(drafts)], rng)))
    res = check_scheme(sqs.make_scheme("tokens"), sessions=SESSIONS, alpha=LAW_ALPHA, seed=3)
    assert res.gof.pvalue < LAW_ALPHA, res.row()


def test_a_check_that_never_drafts_says_it_tested_nothing():
    res = check_scheme(sqs.make_scheme("k-sqs", k=3, ell=6), sessions=50, tokens=1)  # one token: no draft
    assert res.drafts == 0 and not res.tested and res.gof.pvalue > LAW_ALPHA


def test_sqs_check_command(capsys):
    from sqs.cli import main

    assert main(["check", "--scheme", "k-sqs", "--param", "k=3", "--param", "ell=6", "--sessions", "3000",
                 "--quiet", "--json"]) == 0  # fmt: skip
    out = capsys.readouterr()
    assert '"scheme": "k-sqs"' in out.out and "consistent with" in out.err
    assert main(["check", "--scheme", "k-sqs", "--param", "kk=3", "--sessions", "10"]) == 2
    assert "NAME one of ['ell', 'k']" in capsys.readouterr().err
    assert main(["check", "--scheme", "k-sqs", "--param", "k=3", "--tokens", "1", "--sessions", "10", "--quiet"]) == 1
    assert "not tested" in capsys.readouterr().err

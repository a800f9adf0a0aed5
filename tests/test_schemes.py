import math

import numpy as np
import pytest

import sqs
from sqs.protocol.schemes import subset_bits


@pytest.fixture
def q(rng):
    return rng.dirichlet(np.full(1000, 0.05))


def lattice_cost(k, ell):
    return math.ceil(math.log2(math.comb(ell + k - 1, k - 1)))


def test_dense_bits(q):
    c = sqs.make_scheme("dense", ell=100).compress(q)
    nnz = int(np.count_nonzero(c.counts))
    assert c.k == 1000
    assert c.bits == lattice_cost(1000, 100) + math.ceil(math.log2(nnz))
    assert c.support_bits == 0 and c.size_bits == 0


@pytest.mark.parametrize("k", [1, 8, 64, 512])
def test_k_sqs_bits(q, k):
    c = sqs.make_scheme("k-sqs", k=k, ell=100).compress(q)
    nnz = int(np.count_nonzero(c.counts))
    assert c.k == k
    assert c.support_bits == math.ceil(math.log2(math.comb(1000, k))) if k < 1000 else 0
    assert c.bits == c.support_bits + lattice_cost(k, 100) + math.ceil(math.log2(nnz))
    assert c.paper_bits == pytest.approx(math.log2(math.comb(1000, k)) + math.log2(math.comb(99 + k, k - 1)))


def test_c_sqs_bits_and_paper_figure(q):
    s = sqs.make_scheme("c-sqs", beta=0.01, ell=100, alpha=0.01, eta=0.01)
    c = s.compress(q)
    assert c.k == int((q >= 0.01).sum())
    assert c.size_bits == math.ceil(math.log2(1000)) == 10
    assert c.support_bits == math.ceil(math.log2(math.comb(1000, c.k)))
    # the paper prints ceil(log2 V) + ceil(log2 V) for the subset overhead: kept beside the real cost
    assert c.paper_bits == pytest.approx(20 + math.log2(math.comb(99 + c.k, c.k - 1)))
    assert c.beta == 0.01
    assert s.controller.beta == pytest.approx(0.01 - 0.01 * (c.dropped_mass - 0.01))
    assert c.charge == c.bits  # the exact accounting: the budget charges the wire's bits


def test_c_sqs_paper_accounting_charges_the_papers_count_and_sends_the_same_bits(q):
    exact = sqs.make_scheme("c-sqs", beta=0.01, ell=100).compress(q)
    paper = sqs.make_scheme("c-sqs", beta=0.01, ell=100, accounting="paper").compress(q)
    nnz = int(np.count_nonzero(paper.counts))
    assert paper.bits == exact.bits and (paper.support == exact.support).all()  # the wire is the same
    assert paper.charge == 2 * 10 + lattice_cost(paper.k, 100) + math.ceil(math.log2(nnz)) < paper.bits
    assert sqs.make_scheme("c-sqs", beta=0.01, ell=100, accounting="paper").min_charge(1000) == 20
    with pytest.raises(ValueError, match="accounting must be one of exact, paper, got 'rough'"):
        sqs.make_scheme("c-sqs", beta=0.01, ell=100, accounting="rough")


def test_q_hat_is_counts_over_ell(q):
    for name, params in [("dense", {"ell": 50}), ("k-sqs", {"k": 5, "ell": 7}), ("top-p", {"top_p": 0.8, "ell": 9})]:
        c = sqs.make_scheme(name, **params).compress(q)
        assert c.q_hat.shape == (1000,) and c.q_hat.dtype == np.float64
        assert c.q_hat.sum() == pytest.approx(1.0)
        np.testing.assert_array_equal(c.q_hat[c.support] * c.ell, c.counts)
        outside = np.setdiff1d(np.arange(1000), c.support)
        assert (c.q_hat[outside] == 0).all()


def test_sample_only_from_positive_q_hat(q, rng):
    c = sqs.make_scheme("k-sqs", k=20, ell=10).compress(q)
    draws = {c.sample(rng) for _ in range(2000)}
    assert draws <= set(np.flatnonzero(c.q_hat > 0).tolist())


def test_sd_scheme_is_float32(q):
    c = sqs.make_scheme("sd").compress(q)
    assert c.bits == 32 * 1000 + 10
    np.testing.assert_allclose(c.q_hat, q, rtol=1e-6, atol=1e-37)  # float32 underflows below ~1e-38


def test_subset_bits_cached_formula():
    assert subset_bits(50257, 8) == math.ceil(math.log2(math.comb(50257, 8)))


@pytest.mark.parametrize(
    "name,params,match",
    [
        ("nope", {}, "unknown scheme"),
        ("k-sqs", {"ell": 10}, "needs parameters"),
        ("k-sqs", {"k": 0, "ell": 10}, "k must be"),
        ("dense", {"ell": 0}, "ell must be"),
        ("dense", {"ell": 10, "k": 3}, "unknown"),
        ("c-sqs", {"beta": 0.1, "ell": 10, "alpha": 1.5}, "alpha"),
        ("c-sqs", {"beta": 0.1, "ell": 10, "eta": -1.0}, "eta"),
        ("top-p", {"top_p": 0.0, "ell": 10}, "top_p"),
        ("min-p", {"min_p": 0.0, "ell": 10}, r"min_p must be a number in \(0, 1\], got 0.0"),
        ("min-p", {"min_p": 1.5, "ell": 10}, "min_p"),
        ("min-p", {"min_p": 0.1}, "needs parameters"),
    ],
)
def test_make_scheme_errors_name_the_problem(name, params, match):
    with pytest.raises(ValueError, match=match):
        sqs.make_scheme(name, **params)


def test_every_scheme_is_in_every_per_scheme_test():
    """A scheme added to the registry is chi-square tested, round-tripped through the wire and run through
    Edge and Cloud without anyone remembering to list it."""
    from tests.conftest import TOY_SCHEMES
    from tests.test_verify import SCHEMES as VERIFIED
    from tests.test_wire import SCHEMES as WIRED

    from sqs.protocol.schemes import SCHEMES, get

    speculative = {n for n, s in SCHEMES.items() if s.speculative}
    for listed in (TOY_SCHEMES, VERIFIED, WIRED):
        assert {get(n).name for n, _ in listed} == speculative


def test_top_k_larger_than_vocab_is_an_error():
    with pytest.raises(ValueError, match=r"k must be an integer in \[1, V=5\]"):
        sqs.make_scheme("k-sqs", k=6, ell=10).compress(np.ones(5) / 5)


def test_a_cells_setting_reads_back_and_holds_no_comma():
    """A setting names a cell's path and a cluster job's wildcard, which Snakemake passes as a comma list."""
    from sqs.protocol.schemes import SCHEMES

    for spec in SCHEMES.values():
        values = {c: f.default for f in spec.param_fields() for c in [f.metadata.get("column")] if c}
        text = spec.setting(values)
        assert "," not in text and spec.parse_setting(text) == values, (spec.name, text)
    assert SCHEMES["c-sqs"].setting({"beta0": 1e-05, "eta": 0.001}) == "beta0=1e-05+eta=0.001"

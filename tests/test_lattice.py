import math
from itertools import product

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from sqs import lattice
from sqs.protocol.enumerative import composition_count


def reference_algorithm2(q, ell):
    """Literal transcription of Algorithm 2 with a full stable sort (the oracle for the O(K) version)."""
    q = np.asarray(q, dtype=np.float64)
    q = q / q.sum()
    b = [math.floor(ell * x + 0.5) for x in q]
    d = sum(b) - ell
    if d != 0:
        zeta = [b[i] - ell * q[i] for i in range(len(q))]
        if d > 0:  # largest zeta first, lower index first among ties
            order = sorted(range(len(q)), key=lambda i: (-zeta[i], i))
            for i in order[:d]:
                b[i] -= 1
        else:  # smallest zeta first, lower index first among ties
            order = sorted(range(len(q)), key=lambda i: (zeta[i], i))
            for i in order[:-d]:
                b[i] += 1
    return np.array(b, dtype=np.int64)


prob_vectors = arrays(
    np.float64, st.integers(1, 40), elements=st.floats(0, 1, allow_nan=False, allow_infinity=False)
).filter(lambda a: a.sum() > 1e-6)


@settings(max_examples=400, deadline=None)
@given(prob_vectors, st.integers(1, 300))
def test_quantize_sums_to_ell_and_matches_algorithm2(q, ell):
    b = lattice.quantize(q, ell)
    assert b.dtype == np.int64 and b.shape == q.shape
    assert int(b.sum()) == ell
    assert (b >= 0).all()
    np.testing.assert_array_equal(b, reference_algorithm2(q, ell))


def test_quantize_tie_breaks_lower_index_first():
    # 0.5/0.5 at ell=1 rounds both up to 1: the excess is removed from index 0 first
    np.testing.assert_array_equal(lattice.quantize(np.array([0.5, 0.5]), 1), [0, 1])
    # 1/3 each at ell=1 rounds all down to 0: the deficit goes to index 0 first
    np.testing.assert_array_equal(lattice.quantize(np.ones(3) / 3, 1), [1, 0, 0])
    # ell*q = 0.5 rounds up to 1 each (sum 4 > 2): the two excess units leave indices 0 and 1
    np.testing.assert_array_equal(lattice.quantize(np.ones(4) / 4, 2), [0, 0, 1, 1])


@pytest.mark.parametrize("bad", [0, -1, 2.5, True, "3"])
def test_quantize_rejects_bad_ell(bad):
    with pytest.raises(ValueError, match="ell"):
        lattice.quantize(np.array([0.5, 0.5]), bad)


@pytest.mark.parametrize("q", [[0.0, 0.0], [0.5, -0.1], [np.nan, 1.0], []])
def test_quantize_rejects_bad_probs(q):
    with pytest.raises(ValueError):
        lattice.quantize(np.array(q, dtype=float), 10)


@pytest.mark.parametrize("k,ell", [(1, 1), (1, 7), (2, 5), (3, 4), (4, 6), (5, 3), (6, 6)])
def test_rank_unrank_is_a_bijection_exhaustive(k, ell):
    n = lattice.num_points(k, ell)
    assert n == math.comb(ell + k - 1, k - 1)
    points = [tuple(p) for p in product(range(ell + 1), repeat=k) if sum(p) == ell]
    assert len(points) == n
    ranks = sorted(lattice.rank(np.array(p, dtype=np.int64)) for p in points)
    assert ranks == list(range(n))
    for i in range(n):
        p = lattice.unrank(i, k, ell)
        assert p.dtype == np.int64 and int(p.sum()) == ell
        assert lattice.rank(p) == i


def test_rank_is_lexicographic():
    pts = [tuple(lattice.unrank(i, 3, 3)) for i in range(lattice.num_points(3, 3))]
    assert pts == sorted(pts)


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 60000), st.integers(1, 200), st.integers(0, 2**32))
def test_rank_unrank_roundtrip_large(k, ell, seed):
    g = np.random.default_rng(seed)
    b = lattice.quantize(g.dirichlet(np.full(k, 0.1)), ell)
    r = lattice.rank(b)
    assert 0 <= r < lattice.num_points(k, ell)
    np.testing.assert_array_equal(lattice.unrank(r, k, ell), b)


def test_unrank_rejects_out_of_range():
    with pytest.raises(ValueError, match="out of range"):
        lattice.unrank(lattice.num_points(4, 5), 4, 5)
    with pytest.raises(ValueError, match="out of range"):
        lattice.unrank(-1, 4, 5)


@pytest.mark.parametrize("k,ell", [(1, 100), (8, 100), (64, 100), (512, 100), (50257, 100), (3, 1)])
def test_index_bits_formula(k, ell):
    assert lattice.index_bits(k, ell) == math.ceil(math.log2(math.comb(ell + k - 1, k - 1)))
    assert composition_count(ell, k) == math.comb(ell + k - 1, k - 1)
    # the largest index fits the field and one more would not
    top = lattice.num_points(k, ell) - 1
    assert top.bit_length() <= lattice.index_bits(k, ell)


@settings(max_examples=500, deadline=None)
@given(prob_vectors, st.integers(1, 300))
def test_lattice_distortion_bound(q, ell):
    """TV(q_bar, q_hat) <= K / (4 ell): the bound (20) that Theorem 1 uses."""
    qbar = q / q.sum()
    qhat = lattice.quantize(q, ell) / ell
    tv = 0.5 * np.abs(qbar - qhat).sum()
    assert tv <= q.size / (4 * ell) + 1e-12


def test_lattice_distortion_bound_worst_case_is_tight():
    # ell = 1, K = 2, uniform: TV = 1/2 = K / (4 ell) exactly
    qhat = lattice.quantize(np.array([0.5, 0.5]), 1) / 1
    assert 0.5 * np.abs(np.array([0.5, 0.5]) - qhat).sum() == pytest.approx(2 / 4)


def test_sample_counts_is_exact(rng):
    from sqs.lossless import gof_test

    counts = np.array([0, 3, 0, 1, 6], dtype=np.int64)
    draws = np.array([lattice.sample_counts(counts, 10, rng) for _ in range(50000)])
    obs = np.bincount(draws, minlength=5)
    res = gof_test(obs, counts / 10)
    assert res.impossible == 0 and res.pvalue > 1e-3


def test_large_vectors_are_quantized_on_their_top_entries_bit_for_bit():
    """Above 12 ell entries quantize works on the top 3 ell only; it must equal Algorithm 2 on the whole vector."""
    from sqs.protocol.lattice import _counts

    rng = np.random.default_rng(7)
    for trial in range(60):
        v, ell = int(rng.integers(300, 20000)), int(rng.choice([1, 7, 100, 255]))
        kind = trial % 4
        if kind == 0:  # language-model-like: a few large entries, a long tail
            q = rng.dirichlet(np.full(v, 0.05))
        elif kind == 1:  # flat: every count comes from the correction
            q = np.full(v, 1.0 / v)
        elif kind == 2:  # ties around the 3 ell-th value
            q = rng.random(v)
            q[rng.choice(v, v // 3, replace=False)] = np.sort(q)[-min(3 * ell, v)]
        else:  # a few entries at exactly one half of a unit
            q = rng.random(v) * 1e-3
            q[: min(2 * ell, v)] = 0.5 / ell
        full = _counts(ell * (q / q.sum()), ell)
        np.testing.assert_array_equal(lattice.quantize(q, ell), full)

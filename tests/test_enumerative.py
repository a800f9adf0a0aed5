import math
import random
from itertools import combinations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sqs.protocol.enumerative import (
    bits_for,
    subset_count,
    subset_rank,
    subset_unrank,
    support_from_index,
    support_index,
)


@pytest.mark.parametrize("n,expected", [(1, 0), (2, 1), (3, 2), (4, 2), (5, 3), (2**20, 20), (2**20 + 1, 21)])
def test_bits_for(n, expected):
    assert bits_for(n) == expected


def test_bits_for_rejects_empty_code():
    with pytest.raises(ValueError, match=r"^a code needs at least one value, got count=0$"):
        bits_for(0)


@pytest.mark.parametrize("v,k", [(1, 1), (5, 0), (5, 1), (5, 5), (8, 3), (10, 4), (12, 6)])
def test_subset_code_is_a_bijection_exhaustive(v, k):
    ranks = sorted(subset_rank(list(c)) for c in combinations(range(v), k))
    assert ranks == list(range(math.comb(v, k)))
    for i in range(subset_count(v, k)):
        s = subset_unrank(i, v, k)
        assert list(s) == sorted(set(s.tolist())) and (s < v).all()
        assert subset_rank(s) == i


@settings(max_examples=80, deadline=None)
@given(st.sampled_from([50257, 49152, 1000]), st.integers(1, 600), st.integers(0, 2**32))
def test_subset_roundtrip_large(v, k, seed):
    g = np.random.default_rng(seed)
    s = np.sort(g.choice(v, size=min(k, v), replace=False))
    r = subset_rank(s)
    assert 0 <= r < subset_count(v, s.size)
    np.testing.assert_array_equal(subset_unrank(r, v, s.size), s)


@pytest.mark.parametrize(
    "subset",
    [np.arange(512), np.arange(50257 - 512, 50257), np.r_[0:256, 50001:50257], np.array([0]), np.array([50256])],
)
def test_subset_roundtrip_extremes(subset):
    r = subset_rank(subset)
    np.testing.assert_array_equal(subset_unrank(r, 50257, subset.size), subset)


def test_subset_rank_rejects_duplicates_and_negatives():
    with pytest.raises(ValueError, match="distinct"):
        subset_rank([3, 3])
    with pytest.raises(ValueError, match="non-negative"):
        subset_rank([-1, 2])


def test_subset_unrank_rejects_out_of_range():
    with pytest.raises(ValueError, match="out of range"):
        subset_unrank(math.comb(10, 3), 10, 3)


@pytest.mark.parametrize("v,k", [(6, 4), (7, 7), (9, 5), (9, 4), (10, 8)])
def test_support_code_is_a_bijection_with_complement(v, k):
    seen = set()
    for c in combinations(range(v), k):
        i = support_index(np.array(c), v)
        assert 0 <= i < math.comb(v, k)
        seen.add(i)
        np.testing.assert_array_equal(support_from_index(i, v, k), c)
    assert len(seen) == math.comb(v, k)


def test_full_support_is_free():
    assert support_index(np.arange(50257), 50257) == 0
    np.testing.assert_array_equal(support_from_index(0, 50257, 50257), np.arange(50257))


# ---- the unranker's search, its errors (pinned where make mutate found them unchecked) ----

def _largest_top(n_left: int, i: int, lo: int, hi: int) -> int:
    """The largest c in [lo, hi] with C(c, i) <= n_left, by plain bisection on math.comb."""
    while lo < hi:
        mid = (lo + hi + 1) // 2
        lo, hi = (mid, hi) if math.comb(mid, i) <= n_left else (lo, mid - 1)
    return lo


def test_log_mpz_is_the_natural_log_of_huge_integers():
    from gmpy2 import mpz

    from sqs.protocol.enumerative import _log_mpz

    for x in (mpz(7), mpz(3) ** 600, mpz(3) ** 5000 + 1, mpz(2) ** 999 + 5):
        assert _log_mpz(x) == pytest.approx(float(gmpy2_log(x)), rel=1e-13)


def gmpy2_log(x):
    import gmpy2

    with gmpy2.local_context(gmpy2.context(), precision=200):
        return gmpy2.log(x)


@pytest.mark.parametrize("seed", range(4))
def test_the_float_estimate_lands_within_a_few_units_below_the_answer(seed):
    """subset_unrank's cost rests on it: the exact correction takes at most four unit steps (docstring of
    _exact_top); within 1 below when the answer is at least 2i, within 3 below when it is close to i."""
    from gmpy2 import mpz

    from sqs.protocol.enumerative import _c, _estimate_top, _log_mpz

    g = np.random.default_rng(seed)
    for _ in range(300):
        v = int(g.choice([50, 1000, 49152, 151936]))
        i = int(g.integers(1, min(v, 600)))
        top = int(_c(v, i))
        n = mpz(int.from_bytes(g.bytes((top.bit_length() + 7) // 8), "big") % top) or mpz(1)
        truth = _largest_top(int(n), i, i - 1, v - 1)
        off = _estimate_top(_log_mpz(n), i, i - 1, v - 1) - truth
        assert (-1 if truth >= 2 * i else -3) <= off <= 0, (v, i, truth, off)


def test_exact_top_is_exact_from_any_guess_and_cheap_from_a_near_one(monkeypatch):
    """A guess anywhere in [lo, hi] gives the exact answer and its binomial (a poor guess falls back to
    bisection); a guess within three units of it evaluates one fresh binomial, the rest are unit steps."""
    from sqs.protocol import enumerative
    from sqs.protocol.enumerative import _exact_top

    calls = []
    real = enumerative._c
    monkeypatch.setattr(enumerative, "_c", lambda n, k: calls.append(n) or real(n, k))
    g = random.Random(5)
    for _ in range(200):
        v = g.randrange(2, 300)
        i = g.randrange(1, v)
        n_left = g.randrange(math.comb(v, i))
        lo, hi = i - 1, v - 1
        truth = _largest_top(n_left, i, lo, hi)
        for guess in {lo, hi, g.randint(lo, hi), max(lo, truth - 3), min(hi, truth + 3), truth}:
            calls.clear()
            c, value = _exact_top(n_left, i, lo, hi, guess)
            assert (c, int(value)) == (truth, math.comb(truth, i)), (v, i, n_left, guess)
            if abs(guess - truth) <= 3 and min(guess, truth) >= i:
                assert len(calls) == 1, (v, i, n_left, guess, calls)


@pytest.mark.parametrize("guess", ["lo", "hi"])
def test_subset_unrank_is_exact_whatever_the_estimate(monkeypatch, guess):
    """The float estimate only saves time: replaced by the worst guesses, the code is still a bijection."""
    from sqs.protocol import enumerative

    monkeypatch.setattr(enumerative, "_estimate_top", lambda target, i, lo, hi: lo if guess == "lo" else hi)
    for v, k in [(9, 4), (12, 6), (30, 2)]:
        for r in range(math.comb(v, k)):
            assert subset_rank(subset_unrank(r, v, k)) == r


def test_enumerative_errors_name_the_bad_values():
    from sqs.protocol.enumerative import composition_count, composition_rank

    with pytest.raises(ValueError, match=r"^need parts >= 1 and total >= 0, got parts=0, total=3$"):
        composition_count(3, 0)
    with pytest.raises(ValueError, match=r"^need parts >= 1 and total >= 0, got parts=2, total=-1$"):
        composition_count(-1, 2)
    assert composition_count(0, 3) == 1 and composition_count(0, 1) == 1
    with pytest.raises(ValueError, match=r"^counts must be a non-empty 1-D vector, got shape \(2, 2\)$"):
        composition_rank(np.ones((2, 2), dtype=np.int64))
    with pytest.raises(ValueError, match=r"^counts must be a non-empty 1-D vector, got shape \(0,\)$"):
        composition_rank(np.array([], dtype=np.int64))
    with pytest.raises(ValueError, match=r"^counts must be integers, got dtype float64$"):
        composition_rank(np.array([1.0, 2.0]))
    with pytest.raises(ValueError, match=r"^counts must be non-negative$"):
        composition_rank(np.array([3, -1]))
    with pytest.raises(ValueError, match=r"^need 0 <= size <= universe, got size=4, universe=3$"):
        subset_count(3, 4)
    with pytest.raises(ValueError, match=r"^elements must be 1-D, got shape \(1, 2\)$"):
        subset_rank(np.array([[1, 2]]))
    with pytest.raises(ValueError, match=r"^elements must be non-negative$"):
        subset_rank([-1, 2])
    with pytest.raises(ValueError, match=r"^elements must be distinct$"):
        subset_rank([3, 3])

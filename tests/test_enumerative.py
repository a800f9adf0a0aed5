import math
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
    with pytest.raises(ValueError):
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

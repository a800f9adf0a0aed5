import numpy as np
import pytest

from sqs import sparsify


def test_top_k_breaks_ties_towards_lower_ids():
    q = np.array([0.1, 0.3, 0.1, 0.3, 0.1, 0.1])
    np.testing.assert_array_equal(sparsify.top_k(q, 3), [0, 1, 3])
    np.testing.assert_array_equal(sparsify.top_k(q, 2), [1, 3])
    np.testing.assert_array_equal(sparsify.top_k(q, 6), np.arange(6))


def test_top_k_matches_a_full_sort(rng):
    for _ in range(50):
        q = rng.dirichlet(np.full(300, 0.2))
        k = int(rng.integers(1, 300))
        ref = np.sort(np.lexsort((np.arange(q.size), -q))[:k])
        np.testing.assert_array_equal(sparsify.top_k(q, k), ref)


@pytest.mark.parametrize("k", [0, 7, -1, 2.5])
def test_top_k_rejects_bad_k(k):
    with pytest.raises(ValueError, match="k must be"):
        sparsify.top_k(np.ones(6) / 6, k)


def test_threshold_keeps_argmax_when_empty():
    q = np.array([0.2, 0.5, 0.3])
    np.testing.assert_array_equal(sparsify.threshold(q, 0.9), [1])
    np.testing.assert_array_equal(sparsify.threshold(q, 0.3), [1, 2])
    np.testing.assert_array_equal(sparsify.threshold(q, -0.1), [0, 1, 2])


def test_top_p_smallest_nucleus():
    q = np.array([0.1, 0.5, 0.15, 0.25])
    np.testing.assert_array_equal(sparsify.top_p(q, 0.5), [1])
    np.testing.assert_array_equal(sparsify.top_p(q, 0.7), [1, 3])
    np.testing.assert_array_equal(sparsify.top_p(q, 0.76), [1, 2, 3])
    np.testing.assert_array_equal(sparsify.top_p(q, 1.0), [0, 1, 2, 3])


def test_min_p_keeps_every_token_within_the_ratio_of_the_top():
    q = np.array([0.1, 0.4, 0.1, 0.2, 0.2])
    np.testing.assert_array_equal(sparsify.min_p(q, 0.5), [1, 3, 4])  # ties at the boundary all kept
    np.testing.assert_array_equal(sparsify.min_p(q, 0.25), [0, 1, 2, 3, 4])
    np.testing.assert_array_equal(sparsify.min_p(q, 1.0), [1])  # never empty
    np.testing.assert_array_equal(sparsify.min_p(np.eye(5)[2], 0.01), [2])


def test_dropped_mass():
    q = np.array([0.1, 0.5, 0.15, 0.25])
    assert sparsify.dropped_mass(q, np.array([1, 3])) == pytest.approx(0.25)
    assert sparsify.dropped_mass(q, np.arange(4)) == 0.0


def test_top_p_sorts_only_the_top_and_matches_a_full_sort():
    rng = np.random.default_rng(3)
    for trial in range(40):
        v = int(rng.integers(2, 5000))
        q = rng.dirichlet(np.full(v, [0.01, 0.3, 5.0][trial % 3]))
        if trial % 4 == 0:
            q = np.round(q, 3) + 1e-9  # ties
        for p in (0.1, 0.5, 0.9, 0.99, 1.0):
            order = np.lexsort((np.arange(v), -q))
            cum = np.cumsum(q[order])
            n = min(int(np.searchsorted(cum, p * q.sum(), side="left")) + 1, v)
            np.testing.assert_array_equal(sparsify.top_p(q, p), np.sort(order[:n]))

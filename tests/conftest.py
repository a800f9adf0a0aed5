import numpy as np
import pytest
from scipy import stats


def chi_square_pvalue(counts: np.ndarray, probs: np.ndarray, min_expected: float = 5.0) -> float:
    """Chi-square goodness of fit; cells with zero expected mass must be empty (checked by caller).

    The rarest cells are pooled until the pool is expected to hold `min_expected` draws: the chi-square law is an
    asymptotic one, and two draws in a cell expected to get 0.1 would otherwise add ~38 to the statistic
    and fail an exact sampler (they did, once in CI).
    """
    counts = np.asarray(counts, dtype=np.float64)
    probs = np.asarray(probs, dtype=np.float64)
    keep = probs > 0
    n = counts.sum()
    counts, expected = counts[keep], probs[keep] / probs[keep].sum() * n
    order = np.argsort(expected)  # pool the rarest cells until the pool itself is expected to hold enough
    pooled = np.searchsorted(np.cumsum(expected[order]), min_expected) + 1
    if expected[order[0]] < min_expected:
        rare, rest = order[:pooled], order[pooled:]
        counts = np.append(counts[rest], counts[rare].sum())
        expected = np.append(expected[rest], expected[rare].sum())
    if len(counts) == 1:  # one possible outcome: fit is perfect iff every draw landed there
        return 1.0 if counts[0] == n else 0.0
    return float(stats.chisquare(counts, expected).pvalue)


TOY_SCHEMES = [  # every speculative scheme at toy-vocabulary settings: the session and network tests
    ("dense", {"ell": 6}),
    ("k-sqs", {"k": 3, "ell": 6}),
    ("c-sqs", {"beta": 0.1, "ell": 6, "alpha": 0.05, "eta": 0.05}),
    ("top-p", {"top_p": 0.8, "ell": 6}),
    ("min-p", {"min_p": 0.3, "ell": 6}),
    ("sd", {}),
]


@pytest.fixture
def rng():
    return np.random.default_rng(12345)


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory):
    """The tiny config run once locally (2 cores); the workflow and cluster tests both read it."""
    from workflow_helpers import TINY, run_config

    work, out, args = run_config(tmp_path_factory.mktemp("tiny"), "work", TINY, "--cores", "2")
    assert out.returncode == 0, out.stdout[-5000:] + out.stderr[-5000:]
    return work, args

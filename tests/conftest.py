import numpy as np
import pytest
from scipy import stats


def chi_square_pvalue(counts: np.ndarray, probs: np.ndarray) -> float:
    """Chi-square goodness of fit; cells with zero expected mass must be empty (checked by caller)."""
    counts = np.asarray(counts, dtype=np.float64)
    probs = np.asarray(probs, dtype=np.float64)
    keep = probs > 0
    n = counts.sum()
    if keep.sum() == 1:  # one possible outcome: fit is perfect iff every draw landed there
        return 1.0 if counts[keep].sum() == n else 0.0
    return float(stats.chisquare(counts[keep], probs[keep] / probs[keep].sum() * n).pvalue)


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

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

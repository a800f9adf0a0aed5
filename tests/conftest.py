import numpy as np
import pytest

# the suite's law tests pass at p > LAW_ALPHA (sqs.lossless.gof_test: calibrated, docs/tests.md); each one's
# sample size catches the faults it guards with power >= 0.9 at this level (sqs.lossless.gof_power)
LAW_ALPHA = 1e-3


TOY_SCHEMES = [  # every speculative scheme at toy-vocabulary settings: the session and network tests
    ("dense", {"ell": 6}),
    ("k-sqs", {"k": 3, "ell": 6}),
    ("c-sqs", {"beta": 0.1, "ell": 6, "alpha": 0.05, "eta": 0.05}),
    ("top-p", {"top_p": 0.8, "ell": 6}),
    ("min-p", {"min_p": 0.3, "ell": 6}),
    ("sd", {}),
    ("tokens", {}),
    ("split", {}),
    ("tree", {"branch": 2}),
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

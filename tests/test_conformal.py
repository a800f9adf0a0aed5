import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import sqs
from sqs.protocol.bounds import theorem2_bound_paper, theorem2_bound_tight
from sqs.protocol.conformal import ConformalThreshold


def test_update_rule_8():
    c = ConformalThreshold(beta=0.1, alpha=0.05, eta=0.5)
    assert c.update(0.25) == pytest.approx(0.1 - 0.5 * (0.25 - 0.05))
    assert c.update(0.0) == pytest.approx(0.1 - 0.5 * 0.2 + 0.5 * 0.05)


def test_backtrack_to_last_accepted_draft():
    c = ConformalThreshold(beta=0.1, alpha=0.5, eta=1.0)
    c.begin_batch()
    for d in (0.51, 0.52, 0.53, 0.54):  # beta_1..beta_5 = 0.1, 0.09, 0.07, 0.04, 0.0
        c.update(d)
    assert c.end_batch(2) == pytest.approx(0.07)  # beta_{T+1} with T = 2
    assert c.committed == pytest.approx([0.1, 0.09, 0.07])
    c.begin_batch()
    c.update(0.5)
    assert c.end_batch(0) == pytest.approx(0.07)  # nothing accepted: the batch's update is dropped
    with pytest.raises(ValueError, match="num_accepted"):
        c.begin_batch()
        c.end_batch(1)


def test_scheme_backtracks_through_edge_api(rng):
    s = sqs.make_scheme("c-sqs", beta=0.2, ell=10, alpha=0.01, eta=0.5)
    q = rng.dirichlet(np.ones(20))
    s.begin_batch()
    betas = [s.compress(q).beta for _ in range(4)]
    assert len(set(betas)) > 1
    s.end_batch(1)
    assert s.controller.beta == pytest.approx(betas[1])


def run_controller(qs, beta1, alpha, eta):
    s = sqs.make_scheme("c-sqs", beta=beta1, ell=10, alpha=alpha, eta=eta)
    return np.array([s.compress(q).dropped_mass for q in qs])


@settings(max_examples=60, deadline=None)
@given(
    st.integers(0, 2**32),
    st.sampled_from([0.01, 0.05, 0.2]),
    st.sampled_from([1e-3, 1e-2, 0.1, 0.5, 1.0]),
    st.floats(0.0, 0.5),
    st.integers(50, 400),
)
def test_theorem2_average_dropped_mass(seed, alpha, eta, beta1, horizon):
    """(1/T) sum alpha_n <= alpha + (|beta_1| + 1 + eta alpha) / (eta T) on random sequences (eta <= 1)."""
    g = np.random.default_rng(seed)
    conc = g.choice([0.02, 0.2, 2.0], size=horizon)
    qs = [g.dirichlet(np.full(64, c)) for c in conc]
    dropped = run_controller(qs, beta1, alpha, eta)
    for t in range(1, horizon + 1):
        avg = dropped[:t].mean()
        assert avg <= theorem2_bound_tight(beta1, eta, alpha, t) + 1e-12
        assert avg <= theorem2_bound_paper(beta1, eta, alpha, t) + 1e-12


def test_theorem2_as_printed_fails_for_large_eta():
    """Counterexample kept as a test: with eta (1 - 2 alpha) > 1 the printed bound (9) is violated.

    beta_1 just above the uniform mass 1/V makes the support the argmax alone, dropping ~1 - 1/V
    of the mass; the update then pushes beta to about -eta (1 - alpha). The telescoped sum exceeds
    (|beta_1| + 1 + eta alpha) / eta, while the tight bound (which uses that lowest beta) holds.
    """
    v, alpha, eta = 1000, 0.01, 5.0
    beta1 = 1.0 / v + 1e-6
    qs = [np.full(v, 1.0 / v)]
    dropped = run_controller(qs, beta1, alpha, eta)
    avg = dropped.mean()
    assert avg > theorem2_bound_paper(beta1, eta, alpha, 1)
    assert avg <= theorem2_bound_tight(beta1, eta, alpha, 1) + 1e-12

"""Distribution preservation: the emitted token follows p exactly, for every scheme and edge case."""

import numpy as np
import pytest
from tests.conftest import LAW_ALPHA, TOY_SCHEMES

import sqs
from sqs.lossless import gof_power, gof_test
from sqs.lossless.faults import fault_laws
from sqs.protocol.verify import residual, verify_match

TRIALS = 40_000  # catches every known fault that moves a case's law by TV >= 0.01 with power >= 0.9 (checked below)

# every scheme (conftest's list follows the registry), at settings that keep q_hat away from q at V = 6
COARSER = {"dense": {"ell": 7}, "k-sqs": {"ell": 5}, "c-sqs": {"beta": 0.15, "alpha": 0.1},
           "top-p": {"top_p": 0.7, "ell": 4}, "min-p": {"min_p": 0.4, "ell": 5}}  # fmt: skip
SCHEMES = [(name, {**params, **COARSER.get(name, {})}) for name, params in TOY_SCHEMES]

V = 6
CASES = {
    # generic: draft and target disagree, coarse lattice so q_hat != q
    "generic": (np.array([0.30, 0.05, 0.25, 0.15, 0.20, 0.05]), np.array([0.10, 0.30, 0.05, 0.25, 0.10, 0.20])),
    # the target is one-hot (greedy at T = 0 on the cloud side)
    "one-hot p": (np.array([0.4, 0.3, 0.1, 0.1, 0.05, 0.05]), np.eye(V)[3]),
    # ties in the draft distribution and zero-probability tokens on both sides
    "ties+zeros": (np.array([0.25, 0.25, 0.25, 0.25, 0.0, 0.0]), np.array([0.0, 0.5, 0.0, 0.2, 0.3, 0.0])),
    # p equals the quantized draft: every draft is accepted, the residual would be all zeros
    "p == q_hat": (np.array([0.5, 0.25, 0.25, 0.0, 0.0, 0.0]), None),
}


def emitted(scheme, q, p, rng, trials, verify=sqs.verify):
    """Token emitted at the first position of a 1-draft batch, ``trials`` times."""
    out = np.empty(trials, dtype=np.int64)
    fixed = None if scheme.name == "c-sqs" else scheme.compress(q)  # stateless: same q_hat every time
    p2 = np.vstack([p, p])
    for i in range(trials):
        scheme.begin_batch()
        comp = fixed or scheme.compress(q)
        x = comp.sample(rng)
        if scheme.spec.layout.ids_only:  # token ids alone: exact match, no q_hat
            n_acc, tok = verify_match([x], p2, rng)
        else:
            n_acc, tok = verify([x], comp.q_hat[None, :], p2, rng)
        scheme.end_batch(n_acc)
        out[i] = x if n_acc == 1 else tok
    return out


# C-SQS's support moves with beta, so no fixed p equals its q_hat: that pair is not a case
GRID = [(n, prm, case) for n, prm in SCHEMES for case in CASES if not (n == "c-sqs" and CASES[case][1] is None)]


@pytest.mark.slow
@pytest.mark.parametrize("name,params,case", GRID, ids=[f"{n}-{c}" for n, _, c in GRID])
def test_emitted_tokens_follow_p(name, params, case, rng):
    q, p = CASES[case]
    scheme = sqs.make_scheme(name, **params)
    if p is None:
        p = scheme.compress(q).q_hat
    q_hat = scheme.compress(q).q_hat
    for fault, law in fault_laws(q, q_hat, p).items():  # what this case can catch (bfloat16 q_hat: TV < 1e-3)
        if 0.5 * np.abs(law - p).sum() >= 0.01:
            assert gof_power(law, p, TRIALS, LAW_ALPHA) >= 0.9, fault
    counts = np.bincount(emitted(scheme, q, p, rng, TRIALS), minlength=V)
    res = gof_test(counts, p)
    assert res.impossible == 0, "a token with zero target probability was emitted"
    assert res.pvalue > LAW_ALPHA


def test_the_law_test_detects_a_wrong_acceptance_rule(rng):
    """Negative control: verifying with the unquantized q instead of q_hat biases the output."""
    q, p = CASES["generic"]
    scheme = sqs.make_scheme("k-sqs", k=3, ell=5)

    def wrong_verify(tokens, q_hat, p2, g):
        return sqs.verify(tokens, np.maximum(q, 1e-12)[None, :], p2, g)

    counts = np.bincount(emitted(scheme, q, p, rng, TRIALS, verify=wrong_verify), minlength=V)
    assert gof_test(counts, p).pvalue < 1e-6


def test_multi_draft_batch_follows_p(rng):
    """Two drafts with different targets: the joint law of the first two emitted tokens is p0 x p1."""
    q0, p0 = CASES["generic"]
    q1, p1 = np.roll(q0, 2), np.roll(p0, 1)
    scheme = sqs.make_scheme("k-sqs", k=4, ell=5)
    c0, c1 = scheme.compress(q0), scheme.compress(q1)
    p = np.vstack([p0, p1, p0])
    joint = np.zeros((V, V))
    for _ in range(60_000):
        x = [c0.sample(rng), c1.sample(rng)]
        n_acc, tok = sqs.verify(x, np.vstack([c0.q_hat, c1.q_hat]), p, rng)
        if n_acc == 0:  # context changed: the second token comes from p1 only in this toy (context-free)
            first, second = tok, None
        else:
            first = x[0]
            second = x[1] if n_acc == 2 else tok
        if second is None:
            second = int(rng.choice(V, p=p1))
        joint[first, second] += 1
    assert gof_test(joint.ravel(), np.outer(p0, p1).ravel()).pvalue > LAW_ALPHA


def test_all_accepted_gives_bonus_from_last_row(rng):
    q_hat = np.eye(4)[[1, 2]]
    p = np.vstack([np.eye(4)[1], np.eye(4)[2], np.eye(4)[3]])
    assert sqs.verify([1, 2], q_hat, p, rng) == (2, 3)


def test_zero_residual_falls_back_to_p(rng):
    """A rejection with max(p - q_hat, 0) all zeros: possible only when q_hat >= p everywhere, which rounding
    allows (q_hat summing to 1 + 1e-300). The cloud then resamples from p itself, never from q_hat."""
    p = np.array([0.2, 0.8, 0.0])
    for q_hat in (np.array([0.2, 0.8, 1e-300]), np.array([0.3, 0.8, 0.4])):  # rounding, and a coarse bound
        assert residual(p, q_hat).sum() == 0
        tokens = np.zeros(3, dtype=np.int64)
        for _ in range(4_000):  # draft 2 has p = 0: always rejected, so the fallback draws every token
            n, tok = sqs.verify([2], q_hat[None], np.vstack([p, p]), rng)
            assert n == 0
            tokens[tok] += 1
        res = gof_test(tokens, p)  # resampling from q_hat would emit token 2 (p = 0): an impossible draw
        assert res.impossible == 0 and res.pvalue > LAW_ALPHA
        assert gof_power(q_hat / q_hat.sum(), p, 4_000, LAW_ALPHA) >= 0.9 or q_hat[2] < 1e-100


def test_greedy_on_both_sides(rng):
    from sqs.protocol.probs import softmax_temperature

    logits_q = np.array([0.1, 2.0, 1.9])
    logits_p = np.array([0.1, 1.0, 3.0])
    q = softmax_temperature(logits_q, 0.0)
    p = softmax_temperature(logits_p, 0.0)
    c = sqs.make_scheme("k-sqs", k=2, ell=10).compress(q)
    assert c.sample(rng) == 1
    assert sqs.verify([1], c.q_hat[None], np.vstack([p, p]), rng) == (0, 2)


@pytest.mark.parametrize(
    "tokens,q_hat,p,match",
    [
        ([0], np.ones((2, 3)) / 3, np.ones((3, 3)) / 3, "need q_hat"),
        ([0], np.ones((1, 3)) / 3, np.ones((2, 4)) / 4, "vocabulary mismatch"),
        ([5], np.ones((1, 3)) / 3, np.ones((2, 3)) / 3, "outside the vocabulary"),
        ([2], np.array([[0.5, 0.5, 0.0]]), np.ones((2, 3)) / 3, "cannot have been sampled"),
    ],
)
def test_verify_rejects_inconsistent_inputs(tokens, q_hat, p, match, rng):
    with pytest.raises(ValueError, match=match):
        sqs.verify(tokens, q_hat, p, rng)

"""Edge and cloud exchanging bytes on exact toy models: same seed same text, and exactness end to end."""

import numpy as np
import pytest
from tests.conftest import TOY_SCHEMES

import sqs
from sqs.models.toy import MarkovLM, random_pair
from sqs.system.cloud import Cloud
from sqs.system.edge import Edge
from sqs.system.session import run_session

SCHEMES = TOY_SCHEMES


def session(slm, llm, name, params, seed, budget=10**6, max_len=4, temperature=1.0, n=20):
    edge = Edge(slm, sqs.make_scheme(name, **params), temperature, budget, max_len, np.random.default_rng(seed))
    cloud = Cloud(llm, temperature, np.random.default_rng(seed + 1))
    return run_session(edge, cloud, [0], n)


@pytest.mark.parametrize("name,params", SCHEMES, ids=[s[0] for s in SCHEMES])
def test_same_seed_same_tokens_and_metrics(name, params):
    slm, llm = random_pair(16, np.random.default_rng(0))
    a = session(slm, llm, name, params, 5)
    b = session(slm, llm, name, params, 5)
    assert a.tokens == b.tokens and len(a.tokens) == 20
    timing = ("latency", "tokens_per_s", "protocol_share")  # wall clock aside, every metric is reproducible

    def metrics(r):
        s = r.summary()
        counts = {k: v for k, v in s.pop("tally").items() if not k.endswith(("_s", "_s2"))}
        rates = {k: v for k, v in s.items() if not k.startswith(timing) and v == v}  # NaN (no C-SQS beta) aside
        return rates, counts

    assert metrics(a) == metrics(b)
    tally = a.summary()["tally"]  # the rates are the tally's counts over the batches, not re-derived
    assert tally["batches"] == len(a.batches) and tally["resampled"] == sum(b.resampled for b in a.batches)
    assert metrics(a)[0]["resampling_rate"] == tally["resampled"] / tally["batches"]


def test_budget_limits_the_batch_length():
    slm, llm = random_pair(16, np.random.default_rng(0))
    params = {"k": 3, "ell": 6}
    bits = sqs.make_scheme("k-sqs", **params).compress(np.ones(16) / 16).bits
    res = session(slm, llm, "k-sqs", params, 1, budget=2 * bits + 1, max_len=10)
    assert all(b.num_drafts <= 2 for b in res.batches)
    assert all(b.payload_bits <= 2 * bits + 1 for b in res.batches)
    # a budget too small for any draft degenerates to cloud-only decoding, one token per batch
    res0 = session(slm, llm, "k-sqs", params, 1, budget=bits - 1, max_len=10, n=5)
    assert [b.num_drafts for b in res0.batches] == [0] * 5 and len(res0.tokens) == 5


# the law of every scheme's tokens through Edge and Cloud: tests/test_lossless.py (sqs.lossless.check_scheme)


def test_markov_lm_scores_like_next_logits():
    lm = MarkovLM(np.arange(9.0).reshape(3, 3))
    np.testing.assert_array_equal(lm.score_logits([2], [0, 1]), lm.table[[2, 0, 1]])
    np.testing.assert_array_equal(lm.next_logits([0, 1]), lm.table[1])


def test_the_edge_never_drafts_past_the_tokens_wanted():
    """A batch with k tokens to go carries at most k - 1 drafts: the cloud's token completes the sequence."""
    slm, llm = random_pair(16, np.random.default_rng(0), closeness=0.95)
    for n in (1, 2, 5, 13):
        edge = Edge(slm, sqs.make_scheme("k-sqs", k=3, ell=6), 1.0, 10**6, None, np.random.default_rng(n))
        res = run_session(edge, Cloud(llm, 1.0, np.random.default_rng(n + 1)), [0], n)
        generated = 0
        for b in res.batches:
            assert b.num_drafts <= n - generated - 1
            generated += b.num_accepted + 1
        assert generated == n == len(res.tokens)  # no token past n was drafted, verified or dropped


def test_no_forward_is_spent_on_a_draft_that_cannot_fit():
    """K-SQS drafts cost the same bits but for the token's position: with room for two drafts and not for a
    third at its cheapest, the edge makes two SLM steps a batch, not three."""
    slm, _ = random_pair(16, np.random.default_rng(0))
    scheme = sqs.make_scheme("k-sqs", k=3, ell=6)
    most = scheme.compress(np.ones(16) / 16).bits  # three nonzero counts: the dearest token
    edge = Edge(slm, scheme, 1.0, 2 * most + scheme.min_charge(16) - 1, None, np.random.default_rng(1))
    edge.start([0])
    batch = edge.draft(wanted=20)
    assert len(batch.tokens) == 2 and len(batch.forwards) == 2 and len(batch.supports) == 2


def test_c_sqs_threshold_runs_over_the_prompts_of_a_run_or_restarts():
    from sqs.study.decode import DecodeConfig

    cell = DecodeConfig(scheme="c-sqs", scheme_state="cell", beta=0.02, eta=0.5)
    shared = cell.run_scheme()
    assert shared is not None and shared.controller.beta == 0.02
    assert DecodeConfig(scheme="c-sqs", scheme_state="prompt").run_scheme() is None
    assert DecodeConfig(scheme="k-sqs", scheme_state="cell").run_scheme() is None  # nothing to carry
    with pytest.raises(ValueError, match="scheme_state"):
        DecodeConfig(scheme="c-sqs", scheme_state="run")
    # carried over a second prompt, the threshold starts where the first prompt's committed updates left it
    slm, llm = random_pair(16, np.random.default_rng(2))
    for prompt in ([0], [1]):
        start = shared.controller.beta
        edge = Edge(slm, shared, 1.0, 10**6, 3, np.random.default_rng(prompt))
        res = run_session(edge, Cloud(llm, 1.0, np.random.default_rng(9)), prompt, 8)
        assert res.batches[0].betas[0] == start

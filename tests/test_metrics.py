"""The one metrics tally: additive, pooled from counts, per-position acceptance as SD systems report it."""

import math

import numpy as np
import pytest

from sqs.models.toy import random_pair
from sqs.protocol.schemes import make_scheme
from sqs.system.cloud import Cloud
from sqs.system.edge import Edge
from sqs.system.metrics import RATE_COLUMNS, Tally, pooled
from sqs.system.session import run_session


def test_per_position_acceptance_counts_only_batches_that_reached_the_position():
    t = Tally()
    for drafts, accepted in ((3, 3), (3, 0), (3, 1), (2, 2), (1, 0)):
        t.add_batch(drafts, accepted)
    # position 1: all 5 batches drafted it, accepted in 3; position 2: reached by (3,3), (3,1), (2,2): 2 accepted
    # position 3: reached by (3,3) only (the (3,1) batch stopped at 2): accepted
    assert t.reached == [5, 3, 1] and t.accepted_at == [3, 2, 1]
    r = t.rates()
    assert r["accept_rate_pos1"] == pytest.approx(3 / 5)
    assert r["accept_rate_by_position"] == "0.6000;0.6667;1.0000"
    assert r["draft_accept_rate"] == pytest.approx(6 / 12)  # falls with the draft length; position 1 does not
    assert r["resampling_rate"] == pytest.approx(3 / 5) and r["mean_accept_len"] == pytest.approx(11 / 5)


def test_tallies_add_and_the_spread_is_the_sample_standard_deviation():
    a, b, c = Tally(tokens=10), Tally(tokens=20), Tally(tokens=5)
    for t, lat in ((a, 1.0), (b, 3.0), (c, 2.0)):
        t.add_prompt(lat)
        t.add_batch(2, 1)
    total = pooled([a, b.to_dict(), c])
    assert total.prompts == 3 and total.tokens == 35 and total.batches == 3
    r = total.rates()
    assert r["latency_s"] == pytest.approx(2.0) and r["latency_s_std"] == pytest.approx(np.std([1, 3, 2], ddof=1))
    assert r["tokens_per_s"] == pytest.approx(35 / 6.0)
    assert set(RATE_COLUMNS) == set(r)


def test_position_one_acceptance_estimates_one_minus_tv_at_any_draft_length():
    """Draft cap 1 and 8 on one pair: the draft accept rate drops with L; position 1's rate is, at both,
    the mean of 1 − TV(q̂, p) over the batches' first drafts (the exact acceptance probabilities)."""
    slm, llm = random_pair(64, np.random.default_rng(4), closeness=0.6)
    out = {}
    for cap in (1, 8):
        tallies, first = [], []
        for i in range(30):
            edge = Edge(slm, make_scheme("sd"), 1.0, 10**9, cap, np.random.default_rng([cap, i]))
            cloud = Cloud(llm, 1.0, np.random.default_rng([cap, i, 1]))
            res = run_session(edge, cloud, [i % 64], 40)
            tallies.append(res.tally())
            first += [1.0 - b.rejection_prob[0] for b in res.batches if b.num_drafts]  # the last may draft none
        rates = pooled(tallies).rates()
        expect = float(np.mean(first))
        se = math.sqrt(expect * (1 - expect) / len(first))
        assert rates["accept_rate_pos1"] == pytest.approx(expect, abs=4 * se), cap
        out[cap] = rates
    assert out[8]["draft_accept_rate"] < out[1]["draft_accept_rate"] - 0.1
    assert out[1]["accept_rate_pos1"] == pytest.approx(out[1]["draft_accept_rate"])


def test_bootstrap_intervals_resample_prompts_and_pool_them_as_the_rates_do():
    from sqs.system.metrics import bootstrap_ci

    def prompt(tokens, latency, batches, resampled):
        t = Tally(tokens=tokens, batches=batches, resampled=resampled)
        t.add_prompt(latency)
        return t

    same = [prompt(24, 2.0, 10, 5) for _ in range(8)]
    ci = bootstrap_ci(same, np.random.default_rng(0), 500)
    assert ci["tokens_per_s_ci_low"] == ci["tokens_per_s_ci_high"] == pytest.approx(12.0)  # no spread, no width
    spread = [prompt(24, lat, 10, r) for lat, r in zip((1.0, 2.0, 3.0, 4.0) * 4, (2, 4, 6, 8) * 4, strict=True)]
    ci = bootstrap_ci(spread, np.random.default_rng(0), 2000)
    rates = pooled(spread).rates()
    for m in ("tokens_per_s", "latency_s", "resampling_rate"):
        assert ci[f"{m}_ci_low"] < rates[m] < ci[f"{m}_ci_high"]
    assert 1.0 < ci["latency_s_ci_low"] and ci["latency_s_ci_high"] < 4.0  # within the prompts' own range
    assert ci == bootstrap_ci(spread, np.random.default_rng(0), 2000)  # the generator passed in decides the draws


def test_a_paired_speedup_interval_pools_each_resample_as_rates_are_pooled():
    import numpy as np

    from sqs.system.metrics import speedup_ci

    theirs = [(24, 4.0), (24, 3.0), (24, 5.0), (24, 2.0)]
    twice = [(t, s / 2) for t, s in theirs]  # every prompt twice as fast: every resample says 2
    lo, hi = speedup_ci(twice, theirs, np.random.default_rng(0))
    assert lo == pytest.approx(2.0) and hi == pytest.approx(2.0)
    mixed = [(24, 2.0), (24, 3.0), (24, 5.0), (24, 1.0)]  # twice as fast on two prompts, the same on two
    lo, hi = speedup_ci(mixed, theirs, np.random.default_rng(0))
    pooled = (96 / 11) / (96 / 14)
    assert 1.0 <= lo < pooled < hi <= 2.0  # within the per-prompt ratios, around the pooled one
    with pytest.raises(ValueError, match="row per prompt"):
        speedup_ci([(24, 1.0)], [(24, 1.0), (24, 2.0)], np.random.default_rng(0))

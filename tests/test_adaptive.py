"""Channels, draft policies, and exactness of adaptive drafting on exact toy models."""

from collections import Counter

import numpy as np
import pytest
from tests.conftest import LAW_ALPHA

import sqs
from sqs.lossless import gof_test
from sqs.lossless.faults import FAULTS
from sqs.lossless.harness import fault_power
from sqs.models.toy import random_pair
from sqs.system.adaptive import AdaptivePolicy, StaticPolicy, make_policy, resolution_profile
from sqs.system.channel import ChannelConfig, RateProcess, read_rates
from sqs.system.cloud import Cloud
from sqs.system.compute import per_call
from sqs.system.edge import Edge
from sqs.system.latency import LinkConfig
from sqs.system.session import run_session


def test_gilbert_elliott_switches_with_the_given_probabilities():
    stay = RateProcess(ChannelConfig("gilbert-elliott", p_leave=(0.0, 0.0)), 1e6, np.random.default_rng(0))
    assert {stay.next_rate() for _ in range(50)} == {2e6}
    flip = RateProcess(ChannelConfig("gilbert-elliott", p_leave=(1.0, 1.0), start_state=1), 1e6,
                       np.random.default_rng(0))  # fmt: skip
    assert [flip.next_rate() for _ in range(4)] == [6e6, 2e6, 6e6, 2e6]
    ref = RateProcess(ChannelConfig("gilbert-elliott"), 1e6, np.random.default_rng(1))
    rates = np.array([ref.next_rate() for _ in range(20_000)])
    assert abs((rates == 6e6).mean() - 0.5) < 0.02  # stationary law of the reference's symmetric chain
    switches = (rates[1:] != rates[:-1]).mean()
    assert abs(switches - 0.5) < 0.02
    fixed = RateProcess(ChannelConfig(), 3e6, np.random.default_rng(0))
    assert fixed.next_rate() == 3e6


def test_recorded_rates_replay_cyclically_and_rejects_bad_files(tmp_path):
    good = tmp_path / "rates.csv"
    good.write_text("batch,uplink_bps\n0,1e6\n1,4e6\n")
    proc = RateProcess(ChannelConfig("replay", rates_csv=str(good)), 9e9, np.random.default_rng(0))
    assert [proc.next_rate() for _ in range(5)] == [1e6, 4e6, 1e6, 4e6, 1e6]
    bad = tmp_path / "bad.csv"
    bad.write_text("rate\n1e6\n")
    with pytest.raises(ValueError, match="needs 'uplink_bps'"):
        read_rates(bad)
    bad.write_text("uplink_bps\nfast\n")
    with pytest.raises(ValueError, match="line 2: uplink_bps='fast'"):
        read_rates(bad)
    bad.write_text("uplink_bps\n0\n")
    with pytest.raises(ValueError, match="must be > 0"):
        read_rates(bad)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        read_rates(tmp_path / "missing.csv")
    with pytest.raises(ValueError, match="channel kind must be one of"):
        ChannelConfig("markov")
    with pytest.raises(ValueError, match="needs rates_csv"):
        ChannelConfig("replay")


def _taught_policy(a_confident: float, a_unsure: float) -> AdaptivePolicy:
    """A policy that has watched 200 batches: confident drafts accepted with a_confident, others a_unsure."""
    link = LinkConfig(uplink_bps=2e6, propagation_s=0.02)
    pol = AdaptivePolicy([100], max_draft_len=8, link=link)
    rng = np.random.default_rng(0)
    for _ in range(200):
        pol.plan(2e6)
        confs = list(rng.choice([0.95, 0.15], size=4))
        acc = 0
        for c in confs:
            if rng.random() < (a_confident if c > 0.5 else a_unsure):
                acc += 1
            else:
                break
        # edge 50 ms a draft; cloud 150 ms a batch + 5 ms a verified token; 1000 bits a draft
        rtt = 8 * (18 + 500) / 2e6 + 0.02 + 0.15 + 0.005 * 5 + 8 * 10 / link.downlink_bps
        pol.observe(confidences=confs, bits=[1000] * 4, num_accepted=acc, edge_s=0.2, round_trip_s=rtt,
                    rate_bps=2e6, ell=100)  # fmt: skip
    return pol


def test_adaptive_policy_learns_the_model_and_stops_on_unsure_drafts():
    pol = _taught_policy(0.95, 0.1)
    assert pol.edge_s == pytest.approx(0.05)
    assert pol.cloud_s(4) == pytest.approx(0.15 + 0.005 * 5, rel=0.02)
    assert pol.own(0.95) > 0.85 and pol.own(0.15) < 0.25
    pol.plan(2e6)
    assert pol.keep_drafting([0.95], [1000], 2e6)  # a confident draft: the next one likely pays
    pol.plan(2e6)
    assert not pol.keep_drafting([0.15], [1000], 2e6)  # an unsure one: stop and send
    # a slower uplink makes every extra draft costlier: at 20 kb/s nothing beyond one draft pays
    pol.plan(2e4)
    assert not pol.keep_drafting([0.95], [1000], 2e4)


def test_adaptive_policy_picks_the_resolution_with_the_best_predicted_rate():
    link = LinkConfig(uplink_bps=1e4, propagation_s=0.0)
    pol = AdaptivePolicy([10, 100], max_draft_len=4, link=link)
    assert pol.plan(1e4).ell == 100 and pol.plan(1e4).ell == 100  # untried resolutions first
    for ell, bits in ((100, 1000), (10, 100)):
        pol.plan(1e4)
        pol.observe(confidences=[0.5] * 2, bits=[bits] * 2, num_accepted=1, edge_s=0.002, round_trip_s=0.3,
                    rate_bps=1e4, ell=ell)  # fmt: skip
    assert pol.plan(1e4).ell == 10  # equal acceptance seen, a tenth of the bits on a slow link


@pytest.mark.parametrize("name,params", [("dense", {}), ("k-sqs", {"k": 40}), ("c-sqs", {"beta": 0.002})])
def test_resolution_profile_equals_compressing_at_each_ell(name, params):
    q = sqs.protocol.probs.softmax_temperature(np.random.default_rng(1).normal(scale=2.5, size=500), 1.0)
    comp = sqs.make_scheme(name, ell=100, **params).compress(q)
    prof = resolution_profile(q, comp, [7, 50, 100, 400])
    for ell, (tv, bits) in prof.items():
        other = sqs.make_scheme(name, ell=ell, **params).compress(q)
        assert tv == pytest.approx(float(sqs.protocol.probs.tv_distance(q, other.q_hat)), abs=1e-12)
        assert bits == other.bits
    assert prof[400][0] < prof[7][0]  # a finer lattice, less distortion


def test_static_policy_is_the_plain_edge():
    slm, llm = random_pair(16, np.random.default_rng(0))

    def run(policy):
        edge = Edge(slm, sqs.make_scheme("dense", ell=6), 1.0, 10**6, 3, np.random.default_rng(5), policy=policy)
        cloud = Cloud(llm, 1.0, np.random.default_rng(6))
        return run_session(edge, cloud, [0], 20)

    assert run(None).tokens == run(StaticPolicy(3, 6)).tokens
    with pytest.raises(ValueError, match="unknown draft policy"):
        make_policy("greedy", draft_len=3, ell=6, ells=None, link=LinkConfig())


class _StopWhenUnsure(StaticPolicy):
    """Deterministic data-dependent stopping: send the batch after the first draft below 0.75 confidence."""

    def keep_drafting(self, confidences, bits, rate_bps):
        return confidences[-1] >= 0.75


@pytest.mark.slow
@pytest.mark.parametrize("which", ["adaptive", "stop-when-unsure"])
def test_adaptive_drafting_over_a_markov_channel_stays_exact(which):
    """First two tokens' joint law when the draft length and ell depend on the drafts (chi-square)."""
    v = 5
    slm, llm = random_pair(v, np.random.default_rng(3), closeness=0.5)
    p = sqs.protocol.probs.softmax_temperature(llm.table, 0.8)
    target = np.outer(p[0], np.ones(v)) * p
    link = LinkConfig(uplink_bps=2e6, propagation_s=0.0, downlink_bps=1e9, cloud_time_scale=10.0)
    pol = AdaptivePolicy([2, 6, 20], max_draft_len=3, link=link) if which == "adaptive" else _StopWhenUnsure(3, 6)
    rates = RateProcess(ChannelConfig("gilbert-elliott", rates_bps=(2e3, 2e5)), 2e6, np.random.default_rng(7))
    edge = Edge(slm, sqs.make_scheme("dense", ell=6), 0.8, 10**6, 3, np.random.default_rng(11), policy=pol)
    cloud = Cloud(llm, 0.8, np.random.default_rng(12))
    compute = per_call(0.002, 0.004)  # priced calls: the policy learns the same times on every machine
    joint = np.zeros((v, v))
    lengths, ells = Counter(), Counter()
    for _ in range(10_000):  # four tokens wanted: the first batch may carry the policy's three drafts
        res = run_session(edge, cloud, [0], 4, link, rates, compute=compute)
        joint[res.tokens[0], res.tokens[1]] += 1
        lengths.update(b.num_drafts for b in res.batches if b.num_drafts)  # 0: a last token wanted alone
        ells.update(b.ell for b in res.batches if b.num_drafts)
    assert set(lengths) <= {1, 2, 3} and set(ells) <= {2, 6, 20}
    # the policy moved: at least two draft lengths (and for the adaptive arm two resolutions), each often
    assert sum(c >= 100 for c in lengths.values()) >= 2, lengths
    if which == "adaptive":
        assert sum(c >= 100 for c in ells.values()) >= 2, ells
    res = gof_test(joint.ravel(), target.ravel())
    assert res.impossible == 0 and res.pvalue > LAW_ALPHA


@pytest.mark.slow
def test_preemptive_drafting_stays_exact(max_len=2):
    """Pre-drafts kept when all drafts pass and the guessed token comes true: first three tokens' law."""
    v = 4
    slm, llm = random_pair(v, np.random.default_rng(4), closeness=0.5)
    p = sqs.protocol.probs.softmax_temperature(llm.table, 0.9)
    target = p[0][:, None, None] * p[:, :, None] * p[None, :, :]  # P(x1) P(x2 | x1) P(x3 | x2)
    edge = Edge(slm, sqs.make_scheme("k-sqs", k=3, ell=5), 0.9, 10**6, max_len, np.random.default_rng(21))
    cloud = Cloud(llm, 0.9, np.random.default_rng(22))
    link = LinkConfig(propagation_s=0.05)  # a long round trip: the edge pre-drafts up to the cap
    joint = np.zeros((v, v, v))
    kept = made = 0
    for _ in range(10_000):
        res = run_session(edge, cloud, [0], 3, link, preemptive=True)
        joint[tuple(res.tokens)] += 1
        kept += sum(b.predrafts_kept for b in res.batches)
        made += sum(b.predrafted for b in res.batches)
    assert 0 < kept < made  # some pre-drafts were used, some thrown away
    res = gof_test(joint.ravel(), target.ravel())
    assert res.impossible == 0 and res.pvalue > LAW_ALPHA
    # positions 1 and 2 are drafted (fresh or pre-drafted), the third is the cloud's: the known faults' laws
    power = fault_power(sqs.make_scheme("k-sqs", k=3, ell=5), slm, llm, 0.9, 3, 10_000, LAW_ALPHA)
    assert all(power[f] >= 0.9 for f in FAULTS[:4]), power


def test_preemptive_timeline_counts_each_second_once():
    slm, llm = random_pair(16, np.random.default_rng(0))
    link = LinkConfig(propagation_s=0.05, edge_time_scale=2000.0)  # a slow edge: pre-drafts overrun the verdict
    edge = Edge(slm, sqs.make_scheme("dense", ell=6), 1.0, 10**6, 3, np.random.default_rng(5))
    cloud = Cloud(llm, 1.0, np.random.default_rng(6))
    res = run_session(edge, cloud, [0], 30, link, preemptive=True)
    totals = [b.latency.total_s for b in res.batches]
    assert all(t > 0 for t in totals)
    for b in res.batches:  # the edge part is the critical path: at least its own fresh drafting
        assert b.latency.edge_s >= 0
    assert sum(b.num_accepted + 1 for b in res.batches) >= 30 and len(res.tokens) == 30
    assert all(b.predrafted >= 1 for b in res.batches)  # the guess step starts before every verdict
    assert all(b.predrafts_kept <= b.predrafted for b in res.batches)
    # the edge's time on the critical path can exceed its fresh drafting: it waits for an in-flight step
    assert any(b.latency.edge_s > 0 for b in res.batches)
    stateful = Edge(slm, sqs.make_scheme("c-sqs", beta=0.1, ell=6, alpha=0.05, eta=0.05), 1.0, 10**6, 3,
                    np.random.default_rng(5))  # fmt: skip
    with pytest.raises(ValueError, match="preemptive drafting needs no drafting policy and a stateless"):
        run_session(stateful, cloud, [0], 5, link, preemptive=True)

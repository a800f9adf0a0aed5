"""The families study (sqs.trace.families): each family at its best setting per uplink rate, and the crossover."""

import math

import numpy as np
import pytest

from sqs.protocol import wire
from sqs.protocol.schemes.layout import bits_for
from sqs.system.compute import per_call
from sqs.system.latency import LinkConfig
from sqs.trace.families import _crossing, crossover, family_of, family_rows, verdict
from sqs.trace.regimes import PromptTerms
from sqs.trace.sequence import ar_tallies
from sqs.trace.sweep import cell_predictions, grid_cells

V = 300
LINK = LinkConfig(uplink_bps=2e6, propagation_s=0.02, downlink_bps=1e7)


@pytest.fixture(scope="module")
def solved():
    rng = np.random.default_rng(5)
    slm = rng.normal(scale=2.5, size=(6 * 16, V))
    llm = slm + rng.normal(scale=0.8, size=slm.shape)
    segments = [(16 * i, 16 * (i + 1)) for i in range(6)]
    cells = grid_cells([0.5], {"K": [2, 16], "beta0": [0.01], "eta": [0.0], "branch": [2]}, ell=50, budget_bits=5000,
                       max_draft_len=4, link=LINK)  # fmt: skip
    profile = per_call(0.004, 0.03, 0.002)
    pred = cell_predictions(slm, llm, cells, profile, segments)
    terms = {c: PromptTerms.of(tallies) for c, (_, tallies) in pred.items()}
    ar = ar_tallies(segments, profile, LINK)
    return pred, terms, (np.array([t.tokens for t in ar], float), np.array([t.latency_s for t in ar]))


def test_every_scheme_has_the_family_of_what_it_sends():
    assert {s: family_of(s) for s in ("qs", "k-sqs", "c-sqs", "top-p", "min-p", "sd", "tokens", "split", "tree")} == {
        "qs": "sqs", "k-sqs": "sqs", "c-sqs": "sqs", "top-p": "sqs", "min-p": "sqs", "sd": "sd", "tokens": "tokens",
        "split": "split", "tree": "tree"}  # fmt: skip


def test_a_prompts_terms_price_it_as_its_own_tally_at_the_links_rate(solved):
    pred, terms, _ = solved
    for cell, (_, tallies) in pred.items():
        got = terms[cell].seconds(LINK, LINK.uplink_bps)
        assert got == pytest.approx([t.latency_s for t in tallies], rel=1e-12)
        assert terms[cell].tokens.tolist() == [16.0] * 6


def test_each_family_is_read_at_its_best_setting_at_every_rate(solved):
    pred, terms, ar = solved
    rates = (1e4, 2e5, 2e6, 1e8)
    rows, crossings = family_rows(terms, ar, LINK, rates, n_boot=300, rng=np.random.default_rng(0))
    assert len(rows) == len(rates) * 5 and {x["family"] for x in crossings} == {"sd", "tokens", "split", "tree"}
    ar_rate = ar[0].sum() / ar[1].sum()
    for row in rows:
        mine = {c: t for c, t in terms.items() if family_of(c.scheme) == row["family"]}
        speed = {c: t.tokens.sum() / t.seconds(LINK, row["uplink_bps"]).sum() for c, t in mine.items()}
        best = max(speed, key=speed.get)
        assert (row["scheme"], row["tokens_per_s"]) == (best.scheme, pytest.approx(speed[best], rel=1e-12))
        assert row["tokens_per_s_ci_low"] <= row["tokens_per_s"] <= row["tokens_per_s_ci_high"]
        assert row["speedup_vs_ar"] == pytest.approx(row["tokens_per_s"] / ar_rate, rel=1e-12)
        if row["family"] == "tokens":  # ceil(log2 V) bits a draft and nothing else
            tallies = pred[best][1]
            assert sum(t.payload_bits for t in tallies) == pytest.approx(bits_for(V) * sum(t.drafts for t in tallies))
        if row["family"] == "split":  # the id and a float64 up; the logits down after each rejection, 4 bytes each
            for t in pred[best][1]:
                assert t.payload_bits == pytest.approx((bits_for(V) + 64) * t.drafts)
                assert t.downlink_bytes == pytest.approx(t.batches * wire.DOWNLINK_BYTES + t.resampled * (
                    wire.logits_downlink_bytes(V) - wire.DOWNLINK_BYTES))  # fmt: skip
            assert row["downlink_bits_per_token"] > 8 * wire.DOWNLINK_BYTES
        if row["family"] == "tree":  # ceil(log2 V) a node and ceil(log2(i + 1)) for node i's parent
            for t in pred[best][1]:
                assert bits_for(V) * t.drafts < t.payload_bits < (bits_for(V) + 3) * t.drafts
    for fams in _by_point(rows).values():  # the paired ratio over the compressed q_hat's
        for row in (fams["sd"], fams["tokens"], fams["split"], fams["tree"]):
            assert row["vs_sqs"] == pytest.approx(row["tokens_per_s"] / fams["sqs"]["tokens_per_s"], rel=1e-12)
            assert row["vs_sqs_ci_low"] <= row["vs_sqs"] <= row["vs_sqs_ci_high"]
        assert math.isnan(fams["sqs"]["vs_sqs"]) and fams["sqs"]["verdict_vs_sqs"] == ""
    low = {r["family"]: r for r in rows if r["uplink_bps"] == 1e4}
    assert low["tokens"]["tokens_per_s"] > low["sd"]["tokens_per_s"]  # 9 bits against 9,600 a draft at 10 kb/s
    assert low["sd"]["verdict_vs_sqs"] == "sqs faster"


def _by_point(rows) -> dict:
    out: dict = {}
    for r in rows:
        out.setdefault((r["temperature"], r["uplink_bps"]), {})[r["family"]] = r
    return out


def test_a_crossing_on_a_curve_known_in_closed_form():
    rates = np.geomspace(1e4, 1e8, 9)
    for r0 in (3.3e4, 1e6, 7.7e7):  # log ratio linear in log rate: the interpolation is exact
        assert _crossing(rates, rates / r0) == pytest.approx(r0, rel=1e-9)
    assert math.isnan(_crossing(rates, np.full(9, 1.5)))
    assert _crossing(rates, np.r_[1.0, np.full(8, 2.0)]) == rates[0]
    sqs, other = np.array([1.0, 2.0, 3.0]), np.array([2.0, 2.0, 2.0])
    got = crossover(np.array([1e5, 1e6, 1e7]), sqs, other, sqs[:, None] * np.ones((1, 50)),
                    other[:, None] * np.ones((1, 50)))  # fmt: skip
    assert (got["crossover_bps"], got["faster_below"], got["crossing_share"]) == (1e6, "other", 1.0)
    assert (got["crossover_ci_low"], got["crossover_ci_high"]) == (1e6, 1e6)


def test_verdicts_need_intervals_apart():
    a = {"tokens_per_s_ci_low": 10.0, "tokens_per_s_ci_high": 12.0}
    assert verdict(a, {"tokens_per_s_ci_low": 8.0, "tokens_per_s_ci_high": 9.9}) == "sqs faster"
    assert verdict(a, {"tokens_per_s_ci_low": 12.1, "tokens_per_s_ci_high": 13.0}) == "sqs slower"
    assert verdict(a, {"tokens_per_s_ci_low": 11.9, "tokens_per_s_ci_high": 13.0}) == "no difference"


def test_every_cell_may_take_a_draft_cap_but_a_moving_threshold_keeps_its_own():
    from sqs.trace.families import with_caps
    from sqs.trace.sweep import SweepCell

    still = SweepCell("tokens", 1.0, max_draft_len=None)
    moving = SweepCell("c-sqs", 1.0, beta0=0.01, eta=0.001, max_draft_len=None)
    fixed = SweepCell("c-sqs", 1.0, beta0=0.01, eta=0.0, max_draft_len=2)
    got = with_caps([still, moving, fixed], caps=(1, 2, 4))
    assert [(c.scheme, c.param("eta") if c.scheme == "c-sqs" else None, c.max_draft_len) for c in got] == [
        ("tokens", None, None), ("tokens", None, 1), ("tokens", None, 2), ("tokens", None, 4),
        ("c-sqs", 0.001, None), ("c-sqs", 0.0, 2), ("c-sqs", 0.0, 1), ("c-sqs", 0.0, 4)]  # fmt: skip


def test_every_cell_that_sends_a_q_hat_is_also_read_under_block_verification():
    from sqs.trace.families import with_rules
    from sqs.trace.sweep import SweepCell

    cells = [SweepCell("tokens", 1.0), SweepCell("k-sqs", 1.0, K=4), SweepCell("sd", 1.0, verify="block"),
             SweepCell("tree", 1.0, branch=2), SweepCell("qs", 1.0, max_draft_len=1)]  # fmt: skip
    got = with_rules(cells)
    assert [(c.scheme, c.verify) for c in got] == [("tokens", "token"), ("k-sqs", "token"), ("k-sqs", "block"),
                                                   ("sd", "block"), ("sd", "token"), ("tree", "token"),
                                                   ("qs", "token")]  # fmt: skip


def test_block_verification_is_read_against_token_verification_of_the_same_cell():
    """By hand from two prompts' terms: tokens a round and tokens/s at the link's rate under each rule, the gain,
    and its paired interval (every resample of both prompts lies between the prompts' own gains)."""
    from dataclasses import replace

    from sqs.trace.families import block_rows
    from sqs.trace.sweep import SweepCell

    def terms(batches, cloud):
        b = np.array(batches, float)
        return PromptTerms(tokens=np.array([20.0, 30.0]), edge_s=np.array([0.5, 0.5]), cloud_s=np.array(cloud, float),
                           uplink_bytes=100.0 * b, downlink_bytes=10.0 * b, batches=b, accepted=20.0 - b,
                           drafts=3.0 * b, payload_bits=700.0 * b)  # fmt: skip

    tok = SweepCell("k-sqs", 1.0, K=16, max_draft_len=4, link=LINK)
    blk = replace(tok, verify="block")
    lone = SweepCell("qs", 1.0, max_draft_len=4, link=LINK, verify="block")  # its token twin is missing: skipped
    t_tok, t_blk = terms([8, 12], [1.0, 1.5]), terms([7, 10], [0.9, 1.2])
    (row,) = block_rows({tok: t_tok, blk: t_blk, lone: t_blk}, LINK, n_boot=400, rng=np.random.default_rng(0))
    assert (row["scheme"], row["setting"], row["max_draft_len"], row["mean_draft_len"]) == ("k-sqs", "K=16", 4, 3.0)
    assert row["tokens_per_round_token"] == pytest.approx(50 / 20) and row["tokens_per_round_block"] == pytest.approx(
        50 / 17)  # fmt: skip
    assert row["round_gain"] == pytest.approx(20 / 17)
    sec = {k: t.seconds(LINK, LINK.uplink_bps) for k, t in (("token", t_tok), ("block", t_blk))}
    for rule in ("token", "block"):
        assert row[f"tokens_per_s_{rule}"] == pytest.approx(50 / sec[rule].sum())
    assert row["speed_gain"] == pytest.approx(sec["token"].sum() / sec["block"].sum())
    per_prompt = [8 / 7, 12 / 10]
    assert min(per_prompt) - 1e-12 <= row["round_gain_ci_low"] < row["round_gain_ci_high"] <= max(per_prompt) + 1e-12
    assert row["speed_gain_ci_low"] <= row["speed_gain"] <= row["speed_gain_ci_high"]

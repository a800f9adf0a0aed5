"""The anchors against this model (sqs.study.anchors): every constant sourced, each prediction the pricer's own
arithmetic on the anchor's setup, the stack's launch cost read from its AR figure reproducing that figure."""

import math

import pytest

from sqs.steps.io import read_csv_rows
from sqs.study import anchors as an
from sqs.system.compute import DEVICES, SHAPES

GRID = read_csv_rows(an.DSSD_ROWS)  # DSSD's CSV as the rule reads it


def test_every_row_names_its_source_baseline_and_what_it_leaves_out():
    rows = an.anchors_table(GRID)
    assert {r["anchor"] for r in rows} == {"SpecEdge", "DSSD", "Early exits", "Spec-Bench SpS", "SLED", "DiP-SD"}
    for r in rows:
        assert r["sources"] and r["baseline"] and r["setup"] and r["missing_term"], r
        assert r["published"] == r["published"] and r["published"] != 0
        if r["predicted"] == r["predicted"]:
            pub, pred = (1 + r["published"], 1 + r["predicted"]) if "change" in r["claim"] else (
                r["published"], r["predicted"])  # fmt: skip
            assert (an.as_ratio(r["claim"], r["published"]), an.as_ratio(r["claim"], r["predicted"])) == (pub, pred)
            assert r["error"] == pytest.approx(pred / pub - 1, rel=1e-12)
            assert r["within_25pct"] == (abs(r["error"]) <= 0.25)
        else:
            assert r["error"] is None and not r["within_25pct"]
    assert len([r for r in rows if r["anchor"] == "DSSD"]) == len(GRID)


def test_the_stack_launch_cost_reproduces_the_anchors_ar_bar():
    """A kernel's cost read from SpecEdge's AR bar (60 $ per million tokens for Qwen3-14B at its A100's price):
    the roofline with it prices that AR token exactly; the server-only round then carries 4 SLM steps."""
    launch = an.stack_launch_s("a100-40gb", "qwen3-14b", an._ar_bar_s("qwen3-14b"))
    assert an._ar_bar_s("qwen3-14b") == pytest.approx(60e-6 / 0.001125, rel=1e-12)
    prof = an.roofline("rtx-4090", "qwen3-1.7b", "a100-40gb", "qwen3-14b", launch)
    assert prof.cloud.forward_s(1, int(an.CONTEXT)) == pytest.approx(an._ar_bar_s("qwen3-14b"), rel=1e-9)
    assert launch > 10 * DEVICES["a100-40gb"].launch_s  # an eager stack, far above the roofline's 5 us
    assert prof.slm_on_cloud.forward[0].name == DEVICES["a100-40gb"].name
    assert prof.slm_on_cloud.forward[1] == SHAPES["qwen3-1.7b"]


def test_a_dssd_row_is_its_own_per_call_prices_read_exactly():
    """Exact SD's tokens a round (accepted + 1) over gamma draft steps, one verification and the round trip, each
    at the anchor's own measured seconds, against its AR: by hand."""
    r = GRID[3]
    g, a, rtt = int(r["gamma"]), float(r["accept_rate"]), float(r["rtt_ms"]) / 1e3
    t_slm, t_llm = 1 / float(r["slm_thr"]), 1 / float(r["base_thr"])
    by_hand = (a * g + 1) / (g * t_slm + t_llm + rtt) * t_llm
    row = an.dssd(GRID)[3]
    assert row.predicted == pytest.approx(by_hand, rel=1e-12)
    assert row.published == float(r["speedup"])
    # read as its committed code runs: gamma tokens a round (gamma + 1 when all pass)
    as_run = (g + a**g) / (g * t_slm + t_llm + rtt) * t_llm
    assert f"it would be {as_run:.2f}x" in row.missing_term
    assert f"its round took {(a * g + 1) / float(r['dsp_thr']) * 1e3:.0f} ms" in row.missing_term


@pytest.mark.parametrize("index", [3, 30])
def test_a_dssd_row_against_continuous_ar_on_the_h800_roofline(index):
    """Exact SD with its acceptance, OPT-125M's steps and the target's verification on H800s and its round trip,
    against the target's AR streamed (one round trip a 128-token request): by hand, for a 6.7B and a 13B row."""
    r = GRID[index]
    g, a, rtt = int(r["gamma"]), float(r["accept_rate"]), float(r["rtt_ms"]) / 1e3
    llm = {"opt-6.7b": "opt-6.7b", "opt-13b": "opt-13b"}[r["model_l"]]
    sd = (a * g + 1) / (g * _fwd("h800", "opt-125m", 1) + rtt + _fwd("h800", llm, g + 1))
    ar = 1 / (_fwd("h800", llm, 1) + rtt / 128)
    row = an.dssd(GRID)[index]
    assert SHAPES[llm].name in row.setup
    assert row.vs_continuous_ar == pytest.approx(sd / ar, rel=1e-9)


def test_specedge_rows_follow_its_server_rounds():
    rows = [r for r in an.specedge() if "roofline" in r.setup]
    thr = next(r for r in rows if r.claim.startswith("server throughput"))
    cost = next(r for r in rows if r.claim.startswith("cost efficiency"))
    # cost = throughput through its own prices: one A100 against one A100 and two RTX 4090s
    usd = an.SPECEDGE_A100_USD_S + 2 * an.SPECEDGE_4090_USD_S
    assert cost.predicted == pytest.approx(thr.predicted * an.SPECEDGE_A100_USD_S / usd, rel=1e-12)
    assert thr.predicted > 1  # the server drafts nothing: always above one
    assert all(math.isnan(r.vs_continuous_ar) or 0 < r.vs_continuous_ar < 1 for r in rows)


def test_the_rule_writes_the_table_and_its_figure(tmp_path):
    import csv

    from sqs.steps.study import anchors_file

    rows = anchors_file(an.DSSD_ROWS, tmp_path / "anchors.csv", tmp_path)
    with (tmp_path / "anchors.csv").open() as f:
        back = list(csv.DictReader(f))
    assert len(back) == len(rows) and {r["anchor"] for r in back} == {r["anchor"] for r in rows}
    assert (tmp_path / "fig_anchors.png").stat().st_size > 10_000 and (tmp_path / "fig_anchors.pdf").is_file()


def test_spec_bench_is_server_only_sd_for_one_user():
    """Both models on one A100: a round is gamma draft steps and a verification of gamma + 1 on that GPU, the
    tokens its leaderboard's; AR the same GPU's token."""

    g, t = an.SPEC_BENCH_SPS["gamma"], an.SPEC_BENCH_SPS["tokens"]
    eager = an.stack_launch_s("a100-40gb", "qwen3-14b", an._ar_bar_s("qwen3-14b"))
    for row, launch in zip(an.spec_bench(), (None, eager), strict=True):
        round_s = g * _fwd("a100-80gb", "vicuna-68m", 1, launch) + _fwd("a100-80gb", "llama-2-7b", g + 1, launch)
        ar = _fwd("a100-80gb", "llama-2-7b", 1, launch)
        assert row.predicted == pytest.approx(t * ar / round_s, rel=1e-9) == row.vs_continuous_ar
        assert row.published == 1.52


def _fwd(device, shape, n, launch=None):
    from dataclasses import replace as _replace

    dev = DEVICES[device] if launch is None else _replace(DEVICES[device], launch_s=launch)
    return dev.forward_s(SHAPES[shape], n, int(an.CONTEXT))


@pytest.mark.parametrize("stack", [False, True])
def test_specedge_rows_by_hand(stack):
    """The headline pair (Qwen3-14B on an A100 40GB, Qwen3-1.7B on RTX 4090s): server-only's round is 4 SLM
    forwards of a 16-node frontier and a 65-token verification on the A100, SpecEdge's a 33-token verification;
    throughput is their ratio, cost that through its prices, inter-token latency the longer of two interleaved
    verifications and one with the round trip, over server-only's round; each pair of the README figure: tokens a
    round from its AR and server-only bars, the token costs, and against AR's 256-stream round."""
    launch = an.stack_launch_s("a100-40gb", "qwen3-14b", an._ar_bar_s("qwen3-14b")) if stack else None
    so = 4 * _fwd("a100-40gb", "qwen3-1.7b", 16, launch) + _fwd("a100-40gb", "qwen3-14b", 65, launch)
    v = _fwd("a100-40gb", "qwen3-14b", 33, launch)
    usd = an.SPECEDGE_A100_USD_S + 2 * an.SPECEDGE_4090_USD_S
    rows = [r for r in an.specedge() if ("stack" in r.setup) == stack]
    head = {r.claim.split(" ")[0]: r for r in rows if "figure" not in r.claim}
    assert head["server"].predicted == pytest.approx(so / v, rel=1e-9)
    assert head["cost"].predicted == pytest.approx(so * an.SPECEDGE_A100_USD_S / (v * usd), rel=1e-9)
    assert head["inter-token"].predicted == pytest.approx(max(2 * v, v + 0.01407) / so - 1, rel=1e-9)
    assert (head["server"].published, head["cost"].published, head["inter-token"].published) == (2.22, 1.91, -0.1124)
    for (llm, slm), (ar_usd, so_usd, se_usd) in an.SPECEDGE_FIGURE.items():
        lf = an.stack_launch_s("a100-40gb", llm, an._ar_bar_s(llm)) if stack else None
        so_f = 4 * _fwd("a100-40gb", slm, 16, lf) + _fwd("a100-40gb", llm, 65, lf)
        v_f, t_ar = _fwd("a100-40gb", llm, 33, lf), _fwd("a100-40gb", llm, 1, lf)
        tokens = ar_usd / so_usd * so_f / t_ar
        mine = [r for r in rows if SHAPES[llm].name in r.setup and SHAPES[slm].name in r.setup]
        cost_so, cost_ar = (next(r for r in mine if k in r.claim) for k in ("server-only over", "AR over"))
        assert cost_so.published == so_usd / se_usd and cost_ar.published == ar_usd / se_usd
        assert cost_so.predicted == pytest.approx(so_f * an.SPECEDGE_A100_USD_S / (v_f * usd), rel=1e-9)
        assert cost_ar.predicted == pytest.approx(tokens * t_ar * an.SPECEDGE_A100_USD_S / (v_f * usd), rel=1e-9)
        big = DEVICES["a100-40gb"] if lf is None else DEVICES["a100-40gb"].__class__(
            **{**DEVICES["a100-40gb"].__dict__, "launch_s": lf})  # fmt: skip
        vs = tokens * big.forward_s(SHAPES[llm], 1, int(an.CONTEXT), 256) / big.forward_s(
            SHAPES[llm], 33, int(an.CONTEXT), 256)  # fmt: skip
        assert cost_so.vs_continuous_ar == pytest.approx(vs, rel=1e-9)
        above = max(b for b in range(1, 257) if an._vs_ar(
            an.Pricer(an.roofline("rtx-4090", slm, "a100-40gb", llm, lf)), tokens, b) >= 1.0)  # fmt: skip
        assert f"above 1x up to {above} sessions" in cost_so.missing_term
    assert len(rows) == 7


def test_early_exits_by_hand():
    """Spec-Bench's 2.28 tokens a round from 5 Nano draft steps, the round trip and a 6-token A100 verification,
    against the A100's AR token and one round trip over a 64-token request."""
    g, t = an.SPEC_BENCH_SPS["gamma"], an.SPEC_BENCH_SPS["tokens"]
    sd = (g * _fwd("jetson-nano", "vicuna-68m", 1) + 8 * 4 * g / 1e8 + 0.02 + 8 * 8 / 1e8
          + _fwd("a100-80gb", "llama-2-7b", g + 1)) / t  # fmt: skip
    ar = _fwd("a100-80gb", "llama-2-7b", 1) + 0.02 / 64
    row = an.early_exits()[0]
    assert row.predicted == pytest.approx(sd / ar - 1, rel=1e-9) and row.vs_continuous_ar == pytest.approx(ar / sd)
    assert row.published == -0.35 and f"{sd / 0.65 * 1e3:.1f} ms a token" in row.missing_term


@pytest.mark.parametrize("gamma", [1, 4, 8])
def test_chain_acceptance_inverts_a_chains_yield(gamma):
    for a in (0.0, 0.3, 0.62, 0.9):
        tokens = sum(a**i for i in range(gamma + 1))  # accepted + 1 of gamma i.i.d. drafts
        assert an.chain_acceptance(tokens, gamma) == pytest.approx(a, abs=1e-12)
    assert an.chain_acceptance(gamma + 1.0, gamma) == pytest.approx(1.0, abs=1e-12)  # every draft kept
    assert math.isnan(an.chain_acceptance(gamma + 1.5, gamma)) and math.isnan(an.chain_acceptance(0.5, gamma))


def test_dip_sd_reads_what_its_two_numbers_imply_by_hand():
    """Batching alone gives 17.89 / 1.93 over one-at-a-time AR at the fewest users N the roofline allows (every
    user in every round: N t(1) / t(N); static batches: that over 2N / (N + 1)); at that N, SD rounds of gamma + 1
    tokens a user yield the tokens a round 1.93x needs; nothing is predicted."""
    gamma, ratio = 4, 17.89 / 1.93
    t = lambda n, k: DEVICES["a100-80gb"].forward_s(SHAPES["qwen3-32b"], k, int(an.CONTEXT), n)  # noqa: E731
    cont = next(n for n in range(1, 257) if n * t(1, 1) / t(n, 1) >= ratio)
    static = next(n for n in range(1, 257) if n * t(1, 1) / (t(n, 1) * 2 * n / (n + 1)) >= ratio)
    assert (cont - 1) * t(1, 1) / t(cont - 1, 1) < ratio and static > cont
    need = 1.93 * t(cont, gamma + 1) / t(cont, 1)
    rows = an.dip_sd("a100-80gb", gamma)
    assert [r.published for r in rows] == [17.89, 1.93] and all(math.isnan(r.predicted) for r in rows)
    assert rows[0].vs_continuous_ar == pytest.approx(need * t(256, 1) / t(256, gamma + 1), rel=1e-9)
    for g in (2, 8):  # the same reading under other draft lengths
        vs = 1.93 * t(cont, g + 1) / t(cont, 1) * t(256, 1) / t(256, g + 1)
        assert f"{vs:.2f}x at {'gamma 2' if g == 2 else '8'}" in rows[0].missing_term
    kept = an.chain_acceptance(need, gamma)
    assert f"N = {cont} users" in rows[1].missing_term and f"N = {static} if" in rows[1].missing_term
    assert f"needs {need:.2f} tokens a round, a draft kept with {kept:.2f}" in rows[1].missing_term
    stretch = 2 * static / (static + 1)
    assert f"so {1.93 * t(static, gamma + 1) / (t(static, 1) * stretch):.2f} tokens" in rows[1].missing_term
    assert "device assumed" in rows[0].setup and "gamma 4 assumed" in rows[0].setup
    assert f"batching alone {ratio:.2f}x over one-at-a-time AR" in rows[0].missing_term
    assert [(r.claim, r.baseline) for r in rows] == [
        ("throughput over AR", "autoregressive decoding, one request at a time"),
        ("throughput over AR with greedy batching", "AR, greedy batching")]

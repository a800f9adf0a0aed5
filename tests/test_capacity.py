"""One cloud serving many edges (sqs.system.capacity): the model's one-edge point is the single-session price,
rounds batch as the roofline says, capacity is the largest edge count within the objective."""

import math

import pytest

from sqs.system.capacity import (
    AR_MODES,
    BASELINES,
    SharedMachine,
    Workload,
    capacity,
    capacity_ratio,
    capacity_rows,
    point,
    round_s,
)
from sqs.system.compute import make_profile, per_call
from sqs.system.latency import LinkConfig
from sqs.system.pricing import Pricer

SLM, LLM = "embedded:qwen2.5-coder-0.5b-instruct", "embedded:qwen2.5-coder-1.5b-instruct"
LINK = LinkConfig(uplink_bps=2e6, downlink_bps=1e7, propagation_s=0.02)


def sd_workload(pricer: Pricer, drafts=2.0, tokens=2.5, context=120.0) -> Workload:
    edge = drafts * pricer.edge_forward_s(1, int(context)) + drafts * pricer.edge_protocol_s("k-sqs", 16)
    cloud = pricer.cloud_forward_s(int(drafts) + 1, int(context)) + drafts * pricer.cloud_protocol_s("k-sqs", 16)
    return Workload("k-sqs", drafts, tokens, edge, 180.0, 12.0, cloud, context)


def test_one_edge_pays_exactly_what_one_session_pays():
    pricer = Pricer(make_profile("orin-nano-super+h100-sxm", SLM, LLM), LINK)
    w = sd_workload(pricer)
    alone = pricer.batch(w.edge_s, 0.0, w.uplink_bytes, w.cloud_s, w.downlink_bytes).total_s
    p = point(pricer, w, 1)
    assert p["latency_per_token_s"] == pytest.approx(alone / w.tokens, rel=1e-12)
    assert p["cloud_s_per_1k_tokens"] == pytest.approx(1000 * w.cloud_s / w.tokens, rel=1e-12)
    ar = Workload.autoregressive(24, 120.0)
    streamed = point(pricer, ar, 1, mode="ar-streamed")
    assert streamed["latency_per_token_s"] == pytest.approx(pricer.cloud_forward_s(1, 120) + 0.02 / 24, rel=1e-12)
    per_token = point(pricer, ar, 1, mode="ar-per-token")
    assert per_token["latency_per_token_s"] > streamed["latency_per_token_s"] + 0.019  # a propagation a token


def test_a_round_reads_the_weights_once_and_shares_the_host_work_over_its_cores():
    """A memory-bound GPU verifies 16 edges for about the price of one; the sessions' protocol work runs on the
    host's cores (14 an H100 in a DGX), a wave of sessions at a time; a CPU pays per sequence."""
    gpu = Pricer(make_profile("orin-nano-super+h100-sxm", SLM, LLM), LINK)
    assert gpu.cloud_batch_s(16, 3, 120) < 1.1 * gpu.cloud_batch_s(1, 3, 120)
    w = sd_workload(gpu)
    proto = w.cloud_s - gpu.cloud_batch_s(1, 3, 120)
    assert gpu.cloud_host_cores == 14 and proto > 0
    assert round_s(gpu, w, 14) - gpu.cloud_batch_s(14, 3, 120) == pytest.approx(proto, rel=1e-9)
    assert round_s(gpu, w, 15) - gpu.cloud_batch_s(15, 3, 120) == pytest.approx(2 * proto, rel=1e-9)
    cpu = Pricer(per_call(0.02, 0.05, 0.03), LINK)
    wc = Workload("qs", 2.0, 2.5, 0.04, 180.0, 12.0, 0.05 + 3 * 0.03, 100.0)
    assert round_s(cpu, wc, 4) == pytest.approx(0.05 + 4 * 3 * 0.03, rel=1e-12)


def test_capacity_is_the_largest_edge_count_within_the_objective():
    cpu = Pricer(per_call(0.02, 0.05, 0.03), LINK)
    wc = Workload("qs", 2.0, 2.5, 0.04, 180.0, 12.0, 0.05 + 3 * 0.03, 100.0)
    for objective in (0.05, 0.08, 0.2, 1.0):
        n = capacity(cpu, wc, objective, max_batch=8)
        lat = lambda k: point(cpu, wc, k, 8)["latency_per_token_s"]  # noqa: E731
        assert (n == 0 and lat(1) > objective) or (lat(n) <= objective < lat(n + 1))
    assert capacity(cpu, wc, 1e-6) == 0


def test_latency_and_cost_move_the_right_way_with_more_edges():
    pricer = Pricer(make_profile("orin-nano-super+h100-sxm", SLM, LLM), LINK)
    w = sd_workload(pricer)
    ar = Workload.autoregressive(24, 120.0)
    rows = capacity_rows(pricer, [w], ar, 0.05, 256)
    assert {r["scheme"] for r in rows} == {"k-sqs", *AR_MODES, *BASELINES}
    assert {r["workload"] for r in rows if r["scheme"] == "server-only"} == {"k-sqs"}
    for name in ("k-sqs", *AR_MODES, "server-only", "ar-static"):
        mine = [r for r in rows if r["scheme"] == name]
        lat = [r["latency_per_token_s"] for r in mine]
        cost = [r["cloud_s_per_1k_tokens"] for r in mine]
        assert lat == sorted(lat) and cost == sorted(cost, reverse=True)  # batching amortizes the weights
        assert all(0 < r["cloud_busy"] <= 1 for r in mine)
    # verifying 2.5 tokens a round costs the GPU less per token than one token a round, where the protocol's host
    # work does not dominate (here: none)
    bare = Workload("k-sqs", 2.0, 2.5, w.edge_s, 180.0, 12.0, pricer.cloud_forward_s(3, 120), 120.0)
    sd1 = point(pricer, bare, 1)
    ar1 = next(r for r in rows if r["scheme"] == "ar-streamed" and r["edges"] == 1)
    assert sd1["cloud_s_per_1k_tokens"] < 0.5 * ar1["cloud_s_per_1k_tokens"]
    out = capacity_ratio(pricer, [w], ar, 0.05, 256)
    assert out["scheme"] == "k-sqs" and math.isfinite(out["capacity_vs_ar"]) and out["ar_capacity"] > 0


def test_a_saturated_cloud_serves_full_rounds_back_to_back():
    cpu = Pricer(per_call(0.02, 0.05, 0.03), LINK)
    wc = Workload("qs", 2.0, 2.5, 0.001, 0.0, 0.0, 0.05 + 3 * 0.03, 100.0)
    p = point(cpu, wc, 64, max_batch=8)
    assert p["round_sessions"] == pytest.approx(8.0) and p["cloud_busy"] == pytest.approx(1.0)
    assert p["system_tokens_per_s"] == pytest.approx(8 * 2.5 / round_s(cpu, wc, 8), rel=1e-6)


def test_a_shared_machine_stretches_compute_to_the_cores_it_has():
    """On one machine the edges' drafting and the cloud's rounds share the cores: the cycle grows until the
    compute a second asks for is what the cores give."""
    pr = Pricer(per_call(0.02, 0.05, 0.03), LinkConfig(uplink_bps=1e12, downlink_bps=None, propagation_s=0.0))
    w = Workload("qs", 2.0, 2.5, 0.1, 0.0, 0.0, 0.05 + 3 * 0.03, 100.0)
    machine = SharedMachine(cores=2, cloud_threads=2)
    alone, shared = point(pr, w, 8), point(pr, w, 8, machine=machine)
    assert shared["cycle_s"] > alone["cycle_s"]
    rate, b = 8 / shared["cycle_s"], shared["round_sessions"]
    demand = rate * (w.edge_s + round_s(pr, w, b) * machine.cloud_threads / b)
    assert demand == pytest.approx(machine.cores, rel=1e-3)
    assert point(pr, w, 1, machine=machine)["cycle_s"] == pytest.approx(point(pr, w, 1)["cycle_s"])


def test_a_cloud_on_cores_of_its_own_keeps_its_rounds_while_the_edges_stretch():
    """Pinned apart, the edges share their cores alone: their drafting stretches until it asks for what those
    cores give, and the cloud's round is priced unstretched."""
    pr = Pricer(per_call(0.02, 0.05, 0.03), LinkConfig(uplink_bps=1e12, downlink_bps=None, propagation_s=0.0))
    w = Workload("qs", 2.0, 2.5, 0.1, 0.0, 0.0, 0.05 + 3 * 0.03, 100.0)
    machine = SharedMachine(cores=1, cloud_threads=1, cloud_apart=True)
    got = point(pr, w, 8, machine=machine)
    assert got["cycle_s"] > point(pr, w, 8)["cycle_s"]
    b = got["round_sessions"]
    assert got["round_s"] == pytest.approx(round_s(pr, w, b), rel=1e-12)
    assert 8 / got["cycle_s"] * w.edge_s == pytest.approx(machine.cores, rel=1e-3)
    shared = point(pr, w, 8, machine=SharedMachine(cores=1, cloud_threads=1))
    assert shared["cycle_s"] > got["cycle_s"]  # the same core also running the cloud: slower still


def test_pinning_is_checked_before_anything_runs():
    import os

    from sqs.net.study import pinning

    cpus = sorted(os.sched_getaffinity(0))
    assert pinning(None, None) == ([], [])
    with pytest.raises(ValueError, match="give both"):
        pinning([cpus[0]], None)
    with pytest.raises(ValueError, match=r"CPUs \[4096\] are not available"):
        pinning([cpus[0]], [4096])
    with pytest.raises(ValueError, match="overlap"):
        pinning([cpus[0]], [cpus[0]])
    if len(cpus) > 1:
        assert pinning([cpus[1]], [cpus[0]]) == ([cpus[1]], [cpus[0]])


def test_the_anchors_baselines_price_what_they_name():
    """Server-only SD: its drafts and verification on the cloud's accelerator, no link but a request's round trip;
    static batching: continuous batching's round, stretched to the longest of the batch (equal for one request);
    edge-only: the SLM's step on the edge, the cloud untouched."""
    pricer = Pricer(make_profile("orin-nano-super+h100-sxm", SLM, LLM), LINK)
    w, ar = sd_workload(pricer), Workload.autoregressive(24, 120.0)
    so = point(pricer, w, 1, mode="server-only")
    h100_slm = make_profile("h100-sxm+h100-sxm", SLM, LLM).edge.forward_s(1, 120)
    alone = 2 * h100_slm + pricer.cloud_batch_s(1, 3, 120)
    assert so["round_s"] == pytest.approx(alone, rel=1e-12)
    assert so["latency_per_token_s"] == pytest.approx(alone / 2.5 + 0.02 / 24, rel=1e-12)
    assert so["cloud_s_per_1k_tokens"] == pytest.approx(1000 * alone / 2.5, rel=1e-12)
    tree = Workload("tree", 8.0, 3.0, 0.0, 0.0, 0.0, 0.0, 120.0, 24.0, draft_calls=2, draft_width=4)
    assert point(pricer, tree, 1, mode="server-only")["round_s"] == pytest.approx(
        2 * make_profile("h100-sxm+h100-sxm", SLM, LLM).edge.forward_s(4, 120) + pricer.cloud_batch_s(1, 9, 120))
    streamed = [point(pricer, ar, n, 256, "ar-streamed")["latency_per_token_s"] for n in (1, 8, 64)]
    static = [point(pricer, ar, n, 256, "ar-static")["latency_per_token_s"] for n in (1, 8, 64)]
    assert static[0] == pytest.approx(streamed[0], rel=1e-12)
    once = 0.02 / 24  # a request's round trip, per token
    assert static[1] - once == pytest.approx((streamed[1] - once) * 16 / 9, rel=1e-12)  # E[max of 8] / mean
    assert static[2] - once == pytest.approx((streamed[2] - once) * 128 / 65, rel=1e-12)
    edge = point(pricer, ar, 64, 256, "edge-only")
    assert edge["latency_per_token_s"] == pricer.edge_forward_s(1, 120) and edge["cloud_s_per_1k_tokens"] == 0.0
    assert capacity(pricer, ar, 1.0, 256, "edge-only") == 1 << 16 and capacity(pricer, ar, 1e-4, 256, "edge-only") == 0
    with pytest.raises(ValueError, match="unknown capacity mode 'ar-batched'; valid: sd, ar-streamed"):
        point(pricer, ar, 1, mode="ar-batched")


def test_server_only_is_priced_for_chains_only():
    """A tree's trace totals count its nodes, not its SLM calls: server-only SD is not priced from them (each node
    as a call would overcharge it); a chain's, or a workload naming its calls, is."""
    pricer = Pricer(make_profile("orin-nano-super+h100-sxm", SLM, LLM), LINK)
    chain, ar = sd_workload(pricer), Workload.autoregressive(24, 120.0)
    tree = Workload("tree", 6.0, 3.0, chain.edge_s, 60.0, 12.0, chain.cloud_s, 120.0)
    named = Workload("tree", 6.0, 3.0, chain.edge_s, 60.0, 12.0, chain.cloud_s, 120.0, draft_calls=2, draft_width=3)
    from sqs.system.capacity import server_only_candidates

    assert server_only_candidates([chain, tree, named]) == [chain, named]
    rows = capacity_rows(pricer, [tree], ar, 0.05, 256)
    assert "server-only" not in {r["scheme"] for r in rows}
    assert capacity_ratio(pricer, [tree], ar, 0.05, 256)["server-only_capacity"] == 0


def test_the_rows_and_the_ratio_are_the_model_read_once_per_mode():
    """Every row of capacity_rows is point() of its mode at its count, with that mode's capacity, the fused
    capacity for a scheme's own rows, the think time where an edge thinks; capacity_ratio reads each baseline."""
    from dataclasses import replace

    from sqs.system.capacity import think_s

    pricer = Pricer(make_profile("orin-nano-super+h100-sxm", SLM, LLM), LINK)
    short, ar = sd_workload(pricer), Workload.autoregressive(24, 120.0)
    long = replace(sd_workload(pricer, drafts=3.0, tokens=3.2), scheme="c-sqs")
    rows = capacity_rows(pricer, [short, long], ar, 0.05, 256, counts=(1, 8, 300))
    modes = {"k-sqs": ("sd", short), "c-sqs": ("sd", long), "ar-streamed": ("ar-streamed", ar),
             "ar-per-token": ("ar-per-token", ar), "ar-static": ("ar-static", ar), "edge-only": ("edge-only", ar)}
    so = max((short, long), key=lambda w: (capacity(pricer, w, 0.05, 256, "server-only"), w.tokens))
    modes["server-only"] = ("server-only", so)
    assert len(rows) == 3 * len(modes)
    for r in rows:
        mode, w = modes[r["scheme"]]
        assert r["workload"] == w.scheme and r["mean_draft_len"] == w.drafts and r["tokens_per_batch"] == w.tokens
        p = point(pricer, w, r["edges"], 256, mode)
        assert {k: r[k] for k in p} == p
        assert r["capacity"] == capacity(pricer, w, 0.05, 256, mode)
        fused = capacity(pricer, replace(w, cloud_s=0.0), 0.05, 256, mode) if mode == "sd" else r["capacity"]
        assert r["capacity_verified_on_accelerator"] == fused
        assert r["think_s"] == (think_s(pricer, w) if mode in ("sd", "ar-per-token") else 0.0)
    assert any(r["capacity_verified_on_accelerator"] > r["capacity"] for r in rows if r["scheme"] == "k-sqs")
    out = capacity_ratio(pricer, [short, long], ar, 0.05, 256)
    best = max(capacity(pricer, w, 0.05, 256) for w in (short, long))
    static = capacity(pricer, ar, 0.05, 256, "ar-static")
    server = max(capacity(pricer, w, 0.05, 256, "server-only") for w in (short, long))
    assert out["capacity"] == best and out["ar-static_capacity"] == static and out["server-only_capacity"] == server
    assert out["capacity_vs_ar_static"] == best / static and out["capacity_vs_server_only"] == best / server
    assert out["ar-streamed_capacity"] == capacity(pricer, ar, 0.05, 256, "ar-streamed")
    assert out["capacity_vs_ar"] == best / max(out["ar-streamed_capacity"], out["ar-per-token_capacity"])
    none = capacity_ratio(pricer, [short], ar, 1e-4, 256)  # nothing within 0.1 ms a token
    assert none["scheme"] == "none" and math.isnan(none["capacity_vs_ar"]) and math.isnan(none["capacity_vs_ar_static"])


def test_streams_beyond_a_round_take_turns_and_a_one_token_request_pays_its_round_trip():
    pricer = Pricer(make_profile("orin-nano-super+h100-sxm", SLM, LLM), LINK)
    ar = Workload.autoregressive(24, 120.0)
    over = point(pricer, ar, 300, mode="ar-streamed")  # the default rounds of 256: two groups of 150
    assert over["round_sessions"] == 150 and over["round_s"] == pytest.approx(pricer.cloud_batch_s(150, 1, 120))
    assert point(pricer, ar, 512, mode="ar-streamed")["round_sessions"] == 256
    one = Workload.autoregressive(1, 120.0)
    assert point(pricer, one, 1, mode="ar-streamed")["latency_per_token_s"] == pytest.approx(
        pricer.cloud_batch_s(1, 1, 120) + 0.02, rel=1e-12)  # fmt: skip
    edge = point(pricer, ar, 4, mode="edge-only")
    assert edge["round_s"] == 0.0 and edge["round_sessions"] == 0.0 and edge["cloud_busy"] == 0.0
    static, streamed = point(pricer, ar, 8, mode="ar-static"), point(pricer, ar, 8, mode="ar-streamed")
    assert static["cloud_s_per_1k_tokens"] == pytest.approx(streamed["cloud_s_per_1k_tokens"] * 16 / 9, rel=1e-12)
    from sqs.system.capacity import server_only_candidates

    stranger = Workload("my-own-rule", 2.0, 2.5, 0.0, 0.0, 0.0, 0.0, 120.0)  # not registered: a chain
    assert server_only_candidates([stranger]) == [stranger]


def test_the_remaining_edges_of_the_model():
    """AR's workload asks nothing of the edge and gets one verdict a token; a one-core host runs one session's
    protocol once; the default rounds hold 256 streams; server-only runs the chain of most server-only capacity
    (not the one of most edge capacity); capacity_ratio reads the rounds it is given."""
    from dataclasses import replace

    from sqs.protocol import wire

    ar = Workload.autoregressive(24, 120.0)
    assert (ar.scheme, ar.drafts, ar.tokens, ar.edge_s, ar.cloud_s) == ("ar", 0.0, 1.0, 0.0, 0.0)
    assert ar.downlink_bytes == wire.DOWNLINK_BYTES
    cpu = Pricer(per_call(0.02, 0.05, 0.03), LINK)
    wc = Workload("qs", 2.0, 2.5, 0.04, 180.0, 12.0, 0.2, 100.0)  # 0.06 s of protocol beyond the forward
    assert round_s(cpu, wc, 1) == pytest.approx(0.2, rel=1e-12)
    assert round_s(cpu, wc, 2) == pytest.approx(0.2 + 3 * 0.03 + 0.06, rel=1e-12)
    pricer = Pricer(make_profile("orin-nano-super+h100-sxm", SLM, LLM), LINK)
    assert point(pricer, ar, 257, mode="ar-streamed")["round_sessions"] == 129  # two groups: 129 and 128
    short = sd_workload(pricer)
    slow_edge = replace(sd_workload(pricer, drafts=3.0, tokens=3.9), scheme="c-sqs", edge_s=0.14)
    assert capacity(pricer, short, 0.05, 256) > capacity(pricer, slow_edge, 0.05, 256)
    assert capacity(pricer, slow_edge, 0.05, 256, "server-only") > capacity(pricer, short, 0.05, 256, "server-only")
    rows = capacity_rows(pricer, [short, slow_edge], ar, 0.05, 256, counts=(1,))
    assert next(r for r in rows if r["scheme"] == "server-only")["workload"] == "c-sqs"
    small = capacity_ratio(pricer, [short], ar, 0.05, 8)
    assert small["capacity"] == capacity(pricer, short, 0.05, 8) != capacity(pricer, short, 0.05, 256)
    assert small["server-only_capacity"] == capacity(pricer, short, 0.05, 8, "server-only")

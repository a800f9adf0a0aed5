import numpy as np
import pytest

import sqs
from sqs.models.toy import random_pair
from sqs.system.cloud import Cloud
from sqs.system.edge import Edge
from sqs.system.latency import LinkConfig
from sqs.system.pricing import Pricer
from sqs.system.session import run_session


def test_batch_latency_components():
    link = LinkConfig(
        uplink_bps=1000.0, downlink_bps=4000.0, propagation_s=0.5, edge_time_scale=2.0, cloud_time_scale=0.5
    )
    lat = Pricer(link=link).batch(
        edge_model_s=1.0, edge_protocol_s=0.25, uplink_bytes=100, cloud_s=2.0, downlink_bytes=10
    )
    assert lat.edge_s == pytest.approx(2.5)
    assert lat.protocol_s == pytest.approx(0.5)
    assert lat.uplink_s == pytest.approx(0.8)
    assert lat.downlink_s == pytest.approx(0.02)
    assert lat.cloud_s == pytest.approx(1.0)
    assert lat.total_s == pytest.approx(2.5 + 0.8 + 0.5 + 1.0 + 0.02)


@pytest.mark.parametrize("field", ["uplink_bps", "downlink_bps", "edge_time_scale", "cloud_time_scale"])
def test_link_config_rejects_non_positive(field):
    with pytest.raises(ValueError, match=field):
        LinkConfig(**{field: 0.0})


def test_session_latency_adds_up_and_uses_whole_messages():
    slm, llm = random_pair(32, np.random.default_rng(0))
    link = LinkConfig(uplink_bps=1e4, downlink_bps=1e5, propagation_s=0.01)
    edge = Edge(slm, sqs.make_scheme("k-sqs", k=4, ell=20), 1.0, 400, 6, np.random.default_rng(1))
    res = run_session(edge, Cloud(llm, 1.0, np.random.default_rng(2)), [0], 30, link)
    s = res.summary()
    parts = ("edge_s", "uplink_s", "propagation_s", "cloud_s", "downlink_s")
    assert s["latency_s"] == pytest.approx(sum(s[f"latency_{p}"] for p in parts))
    assert s["latency_uplink_s"] == pytest.approx(8 * s["uplink_bytes"] / 1e4)
    assert s["latency_propagation_s"] == pytest.approx(0.01 * s["n_batches"])
    assert s["tokens_per_s"] == pytest.approx(30 / s["latency_s"])
    assert 0 < s["protocol_share_of_edge"] <= 1


def test_the_paper_link_charges_neither_propagation_nor_the_downlink():
    from sqs.system.latency import LINK_PRESETS, link_config

    paper = link_config({"preset": "paper"})
    assert paper == LINK_PRESETS["paper"] == link_config("paper")
    assert (paper.uplink_bps, paper.downlink_bps, paper.propagation_s) == (2e6, None, 0.0)
    lat = Pricer(link=paper).batch(
        edge_model_s=1.0, edge_protocol_s=0.0, uplink_bytes=250, cloud_s=2.0, downlink_bytes=10
    )
    assert (lat.uplink_s, lat.propagation_s, lat.downlink_s) == (pytest.approx(1e-3), 0.0, 0.0)
    assert lat.total_s == pytest.approx(1.0 + 1e-3 + 2.0)  # SLM compute + uplink bits / rate + cloud verification
    assert link_config({"preset": "paper", "uplink_bps": 1e6}).uplink_bps == 1e6  # a key overrides the preset
    with pytest.raises(ValueError, match="unknown link preset 'fast'; valid: paper"):
        link_config({"preset": "fast"})
    with pytest.raises(ValueError, match=r"unknown link keys \['rate'\]"):
        link_config({"rate": 1})


def test_one_pricer_prices_shapes_by_the_profile_and_refuses_an_unpriced_scheme():
    from sqs.system.compute import DEVICES, PROFILES, make_profile, per_call

    assert "h100-pcie+h100-sxm" in PROFILES and len([p for p in PROFILES if "+" in p]) == len(DEVICES) ** 2
    prof = make_profile("orin-nano+h100-pcie", "embedded:qwen2.5-coder-0.5b-instruct",
                        "embedded:qwen2.5-coder-1.5b-instruct")  # fmt: skip
    link = LinkConfig(uplink_bps=1e6, downlink_bps=1e7, propagation_s=0.01, edge_time_scale=9.0)
    pricer = Pricer(prof, link)
    lat = pricer.priced_batch("k-sqs", [(1, 10), (1, 11)], [16, 16], (3, 10), [16, 16], 100, 10)
    edge = prof.edge.forward_s(1, 10) + prof.edge.forward_s(1, 11) + 2 * prof.edge.protocol_s("k-sqs", 16)
    assert lat.edge_s == pytest.approx(edge)  # a profile models the device: the wall clock's factor is not applied
    assert lat.total_s == pytest.approx(edge + 8e-4 + 0.01 + prof.cloud.forward_s(3, 10)
                                        + 2 * prof.cloud.protocol_s("k-sqs", 16) + 8e-6)  # fmt: skip
    with pytest.raises(ValueError, match="no protocol price for scheme 'min-q'"):
        pricer.edge_protocol_s("min-q", 4)
    assert Pricer(per_call(0.1, 0.2), link).edge_protocol_s("min-q", 4) == 0.0  # fitted prices: no protocol table
    with pytest.raises(ValueError, match="wall clock"):
        Pricer(link=link).edge_forward_s(1, 10)
    ar = pricer.ar_stream([(5, 0), (1, 5), (1, 6)])
    assert ar.total_s == pytest.approx(sum(prof.cloud.forward_s(n, c) for n, c in [(5, 0), (1, 5), (1, 6)])
                                       + 0.01 + 3 * 8 * 10 / 1e7)  # fmt: skip

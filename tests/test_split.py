"""Split verification (DSSD): the id and q_hat(x) up, the logits down after a rejection, the edge's own draw."""

import math

import numpy as np
import pytest

import sqs
from sqs.models.toy import random_pair
from sqs.protocol import wire
from sqs.protocol.enumerative import bits_for
from sqs.system.cloud import Cloud
from sqs.system.compute import make_profile
from sqs.system.edge import Edge
from sqs.system.latency import LinkConfig
from sqs.system.pricing import Pricer
from sqs.system.session import run_session

V = 64
PROFILE = make_profile("orin-nano-super+h100-sxm", "embedded:qwen2.5-coder-0.5b-instruct",
                       "embedded:qwen2.5-coder-1.5b-instruct")  # fmt: skip
LINK = LinkConfig(uplink_bps=2e6, propagation_s=0.01, downlink_bps=1e7)


def _session(seed: int = 0, tokens: int = 40):
    slm, llm = random_pair(V, np.random.default_rng(seed), 0.3)
    edge = Edge(slm, sqs.make_scheme("split"), 1.0, 5000, 4, np.random.default_rng([seed, 1]))
    cloud = Cloud(llm, 1.0, np.random.default_rng([seed, 2]))
    return edge, cloud, run_session(edge, cloud, [0], tokens, link=LINK, compute=PROFILE)


def test_a_split_session_pays_each_rejection_on_the_downlink_and_the_edge():
    """Per batch: ceil(log2 V) + 64 bits a draft up, nothing for the carried token (the header's K slot); after a
    rejection the logits (float64 here: the toy's are not float32 values) down and one more protocol draw on
    the edge, priced as a draft's; else the 10-byte verdict. The cloud learns the edge's draw with the next
    uplink, so it lacks at most the last token."""
    edge, cloud, res = _session()
    pricer = Pricer(PROFILE, LINK)
    price = pricer.edge_protocol_s("split", V)
    rejected = [b for b in res.batches if b.resampled]
    assert rejected and len(rejected) < len(res.batches)  # both kinds of verdict occur
    for b in res.batches:
        assert b.payload_bits == b.num_drafts * (bits_for(V) + 64)
        assert b.uplink_bytes == wire.UPLINK_HEADER_BYTES + math.ceil(b.payload_bits / 8)
        assert b.downlink_bytes == (wire.logits_downlink_bytes(V, 8) if b.resampled else wire.DOWNLINK_BYTES)
        assert b.latency.protocol_s == pytest.approx((b.num_drafts + b.resampled) * price, rel=1e-12)
        assert b.latency.downlink_s == pytest.approx(8 * b.downlink_bytes / LINK.downlink_bps, rel=1e-12)
    assert len(res.tokens) == 40
    assert edge.tokens[: len(cloud.tokens)] == cloud.tokens and len(edge.tokens) - len(cloud.tokens) == cloud.awaiting


def test_the_cloud_and_the_edge_refuse_a_split_exchange_out_of_turn():
    """After a rejection the next uplink must carry the edge's token, and only then; logits come down only
    after a split rejection, for the receiver's V."""
    slm, llm = random_pair(8, np.random.default_rng(1), 0.3)
    scheme = sqs.make_scheme("split")
    comp = scheme.compress(np.full(8, 1 / 8))
    cloud = Cloud(llm, 1.0, np.random.default_rng(0))
    cloud.start([0])
    with pytest.raises(wire.WireFormatError, match=r"must carry the edge's token, and only then \(carried 3, "):
        cloud.handle(wire.encode_uplink(scheme.code, 8, 0, 0, [(comp, 1)], carried=3))
    cloud.awaiting = True
    with pytest.raises(wire.WireFormatError, match=r"\(carried None, awaiting True\)$"):
        cloud.handle(wire.encode_uplink(scheme.code, 8, 0, 0, [(comp, 1)]))
    before = list(cloud.tokens)
    cloud.handle(wire.encode_uplink(scheme.code, 8, 0, 0, [], carried=5))  # no drafts: the carried token, then p
    assert cloud.tokens[: len(before) + 1] == [*before, 5]
    with pytest.raises(ValueError, match=r"^a carried token \(2\) goes up only under split verification"):
        wire.encode_uplink(sqs.make_scheme("tokens").code, 8, 0, 0, [], carried=2)

    for name in ("tokens", "split"):
        edge = Edge(slm, sqs.make_scheme(name), 1.0, 5000, 2, np.random.default_rng(0))
        edge.start([0])
        batch = edge.draft(wanted=5)
        logits = wire.encode_logits_downlink(0, np.zeros(8))
        if name == "tokens":  # a scheme that never splits its verification gets no logits
            with pytest.raises(wire.WireFormatError, match=r"^downlink accepts 0 of 2 drafts, token None$"):
                edge.receive(logits, batch)
            continue
        with pytest.raises(wire.WireFormatError, match=r"split verification sends logits after a rejection"):
            edge.receive(wire.encode_downlink(0, 3), batch)  # a rejection answered with a token
        with pytest.raises(wire.WireFormatError, match=r"split verification sends logits after a rejection"):
            edge.receive(wire.encode_logits_downlink(2, np.zeros(8)), batch)  # logits though every draft passed
        with pytest.raises(wire.WireFormatError, match=r"^logits for V=9, this receiver's vocabulary has V=8$"):
            edge.receive(wire.encode_logits_downlink(0, np.zeros(9)), batch)
        n, token = edge.receive(logits, batch)
        assert n == 0 and edge.carried == token and edge.tokens[-1] == token


def test_the_edges_draw_after_a_rejection_follows_the_residual():
    """verify_split + the edge's resample give verify's law for one draft: the emitted token's frequencies over
    20,000 rounds against max(p - q, 0) mixed with the accepted draft, to 5 binomial sd."""
    from sqs.protocol.verify import resample, verify_split

    rng = np.random.default_rng(2)
    q = np.array([0.5, 0.3, 0.15, 0.05])
    p = np.array([0.1, 0.2, 0.3, 0.4])
    want = np.minimum(q, p) + (1 - np.minimum(q, p).sum()) * np.maximum(p - q, 0) / np.maximum(p - q, 0).sum()
    counts = np.zeros(4)
    for _ in range(20_000):
        x = rng.choice(4, p=q)
        n, _ = verify_split([x], [q[x]], np.stack([p, p]), rng)
        counts[x if n == 1 else resample(p, q, rng)] += 1
    sd = np.sqrt(want * (1 - want) / 20_000)
    assert np.all(np.abs(counts / 20_000 - want) <= 5 * sd)
    with pytest.raises(ValueError, match=r"^draft token 1 at position 0 has q_hat = 0.0: it cannot have been sampled$"):
        verify_split([1], [0.0], np.stack([p, p]), rng)


def test_split_verification_refuses_mismatched_inputs_by_name():
    from sqs.protocol.verify import verify_split

    p = np.full((3, 4), 0.25)
    rng = np.random.default_rng(0)
    for q_values, rows, shape in (([0.5, 0.5], p[:2], r"\(2, 4\), 2"), ([0.5], p, r"\(3, 4\), 1"),
                                  ([0.5, 0.5], p[0], r"\(4,\), 2")):  # fmt: skip
        with pytest.raises(ValueError, match=rf"^need p \(L\+1, V\) and L q values for L=2 drafts, got {shape}$"):
            verify_split([0, 1], q_values, rows, rng)

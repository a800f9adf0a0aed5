import struct
import zlib

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.conftest import TOY_SCHEMES

import sqs
from sqs import wire
from sqs.protocol.enumerative import bits_for

# every scheme (conftest's list follows the registry) on a finer lattice: longer lattice indices
SCHEMES = [(name, {**params, "ell": 30} if "ell" in params else params) for name, params in TOY_SCHEMES]


def make_batch(name, params, v, n, seed):
    g = np.random.default_rng(seed)
    scheme = sqs.make_scheme(name, **params)
    drafts = []
    for _ in range(n):
        q = g.dirichlet(np.full(v, 0.3))
        c = scheme.compress(q)
        drafts.append((c, c.sample(g)))
    return scheme, drafts


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(SCHEMES), st.integers(5, 300), st.integers(0, 12), st.integers(0, 2**32))
def test_roundtrip_every_scheme(scheme_params, v, n, seed):
    name, params = scheme_params
    scheme, drafts = make_batch(name, params, v, n, seed)
    msg = wire.encode_uplink(scheme.code, v, scheme.ell, scheme.fixed_k, drafts)
    payload_bits = sum(c.bits for c, _ in drafts)
    assert len(msg) == wire.UPLINK_HEADER_BYTES + (payload_bits + 7) // 8
    out = wire.decode_uplink(msg)
    assert out.payload_bits == payload_bits and out.num_bytes == len(msg)
    assert out.header.num_drafts == n and out.header.vocab_size == v
    for (c, tok), d in zip(drafts, out.drafts, strict=True):
        assert d.token == tok
        np.testing.assert_array_equal(d.support, c.support)
        np.testing.assert_array_equal(d.q_hat, c.q_hat)  # bit-identical distribution


def test_paper_scale_roundtrip():
    for v in (50257, 49152):
        for name, params in [("k-sqs", {"k": 512, "ell": 100}), ("dense", {"ell": 100})]:
            scheme, drafts = make_batch(name, params, v, 2, 7)
            out = wire.decode_uplink(wire.encode_uplink(scheme.code, v, scheme.ell, scheme.fixed_k, drafts))
            for (c, tok), d in zip(drafts, out.drafts, strict=True):
                assert d.token == tok
                np.testing.assert_array_equal(d.q_hat, c.q_hat)


@pytest.fixture(scope="module")
def message():
    scheme, drafts = make_batch("c-sqs", SCHEMES[2][1], 200, 6, 3)
    return wire.encode_uplink(scheme.code, 200, scheme.ell, 0, drafts)


def test_truncated_messages_raise(message):
    for cut in range(len(message)):
        with pytest.raises(wire.WireFormatError):
            wire.decode_uplink(message[:cut])


def test_oversized_message_raises(message):
    with pytest.raises(wire.WireFormatError):
        wire.decode_uplink(message + b"\x00")


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_fuzzed_messages_raise(message, data):
    buf = bytearray(message)
    flips = data.draw(st.lists(st.integers(0, 8 * len(buf) - 1), min_size=1, max_size=8, unique=True))
    for bit in flips:
        buf[bit // 8] ^= 0x80 >> (bit % 8)
    with pytest.raises(wire.WireFormatError):
        wire.decode_uplink(bytes(buf))


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=80))
def test_random_bytes_raise(blob):
    with pytest.raises(wire.WireFormatError):
        wire.decode_uplink(blob)


def forge(head_fields, payload_writer):
    """A message with a valid checksum but chosen contents: the decoder must still validate fields."""
    head = struct.pack(">BBIHIH", *head_fields)
    w = wire.BitWriter()
    payload_writer(w)
    payload = w.to_bytes()
    return head + struct.pack(">I", zlib.crc32(payload, zlib.crc32(head))) + payload


@pytest.mark.parametrize(
    "fields,writer,match",
    [
        # k-sqs over V=10, K=3, ell=4: subset index past C(10,3)=120 (field is 7 bits)
        ((0xC5, 0x11, 10, 4, 3, 1), lambda w: (w.write(127, 7), w.write(0, 4), w.write(0, 0)), "subset index"),
        # lattice index past C(6,2)=15 (field is 4 bits: 15 is out of range)
        ((0xC5, 0x11, 10, 4, 3, 1), lambda w: (w.write(0, 7), w.write(15, 4)), "lattice index"),
        # c-sqs: K - 1 = 10 means K = 11 > V = 10
        ((0xC5, 0x12, 10, 4, 0, 1), lambda w: w.write(10, 4), "support size"),
        # token position beyond the non-zero counts: counts (4,0,0) have one non-zero -> 0-bit field,
        # so use counts index 1 = (3,1,0): two non-zero, position field 1 bit; then 8 padding bits extra
        (
            (0xC5, 0x11, 10, 4, 3, 1),
            lambda w: (w.write(0, 7), w.write(1, 4), w.write(1, 1), w.write(0, 8)),
            "oversized",
        ),
        ((0xC5, 0x31, 10, 4, 3, 1), lambda w: None, "version"),
        ((0xC5, 0x19, 10, 4, 3, 1), lambda w: None, "scheme code"),
        ((0xC5, 0x11, 10, 4, 11, 1), lambda w: None, "K=11"),
        ((0xC5, 0x10, 10, 0, 0, 0), lambda w: None, "ell = 0"),
        ((0xC5, 0x12, 10, 4, 3, 0), lambda w: None, "without a fixed K"),
        ((0xC5, 0x11, 10, 4, 3, 2), lambda w: (w.write(0, 7), w.write(0, 4)), "truncated"),
        ((0xAA, 0x11, 10, 4, 3, 0), lambda w: None, "magic"),
    ],
)
def test_forged_messages_with_valid_checksum_raise(fields, writer, match):
    with pytest.raises(wire.WireFormatError, match=match):
        wire.decode_uplink(forge(fields, writer))


def test_forged_float32_zero_probability_token():
    v = 4
    weights = np.array([0.5, 0.5, 0.0, 0.0], dtype=">f4")

    def writer(w):
        w.write(int.from_bytes(weights.tobytes(), "big"), 32 * v)
        w.write(2, bits_for(v))

    with pytest.raises(wire.WireFormatError, match="zero probability"):
        wire.decode_uplink(forge((0xC5, 0x14, v, 0, 0, 1), writer))


def test_empty_batch_roundtrip():
    msg = wire.encode_uplink(1, 100, 10, 3, [])
    out = wire.decode_uplink(msg)
    assert out.drafts == [] and out.q_hat().shape == (0, 100) and len(msg) == wire.UPLINK_HEADER_BYTES


def test_downlink_roundtrip_and_errors():
    msg = wire.encode_downlink(5, 50256)
    assert len(msg) == wire.DOWNLINK_BYTES
    assert wire.decode_downlink(msg) == (5, 50256)
    for cut in range(len(msg)):
        with pytest.raises(wire.WireFormatError):
            wire.decode_downlink(msg[:cut])
    for i in range(len(msg)):
        bad = bytearray(msg)
        bad[i] ^= 0x01
        with pytest.raises(wire.WireFormatError):
            wire.decode_downlink(bytes(bad))


def test_encoder_refuses_inconsistent_batches():
    scheme, drafts = make_batch("k-sqs", {"k": 4, "ell": 30}, 50, 2, 0)
    with pytest.raises(ValueError, match="K=5"):
        wire.encode_uplink(scheme.code, 50, 30, 5, drafts)
    with pytest.raises(ValueError, match="ell"):
        wire.encode_uplink(scheme.code, 50, 31, 4, drafts)
    c, _ = drafts[0]
    zero_tok = int(np.flatnonzero(c.q_hat == 0)[0])
    with pytest.raises(ValueError, match="zero probability"):
        wire.encode_uplink(scheme.code, 50, 30, 4, [(c, zero_tok)])

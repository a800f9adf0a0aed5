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


def _f64(x: float) -> int:
    return int.from_bytes(struct.pack(">d", x), "big")


def make_batch(name, params, v, n, seed):
    g = np.random.default_rng(seed)
    scheme = sqs.make_scheme(name, **params)
    drafts = []
    for i in range(n):
        q = g.dirichlet(np.full(v, 0.3))
        c = scheme.node(q, i) if name == "tree" else scheme.compress(q)  # a tree's node i: its parent field
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
    assert out.sends_q_hat == (name not in ("tokens", "split", "tree")) and out.header.carried is None
    for (c, tok), d in zip(drafts, out.drafts, strict=True):
        assert d.token == tok
        if name in ("tokens", "split", "tree"):  # the id alone, with q_hat(x), or with its parent: nothing of q
            assert d.support.size == 0 and d.counts is None and d.weights is None
            assert d.q_value == (c.q_hat[tok] if name == "split" else None)  # the float64, bit for bit
            assert d.parent == (-1 if name == "tree" else None)  # no parents sent: every node the root's child
            continue
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
        # a valid draft (counts index 1 = (3,1,0), position 1) followed by 8 more bits: oversized
        (
            (0xC5, 0x11, 10, 4, 3, 1),
            lambda w: (w.write(0, 7), w.write(1, 4), w.write(1, 1), w.write(0, 8)),
            "oversized",
        ),
        # token position past the non-zero counts: (2,1,1) is lattice index 10, three non-zero -> a 2-bit field
        ((0xC5, 0x11, 10, 4, 3, 1), lambda w: (w.write(0, 7), w.write(10, 4), w.write(3, 2)),
         r"position 3 out of range \[0, 3\)"),
        ((0xC5, 0x11, 0, 4, 3, 0), lambda w: None, "vocabulary size 0"),
        ((0xC5, 0x11, 10, 4, 0, 0), lambda w: None, r"K=0 outside \[1, V=10\]"),
        ((0xC5, 0x14, 4, 3, 0, 0), lambda w: None, "ell=3 in the header of a float32 message"),
        # c-sqs: K = 7 fits the fewest bits a draft needs (8) but not its own subset and lattice fields (15)
        ((0xC5, 0x12, 10, 4, 0, 1), lambda w: (w.write(6, 4), w.write(0, 4)), "a draft with K=7 needs 15 bits"),
        ((0xC5, 0x31, 10, 4, 3, 1), lambda w: None, "version"),
        ((0xC5, 0x19, 10, 4, 3, 1), lambda w: None, "scheme code"),
        ((0xC5, 0x11, 10, 4, 11, 1), lambda w: None, "K=11"),
        ((0xC5, 0x10, 10, 0, 0, 0), lambda w: None, "ell = 0"),
        ((0xC5, 0x12, 10, 4, 3, 0), lambda w: None, "without a fixed K"),
        ((0xC5, 0x11, 10, 4, 3, 2), lambda w: (w.write(0, 7), w.write(0, 4)), "truncated"),
        ((0xAA, 0x11, 10, 4, 3, 0), lambda w: None, "magic"),
        # token ids alone over V = 10: a 4-bit id; 12 is outside; no ell, no K; three ids need 12 bits
        ((0xC5, 0x16, 10, 0, 0, 1), lambda w: w.write(12, 4), r"^draft token 12 outside V=10$"),
        ((0xC5, 0x16, 10, 0, 0, 1), lambda w: w.write(10, 4), r"^draft token 10 outside V=10$"),
        ((0xC5, 0x16, 10, 3, 0, 0), lambda w: None, r"^ell=3 in the header of a tokens message \(expected 0\)$"),
        ((0xC5, 0x16, 10, 0, 2, 0), lambda w: None, r"^K=2 in the header of a scheme without a fixed K$"),
        ((0xC5, 0x16, 10, 0, 0, 3), lambda w: w.write(3, 4), r"shorter than 3 drafts need \(12 bits\)"),
        # split verification over V = 10: a 4-bit id and q_hat(x) as a float64; the K slot carries 1 + a token
        ((0xC5, 0x17, 10, 0, 11, 0), lambda w: None, r"^carried token 10 outside V=10$"),
        ((0xC5, 0x17, 10, 2, 0, 0), lambda w: None, r"^ell=2 in the header of a split message \(expected 0\)$"),
        ((0xC5, 0x17, 10, 0, 0, 2), lambda w: (w.write(1, 4), w.write(_f64(0.5), 64), w.write(0, 4)),
         r"shorter than 2 drafts need \(136 bits\)"),
        ((0xC5, 0x17, 10, 0, 0, 1), lambda w: (w.write(1, 4), w.write(_f64(0.0), 64)),
         r"^draft token 1 sent with q_hat = 0.0, expected a probability in \(0, 1\]$"),
        ((0xC5, 0x17, 10, 0, 0, 1), lambda w: (w.write(1, 4), w.write(_f64(1.5), 64)), r"q_hat = 1.5"),
        ((0xC5, 0x17, 10, 0, 0, 1), lambda w: (w.write(1, 4), w.write(_f64(float("nan")), 64)), r"q_hat = nan"),
        ((0xC5, 0x17, 10, 0, 0, 1), lambda w: (w.write(10, 4), w.write(_f64(0.5), 64)),
         r"^draft token 10 outside V=10$"),
    ],
)
def test_forged_messages_with_valid_checksum_raise(fields, writer, match):
    with pytest.raises(wire.WireFormatError, match=match):
        wire.decode_uplink(forge(fields, writer))


@pytest.fixture
def unranks(monkeypatch):
    """Every unranking the decoder does (subsets, lattice points): the work the limits exist to bound."""
    calls = []
    for name in ("composition_unrank", "support_from_index"):
        real = getattr(wire, name)
        monkeypatch.setattr(wire, name, lambda *a, _real=real, _name=name: calls.append(_name) or _real(*a))
    return calls


@pytest.mark.parametrize(
    "fields,writer,limits,match",
    [
        ((0xC5, 0x11, 10, 4, 3, 1), lambda w: (w.write(0, 7), w.write(1, 4), w.write(1, 1)),
         wire.DecodeLimits(vocab_size=12), "message for V=10, this receiver's vocabulary has V=12"),
        ((0xC5, 0x11, 10, 4, 5, 1), lambda w: (w.write(0, 8), w.write(1, 4), w.write(1, 1)),
         wire.DecodeLimits(max_support=4), "top-k support size K=5, this receiver accepts at most K=4"),
        ((0xC5, 0x12, 10, 4, 0, 1), lambda w: (w.write(5, 4), w.write(0, 8), w.write(0, 8)),
         wire.DecodeLimits(max_support=4), "support size K=6, this receiver accepts at most K=4"),
        ((0xC5, 0x11, 10, 4, 3, 9), lambda w: [w.write(0, 12) for _ in range(9)],
         wire.DecodeLimits(max_drafts=8), "9 drafts in one message"),
        ((0xC5, 0x11, 10, 40, 3, 1), lambda w: (w.write(0, 7), w.write(0, 10)),
         wire.DecodeLimits(max_ell=30), "ell=40, this receiver accepts at most 30"),
        ((0xC5, 0x11, 10, 4, 3, 1), lambda w: (w.write(0, 7), w.write(1, 4), w.write(1, 1)),
         wire.DecodeLimits(max_work=10.0), "decoding work limit"),
    ],
)
def test_limits_refuse_a_message_before_any_unranking(fields, writer, limits, match, unranks):
    with pytest.raises(wire.WireFormatError, match=match):
        wire.decode_uplink(forge(fields, writer), limits)
    assert unranks == []
    wire.decode_uplink(forge((0xC5, 0x11, 10, 4, 3, 1), lambda w: (w.write(0, 7), w.write(1, 4), w.write(1, 1))))
    assert unranks == ["support_from_index", "composition_unrank"]  # the spy sees a valid message's work


def test_the_work_limit_stops_at_the_draft_that_exceeds_it(unranks):
    """Two drafts, a limit that admits one: the first is decoded, the second refused before its unranking."""
    lay = wire._layout(1)
    one = wire.draft_work(lay, 10, 3, 4)
    msg = forge((0xC5, 0x11, 10, 4, 3, 2), lambda w: [(w.write(0, 7), w.write(1, 4), w.write(1, 1)) for _ in "ab"])
    assert len(wire.decode_uplink(msg, wire.DecodeLimits(max_work=2 * one)).drafts) == 2
    unranks.clear()
    with pytest.raises(wire.WireFormatError, match="decoding work limit"):
        wire.decode_uplink(msg, wire.DecodeLimits(max_work=1.5 * one))
    assert unranks == ["support_from_index", "composition_unrank"]


def test_non_zero_padding_is_refused():
    scheme, drafts = make_batch("k-sqs", {"k": 3, "ell": 6}, 10, 1, 0)
    msg = bytearray(wire.encode_uplink(scheme.code, 10, 6, 3, drafts))
    pad = (-sum(c.bits for c, _ in drafts)) % 8
    assert pad > 0
    msg[-1] |= 1  # the last padding bit
    msg[14:18] = struct.pack(">I", zlib.crc32(bytes(msg[18:]), zlib.crc32(bytes(msg[:14]))))
    with pytest.raises(wire.WireFormatError, match="non-zero padding bits"):
        wire.decode_uplink(bytes(msg))


@pytest.mark.parametrize(
    "weights,match",
    [
        ([0.5, np.nan, 0.5, 0.0], "not a valid probability vector"),
        ([0.5, -0.25, 0.75, 0.0], "not a valid probability vector"),
        ([0.0, 0.0, 0.0, 0.0], "not a valid probability vector"),
        ([0.5, np.inf, 0.5, 0.0], "not a valid probability vector"),
    ],
)
def test_forged_float32_drafts_that_are_not_probability_vectors(weights, match):
    v = len(weights)
    raw = np.array(weights, dtype=">f4")

    def writer(w):
        w.write(int.from_bytes(raw.tobytes(), "big"), 32 * v)
        w.write(0, bits_for(v))

    with pytest.raises(wire.WireFormatError, match=match):
        wire.decode_uplink(forge((0xC5, 0x14, v, 0, 0, 1), writer))


def test_forged_float32_token_outside_the_vocabulary():
    v = 3  # a 2-bit token field: 3 is outside
    raw = np.array([0.5, 0.25, 0.25], dtype=">f4")

    def writer(w):
        w.write(int.from_bytes(raw.tobytes(), "big"), 32 * v)
        w.write(3, bits_for(v))

    with pytest.raises(wire.WireFormatError, match="outside V=3"):
        wire.decode_uplink(forge((0xC5, 0x14, v, 0, 0, 1), writer))


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


def test_logits_downlink_roundtrips_losslessly_and_refuses_forgeries_before_reading_values():
    """Split verification's downlink after a rejection: a model's float32 logits in 4 bytes each, bit for bit
    (-inf, a masked token, kept); float64 ones in 8; any V but the receiver's, any cut, flipped bit, NaN or +inf
    refused."""
    g = np.random.default_rng(3)
    row32 = g.normal(size=1000).astype(np.float32)
    row32[7] = -np.inf
    msg = wire.encode_logits_downlink(3, row32)
    assert len(msg) == wire.logits_downlink_bytes(1000) == 9 + 4 * 1000 + 4
    down = wire.decode_verdict(msg, 1000)
    assert (down.num_accepted, down.token) == (3, None)
    np.testing.assert_array_equal(down.logits, row32.astype(np.float64))
    row64 = g.normal(size=50)  # not float32 values: sent whole
    assert len(wire.encode_logits_downlink(0, row64)) == wire.logits_downlink_bytes(50, 8)
    np.testing.assert_array_equal(wire.decode_verdict(wire.encode_logits_downlink(0, row64)).logits, row64)
    plain = wire.decode_verdict(wire.encode_downlink(2, 9), 1000)
    assert (plain.num_accepted, plain.token, plain.logits) == (2, 9, None)
    with pytest.raises(wire.WireFormatError, match=r"^logits for V=1000, this receiver's vocabulary has V=999$"):
        wire.decode_verdict(msg, 999)
    for cut in (1, 9, len(msg) - 1):
        with pytest.raises(wire.WireFormatError):
            wire.decode_verdict(msg[:cut], 1000)
    for i in (1, 4, 5, 500, len(msg) - 1):
        bad = bytearray(msg)
        bad[i] ^= 0x01
        with pytest.raises(wire.WireFormatError):
            wire.decode_verdict(bytes(bad), 1000)
    for value in (np.nan, np.inf):
        forged = row32.copy()
        forged[0] = value
        with pytest.raises(wire.WireFormatError, match=r"^logits with NaN or \+inf, or none finite$"):
            wire.decode_verdict(wire.encode_logits_downlink(0, forged), 1000)


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
    ids = sqs.make_scheme("tokens")
    with pytest.raises(ValueError, match=r"^token 50 outside V=50$"):
        wire.encode_uplink(ids.code, 50, 0, 0, [(ids.compress(np.ones(50)), 50)])

"""The wire's boundaries and messages, each pinned where mutation testing (make mutate) found it unchecked:
the smallest valid messages, limits at their edge, the least payload a header implies, exact error texts,
the work estimate's formula, the downlink's ranges, and verification's input shapes."""

import struct
import zlib

import numpy as np
import pytest
from tests.test_wire import forge

import sqs
from sqs import wire
from sqs.protocol.enumerative import bits_for
from sqs.protocol.schemes.layout import lattice_bits, subset_bits
from sqs.protocol.verify import rejection_probability


def raises(match, fn, *args, exc=wire.WireFormatError):
    with pytest.raises(exc, match=match):
        fn(*args)


def test_the_smallest_messages_decode():
    """V = 1, ell = 1, K = 1 = V: every lower bound of the header is inclusive."""
    msg = forge((0xC5, 0x11, 1, 1, 1, 1), lambda w: None)  # K = V = 1: no subset, lattice or position bits
    d = wire.decode_uplink(msg).drafts[0]
    assert (d.token, d.support.tolist(), d.counts.tolist(), d.ell) == (0, [0], [1], 1)
    full = forge((0xC5, 0x11, 4, 2, 4, 1), lambda w: (w.write(0, lattice_bits(4, 2)), w.write(0, bits_for(2))))
    assert wire.decode_uplink(full).drafts[0].support.tolist() == [0, 1, 2, 3]  # K = V


def test_limits_admit_their_own_values():
    one = lambda w: (w.write(0, 7), w.write(1, 4), w.write(1, 1))  # noqa: E731  (k-sqs V=10 K=3 ell=4)
    two = forge((0xC5, 0x11, 10, 4, 3, 2), lambda w: (one(w), one(w)))
    assert len(wire.decode_uplink(two, wire.DecodeLimits(max_drafts=2, max_ell=4, max_support=3)).drafts) == 2
    raises("3 drafts in one message", wire.decode_uplink, forge((0xC5, 0x11, 10, 4, 3, 3), lambda w: None),
           wire.DecodeLimits(max_drafts=2))
    raises("ell=4, this receiver accepts at most 3", wire.decode_uplink, two, wire.DecodeLimits(max_ell=3))


def test_a_draft_that_ends_on_a_byte_boundary():
    """k-sqs V=8, K=2, ell=7: 5 subset bits + 3 lattice bits and no position (one non-zero count): exactly one
    byte, so the draft needs all the bits left; one more zero byte is 'oversized' (8 bits left)."""
    assert subset_bits(8, 2) + lattice_bits(2, 7) == 8
    msg = forge((0xC5, 0x11, 8, 7, 2, 1), lambda w: (w.write(0, 5), w.write(0, 3)))
    assert wire.decode_uplink(msg).drafts[0].counts.tolist() == [0, 7]
    head = msg[:14]
    payload = msg[18:] + b"\x00"
    raises("message oversized: 8 bits left", wire.decode_uplink,
           head + struct.pack(">I", zlib.crc32(payload, zlib.crc32(head))) + payload)


def test_a_subset_index_equal_to_the_count_is_out_of_range():
    raises("subset index 120 out of range for a 3-subset of 10", wire.decode_uplink,
           forge((0xC5, 0x11, 10, 4, 3, 1), lambda w: (w.write(120, 7), w.write(0, 4))))


@pytest.mark.parametrize(
    "fields,bits,least",
    [((0xC5, 0x14, 4, 0, 0, 1), 128, 130),  # float32: 32 V + the token field
     ((0xC5, 0x12, 10, 4, 0, 1), 0, 8),  # c-sqs: the K - 1 field and one token named
     ((0xC5, 0x11, 10, 4, 3, 2), 15, 22)],  # k-sqs, two drafts: (7 + 4) bits each before the position
)
def test_the_header_sets_the_least_payload(fields, bits, least):
    raises(rf"shorter than {fields[5]} drafts need \({least} bits\)$", wire.decode_uplink,
           forge(fields, lambda w: w.write(0, bits)))


def test_decoded_float32_drafts_keep_float32_weights_and_no_lattice():
    c = sqs.make_scheme("sd").compress(np.array([0.25, 0.75]))
    d = wire.decode_uplink(wire.encode_uplink(4, 2, 0, 0, [(c, 1)])).drafts[0]
    assert d.weights.dtype == np.float32 and d.ell == 0 and d.counts is None and d.q_hat.dtype == np.float64


def test_draft_work_is_its_formula():
    lay_f32, lay_k, lay_q = (wire._layout(c) for c in (4, 1, 0))
    assert wire.draft_work(lay_f32, 10, 10, 0) == 320.0
    k, v, ell = 3, 10, 4
    want = min(k, v - k) * subset_bits(v, k) + min(k, ell) * (k.bit_length() + ell.bit_length()) * lattice_bits(k, ell)
    assert wire.draft_work(lay_k, v, k, ell) == float(want)
    assert wire.draft_work(lay_k, 10, 8, 4) == 2 * subset_bits(10, 8) + 4 * (4 + 3) * lattice_bits(8, 4)
    assert wire.draft_work(lay_q, 5, 5, 1) == 1 * max(1, 3 + 1) * lattice_bits(5, 1)


def test_exact_error_texts():
    raises(r"^message truncated: 3 bytes, header alone is 18$", wire.decode_uplink, b"abc")
    good = wire.encode_uplink(1, 10, 4, 3, [])
    raises(r"^checksum mismatch: message corrupted or truncated$", wire.decode_uplink, good[:-1] + b"\x00")
    raises(r"^vocabulary size 0$", wire.decode_uplink, forge((0xC5, 0x11, 0, 4, 3, 0), lambda w: None))
    raises(r"^lattice resolution ell = 0$", wire.decode_uplink, forge((0xC5, 0x10, 5, 0, 0, 0), lambda w: None))
    r = wire.BitReader(b"\x01")
    assert r.read(1) == 0
    raises(r"^non-zero padding bits after the last field$", r.finish)
    r = wire.BitReader(b"\xff")
    assert r.read(8) == 255
    raises(r"^message truncated: needed 1 more bits, 0 left$", r.read, 1)
    w = wire.BitWriter()
    raises(r"^value 1 does not fit in 0 bits$", w.write, 1, 0, exc=ValueError)
    raises(r"^value 4 does not fit in 2 bits$", w.write, 4, 2, exc=ValueError)
    raises(r"^value -1 does not fit in 2 bits$", w.write, -1, 2, exc=ValueError)
    w.write(3, 2)
    assert w.to_bytes() == b"\xc0" and w.nbits == 2
    raises(r"^unknown scheme code 9; known: \[0, 1, 2, 3, 4, 5, 6, 7, 8\]$", wire.encode_uplink, 9, 10, 4, 3, [],
           exc=ValueError)


def test_the_encoder_refuses_what_the_decoder_would():
    c = sqs.make_scheme("k-sqs", k=1, ell=1).compress(np.array([1.0, 0.0]))
    msg = wire.encode_uplink(1, 2, 1, 1, [(c, 0)] * 65535)  # the most a 16-bit count carries
    assert wire.draft_count(msg) == 65535
    raises(r"^at most 65535 drafts per message, got 65536$", wire.encode_uplink, 1, 2, 1, 1, [(c, 0)] * 65536,
           exc=ValueError)
    raises(r"^draft over V=2 in a message for V=3$", wire.encode_uplink, 1, 3, 1, 1, [(c, 0)], exc=ValueError)
    f = sqs.make_scheme("sd").compress(np.array([0.5, 0.5, 0.0]))
    for token in (2, 3):  # zero probability; outside V
        raises(rf"^token {token} has zero probability under q_hat$", wire.encode_uplink, 4, 3, 0, 0, [(f, token)],
               exc=ValueError)
    dense = sqs.make_scheme("k-sqs", k=2, ell=4).compress(np.array([0.5, 0.3, 0.2]))
    raises(r"^dense draft with a support of 2 tokens, expected V=3$", wire.encode_uplink, 0, 3, 4, 0,
           [(dense, 0)], exc=ValueError)


def test_downlink_ranges_and_errors():
    assert wire.decode_downlink(wire.encode_downlink(65535, 0xFFFFFFFF)) == (65535, 0xFFFFFFFF)
    for bad in ((65536, 0), (0, 2**32), (-1, 0), (0, -1)):
        raises(rf"^num_accepted={bad[0]} or token={bad[1]} out of range$", wire.encode_downlink, *bad,
               exc=ValueError)
    msg = wire.encode_downlink(1, 2)
    raises(r"^downlink message must be 10 bytes, got 9$", wire.decode_downlink, msg[:-1])
    raises(r"^not a downlink message: magic 0x00$", wire.decode_downlink, b"\x00" + msg[1:])
    raises(r"^unsupported downlink version 2$", wire.decode_downlink, msg[:1] + b"\x02" + msg[2:])
    raises(r"^downlink checksum mismatch$", wire.decode_downlink, msg[:-1] + bytes([msg[-1] ^ 1]))


def test_rejection_probability_is_the_total_variation_row_by_row():
    q = np.array([[0.5, 0.5, 0.0], [1.0, 0.0, 0.0]])
    p = np.array([[0.25, 0.25, 0.5], [0.0, 1.0, 0.0]])
    assert rejection_probability(q, p).tolist() == [0.5, 1.0]
    assert rejection_probability([0.2, 0.8], [0.2, 0.8]) == 0.0


def test_verify_takes_the_draft_tokens_in_any_shape():
    rng = np.random.default_rng(0)
    q_hat, p = np.array([[0.0, 1.0]]), np.array([[0.0, 1.0], [1.0, 0.0]])
    assert sqs.verify(np.array([[1]]), q_hat, p, rng) == (1, 0)
    assert sqs.verify([1], q_hat.tolist(), p.tolist(), rng) == (1, 0)


def test_probabilities_are_float64_whatever_comes_in():
    """float32 in, float64 out: the residual and the rejection probability never compute in low precision."""
    from sqs.protocol.verify import residual

    p32, q32 = np.array([0.3, 0.7], dtype=np.float32), np.array([0.6, 0.4], dtype=np.float32)
    assert residual(p32, q32).dtype == np.float64 and rejection_probability(q32, p32).dtype == np.float64
    np.testing.assert_array_equal(residual(p32, q32), np.maximum(p32.astype(np.float64) - q32.astype(np.float64), 0))


def test_verify_refuses_a_q_hat_of_the_wrong_length_even_when_p_fits():
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="need q_hat"):
        sqs.verify([0], np.ones((2, 3)) / 3, np.ones((2, 3)) / 3, rng)
    with pytest.raises(ValueError, match="need q_hat"):
        sqs.verify([0], np.ones((1, 3)) / 3, np.ones((1, 3)) / 3, rng)


def test_the_decoded_header_is_the_sent_one():
    c = sqs.make_scheme("c-sqs", beta=0.1, ell=6).compress(np.array([0.5, 0.3, 0.2]))
    h = wire.decode_uplink(wire.encode_uplink(2, 3, 6, 0, [(c, 0)])).header
    assert (h.scheme_code, h.vocab_size, h.ell, h.fixed_k, h.num_drafts) == (2, 3, 6, 0, 1)
    raw = int.from_bytes(np.array([0.5, -0.5], dtype=">f4").tobytes(), "big")
    raises(r"^float32 distribution is not a valid probability vector$", wire.decode_uplink,
           forge((0xC5, 0x14, 2, 0, 0, 1), lambda w: (w.write(raw, 64), w.write(0, 1))))


class _Uniforms:
    """A uniform source that returns what it is given: the boundary draws a real generator makes once in 2^53."""

    def __init__(self, *values):
        self.values = list(values)

    def random(self):
        return self.values.pop(0)


def test_a_draft_the_target_cannot_emit_is_rejected_even_at_u_zero():
    """u = 0 and p(x) = 0: 0 * q_hat(x) < 0 is false, so the draft is rejected (accepting on equality would emit a
    token of probability zero); the resample then draws from the residual."""
    q_hat = np.array([[0.2, 0.3, 0.5]])
    p = np.array([[0.5, 0.5, 0.0], [1.0, 0.0, 0.0]])
    assert sqs.verify([2], q_hat, p, _Uniforms(0.0, 0.0)) == (0, 0)
    assert sqs.verify([0], q_hat, p, _Uniforms(0.999, 0.0)) == (1, 0)  # p >= q_hat: always kept


def test_verify_refuses_malformed_inputs_one_fault_at_a_time():
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="need q_hat"):  # p is 1-D though its length is L + 1
        sqs.verify([0], np.array([[0.5, 0.5]]), np.array([0.5, 0.5]), rng)
    with pytest.raises(ValueError, match="need q_hat"):  # q_hat is 1-D
        sqs.verify([0], np.array([1.0]), np.array([[1.0], [1.0]]), rng)
    with pytest.raises(ValueError, match=r"draft token 3 outside the vocabulary \[0, 3\)"):
        sqs.verify([3], np.ones((1, 3)) / 3, np.ones((2, 3)) / 3, rng)


def test_token_only_ids_cost_one_unit_of_work_each_and_decode_to_their_fields():
    ids = sqs.make_scheme("tokens")
    g = np.random.default_rng(0)
    drafts = [(ids.compress(g.dirichlet(np.ones(300))), int(t)) for t in (5, 299, 0)]
    msg = wire.encode_uplink(ids.code, 300, 0, 0, drafts)
    assert len(msg) == wire.UPLINK_HEADER_BYTES + (3 * 9 + 7) // 8  # three 9-bit ids
    out = wire.decode_uplink(msg, wire.DecodeLimits(vocab_size=300, max_work=3.0))
    assert out.tokens.tolist() == [5, 299, 0] and not out.sends_q_hat
    for d in out.drafts:
        assert (d.vocab_size, d.ell, d.counts, d.weights, d.support.dtype, d.support.size) == (300, 0, None, None,
                                                                                              np.int64, 0)
    raises(r"^message exceeds this receiver's decoding work limit \(a draft with K=1, ell=0\)$", wire.decode_uplink,
           msg, wire.DecodeLimits(vocab_size=300, max_work=2.5))  # fmt: skip


def test_exact_match_refuses_malformed_rounds_by_name():
    from sqs.protocol.verify import verify_match

    rng = np.random.default_rng(0)
    raises(r"^need p \(L\+1, V\) for L=1 drafts, got \(1, 2\)$", verify_match, [0], np.array([[0.5, 0.5]]), rng,
           exc=ValueError)  # fmt: skip
    raises(r"^need p \(L\+1, V\) for L=1 drafts, got \(2,\)$", verify_match, [0], np.array([0.5, 0.5]), rng,
           exc=ValueError)  # fmt: skip
    raises(r"^draft token 2 outside the vocabulary \[0, 2\)$", verify_match, [2], np.full((2, 2), 0.5), rng,
           exc=ValueError)  # fmt: skip
    raises(r"^draft token -1 outside the vocabulary \[0, 2\)$", verify_match, [-1], np.full((2, 2), 0.5), rng,
           exc=ValueError)  # fmt: skip
    assert verify_match([1, 0], np.array([[0.0, 1.0], [1.0, 0.0], [0.0, 1.0]]), rng) == (2, 1)
    assert verify_match([0], np.array([[0.0, 1.0], [1.0, 0.0]]), rng) == (0, 1)

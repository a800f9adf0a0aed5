"""The uplink and downlink messages: the only thing the edge and the cloud share.

Uplink (edge -> cloud), one message per batch, big-endian::

    offset size  field
    0      1     magic 0xC5
    1      1     version (high 4 bits, = 1) | scheme code (low 4 bits, declared per scheme in
                 sqs.protocol.schemes.registry: 0 dense, 1 top-k, 2 threshold/C-SQS, 3 top-p, 4 float32,
                 5 min-p, 6 token ids alone, 7 split verification, 8 token tree)
    2      4     V, vocabulary size (uint32)
    6      2     ell, lattice resolution (uint16; 0 for float32, token ids, split verification and trees)
    8      4     K for top-k; for split verification 1 + the token the edge drew after the last round's
                 rejection (0: none; the cloud learns it here); 0 for the other schemes (uint32)
    12     2     L, number of draft tokens (uint16)
    14     4     CRC-32 of bytes 0..13 and of the payload
    18     ...   payload: L draft records, bit-packed MSB first, zero-padded to a whole byte

Draft record, in order, each a fixed-width unsigned field:

- variable-size schemes (C-SQS, top-p): ``K - 1`` in ceil(log2 V) bits;
- sparse schemes: the support, colex rank of the K-subset of V (of its complement when K > V/2),
  in ceil(log2 C(V, K)) bits;
- lattice schemes: lattice index of the counts in ceil(log2 C(ell+K-1, K-1)) bits;
- lattice schemes: the draft token as its position among the support tokens with a non-zero count,
  in ceil(log2 nnz) bits (nnz is known to the cloud once it has decoded the counts);
- float32: V float32 probabilities (32 V bits) then the token id in ceil(log2 V) bits;
- token ids alone: the token id in ceil(log2 V) bits, nothing else (the cloud verifies by exact match);
- split verification: the token id in ceil(log2 V) bits, then q_hat(x) as an IEEE float64 (64 bits), the
  value the draft was drawn with, in (0, 1];
- token tree, node i (0-based): 1 + its parent's index (0: the root) in ceil(log2(i + 1)) bits, then its id
  in ceil(log2 V) bits; a parent is always an earlier node.

A message is ``18 + ceil(payload_bits / 8)`` bytes. The payload bits of a token are exactly
``Compressed.bits``; the bit budget B of the batch-length rule counts payload bits (as the paper's
sum of b_n does), not the fixed header.

Downlink (cloud -> edge), 10 bytes: magic 0xD5, version 1, number accepted (uint16), next token
(uint32), CRC-16/CCITT of the first 8 bytes; for a token tree the count is 1 + the deepest accepted node
(0: none; the edge reads the path off the parents it sent). After a rejection under split verification the cloud sends
instead the rejected position's logits: magic 0xD6, version 1, number accepted (uint16), width w (uint8: 4,
float32, when the logits are float32 values, as a model's are; else 8), V (uint32), V big-endian IEEE
values of w bytes, CRC-32 of all before it; the edge applies the same float64 temperature to them and
resamples (:func:`sqs.protocol.verify.resample`). 4.9 Mbit at V = 151,936.

Anything that is not a well-formed message (wrong magic or version, checksum mismatch, truncated
or trailing bytes, a field outside its range) raises :class:`WireFormatError`; a decoded message is
never a guess.

**Bounded work.** A CRC-32 is no authentication: anyone can change a header and recompute it. So the
decoder prices a message before it parses it. Every header field is checked against
:class:`DecodeLimits` (the receiver's own V, at most so many drafts, ell and K within limits), the
payload must be long enough for the drafts the header claims, and each draft's decoding work (its
subset and lattice unranking, ~K · bits and ~min(K, ell) · bits big-integer word operations) is
estimated from fields already read and charged to a per-message budget *before* any unranking or
V-sized allocation. Measured without these checks: a dense message claiming another V allocated until
the kernel killed the process; a C-SQS draft claiming K = V/2 ran big-integer arithmetic for minutes.
"""

from __future__ import annotations

import binascii
import struct
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from sqs.protocol.enumerative import (
    bits_for,
    composition_rank,
    composition_unrank,
    subset_count,
    support_from_index,
    support_index,
)
from sqs.protocol.lattice import num_points
from sqs.protocol.schemes import Compressed, by_code, full_q_hat, wire_codes
from sqs.protocol.schemes.layout import Layout, lattice_bits, size_bits, subset_bits

UPLINK_MAGIC = 0xC5
DOWNLINK_MAGIC = 0xD5
LOGITS_MAGIC = 0xD6
VERSION = 1
_UP_HEAD = struct.Struct(">BBIHIH")
_DOWN_HEAD = struct.Struct(">BBHI")
_LOGITS_HEAD = struct.Struct(">BBHBI")
UPLINK_HEADER_BYTES = _UP_HEAD.size + 4
DOWNLINK_BYTES = _DOWN_HEAD.size + 2
_MAX_L = 0xFFFF
MAX_DRAFTS = _MAX_L  # drafts one uplink message can carry (a 16-bit count)


def logits_downlink_bytes(vocab_size: int, width: int = 4) -> int:
    """The size of split verification's downlink after a rejection: its header, V values, CRC-32."""
    return _LOGITS_HEAD.size + width * vocab_size + 4


def _layout(code: int) -> Layout | None:
    """The record layout a scheme code declares (sqs.protocol.schemes.registry), None for an unknown code."""
    spec = by_code(code)
    return spec.layout if spec is not None else None


class WireFormatError(ValueError):
    """The bytes are not a valid message of this protocol."""


@dataclass(frozen=True)
class DecodeLimits:
    """What a receiver accepts before it does any work on a message (the cloud server's own model and limits).

    ``max_work`` bounds the estimated unranking work of one message (:func:`draft_work`, in big-integer
    bit operations); the default keeps the worst admitted message near a second on one core here.
    """

    vocab_size: int | None = None  # the only V accepted (None: any, the library's in-process use)
    max_drafts: int = 64
    max_ell: int = 4096
    max_support: int | None = None  # largest support size K (None: V)
    max_work: float = 4e8

    def __post_init__(self) -> None:
        for name in ("max_drafts", "max_ell"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.vocab_size is not None and self.vocab_size < 1:
            raise ValueError(f"vocab_size must be >= 1, got {self.vocab_size}")
        if self.max_support is not None and self.max_support < 1:
            raise ValueError(f"max_support must be >= 1, got {self.max_support}")
        if not self.max_work > 0:
            raise ValueError(f"max_work must be > 0, got {self.max_work}")


NO_LIMITS = DecodeLimits(max_drafts=_MAX_L, max_ell=0xFFFF, max_work=float("inf"))


def draft_work(lay: Layout, v: int, k: int, ell: int) -> float:
    """Estimated decoding work of one draft record (big-integer bit operations), from its K and ell alone.

    The subset code unranks one element per named token (min(K, V - K) of them, the complement when
    K > V/2) on an integer of subset_bits; the lattice code one nonzero count per step, at most
    min(K, ell), each a binary search of binomials of lattice_bits.
    """
    if lay.float32:
        return 32.0 * v
    if not lay.lattice:  # token ids, trees, split verification: an id, at most a parent field or one float
        return 1.0
    work = 0.0
    if lay.names_subset:
        work += min(k, v - k) * float(subset_bits(v, k))
    steps = min(k, ell)
    return work + steps * max(1, (k.bit_length() + ell.bit_length())) * float(lattice_bits(k, ell))


class BitWriter:
    """Collects fixed-width unsigned fields, MSB first."""

    def __init__(self) -> None:
        self._value = 0
        self.nbits = 0

    def write(self, value: int, nbits: int) -> None:
        value = int(value)
        if nbits == 0:
            if value != 0:
                raise ValueError(f"value {value} does not fit in 0 bits")
            return
        if value < 0 or value >> nbits:
            raise ValueError(f"value {value} does not fit in {nbits} bits")
        self._value = (self._value << nbits) | value
        self.nbits += nbits

    def to_bytes(self) -> bytes:
        pad = (-self.nbits) % 8
        return (self._value << pad).to_bytes((self.nbits + pad) // 8, "big")


class BitReader:
    """Reads the fields a :class:`BitWriter` wrote; running past the end is a WireFormatError."""

    def __init__(self, data: bytes) -> None:
        self._value = int.from_bytes(data, "big")
        self.remaining = 8 * len(data)

    def read(self, nbits: int) -> int:
        if nbits == 0:
            return 0
        if nbits > self.remaining:
            raise WireFormatError(f"message truncated: needed {nbits} more bits, {self.remaining} left")
        self.remaining -= nbits
        out = self._value >> self.remaining
        self._value &= (1 << self.remaining) - 1
        return out

    def finish(self) -> None:
        if self.remaining >= 8:
            raise WireFormatError(f"message oversized: {self.remaining} bits left after the last field")
        if self._value:
            raise WireFormatError("non-zero padding bits after the last field")


@dataclass(frozen=True)
class UplinkHeader:
    scheme_code: int
    vocab_size: int
    ell: int
    fixed_k: int
    num_drafts: int
    carried: int | None = None  # split verification: the token the edge drew after the last round's rejection


@dataclass(frozen=True, eq=False)
class DecodedDraft:
    """One draft token as the cloud sees it: its q_hat is rebuilt from the bytes alone."""

    vocab_size: int
    support: np.ndarray
    counts: np.ndarray | None
    ell: int
    token: int
    weights: np.ndarray | None = None
    q_value: float | None = None  # split verification: q_hat(token), all the cloud knows of q_hat
    parent: int | None = None  # a tree node's parent (-1: the root)

    @cached_property
    def q_hat(self) -> np.ndarray:
        return full_q_hat(self.vocab_size, self.support, self.counts, self.ell, self.weights)


@dataclass(frozen=True, eq=False)
class UplinkMessage:
    header: UplinkHeader
    drafts: list[DecodedDraft]
    payload_bits: int
    num_bytes: int

    @property
    def tokens(self) -> np.ndarray:
        return np.array([d.token for d in self.drafts], dtype=np.int64)

    @property
    def layout(self) -> Layout:
        return _layout(self.header.scheme_code)

    @property
    def sends_q_hat(self) -> bool:
        """False for token ids alone and trees (exact match) and split verification (q_hat(x) alone)."""
        return self.layout.sends_q_hat

    @property
    def parents(self) -> np.ndarray:
        """A tree's parent of each node (-1: the root)."""
        return np.array([d.parent for d in self.drafts], dtype=np.int64)

    @property
    def q_values(self) -> np.ndarray:
        """Split verification: each draft's q_hat(x)."""
        return np.array([d.q_value for d in self.drafts], dtype=np.float64)

    def q_hat(self) -> np.ndarray:
        """(L, V) float64 matrix of the decoded draft distributions."""
        out = np.zeros((len(self.drafts), self.header.vocab_size), dtype=np.float64)
        for i, d in enumerate(self.drafts):
            out[i] = d.q_hat
        return out


def encode_uplink(
    scheme_code: int,
    vocab_size: int,
    ell: int,
    fixed_k: int,
    drafts: Sequence[tuple[Compressed, int]],
    carried: int | None = None,
    parents: Sequence[int] | None = None,
) -> bytes:
    """Serialize one batch: the header and, per draft, its compressed distribution and token; ``carried``: split
    verification's token drawn by the edge after the last round's rejection; ``parents``: a tree's parent of
    each node (-1: the root; None: every node a child of the root)."""
    lay = _layout(scheme_code)
    if lay is None:
        raise ValueError(f"unknown scheme code {scheme_code}; known: {sorted(wire_codes())}")
    if len(drafts) > _MAX_L:
        raise ValueError(f"at most {_MAX_L} drafts per message, got {len(drafts)}")
    if carried is not None:
        if not lay.split or not 0 <= carried < vocab_size:
            raise ValueError(f"a carried token ({carried}) goes up only under split verification, within V")
        fixed_k = carried + 1
    if parents is not None and (not lay.tree or len(parents) != len(drafts)):
        raise ValueError(f"parents ({len(parents)}) go up only with a tree, one a node ({len(drafts)} drafts)")
    w = BitWriter()
    for i, (comp, token) in enumerate(drafts):
        if comp.vocab_size != vocab_size:
            raise ValueError(f"draft over V={comp.vocab_size} in a message for V={vocab_size}")
        if lay.tree:
            up = -1 if parents is None else int(parents[i])
            if not -1 <= up < i:
                raise ValueError(f"node {i}'s parent {up} is not the root (-1) or an earlier node")
            w.write(up + 1, lay.parent_bits(i))
        if lay.id_record:
            if not 0 <= token < vocab_size:
                raise ValueError(f"token {token} outside V={vocab_size}")
            w.write(token, bits_for(vocab_size))
            if lay.split:
                qx = float(comp.q_hat[token])
                if not qx > 0:
                    raise ValueError(f"token {token} has zero probability under q_hat")
                w.write(int.from_bytes(struct.pack(">d", qx), "big"), 64)
            continue
        if lay.float32:
            w.write(int.from_bytes(comp.weights.astype(">f4").tobytes(), "big"), 32 * vocab_size)
            if not (0 <= token < vocab_size and comp.weights[token] > 0):
                raise ValueError(f"token {token} has zero probability under q_hat")
            w.write(token, bits_for(vocab_size))
            continue
        if comp.ell != ell:
            raise ValueError(f"draft quantized with ell={comp.ell} in a message for ell={ell}")
        k = comp.k
        if lay.sends_size:
            w.write(k - 1, size_bits(vocab_size))
        elif lay.fixed_k and k != fixed_k:
            raise ValueError(f"top-k message with K={fixed_k} got a support of size {k}")
        if lay.names_subset:
            w.write(support_index(comp.support, vocab_size), subset_bits(vocab_size, k))
        elif k != vocab_size:
            raise ValueError(f"dense draft with a support of {k} tokens, expected V={vocab_size}")
        w.write(composition_rank(comp.counts), lattice_bits(k, ell))
        w.write(comp.token_position(token), comp.token_bits)
    payload = w.to_bytes()
    head = _UP_HEAD.pack(UPLINK_MAGIC, (VERSION << 4) | scheme_code, vocab_size, ell, fixed_k, len(drafts))
    crc = zlib.crc32(payload, zlib.crc32(head))
    return head + struct.pack(">I", crc) + payload


def draft_count(data: bytes) -> int:
    """The number of drafts an uplink message's header announces (unchecked: the sender's own message)."""
    return _UP_HEAD.unpack_from(data)[5]


def decode_uplink(data: bytes, limits: DecodeLimits = NO_LIMITS) -> UplinkMessage:
    """Parse and validate an uplink message; raise WireFormatError on anything malformed or over ``limits``
    (checked before the work they bound: module docstring)."""
    data = bytes(data)
    if len(data) < UPLINK_HEADER_BYTES:
        raise WireFormatError(f"message truncated: {len(data)} bytes, header alone is {UPLINK_HEADER_BYTES}")
    magic, ver_code, v, ell, fixed_k, n = _UP_HEAD.unpack_from(data)
    if magic != UPLINK_MAGIC:
        raise WireFormatError(f"not an uplink message: magic 0x{magic:02X}, expected 0x{UPLINK_MAGIC:02X}")
    version, code = ver_code >> 4, ver_code & 0xF
    if version != VERSION:
        raise WireFormatError(f"unsupported version {version}, this decoder reads version {VERSION}")
    (crc,) = struct.unpack_from(">I", data, _UP_HEAD.size)
    payload = data[UPLINK_HEADER_BYTES:]
    if zlib.crc32(payload, zlib.crc32(data[: _UP_HEAD.size])) != crc:
        raise WireFormatError("checksum mismatch: message corrupted or truncated")
    lay = _layout(code)
    if lay is None:
        raise WireFormatError(f"unknown scheme code {code}")
    if v < 1:
        raise WireFormatError("vocabulary size 0")
    if lay.lattice and ell < 1:
        raise WireFormatError("lattice resolution ell = 0")
    if not lay.lattice and ell != 0:
        raise WireFormatError(f"ell={ell} in the header of a {lay.name} message (expected 0)")
    carried = None
    if lay.split:
        if fixed_k > v:
            raise WireFormatError(f"carried token {fixed_k - 1} outside V={v}")
        carried, fixed_k = (fixed_k - 1 if fixed_k else None), 0
    if lay.fixed_k and not 1 <= fixed_k <= v:
        raise WireFormatError(f"top-k support size K={fixed_k} outside [1, V={v}]")
    if not lay.fixed_k and fixed_k != 0:
        raise WireFormatError(f"K={fixed_k} in the header of a scheme without a fixed K")
    _check_limits(v, ell, fixed_k, n, lay, len(payload), limits)
    header = UplinkHeader(code, v, ell, fixed_k, n, carried)
    r = BitReader(payload)
    budget = [limits.max_work]
    drafts = [_read_draft(r, header, lay, limits, budget, i) for i in range(n)]
    r.finish()
    payload_bits = 8 * len(payload) - r.remaining
    return UplinkMessage(header, drafts, payload_bits, len(data))


def _check_limits(v: int, ell: int, fixed_k: int, n: int, lay: Layout, payload_bytes: int,
                  limits: DecodeLimits) -> None:  # fmt: skip
    """Header fields against the receiver's limits, and the payload against the fewest bits n drafts need."""
    if limits.vocab_size is not None and v != limits.vocab_size:
        raise WireFormatError(f"message for V={v}, this receiver's vocabulary has V={limits.vocab_size}")
    if n > limits.max_drafts:
        raise WireFormatError(f"{n} drafts in one message, this receiver accepts at most {limits.max_drafts}")
    if ell > limits.max_ell:
        raise WireFormatError(f"lattice resolution ell={ell}, this receiver accepts at most {limits.max_ell}")
    max_k = min(v, limits.max_support or v)
    if lay.fixed_k and fixed_k > max_k:
        raise WireFormatError(f"top-k support size K={fixed_k}, this receiver accepts at most K={max_k}")
    least = lay.min_token_bits(v, ell, fixed_k or 1)  # variable K: K = 1, one token named, no index, no position
    if n * least > 8 * payload_bytes:
        raise WireFormatError(f"message truncated: payload of {payload_bytes} bytes is shorter than {n} drafts "
                              f"need ({n * least} bits)")  # fmt: skip


def _charge(budget: list[float], lay: Layout, v: int, k: int, ell: int) -> None:
    budget[0] -= draft_work(lay, v, k, ell)
    if budget[0] < 0:
        raise WireFormatError(f"message exceeds this receiver's decoding work limit (a draft with K={k}, ell={ell})")


def _read_draft(r: BitReader, h: UplinkHeader, lay: Layout, limits: DecodeLimits, budget: list[float],
                index: int) -> DecodedDraft:  # fmt: skip
    v, ell = h.vocab_size, h.ell
    if lay.id_record:
        _charge(budget, lay, v, 1, ell)
        parent = r.read(lay.parent_bits(index)) - 1 if lay.tree else None
        if parent is not None and parent >= index:
            raise WireFormatError(f"node {index}'s parent {parent} is not the root or an earlier node")
        token = r.read(bits_for(v))
        if token >= v:
            raise WireFormatError(f"draft token {token} outside V={v}")
        qx = struct.unpack(">d", r.read(64).to_bytes(8, "big"))[0] if lay.split else None
        if qx is not None and not 0.0 < qx <= 1.0:
            raise WireFormatError(f"draft token {token} sent with q_hat = {qx}, expected a probability in (0, 1]")
        return DecodedDraft(v, np.empty(0, dtype=np.int64), None, 0, token, q_value=qx, parent=parent)
    if lay.float32:
        _charge(budget, lay, v, v, ell)
        raw = r.read(32 * v).to_bytes(4 * v, "big")
        weights = np.frombuffer(raw, dtype=">f4").astype(np.float32)
        if not np.isfinite(weights).all() or (weights < 0).any() or not weights.sum(dtype=np.float64) > 0:
            raise WireFormatError("float32 distribution is not a valid probability vector")
        token = r.read(bits_for(v))
        if token >= v or weights[token] <= 0:
            raise WireFormatError(f"draft token {token} has zero probability or is outside V={v}")
        support = np.arange(v, dtype=np.int64)
        return DecodedDraft(v, support, None, 0, token, weights)
    if lay.sends_size:
        k = r.read(size_bits(v)) + 1
        if k > v:
            raise WireFormatError(f"support size K={k} exceeds V={v}")
        if k > (limits.max_support or v):
            raise WireFormatError(f"support size K={k}, this receiver accepts at most K={limits.max_support}")
    elif lay.fixed_k:
        k = h.fixed_k
    else:
        k = v
    need = lay.support_bits(v, k) + lattice_bits(k, ell)
    if need > r.remaining:
        raise WireFormatError(f"message truncated: a draft with K={k} needs {need} bits, {r.remaining} left")
    _charge(budget, lay, v, k, ell)
    if not lay.names_subset:
        support = np.arange(v, dtype=np.int64)
    else:
        idx = r.read(subset_bits(v, k))
        if idx >= subset_count(v, k):
            raise WireFormatError(f"subset index {idx} out of range for a {k}-subset of {v}")
        support = support_from_index(idx, v, k)
    lat = r.read(lattice_bits(k, ell))
    if lat >= num_points(k, ell):
        raise WireFormatError(f"lattice index {lat} out of range for K={k}, ell={ell}")
    counts = composition_unrank(lat, k, ell)
    nonzero = support[counts > 0]
    pos = r.read(bits_for(nonzero.size))
    if pos >= nonzero.size:
        raise WireFormatError(f"draft token position {pos} out of range [0, {nonzero.size})")
    return DecodedDraft(v, support, counts, ell, int(nonzero[pos]))


def encode_downlink(num_accepted: int, token: int) -> bytes:
    """The cloud's answer: how many drafts it accepted and the token it sampled after them."""
    if not 0 <= num_accepted <= _MAX_L or not 0 <= token <= 0xFFFFFFFF:
        raise ValueError(f"num_accepted={num_accepted} or token={token} out of range")
    head = _DOWN_HEAD.pack(DOWNLINK_MAGIC, VERSION, num_accepted, token)
    return head + struct.pack(">H", binascii.crc_hqx(head, 0xFFFF))


def encode_logits_downlink(num_accepted: int, logits: np.ndarray) -> bytes:
    """Split verification's answer to a rejection at draft ``num_accepted``: the LLM's logits there, as float32
    where that loses nothing (a model's own logits), else float64."""
    row = np.asarray(logits, dtype=np.float64).reshape(-1)
    if not 0 <= num_accepted <= _MAX_L or not 1 <= row.size <= 0xFFFFFFFF:
        raise ValueError(f"num_accepted={num_accepted} or V={row.size} out of range")
    width = 4 if np.array_equal(row.astype(np.float32), row, equal_nan=True) else 8
    head = _LOGITS_HEAD.pack(LOGITS_MAGIC, VERSION, num_accepted, width, row.size)
    body = head + row.astype(">f4" if width == 4 else ">f8").tobytes()
    return body + struct.pack(">I", zlib.crc32(body))


@dataclass(frozen=True, eq=False)
class Downlink:
    """A decoded verdict: drafts accepted and the next token, or (split verification after a rejection) the
    rejected position's logits, from which the edge draws the next token itself."""

    num_accepted: int
    token: int | None
    logits: np.ndarray | None = None


def decode_verdict(data: bytes, vocab_size: int | None = None) -> Downlink:
    """Either downlink message; a logits message must be for ``vocab_size`` (the receiver's V) and hold no NaN
    or +inf (-inf is a masked token), checked before its values are read."""
    data = bytes(data)
    if not data or data[0] != LOGITS_MAGIC:
        return Downlink(*decode_downlink(data))
    if len(data) < _LOGITS_HEAD.size + 4:
        raise WireFormatError(f"logits downlink truncated: {len(data)} bytes")
    _, version, num_accepted, width, v = _LOGITS_HEAD.unpack_from(data)
    if version != VERSION:
        raise WireFormatError(f"unsupported downlink version {version}")
    if width not in (4, 8):
        raise WireFormatError(f"logits of {width} bytes each, expected 4 or 8")
    if vocab_size is not None and v != vocab_size:
        raise WireFormatError(f"logits for V={v}, this receiver's vocabulary has V={vocab_size}")
    if len(data) != logits_downlink_bytes(v, width):
        raise WireFormatError(f"logits downlink of {len(data)} bytes, V={v} needs {logits_downlink_bytes(v, width)}")
    (crc,) = struct.unpack_from(">I", data, len(data) - 4)
    if zlib.crc32(data[:-4]) != crc:
        raise WireFormatError("downlink checksum mismatch")
    row = np.frombuffer(data, dtype=">f4" if width == 4 else ">f8", count=v, offset=_LOGITS_HEAD.size)
    row = row.astype(np.float64)
    if np.isnan(row).any() or (row == np.inf).any() or not np.isfinite(row).any():
        raise WireFormatError("logits with NaN or +inf, or none finite")
    return Downlink(num_accepted, None, row)


def decode_downlink(data: bytes) -> tuple[int, int]:
    data = bytes(data)
    if len(data) != DOWNLINK_BYTES:
        raise WireFormatError(f"downlink message must be {DOWNLINK_BYTES} bytes, got {len(data)}")
    magic, version, num_accepted, token = _DOWN_HEAD.unpack_from(data)
    if magic != DOWNLINK_MAGIC:
        raise WireFormatError(f"not a downlink message: magic 0x{magic:02X}")
    if version != VERSION:
        raise WireFormatError(f"unsupported downlink version {version}")
    (crc,) = struct.unpack_from(">H", data, _DOWN_HEAD.size)
    if binascii.crc_hqx(data[: _DOWN_HEAD.size], 0xFFFF) != crc:
        raise WireFormatError("downlink checksum mismatch")
    return num_accepted, token

"""The cloud as a server and the edge as a client over loopback TCP: same text as in one process,
refusals for every bad session or frame, faults reported with the tokens so far, many sessions at once."""

import json
import socket
import struct
import subprocess
import threading
import time
import zlib
from collections import Counter

import numpy as np
import pytest

import sqs
from net_helpers import (
    BIN,
    SCHEMES,
    TOY,
    RawClient,
    in_process,
    over_network,
    remote,
    sqs_server,
    token_of,
    toy_edge,
    toy_hello,
)
from sqs.net import frames as fr
from sqs.net.frames import ErrorCode, FrameType
from sqs.net.identity import load_side
from sqs.protocol import wire
from sqs.system.session import CloudUnavailable, SessionInterrupted, run_session


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    token_file = tmp_path_factory.mktemp("net") / "token"
    with sqs_server(token_file, "--idle-timeout-s", "3", "--max-frame-bytes", "65536") as (proc, port):
        yield proc, port, token_of(token_file)


@pytest.mark.parametrize("name,params", SCHEMES, ids=[s[0] for s in SCHEMES])
def test_remote_session_decodes_the_same_tokens_as_one_process(server, name, params):
    _, port, token = server
    for seed, prompt in [(3, [0]), (4, [5, 2])]:
        alone = in_process(name, params, seed, prompt, 30)
        net = over_network(name, params, seed, prompt, 30, port, token)
        assert net.tokens == alone.tokens and len(net.tokens) == 30
        assert [b.num_accepted for b in net.batches] == [b.num_accepted for b in alone.batches]
        b = net.batches[0]
        assert b.latency.network_s > 0 and b.predicted is not None and b.predicted.propagation_s == 0.02
        assert np.isnan(b.bound_discrepancy)  # the edge never sees p


def test_a_block_verifying_cloud_over_the_network_is_the_one_in_process(server):
    """The session-open fields carry the verification rule: the server verifies each batch as a block, as a
    cloud in this process does with the same seeds (and unlike token by token, for these seeds)."""
    _, port, token = server
    params = {"k": 3, "ell": 6}
    differs = False
    for seed, prompt in [(3, [0]), (4, [5, 2]), (5, [1])]:
        alone = in_process("k-sqs", params, seed, prompt, 30, rule="block")
        cloud = remote(port, token, sqs.make_scheme("k-sqs", **params).code, (seed, 0, 1), rule="block")
        net = run_session(toy_edge("k-sqs", params, [seed, 0]), cloud, prompt, 30)
        cloud.close()
        assert net.tokens == alone.tokens and len(net.tokens) == 30
        assert [b.num_accepted for b in net.batches] == [b.num_accepted for b in alone.batches]
        differs |= alone.tokens != in_process("k-sqs", params, seed, prompt, 30).tokens
    assert differs


def _refusal(port, token, hello) -> str:
    cloud = remote(port, token, hello.scheme_code, hello.seed)
    cloud.cloud_model, cloud.temperature = hello.model, hello.temperature
    with pytest.raises(CloudUnavailable) as err:
        cloud.start(list(hello.prompt))
    return str(err.value)


@pytest.mark.parametrize(
    "change,reason",
    [
        ({"model": "toy:16:1:0.7"}, "this server runs 'toy:16:0:0.7'"),
        ({"temperature": -1.0}, "temperature -1.0 outside"),
        ({"temperature": float("nan")}, "temperature nan outside"),
        ({"scheme_code": 9}, "unknown scheme code 9"),
        ({"prompt": (16,)}, "prompt token ids must lie in [0, 16)"),
    ],
)
def test_session_open_fields_that_do_not_match_are_refused_with_the_reason(server, change, reason):
    _, port, token = server
    msg = _refusal(port, token, toy_hello(**change))
    assert "mismatch" in msg and reason in msg, msg


def test_raw_session_open_mismatches(server):
    _, port, token = server
    for change, reason in [({"vocab_size": 17}, "vocabulary size 17"), ({"tokenizer": "x" * 64}, "tokenizer"),
                           ({"seed_policy": "server"}, "'server' must not send one"),
                           ({"seed_policy": "client", "seed": None}, "needs a seed"),
                           ({"verify": "tree"}, "rule 'tree'; this server verifies token, block")]:  # fmt: skip
        c = RawClient(port)
        nonce = fr.new_nonce()
        c.sealer = fr.Sealer(fr.session_key(token, c.server_nonce, nonce), b"C", b"S")
        c.sock.sendall(c.sealer.seal(FrameType.HELLO, toy_hello(**change).to_body(nonce)))
        kind, body = c.answer()
        assert kind == FrameType.ERROR and reason in fr.parse_error(body)[1], (change, body)
        c.close()


def test_a_wrong_token_cannot_open_a_session(server):
    port = server[1]
    cloud = remote(port, b"not-the-token-at-all", 1, (1,))
    with pytest.raises(CloudUnavailable, match=r"unauthenticated.*is the token right"):
        cloud.start([0])


def test_an_oversized_frame_is_refused_before_its_body_is_sent(server):
    _, port, _ = server
    c = RawClient(port)
    c.sock.sendall(fr.HEAD.pack(FrameType.HELLO, 1 << 30))  # a 1 GiB frame announced, never sent
    kind, body = c.answer()
    assert kind == FrameType.ERROR and fr.parse_error(body)[0] == ErrorCode.TOO_LARGE
    assert "limit is 65536" in fr.parse_error(body)[1]


def test_a_forged_uplink_closes_its_session_with_a_reason(server):
    _, port, token = server
    c = RawClient(port)
    c.open(token, toy_hello(scheme_code=0))
    edge = toy_edge("dense", {"ell": 6}, 0)
    edge.start([0])
    msg = bytearray(edge.draft().message)
    msg[2:6] = struct.pack(">I", 151936)  # another vocabulary, CRC recomputed
    msg[14:18] = struct.pack(">I", zlib.crc32(bytes(msg[18:]), zlib.crc32(bytes(msg[:14]))))
    c.sock.sendall(c.sealer.seal(FrameType.UPLINK, bytes(msg)))
    kind, body = c.answer()
    code, text = fr.parse_error(body)
    assert kind == FrameType.ERROR and code == ErrorCode.BAD_UPLINK and "V=151936" in text and "V=16" in text
    assert c.answer() == (None, b"")  # and the session is closed


def test_an_idle_session_times_out(server):
    _, port, token = server
    c = RawClient(port)
    c.open(token, toy_hello())
    t0 = time.monotonic()
    kind, body = c.answer()
    assert kind == FrameType.ERROR and fr.parse_error(body)[0] == ErrorCode.IDLE
    assert 2.5 < time.monotonic() - t0 < 10


def test_the_server_survives_clients_that_vanish_mid_frame(server):
    proc, port, token = server
    for cut in (1, 4, 30):
        c = RawClient(port)
        c.sock.sendall(toy_hello().to_body(fr.new_nonce())[:cut])  # part of a head or of a body, then gone
        c.sock.close()
    c = RawClient(port)
    c.open(token, toy_hello())
    body = bytearray(c.sealer.seal(FrameType.UPLINK, b"\xc5" * 40))
    c.sock.sendall(bytes(body[:20]))  # half an authenticated frame, then gone
    c.sock.close()
    assert proc.poll() is None
    assert over_network("k-sqs", {"k": 3, "ell": 6}, 1, [0], 10, port, token).tokens


class CuttingRelay:
    """A loopback relay that passes the first ``frames`` client->server frames' bytes, then drops both sides."""

    def __init__(self, port: int, uplinks: int) -> None:
        self.target, self.uplinks = port, uplinks
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self) -> None:
        client, _ = self.listener.accept()
        upstream = socket.create_connection(("127.0.0.1", self.target))
        threading.Thread(target=self._down, args=(upstream, client), daemon=True).start()
        frames = 0
        buf = b""
        while True:
            data = client.recv(65536)
            if not data:
                break
            buf += data
            while len(buf) >= 5:
                kind, length = fr.HEAD.unpack(buf[:5])
                size = 5 + length + fr.MAC_BYTES
                if len(buf) < size:
                    break
                frame, buf = buf[:size], buf[size:]
                if kind == FrameType.UPLINK:
                    frames += 1
                    if frames > self.uplinks:  # the cloud "dies" with this batch in flight
                        client.close()
                        upstream.close()
                        return
                upstream.sendall(frame)

    @staticmethod
    def _down(src, dst) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass


def test_the_edge_reports_a_dropped_link_with_the_tokens_so_far(server, tmp_path):
    _, port, token = server
    relay = CuttingRelay(port, uplinks=3)
    (tmp_path / "token").write_text(token.decode())
    out = subprocess.run(
        [str(BIN / "sqs"), "edge", "--cloud", f"127.0.0.1:{relay.port}", "--token-file", str(tmp_path / "token"),
         "--slm", TOY, "--llm", TOY, "--scheme", "k-sqs", "--k", "3", "--ell", "6", "--prompt", "0",
         "--max-new-tokens", "40", "--temperature", "1"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert out.returncode == 1, out.stderr
    assert "prompt 0, batch 3: batch 3: the link to the cloud failed" in out.stderr, out.stderr
    record = json.loads(out.stdout.splitlines()[-1])
    assert record["error"]["batch"] == 3 and record["n_batches"] == 3
    assert 3 <= len(record["tokens"]) < 40  # three verdicts' tokens, kept


def test_a_dead_cloud_is_named_before_the_first_batch(tmp_path):
    free = socket.create_server(("127.0.0.1", 0))
    port = free.getsockname()[1]
    free.close()
    edge = toy_edge("k-sqs", {"k": 3, "ell": 6}, 0)
    with pytest.raises(SessionInterrupted, match="stopped at batch 0 after 0 tokens: could not open a session"):
        run_session(edge, remote(port, b"x" * 32, edge.scheme.code, (1,)), [0], 5)


def test_eight_concurrent_sessions_each_decode_what_they_decode_alone(server):
    _, port, token = server
    runs = [(name, params, seed) for seed in (0, 1) for name, params in SCHEMES[:4]]  # 8 sessions
    alone = [in_process(n, p, s, [s], 40).tokens for n, p, s in runs]
    results: list = [None] * len(runs)

    def go(i):
        n, p, s = runs[i]
        results[i] = over_network(n, p, s, [s], 40, port, token).tokens

    threads = [threading.Thread(target=go, args=(i,)) for i in range(len(runs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert results == alone


def _answer(c) -> tuple[str, int | None]:
    """('ERROR', code), ('closed', None) or (frame type name, None); a timeout raises (it is no refusal)."""
    kind, body = c.answer()
    if kind is None:
        return "closed", None
    if kind == FrameType.ERROR:
        return "ERROR", fr.parse_error(body)[0]
    return FrameType(kind).name, None


def _bad_frame_answer(port: int, payload: bytes) -> tuple[str, int | None]:
    """Send one bad thing on a fresh connection, then EOF (a frame cut short is followed by nothing)."""
    c = RawClient(port)
    try:
        c.sock.sendall(payload)
        c.sock.shutdown(socket.SHUT_WR)
        return _answer(c)
    finally:
        c.close()


def _expected_for_bytes(payload: bytes, max_frame: int) -> tuple[str, int | None]:
    """What the protocol (net.frames' docstring) answers to these bytes as a connection's first frame."""
    if len(payload) < fr.HEAD.size:
        return "closed", None  # the head never arrives: the client went away
    kind, length = fr.HEAD.unpack(payload[: fr.HEAD.size])
    if kind not in FrameType._value2member_map_:
        return "ERROR", ErrorCode.MALFORMED
    if length > max_frame:
        return "ERROR", ErrorCode.TOO_LARGE
    if kind == FrameType.CHALLENGE:
        return "ERROR", ErrorCode.MALFORMED
    if len(payload) < fr.HEAD.size + length + fr.MAC_BYTES:
        return "closed", None
    if kind != FrameType.HELLO or length < fr.NONCE_BYTES:
        return "ERROR", ErrorCode.MALFORMED
    return "ERROR", ErrorCode.UNAUTHENTICATED  # nobody without the token makes a valid MAC


def test_ten_thousand_bad_frames_are_refused_and_a_good_session_still_works(server):
    """Each bad frame gets exactly the answer the protocol gives it (an ERROR with its code, or a close where the
    frame was cut short); an INTERNAL error, a wrong code or a timeout fails the test."""
    from sqs.net.server import ServerConfig

    proc, port, token = server
    rng = np.random.default_rng(0)
    edge = toy_edge("k-sqs", {"k": 3, "ell": 6}, 0)
    edge.start([0])
    good_uplink = edge.draft().message
    counts = {"random": 0, "truncated": 0, "oversized": 0, "unauthenticated": 0, "forged uplink": 0,
              "wrong type": 0, "replayed": 0}  # fmt: skip
    answers = Counter()
    max_frame = 65536
    for i in range(10_000):
        kind = list(counts)[i % len(counts)]
        counts[kind] += 1
        if kind == "random":
            payload = rng.bytes(int(rng.integers(5, 200)))
            if rng.random() < 0.5:  # half of them with a valid type and a small length: they reach the body
                payload = bytes([int(rng.integers(1, 8))]) + struct.pack(">I", int(rng.integers(0, 180))) + payload[5:]
            want, got = _expected_for_bytes(payload, max_frame), _bad_frame_answer(port, payload)
        elif kind == "truncated":
            frame = fr.Sealer(b"k" * 32, b"C", b"S").seal(FrameType.HELLO, toy_hello().to_body(fr.new_nonce()))
            want, got = ("closed", None), _bad_frame_answer(port, frame[: int(rng.integers(1, len(frame)))])
        elif kind == "oversized":
            head = fr.HEAD.pack(int(rng.integers(1, 8)), int(rng.integers(max_frame + 1, 2**32)))
            want, got = ("ERROR", ErrorCode.TOO_LARGE), _bad_frame_answer(port, head)
        elif kind == "unauthenticated":
            key = rng.bytes(32)
            frame = fr.Sealer(key, b"C", b"S").seal(FrameType.HELLO, toy_hello().to_body(key[:16]))
            want, got = ("ERROR", ErrorCode.UNAUTHENTICATED), _bad_frame_answer(port, frame)
        else:
            c = RawClient(port)
            try:
                ready = c.open(token, toy_hello(scheme_code=1))
                if kind == "forged uplink":  # fields changed, CRC recomputed, MAC valid
                    msg = bytearray(good_uplink)
                    for _ in range(int(rng.integers(1, 4))):
                        msg[int(rng.integers(0, len(msg)))] = int(rng.integers(0, 256))
                    if rng.random() < 0.5:
                        msg = msg[: int(rng.integers(1, len(msg)))]
                    if len(msg) >= 18:
                        msg[14:18] = struct.pack(">I", zlib.crc32(bytes(msg[18:]), zlib.crc32(bytes(msg[:14]))))
                    c.sock.sendall(c.sealer.seal(FrameType.UPLINK, bytes(msg)))
                    try:  # a mutated uplink can still be a valid one: then a VERDICT is the right answer
                        decoded = wire.decode_uplink(bytes(msg), ServerConfig().limits(ready["vocab_size"]))
                        want = ("VERDICT", None) if decoded.header.scheme_code == 1 else ("ERROR", ErrorCode.BAD_UPLINK)
                    except wire.WireFormatError:
                        want = ("ERROR", ErrorCode.BAD_UPLINK)
                elif kind == "wrong type":
                    c.sock.sendall(c.sealer.seal(FrameType(int(rng.choice([1, 2, 3, 5, 6]))), b"x"))
                    want = ("ERROR", ErrorCode.MALFORMED)
                else:  # a frame replayed: its sequence number is wrong the second time
                    frame = c.sealer.seal(FrameType.UPLINK, good_uplink)
                    c.sock.sendall(frame)
                    assert _answer(c) == ("VERDICT", None)
                    c.sock.sendall(frame)
                    want = ("ERROR", ErrorCode.UNAUTHENTICATED)
                got = _answer(c)
            finally:
                c.close()
        answers[(kind, *got)] += 1
        assert got == want, f"frame {i} ({kind}): expected {want}, got {got}"
    assert {k for k, *_ in answers} == set(counts)  # every kind was sent, each answered as the protocol says
    assert answers[("random", "ERROR", ErrorCode.UNAUTHENTICATED)] > 0 and answers[("random", "closed", None)] > 0
    assert proc.poll() is None
    net = over_network("k-sqs", {"k": 3, "ell": 6}, 5, [0], 20, port, token)
    assert net.tokens == in_process("k-sqs", {"k": 3, "ell": 6}, 5, [0], 20).tokens


def test_decode_limits_bound_the_work_before_it_is_done(monkeypatch):
    """Forged headers with a valid CRC at the Qwen vocabulary: refused from the header, before any unranking."""
    from sqs.protocol.schemes import make_scheme

    unranked = []
    real = wire.composition_unrank
    monkeypatch.setattr(wire, "composition_unrank", lambda *a: unranked.append(a[1:]) or real(*a))

    v = 151_936
    q = np.random.default_rng(0).dirichlet(np.ones(v) * 0.01)
    limits = wire.DecodeLimits(vocab_size=v, max_drafts=8, max_ell=1024, max_support=4096, max_work=1e9)

    def forge(message: bytes, at: int, fmt: str, value: int) -> bytes:
        m = bytearray(message)
        struct.pack_into(fmt, m, at, value)
        m[14:18] = struct.pack(">I", zlib.crc32(bytes(m[18:]), zlib.crc32(bytes(m[:14]))))
        return bytes(m)

    dense = make_scheme("dense", ell=100).compress(q)
    msg = wire.encode_uplink(0, v, 100, 0, [(dense, int(np.flatnonzero(dense.counts)[0]))])
    assert wire.decode_uplink(msg, limits).drafts[0].token == int(np.flatnonzero(dense.counts)[0])
    assert unranked == [(v, 100)]  # the spy sees the one valid draft's unranking
    unranked.clear()
    for at, fmt, value, reason in [(2, ">I", 2**31, "V=2147483648"), (12, ">H", 60000, "60000 drafts"),
                                   (6, ">H", 60000, "ell=60000")]:  # fmt: skip
        with pytest.raises(wire.WireFormatError, match=reason):
            wire.decode_uplink(forge(msg, at, fmt, value), limits)
    with pytest.raises(wire.WireFormatError, match="truncated"):  # no limits: still not a V-sized allocation
        wire.decode_uplink(forge(msg, 2, ">I", 2**31))
    # C-SQS: the K - 1 field of the first draft claims half the vocabulary
    sparse = make_scheme("c-sqs", beta=0.01, ell=100).compress(q)
    msg = wire.encode_uplink(2, v, 100, 0, [(sparse, int(sparse.support[np.argmax(sparse.counts)]))])
    m = bytearray(msg)
    m[18:21] = (((v // 2 - 1) << 6) | (m[20] & 0x3F)).to_bytes(3, "big")  # 18-bit K-1 field, MSB first
    m[14:18] = struct.pack(">I", zlib.crc32(bytes(m[18:]), zlib.crc32(bytes(m[:14]))))
    with pytest.raises(wire.WireFormatError, match="K=75968, this receiver accepts at most K=4096"):
        wire.decode_uplink(bytes(m), limits)
    with pytest.raises(wire.WireFormatError, match="truncated: a draft with K=75968"):
        wire.decode_uplink(bytes(m))  # without limits the payload is too short for such a support
    assert unranked == []  # not one of the refused messages was unranked


def test_a_server_at_its_session_limit_answers_busy(tmp_path):
    with sqs_server(tmp_path / "token", "--max-sessions", "1") as (_, port):
        first = RawClient(port)
        first.open(token_of(tmp_path / "token"), toy_hello())
        second = socket.create_connection(("127.0.0.1", port), timeout=10)
        kind, length = fr.HEAD.unpack(second.recv(5, socket.MSG_WAITALL))
        body = second.recv(length, socket.MSG_WAITALL)
        assert kind == FrameType.ERROR and fr.parse_error(body) == (ErrorCode.BUSY, "server at its limit of 1 sessions")
        second.close()
        first.close()


def test_a_long_verification_does_not_stall_another_sessions_io(tmp_path):
    """One session's long forward (a 2,000-token prompt on SmolLM2) runs on the worker thread while
    another session opens: the event loop answers the second at once, before the first's verdict."""
    from sqs.protocol.schemes import make_scheme

    model = "embedded:smollm2-135m-instruct"
    side = load_side(model, "edge", "float32")
    v = side.vocab_size

    def hello(prompt):
        return fr.Hello(model, side.fingerprint, v, 1.0, 0, "client", (1,), tuple(prompt))

    with sqs_server(tmp_path / "token", "--dtype", "float32", model=model) as (_, port):
        token = token_of(tmp_path / "token")
        busy = RawClient(port, timeout=120)
        busy.open(token, hello(range(100, 2100)))
        comp = make_scheme("dense", ell=100).compress(np.full(v, 1.0 / v))
        uplink = wire.encode_uplink(0, v, 100, 0, [(comp, int(np.flatnonzero(comp.counts)[0]))])
        t0 = time.monotonic()
        busy.sock.sendall(busy.sealer.seal(FrameType.UPLINK, uplink))
        time.sleep(0.3)  # the worker is in the forward now
        t1 = time.monotonic()
        other = RawClient(port)
        other.open(token, hello([1, 2, 3]))  # challenge, hello, ready: all event-loop work
        opened = time.monotonic() - t1
        kind, _ = busy.answer()
        forward = time.monotonic() - t0
        # the second session was open before the first's verdict came (a machine-independent ordering)
        assert kind == FrameType.VERDICT and (t1 - t0) + opened < forward, (t1 - t0, opened, forward)
        print(f"forward {forward:.2f} s, second session opened in {opened * 1e3:.0f} ms")
        assert opened < 0.25 * forward, (opened, forward)
        other.close()
        busy.close()

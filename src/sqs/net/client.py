"""The edge's side of the connection (``sqs edge``): a cloud that lives in another process.

:class:`RemoteCloud` has the in-process :class:`sqs.system.cloud.Cloud`'s two calls, ``start(prompt)``
and ``handle(uplink) -> Verdict``, so :func:`sqs.system.session.run_session` drives either. What the
edge cannot know across the network (the LLM's p, hence the rejection probabilities and Theorem 1's
SLM-LLM term) is absent from its records; the round trip is measured on the edge's clock and the
cloud's part of it is what the server reports of its own.
"""

from __future__ import annotations

import socket
import ssl
import time
from collections.abc import Sequence

import numpy as np

from sqs.net import frames as fr
from sqs.net.frames import ErrorCode, FrameError, FrameType, Refused
from sqs.net.identity import LoadedModel
from sqs.protocol import wire
from sqs.system.cloud import Verdict
from sqs.system.session import CloudUnavailable


def parse_address(address: str) -> tuple[str, int]:
    host, sep, port = address.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"cloud address must be HOST:PORT, got {address!r}")
    return host.strip("[]"), int(port)


class RemoteCloud:
    """One session with a ``sqs serve`` cloud; every call raises :class:`CloudUnavailable` if the link fails."""

    remote = True  # timed by the clock; the accepted text lives at the cloud, the edge keeps its own copy

    def __init__(self, address: str, token: bytes, model: LoadedModel, cloud_model: str, temperature: float,
                 scheme_code: int, seed: Sequence[int] | None, timeout_s: float = 120.0,
                 tls: ssl.SSLContext | None = None, server_name: str | None = None,
                 rule: str = "token") -> None:  # fmt: skip
        self.address = parse_address(address)
        self.rule = rule  # the verification rule the session asks the server for
        self.tls, self.server_name = tls, server_name  # TLS (sqs.net.tls.client_context), the name to expect
        self.token, self.model, self.cloud_model = token, model, cloud_model
        self.temperature, self.scheme_code = float(temperature), int(scheme_code)
        self.seed = tuple(int(s) for s in seed) if seed is not None else None
        self.timeout_s = float(timeout_s)
        self.sock: socket.socket | None = None
        self.sealer: fr.Sealer | None = None
        self.ready: dict = {}
        self.batch = 0

    # --- framing ---------------------------------------------------------------------------------
    def _recv_exactly(self, n: int) -> bytes:
        chunks, got = [], 0
        while got < n:
            chunk = self.sock.recv(min(n - got, 1 << 20))
            if not chunk:
                if self.sealer is None and self.tls is None:  # before the challenge: a TLS server waits for a hello
                    raise ConnectionError("the cloud closed the connection before its challenge (a TLS server? "
                                          "connect with --tls-ca)")  # fmt: skip
                raise ConnectionError("the cloud closed the connection")
            chunks.append(chunk)
            got += len(chunk)
        return b"".join(chunks)

    def _read(self) -> tuple[FrameType, bytes]:
        kind, length = fr.parse_head(self._recv_exactly(fr.HEAD.size), fr.DEFAULT_MAX_FRAME)
        if kind is FrameType.CHALLENGE:
            return kind, self._recv_exactly(length)
        body = self._recv_exactly(length)
        mac = self._recv_exactly(fr.MAC_BYTES)
        if kind is FrameType.ERROR:
            code, message = fr.parse_error(body)
            try:
                self.sealer.check(kind, body, mac)
            except (FrameError, AttributeError):
                message += " (error frame not authenticated: is the token right?)"
            raise Refused(code, message)
        self.sealer.check(kind, body, mac)
        return kind, body

    def _handshake(self, sock: socket.socket) -> ssl.SSLSocket:
        name = self.server_name or self.address[0]
        try:
            return self.tls.wrap_socket(sock, server_hostname=name)
        except ssl.SSLCertVerificationError as exc:
            sock.close()
            raise ConnectionError(f"TLS: the cloud's certificate is not trusted for {name!r}: "
                                  f"{exc.verify_message or exc.reason}") from exc  # fmt: skip
        except ssl.SSLError as exc:
            sock.close()
            raise ConnectionError(f"TLS handshake failed ({exc.reason or exc}): is the cloud serving TLS "
                                  "(sqs serve --tls-cert/--tls-key)?") from exc  # fmt: skip

    def _fail(self, what: str, exc: Exception) -> CloudUnavailable:
        self.close(send_bye=False)
        return CloudUnavailable(f"{what} ({self.address[0]}:{self.address[1]}): {type(exc).__name__}: {exc}")

    # --- the Cloud interface -------------------------------------------------------------------
    def start(self, prompt: Sequence[int]) -> None:
        """Open the session: connect, answer the challenge, send the session-open fields with the prompt."""
        self.close(send_bye=False)
        self.batch = 0
        try:
            self.sealer = None
            self.sock = socket.create_connection(self.address, timeout=self.timeout_s)
            self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if self.tls is not None:
                self.sock = self._handshake(self.sock)
            kind, body = self._read()
            if kind is not FrameType.CHALLENGE:
                raise FrameError(ErrorCode.MALFORMED, f"expected CHALLENGE, got {kind.name}")
            server_nonce, _ = fr.parse_challenge(body)
            nonce = fr.new_nonce()
            self.sealer = fr.Sealer(fr.session_key(self.token, server_nonce, nonce), b"C", b"S")
            hello = fr.Hello(self.cloud_model, self.model.fingerprint, self.model.vocab_size, self.temperature,
                             self.scheme_code, "client" if self.seed is not None else "server", self.seed,
                             tuple(int(t) for t in prompt), self.rule)  # fmt: skip
            self.sock.sendall(self.sealer.seal(FrameType.HELLO, hello.to_body(nonce)))
            kind, body = self._read()
            if kind is not FrameType.READY:
                raise FrameError(ErrorCode.MALFORMED, f"expected READY, got {kind.name}")
            self.ready = fr.parse_json(body, "ready")
        except Refused as exc:
            self.close(send_bye=False)
            raise CloudUnavailable(f"the cloud refused the session: {exc}") from exc
        except (OSError, ConnectionError, FrameError) as exc:
            raise self._fail("could not open a session with the cloud", exc) from exc

    def handle(self, uplink: bytes) -> Verdict:
        """Send one batch; the verdict carries the measured round trip and the server's own timing."""
        if self.sock is None:
            raise CloudUnavailable("no open session (start() first)")
        n_drafts = wire.draft_count(uplink)
        t0 = time.perf_counter()
        try:
            self.sock.sendall(self.sealer.seal(FrameType.UPLINK, bytes(uplink)))
            kind, body = self._read()
            round_trip = time.perf_counter() - t0
            if kind is not FrameType.VERDICT or len(body) < wire.DOWNLINK_BYTES + fr.VERDICT_TAIL.size:
                raise FrameError(ErrorCode.MALFORMED, f"expected a VERDICT, got {kind.name} of {len(body)} bytes")
            message = body[: -fr.VERDICT_TAIL.size]
            down = wire.decode_verdict(message, self.model.vocab_size)
        except Refused as exc:
            self.close(send_bye=False)
            raise CloudUnavailable(f"batch {self.batch}: the cloud refused it: {exc}") from exc
        except (OSError, ConnectionError, FrameError) as exc:
            raise self._fail(f"batch {self.batch}: the link to the cloud failed", exc) from exc
        server_s, compute_s, n_new, cached = fr.VERDICT_TAIL.unpack_from(body, len(message))
        self.batch += 1
        token = -1 if down.token is None else down.token  # -1: the edge draws it (split verification)
        return Verdict(message=message, num_drafts=n_drafts, num_accepted=down.num_accepted, token=token,
                       uplink_bytes=len(uplink), payload_bits=0, rejection_prob=np.full(n_drafts, np.nan),
                       p=None, q_hat=None, compute_s=compute_s, forward=(n_new, cached),
                       round_trip_s=round_trip, server_s=server_s)  # fmt: skip

    def close(self, send_bye: bool = True) -> None:
        if self.sock is None:
            return
        try:
            if send_bye and self.sealer is not None:
                self.sock.sendall(self.sealer.seal(FrameType.BYE, b""))
        except OSError:
            pass
        finally:
            self.sock.close()
            self.sock = None


class RemotePair:
    """The edge's SLM with a cloud across the network: what :func:`sqs.study.decode.decode_prompt` needs of a pair."""

    def __init__(self, slm: LoadedModel, address: str, token: bytes, cloud_model: str, seed_policy: str = "client",
                 timeout_s: float = 120.0, tls: ssl.SSLContext | None = None,
                 server_name: str | None = None) -> None:  # fmt: skip
        if seed_policy not in ("client", "server"):
            raise ValueError(f"seed policy must be client or server, got {seed_policy!r}")
        parse_address(address)
        self.side, self.address, self.token = slm, address, token
        self.slm = slm.session_model()
        self.llm = None  # across the network: the cloud-only baseline has nothing to run here
        self.tokenizer = slm.tokenizer
        self.vocab_size = slm.vocab_size
        self.slm_id, self.llm_id = slm.name, cloud_model
        self.seed_policy, self.timeout_s = seed_policy, timeout_s
        self.tls, self.server_name = tls, server_name

    def encode(self, text: str) -> list[int]:
        return self.side.encode(text)

    def decode(self, tokens: list[int]) -> str:
        return self.side.decode(tokens)

    def make_cloud(self, temperature: float, seed: tuple[int, ...], scheme_code: int,
                   rule: str = "token") -> RemoteCloud:  # fmt: skip
        seed = seed if self.seed_policy == "client" else None
        return RemoteCloud(self.address, self.token, self.side, self.llm_id, temperature, scheme_code, seed,
                           self.timeout_s, self.tls, self.server_name, rule)  # fmt: skip

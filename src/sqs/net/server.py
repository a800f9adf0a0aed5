"""The cloud as a server (``sqs serve``): one LLM, many edge sessions, each over its own TCP connection.

asyncio serves every connection's I/O; the verification work (decode, LLM forward, verify) runs in a
worker thread, so a long forward of one session never stalls another's reads and writes. Each session
has its own KV cache over the shared weights (:meth:`LoadedModel.session_model`). What a session may
cost is bounded before it is spent: frame sizes, the session-open fields (model identity, V,
temperature, scheme code, seed policy, prompt length) and every uplink's header fields
(:class:`sqs.protocol.wire.DecodeLimits`). A bad frame closes its own session with an ERROR frame;
every other session keeps going.
"""

from __future__ import annotations

import asyncio
import logging
import math
import signal
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from sqs.net import frames as fr
from sqs.net.frames import ErrorCode, FrameError, FrameType
from sqs.net.identity import LoadedModel
from sqs.net.tls import server_context
from sqs.protocol import wire
from sqs.protocol.schemes import by_code
from sqs.protocol.verify import RULES
from sqs.system.cloud import Cloud

log = logging.getLogger(__name__)

SEED_POLICIES = ("client", "server")


@dataclass(frozen=True)
class ServerConfig:
    host: str = "127.0.0.1"  # loopback unless told otherwise
    port: int = 7433
    max_frame_bytes: int = fr.DEFAULT_MAX_FRAME
    max_sessions: int = 64
    idle_timeout_s: float = 300.0
    hello_timeout_s: float = 10.0
    max_context: int = 32768  # prompt plus generated tokens of one session
    max_drafts: int = 64
    max_ell: int = 4096
    max_support: int | None = None  # None: V
    max_work: float = 1e9  # per uplink, wire.draft_work units (measured: docs/network.md)
    max_temperature: float = 100.0
    seed_policies: tuple[str, ...] = SEED_POLICIES
    batch_verify: bool = False  # verify the sessions' uplinks that wait together in one batched LLM forward
    max_batch: int = 8
    tls_cert: str | None = None  # PEM certificate chain: serve TLS 1.2+ (sqs.net.tls), the frames' HMAC on top
    tls_key: str | None = None  # its private key

    def __post_init__(self) -> None:
        for name in ("max_frame_bytes", "max_sessions", "max_context", "max_drafts", "max_ell", "max_batch"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        for name in ("idle_timeout_s", "hello_timeout_s"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)}")
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ValueError("TLS needs both tls_cert and tls_key (PEM files), or neither")
        bad = set(self.seed_policies) - set(SEED_POLICIES)
        if bad or not self.seed_policies:
            raise ValueError(f"seed_policies must be a non-empty subset of {SEED_POLICIES}, got {self.seed_policies}")

    def limits(self, vocab_size: int) -> wire.DecodeLimits:
        return wire.DecodeLimits(vocab_size, self.max_drafts, self.max_ell, self.max_support, self.max_work)


@dataclass
class ServerStats:
    sessions_opened: int = 0
    sessions_active: int = 0
    sessions_closed: int = 0  # by BYE
    batches: int = 0
    errors: Counter = field(default_factory=Counter)  # ERROR frames sent, by code name
    vanished: int = 0  # clients gone mid-frame or mid-session
    forwards: int = 0  # LLM calls of the verifier
    batched_rows: int = 0  # uplinks verified in calls of more than one session

    def line(self) -> str:
        return (f"sessions opened {self.sessions_opened}, closed by BYE {self.sessions_closed}, batches "
                f"{self.batches}, LLM calls {self.forwards} ({self.batched_rows} uplinks in batched calls), "
                f"vanished {self.vanished}, errors {dict(self.errors)}")  # fmt: skip


class Verifier:
    """The one worker that runs verification work off the event loop.

    Uplinks queue here; each round takes the oldest and, with ``batch``, every other one already waiting
    (up to ``max_batch``), decodes them, scores them in one forward where the model allows it
    (the model's ``score_many``), and answers each. Nothing waits for a batch to fill: a lone
    uplink is verified at once.
    """

    def __init__(self, stats: ServerStats, batch: bool = False, max_batch: int = 8) -> None:
        self.stats, self.batch, self.max_batch = stats, batch, max_batch
        self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqs-verify")
        self.queue: asyncio.Queue | None = None
        self.task: asyncio.Task | None = None

    async def submit(self, cloud: Cloud, body: bytes):
        if self.queue is None:
            self.queue = asyncio.Queue()
            self.task = asyncio.create_task(self._run())
        fut = asyncio.get_running_loop().create_future()
        self.queue.put_nowait((cloud, body, fut))
        return await fut

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            items = [await self.queue.get()]
            while self.batch and len(items) < self.max_batch and not self.queue.empty():
                items.append(self.queue.get_nowait())
            live = [it for it in items if not it[2].done()]
            try:
                results = await loop.run_in_executor(self.pool, self._work, [(c, b) for c, b, _ in live])
            except Exception as exc:  # the worker itself failed: every waiting session hears of it
                log.exception("verifier round failed")
                results = [exc] * len(live)
            for (_, _, fut), res in zip(live, results, strict=True):
                if fut.done():
                    continue
                if isinstance(res, BaseException):
                    fut.set_exception(res)
                else:
                    fut.set_result(res)

    def _work(self, items: list[tuple[Cloud, bytes]]) -> list:
        """Decode, score (batched where it can) and verify; a failure is that item's result, not the round's."""
        out: list = [None] * len(items)
        ready = []
        for i, (cloud, body) in enumerate(items):
            t0 = time.perf_counter()
            try:
                ready.append((i, cloud.prepare(body), t0))
            except Exception as exc:
                out[i] = exc
        batchable = [r for r in ready if items[r[0]][0].model.batchable and not r[1].layout.tree]  # trees alone
        logits = {}
        if len(batchable) > 1:
            try:
                clouds = [items[i][0] for i, _, _ in batchable]
                scored = clouds[0].model.score_many([c.model for c in clouds], [c.tokens for c in clouds],
                                                    [m.tokens for _, m, _ in batchable])  # fmt: skip
                logits = {i: x for (i, _, _), x in zip(batchable, scored, strict=True)}
                self.stats.forwards += 1
                self.stats.batched_rows += len(batchable)
            except Exception:
                log.exception("batched verification failed; verifying one by one")
                logits = {}
        for i, msg, t0 in ready:
            cloud = items[i][0]
            try:
                if i not in logits:
                    logits[i] = cloud.score(msg)
                    self.stats.forwards += 1
                out[i] = cloud.finish(msg, logits[i], time.perf_counter() - t0)
            except Exception as exc:
                out[i] = exc
        return out


class CloudServer:
    def __init__(self, model: LoadedModel, token: bytes, config: ServerConfig | None = None) -> None:
        if len(token) < fr.MIN_TOKEN:
            raise ValueError(f"the shared token must be at least {fr.MIN_TOKEN} bytes")
        self.model, self.token = model, token
        self.config = config or ServerConfig()
        self.limits = self.config.limits(model.vocab_size)
        self.stats = ServerStats()
        self.verifier = Verifier(self.stats, self.config.batch_verify, self.config.max_batch)
        self._server: asyncio.base_events.Server | None = None
        self._next_id = 0

    async def start(self) -> int:
        """Listen; returns the bound port (``port=0`` picks a free one)."""
        cfg = self.config
        tls = server_context(cfg.tls_cert, cfg.tls_key) if cfg.tls_cert else None
        extra = {"ssl": tls, "ssl_handshake_timeout": cfg.hello_timeout_s} if tls else {}
        self._server = await asyncio.start_server(self._session, cfg.host, cfg.port, limit=1 << 16, **extra)
        port = self._server.sockets[0].getsockname()[1]
        log.info("serving %s (V=%d) on %s:%d%s", self.model.name, self.model.vocab_size, cfg.host, port,
                 " over TLS" if tls else "")  # fmt: skip
        return port

    async def serve_forever(self) -> None:
        if self._server is None:
            await self.start()
        async with self._server:
            await self._server.serve_forever()

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        if self.verifier.task is not None:
            self.verifier.task.cancel()
        self.verifier.pool.shutdown(wait=False, cancel_futures=True)
        log.info("closing: %s", self.stats.line())

    # --- one connection -------------------------------------------------------------------------
    async def _read(self, reader: asyncio.StreamReader, timeout: float) -> tuple[FrameType, bytes, bytes]:
        head = await asyncio.wait_for(reader.readexactly(fr.HEAD.size), timeout)
        kind, length = fr.parse_head(head, self.config.max_frame_bytes)
        if kind is FrameType.CHALLENGE:
            raise FrameError(ErrorCode.MALFORMED, "a client does not send CHALLENGE")
        body = await asyncio.wait_for(reader.readexactly(length + fr.MAC_BYTES), timeout)
        return kind, body[:length], body[length:]

    async def _session(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._next_id += 1
        sid = self._next_id
        sealer: fr.Sealer | None = None
        self.stats.sessions_active += 1
        try:
            if self.stats.sessions_active > self.config.max_sessions:
                raise FrameError(ErrorCode.BUSY, f"server at its limit of {self.config.max_sessions} sessions")
            nonce = fr.new_nonce()
            writer.write(fr.challenge(nonce, self.config.max_frame_bytes))
            await writer.drain()
            kind, body, mac = await self._read(reader, self.config.hello_timeout_s)
            if kind is not FrameType.HELLO or len(body) < fr.NONCE_BYTES:
                raise FrameError(ErrorCode.MALFORMED, f"expected HELLO, got {kind.name}")
            sealer = fr.Sealer(fr.session_key(self.token, nonce, body[: fr.NONCE_BYTES]), b"S", b"C")
            sealer.check(kind, body, mac)  # before the body is parsed
            _, hello = fr.Hello.from_body(body)
            cloud = self._open(hello)
            self.stats.sessions_opened += 1
            ready = {"session": sid, "model": self.model.name, "vocab_size": self.model.vocab_size,
                     "max_frame_bytes": self.config.max_frame_bytes, "max_drafts": self.config.max_drafts,
                     "max_ell": self.config.max_ell, "max_context": self.config.max_context}  # fmt: skip
            writer.write(sealer.seal(FrameType.READY, fr.json_body(ready)))
            await writer.drain()
            await self._serve_batches(reader, writer, sealer, cloud)
            self.stats.sessions_closed += 1
        except FrameError as exc:
            self.stats.errors[exc.code.name] += 1
            log.info("session %d: %s: %s", sid, exc.code.name, exc)
            await self._send_error(writer, sealer, exc.code, str(exc))
        except (asyncio.IncompleteReadError, ConnectionError):
            self.stats.vanished += 1
            log.info("session %d: the client went away", sid)
        except TimeoutError:
            self.stats.errors[ErrorCode.IDLE.name] += 1
            await self._send_error(writer, sealer, ErrorCode.IDLE, "session idle too long; closed")
        except Exception as exc:
            self.stats.errors[ErrorCode.INTERNAL.name] += 1
            log.exception("session %d: internal error", sid)
            await self._send_error(writer, sealer, ErrorCode.INTERNAL, f"internal error: {type(exc).__name__}")
        finally:
            self.stats.sessions_active -= 1
            writer.close()
            try:
                await writer.wait_closed()
            except (ConnectionError, OSError):
                pass

    async def _send_error(self, writer, sealer, code: ErrorCode, message: str) -> None:
        body = fr.error_body(code, message)
        if sealer is not None:
            frame = sealer.seal(FrameType.ERROR, body)
        else:  # before a key exists: an unauthenticated error, zero MAC
            frame = fr.HEAD.pack(FrameType.ERROR, len(body)) + body + bytes(fr.MAC_BYTES)
        try:
            writer.write(frame)
            await asyncio.wait_for(writer.drain(), 5.0)
        except (ConnectionError, OSError, TimeoutError):
            pass

    def _open(self, h: fr.Hello) -> Cloud:
        """The session's verifier, once every session-open field matches this server's model and policy."""
        m, cfg = self.model, self.config

        def refuse(msg: str):
            raise FrameError(ErrorCode.MISMATCH, msg)

        if h.model != m.name:
            refuse(f"this server runs {m.name!r}, the edge expects {h.model!r}")
        if h.tokenizer != m.fingerprint:
            refuse(f"tokenizer fingerprint {h.tokenizer[:12]}... differs from this model's {m.fingerprint[:12]}...")
        if h.vocab_size != m.vocab_size:
            refuse(f"vocabulary size {h.vocab_size}, this model has V={m.vocab_size}")
        if not (math.isfinite(h.temperature) and 0 <= h.temperature <= cfg.max_temperature):
            refuse(f"temperature {h.temperature} outside [0, {cfg.max_temperature}]")
        spec = by_code(h.scheme_code)
        if spec is None:
            refuse(f"unknown scheme code {h.scheme_code}")
        if h.seed_policy not in cfg.seed_policies:
            refuse(f"seed policy {h.seed_policy!r}; this server allows {', '.join(cfg.seed_policies)}")
        if (h.seed is None) != (h.seed_policy == "server"):
            refuse("seed policy 'client' needs a seed, 'server' must not send one")
        if not 1 <= len(h.prompt) <= cfg.max_context:
            refuse(f"prompt of {len(h.prompt)} tokens; allowed 1 to {cfg.max_context}")
        if min(h.prompt) < 0 or max(h.prompt) >= m.vocab_size:
            refuse(f"prompt token ids must lie in [0, {m.vocab_size})")
        if h.verify not in RULES:
            refuse(f"verification rule {h.verify!r}; this server verifies {', '.join(RULES)}")
        rng = np.random.default_rng(list(h.seed) if h.seed is not None else None)
        cloud = Cloud(m.session_model(), h.temperature, rng, self.limits, h.scheme_code, h.verify)
        cloud.start(list(h.prompt))
        return cloud

    async def _serve_batches(self, reader, writer, sealer: fr.Sealer, cloud: Cloud) -> None:
        while True:
            kind, body, mac = await self._read(reader, self.config.idle_timeout_s)
            arrived = time.perf_counter()
            sealer.check(kind, body, mac)
            if kind is FrameType.BYE:
                return
            if kind is not FrameType.UPLINK:
                raise FrameError(ErrorCode.MALFORMED, f"expected UPLINK or BYE, got {kind.name}")
            if len(cloud.tokens) + self.config.max_drafts + 1 > self.config.max_context:
                raise FrameError(ErrorCode.TOO_LARGE, f"session reached its context limit of {self.config.max_context}")
            try:
                verdict = await self.verifier.submit(cloud, body)
            except wire.WireFormatError as exc:
                raise FrameError(ErrorCode.BAD_UPLINK, f"uplink refused: {exc}") from None
            self.stats.batches += 1
            tail = fr.VERDICT_TAIL.pack(time.perf_counter() - arrived, verdict.compute_s, *verdict.forward)
            writer.write(sealer.seal(FrameType.VERDICT, verdict.message + tail))
            await writer.drain()


def serve(model: LoadedModel, token: bytes, config: ServerConfig, announce=None) -> None:
    """Run a server until interrupted (the ``sqs serve`` command); ``announce(port)`` once listening."""

    async def main() -> None:
        server = CloudServer(model, token, config)
        port = await server.start()
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        if announce is not None:
            announce(port)
        try:
            await stop.wait()
        finally:
            await server.close()

    asyncio.run(main())

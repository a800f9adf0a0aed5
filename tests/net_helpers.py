"""Shared by the network tests: a `sqs serve` subprocess, raw frames, and the toy pair's sessions."""

import json
import socket
import sys
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from tests.conftest import TOY_SCHEMES

import sqs
from sqs.net import frames as fr
from sqs.net.client import RemoteCloud
from sqs.net.identity import load_side
from sqs.net.launch import announced
from sqs.net.study import Session, run_remote
from sqs.system.cloud import Cloud
from sqs.system.edge import Edge
from sqs.system.latency import LinkConfig
from sqs.system.session import run_session

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
NETLINK = ROOT / "tests/net/netlink.sh"
TOY = "toy:16:0:0.7"
SCHEMES = TOY_SCHEMES


@contextmanager
def sqs_server(token_file: Path, *args: str, model: str = TOY, netns: str | None = None, port: int = 0):
    """`sqs serve` in a subprocess (optionally inside a network namespace); yields (process, port)."""
    cmd = [str(BIN / "sqs"), "serve", "--llm", model, "--port", str(port), "--token-file", str(token_file), *args]
    if netns:
        cmd = ["ip", "netns", "exec", netns, *cmd]
    with announced(cmd, Path(token_file).with_suffix(".serve.log"), "sqs serve") as (proc, info):
        yield proc, int(info["listening"].rsplit(":", 1)[1])


def token_of(path: Path) -> bytes:
    return path.read_text().strip().encode()


def toy_edge(name: str, params: dict, seed, temperature: float = 1.0, budget: int = 10**6, max_len: int = 4,
             model: str = TOY) -> Edge:  # fmt: skip
    slm = load_side(model, "edge").weights
    return Edge(slm, sqs.make_scheme(name, **params), temperature, budget, max_len, np.random.default_rng(seed))


def remote(port: int, token: bytes, scheme_code: int, seed, temperature: float = 1.0, host: str = "127.0.0.1",
           model: str = TOY, rule: str = "token") -> RemoteCloud:  # fmt: skip
    return RemoteCloud(f"{host}:{port}", token, load_side(model, "edge"), model, temperature, scheme_code, seed,
                       timeout_s=30, rule=rule)  # fmt: skip


def in_process(name: str, params: dict, seed: int, prompt, n: int, temperature: float = 1.0, model: str = TOY,
               rule: str = "token"):  # fmt: skip
    """The session :func:`over_network` runs, with both sides in this process (the seeds run_remote uses)."""
    edge = toy_edge(name, params, [seed, 0], temperature, model=model)
    cloud = Cloud(load_side(model, "cloud").weights, temperature, np.random.default_rng([seed, 0, 1]), rule=rule)
    return run_session(edge, cloud, prompt, n)


def over_network(name: str, params: dict, seed: int, prompt, n: int, port: int, token: bytes, temperature: float = 1.0,
                 host: str = "127.0.0.1", model: str = TOY):  # fmt: skip
    side = load_side(model, "edge")
    session = Session(name, params, tuple(prompt), seed)
    return run_remote(side.session_model(), side, f"{host}:{port}", token, model, session, n, temperature, LinkConfig(),
                      budget_bits=10**6, max_draft_len=4)  # fmt: skip


class RawClient:
    """A hand-driven connection for the bad-input tests: speaks (or breaks) the framing byte by byte."""

    def __init__(self, port: int, host: str = "127.0.0.1", timeout: float = 10.0) -> None:
        self.sock = socket.create_connection((host, port), timeout=timeout)
        kind, length = fr.HEAD.unpack(self.recv(fr.HEAD.size))
        assert kind == fr.FrameType.CHALLENGE
        self.server_nonce, self.max_frame = fr.parse_challenge(self.recv(length))
        self.sealer: fr.Sealer | None = None

    def recv(self, n: int) -> bytes:
        out = b""
        while len(out) < n:
            chunk = self.sock.recv(n - len(out))
            if not chunk:
                raise ConnectionError("closed")
            out += chunk
        return out

    def open(self, token: bytes, hello: fr.Hello) -> dict:
        nonce = fr.new_nonce()
        self.sealer = fr.Sealer(fr.session_key(token, self.server_nonce, nonce), b"C", b"S")
        self.sock.sendall(self.sealer.seal(fr.FrameType.HELLO, hello.to_body(nonce)))
        kind, body = self.answer()
        assert kind == fr.FrameType.READY, (kind, body)
        return json.loads(body)

    def answer(self) -> tuple[int, bytes]:
        """The next frame (type, body), or (None, b'') if the server closed the connection; a server that says
        nothing until the socket's timeout raises TimeoutError (no answer is not a refusal)."""
        try:
            kind, length = fr.HEAD.unpack(self.recv(fr.HEAD.size))
            body = self.recv(length)
            self.recv(fr.MAC_BYTES)
        except TimeoutError:
            raise
        except (ConnectionError, OSError):
            return None, b""
        return kind, body

    def close(self) -> None:
        self.sock.close()


def toy_hello(prompt=(0,), scheme_code: int = 1, **change) -> fr.Hello:
    side = load_side(TOY, "edge")
    fields = dict(model=TOY, tokenizer=side.fingerprint, vocab_size=side.vocab_size, temperature=1.0,
                  scheme_code=scheme_code, seed_policy="client", seed=(1, 2), prompt=tuple(prompt))  # fmt: skip
    fields.update(change)
    return fr.Hello(**fields)


def tiny_hf_pair(out: Path, vocab: int = 8) -> tuple[str, str]:
    """A random two-layer Qwen2 LLM and SLM over one 8-word tokenizer, saved as local model directories
    (float32): a transformers model whose whole next-token law can be tabulated, for batched-forward
    exactness tests."""
    import torch
    from tokenizers import Tokenizer
    from tokenizers.models import WordLevel
    from tokenizers.pre_tokenizers import Whitespace
    from transformers import PreTrainedTokenizerFast, Qwen2Config, Qwen2ForCausalLM

    words = {**{f"w{i}": i for i in range(vocab - 1)}, "<|endoftext|>": vocab - 1}  # Qwen2's loader adds it
    tk = Tokenizer(WordLevel(words, unk_token="w0"))
    tk.pre_tokenizer = Whitespace()
    tok = PreTrainedTokenizerFast(tokenizer_object=tk, unk_token="w0", eos_token="<|endoftext|>")
    paths = []
    for name, seed in (("llm", 0), ("slm", 1)):
        torch.manual_seed(seed)
        cfg = Qwen2Config(vocab_size=vocab, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                          num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=128,
                          initializer_range=0.6, tie_word_embeddings=False)  # fmt: skip
        Qwen2ForCausalLM(cfg).save_pretrained(out / name)
        tok.save_pretrained(out / name)
        paths.append(str(out / name))
    return paths[0], paths[1]

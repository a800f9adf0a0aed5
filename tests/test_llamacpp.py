"""The llama.cpp edge: SmolLM2's GGUF as shipped against its transformers cloud (the fast pair's LLM).

Its KV cache rolled back to a shared prefix gives the logits a fresh context gives; greedy speculation with
it equals greedy cloud-only AR; the first token through Edge and Cloud follows the LLM's law (chi-square);
`sqs decode --slm-backend llama.cpp` decodes what `sqs edge --slm-backend llama.cpp` decodes against
`sqs serve`."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from tests.conftest import LAW_ALPHA

pytest.importorskip("llama_cpp", reason="llama-cpp-python is not installed (make installs it)")

from net_helpers import sqs_server
from sqs.lossless import gof_power, gof_test
from sqs.lossless.faults import FAULTS, fault_laws
from sqs.models.backend import EMBEDDED_LLM
from sqs.models.interface import load, with_backend
from sqs.protocol.probs import softmax_temperature
from sqs.study.decode import DecodeConfig, ModelPair, decode_prompt

SLM = with_backend(EMBEDDED_LLM, "llama.cpp")
BIN = Path(sys.executable).parent
PROMPT = "The city council voted on Tuesday to approve"


@pytest.fixture(scope="module")
def pair():
    return ModelPair(SLM, EMBEDDED_LLM, dtype="float32", device="cpu")


def test_the_rolled_back_cache_gives_a_fresh_contexts_logits():
    """The same calls (the prompt in one forward, then one token) on a context that drafted three tokens and
    rolled them back, and on a fresh one: the same logits, bit for bit (llama.cpp's kernels depend on a
    forward's width, so the widths are kept alike)."""
    loaded = load(SLM, side="edge")
    lm, fresh = loaded.model.session(), load(SLM, side="edge").model.session()  # two llama.cpp contexts
    ids = loaded.tokenizer.encode(PROMPT)
    lm.next_logits(ids)
    lm.next_logits([*ids, 11, 12, 13])  # a draft that will be rejected
    assert lm.last_forward == (3, len(ids))
    got = lm.next_logits([*ids, 99])  # rolled back to the prompt, one new token
    assert lm.last_forward == (1, len(ids))
    fresh.next_logits(ids)
    np.testing.assert_array_equal(got, fresh.next_logits([*ids, 99]))
    hit = lm.next_logits(ids)  # a prefix already evaluated: no forward
    assert lm.last_forward is None and hit.dtype == np.float64 and hit.shape == (lm.vocab_size,)


def test_rows_a_draft_step_skipped_are_computed_when_scored():
    """A draft step computes the output layer at its last position only; scoring those positions later runs
    them again and gives what a context that scored them directly gives, bit for bit."""
    loaded = load(SLM, side="edge")
    lm, fresh = loaded.model.session(), load(SLM, side="edge").model.session()
    ids = loaded.tokenizer.encode(PROMPT)
    for m in (lm, fresh):
        m.next_logits(ids[:-1])
    lm.next_logits([*ids, 11, 12, 13])  # four positions, logits at the last
    got = lm.score_logits(ids, [11, 12, 13])
    assert lm.last_forward == (4, len(ids) - 1)  # the three rows it lacked: the four positions again
    np.testing.assert_array_equal(got, fresh.score_logits(ids, [11, 12, 13]))
    assert got.shape == (4, lm.vocab_size) and np.isfinite(got).all()
    lm.score_logits(ids, [11, 12, 13])
    assert lm.last_forward is None  # every row now held


def test_greedy_speculation_with_the_llama_cpp_edge_equals_greedy_ar(pair):
    base = DecodeConfig(temperature=0.0, max_new_tokens=12, max_draft_len=4, slm=SLM, llm=EMBEDDED_LLM,
                        dtype="float32", device="cpu")  # fmt: skip
    ar = decode_prompt(pair, DecodeConfig(**{**vars(base), "scheme": "ar"}), PROMPT, 0)
    for scheme in ("k-sqs", "c-sqs", "qs"):
        sd = decode_prompt(pair, DecodeConfig(**{**vars(base), "scheme": scheme}), PROMPT, 0)
        assert sd["tokens"] == ar["tokens"], scheme
        assert sd["draft_accept_rate"] > 0.3  # the quantized GGUF drafts for its own float32 cloud


@pytest.mark.slow
def test_the_first_token_follows_the_llm_with_the_llama_cpp_edge(pair):
    """2,000 sessions of two tokens at T = 1 through Edge and Cloud (the edge drafts the first, the cloud accepts
    or resamples it); the first token's law is the LLM's p. At V = 49,152 and 2,000 draws the law test catches
    the faults that move this law by a binned TV of 0.08 or more (sqs.lossless): the inverted acceptance ratio
    and the residual drawn from p are checked to be among them; the others move it too little to see here
    (the draft from q instead of q_hat, bfloat16 q_hat: tests/test_lossless.py and the wire's round trip)."""
    from sqs.protocol.schemes import make_scheme
    from sqs.system.cloud import Cloud
    from sqs.system.edge import Edge
    from sqs.system.session import run_session

    prompt = pair.encode(PROMPT)
    p = softmax_temperature(pair.llm.next_logits(prompt), 1.0)
    scheme = make_scheme("k-sqs", k=8, ell=20)
    q = softmax_temperature(pair.slm.next_logits(prompt), 1.0)
    laws = fault_laws(q, scheme.compress(q).q_hat, p)
    caught = [f for f, law in laws.items() if gof_power(law, p, 2000, LAW_ALPHA) >= 0.9]
    assert set(FAULTS[:2]) <= set(caught), {f: gof_power(law, p, 2000, LAW_ALPHA) for f, law in laws.items()}
    counts, drafted, accepted = np.zeros(pair.vocab_size, dtype=np.int64), 0, 0
    for i in range(2000):
        edge = Edge(pair.slm, make_scheme("k-sqs", k=8, ell=20), 1.0, 10**6, 2, np.random.default_rng([i, 0]))
        cloud = Cloud(pair.llm, 1.0, np.random.default_rng([i, 1]))
        result = run_session(edge, cloud, prompt, 2)
        drafted += result.batches[0].num_drafts
        accepted += result.batches[0].num_accepted
        counts[result.tokens[0]] += 1
    assert drafted >= 2000 and 0 < accepted < drafted  # every session drafted; some kept, some resampled
    res = gof_test(counts, p)
    assert res.impossible == 0 and res.pvalue > LAW_ALPHA


def test_sqs_edge_against_sqs_serve_decodes_what_sqs_decode_does(tmp_path):
    common = ["--slm-backend", "llama.cpp", "--slm", EMBEDDED_LLM, "--llm", EMBEDDED_LLM, "--dtype", "float32",
              "--scheme", "k-sqs", "--k", "8", "--temperature", "1.0", "--max-new-tokens", "8", "--prompt", PROMPT,
              "--seed", "3"]  # fmt: skip
    local = subprocess.run([str(BIN / "sqs"), "decode", *common], capture_output=True, text=True, timeout=600)
    assert local.returncode == 0, local.stderr[-3000:]
    with sqs_server(tmp_path / "token", "--dtype", "float32", model=EMBEDDED_LLM) as (_, port):
        edge = [str(BIN / "sqs"), "edge", "--cloud", f"127.0.0.1:{port}", "--token-file", str(tmp_path / "token")]
        remote = subprocess.run([*edge, *common], capture_output=True, text=True, timeout=600)
    assert remote.returncode == 0, remote.stderr[-3000:]
    tokens = [json.loads(line)["tokens"] for line in (local.stdout, remote.stdout)]
    assert tokens[0] == tokens[1] and len(tokens[0]) == 8

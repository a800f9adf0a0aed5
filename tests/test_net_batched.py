"""Batched verification (``sqs serve --batch-verify``): uplinks that wait together are scored in one
transformers forward. Batched kernels may round differently, so exactness is checked by the law of the
output (chi-square), on a random two-layer Qwen2 pair whose next-token law can be tabulated."""

import threading

import numpy as np
import pytest
from tests.conftest import LAW_ALPHA

from net_helpers import sqs_server, tiny_hf_pair, token_of
from sqs.lossless import gof_test
from sqs.net.identity import load_side
from sqs.net.study import Session, run_remote
from sqs.protocol.probs import softmax_temperature
from sqs.system.latency import LinkConfig

PROMPT = [1, 2]


@pytest.fixture(scope="module")
def hf_pair(tmp_path_factory):
    return tiny_hf_pair(tmp_path_factory.mktemp("tinyhf"))


def test_one_batched_forward_scores_like_one_forward_per_session(hf_pair):
    llm = load_side(hf_pair[0], "cloud", "float32")
    rng = np.random.default_rng(0)
    alone, batched = [llm.session_model() for _ in range(4)], [llm.session_model() for _ in range(4)]
    contexts = [list(rng.integers(0, 8, size=int(rng.integers(2, 9)))) for _ in range(4)]
    for _ in range(6):  # sessions of different lengths, caches that must be cropped, rejected drafts
        drafts = [list(rng.integers(0, 8, size=int(rng.integers(0, 4)))) for _ in range(4)]
        want = [lm.score_logits(c, d) for lm, c, d in zip(alone, contexts, drafts, strict=True)]
        got = llm.weights.score_many(batched, contexts, drafts)
        for w, g in zip(want, got, strict=True):
            np.testing.assert_allclose(g, w, rtol=1e-4, atol=1e-4)  # float32, other kernels
        for i, d in enumerate(drafts):
            keep = int(rng.integers(0, len(d) + 1))
            contexts[i] = contexts[i] + d[:keep] + [int(rng.integers(0, 8))]
    assert all(lm.last_forward[1] > 0 for lm in batched)  # the later calls ran on the stacked caches


@pytest.mark.slow
def test_batched_verification_keeps_the_llm_law(hf_pair, tmp_path):
    llm_dir, slm_dir = hf_pair
    trials, threads = 2000, 8
    slm = load_side(slm_dir, "edge", "float32")
    joint = np.zeros((8, 8))
    lock = threading.Lock()
    errors = []
    with sqs_server(tmp_path / "token", "--batch-verify", "--dtype", "float32", model=llm_dir) as (_, port):
        token = token_of(tmp_path / "token")

        def worker(w):
            local = np.zeros_like(joint)
            for trial in range(w, trials, threads):
                try:
                    res = run_remote(slm.session_model(), slm, f"127.0.0.1:{port}", token, llm_dir,
                                     Session("k-sqs", {"k": 4, "ell": 8}, tuple(PROMPT), trial), 3, 1.0, LinkConfig(),
                                     budget_bits=10**6, max_draft_len=3)  # fmt: skip
                    local[res.tokens[0], res.tokens[1]] += 1
                except Exception as exc:  # collected, and the test fails on any
                    errors.append(exc)
            with lock:
                joint[:] += local

        pool = [threading.Thread(target=worker, args=(w,)) for w in range(threads)]
        for t in pool:
            t.start()
        for t in pool:
            t.join()
    assert not errors, errors[:3]
    log = (tmp_path / "token.serve.log").read_text()
    batched = int(log.rsplit("uplinks in batched calls", 1)[0].rsplit("(", 1)[1])
    assert batched > trials // 4, log[-500:]  # most uplinks were verified in batched forwards
    lm = load_side(llm_dir, "cloud", "float32").session_model()
    p1 = softmax_temperature(lm.next_logits(PROMPT), 1.0)
    target = np.array([p1[a] * softmax_temperature(lm.next_logits([*PROMPT, a]), 1.0) for a in range(8)])
    assert joint.sum() == trials
    res = gof_test(joint.ravel(), target.ravel())
    assert res.impossible == 0 and res.pvalue > LAW_ALPHA

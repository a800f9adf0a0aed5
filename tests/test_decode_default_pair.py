"""The default pair for real: Qwen2.5-Coder-0.5B-Instruct drafting for Qwen2.5-Coder-1.5B-Instruct, in
bfloat16 on the CPU, V = 151,936 on the wire. Converted once from the PyPI chunk packages (about two
minutes on an empty cache), then loaded in about ten seconds."""

import pytest

from sqs.models.backend import DEFAULT_LLM, DEFAULT_SLM
from sqs.study.decode import DECODE_SCHEMES, DecodeConfig, ModelPair, decode_prompt

PROMPT = "def moving_average(values, window):"


@pytest.fixture(scope="module")
def pair():
    return ModelPair(DEFAULT_SLM, DEFAULT_LLM, "bfloat16", device="cpu")


@pytest.mark.slow
def test_every_scheme_decodes_on_the_default_pair(pair):
    assert pair.vocab_size == 151_936
    for scheme in [s for s in DECODE_SCHEMES if s != "dense"]:  # dense is an alias of qs
        cfg = DecodeConfig(scheme=scheme, temperature=0.8, max_new_tokens=6, max_draft_len=3, k=16, seed=1)
        rec = decode_prompt(pair, cfg, PROMPT, 0)
        assert rec["n_tokens"] == 6 and len(rec["tokens"]) == 6, scheme
        assert all(0 <= t < pair.vocab_size for t in rec["tokens"]), scheme
        assert rec["latency_s"] > 0 and 0 <= rec["resampling_rate"] <= 1, scheme
        assert scheme == "ar" or rec["draft_accept_rate"] > 0, scheme  # drafts made and kept (AR makes none)


@pytest.mark.slow
def test_greedy_speculation_equals_greedy_ar_on_the_default_pair(pair):
    """At T = 0 every speculative scheme emits the LLM's greedy continuation (the LLM as it runs, in bfloat16),
    with drafts accepted on the way."""
    ar = decode_prompt(pair, DecodeConfig(scheme="ar", temperature=0.0, max_new_tokens=10), PROMPT, 0)
    for scheme in [s for s in DECODE_SCHEMES if s not in ("ar", "dense")]:
        cfg = DecodeConfig(scheme=scheme, temperature=0.0, max_new_tokens=10, max_draft_len=4)
        rec = decode_prompt(pair, cfg, PROMPT, 0)
        assert rec["tokens"] == ar["tokens"] and rec["draft_accept_rate"] > 0, scheme

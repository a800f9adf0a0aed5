"""Live decoding on the real embedded LLM (SmolLM2-135M) with its untrained 14-layer early exit at the edge.

The default edge draft is distilled (tens of minutes on a CPU, see sqs.models.distill), so these tests use the
early exit, which needs no training; the distillation itself is tested at a toy size in test_distill.
"""

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

from sqs.models.backend import EMBEDDED_LLM
from sqs.study.decode import DECODE_SCHEMES, DecodeConfig, ModelPair, decode_prompt

SLM = f"{EMBEDDED_LLM}@exit=14"

PROMPTS = ["The city council voted on Tuesday to", "Shares of the company fell sharply after"]
FIELDS = (
    "continuation",
    "latency_s",
    "tokens_per_s",
    "resampling_rate",
    "mean_accept_len",
    "draft_accept_rate",
    "uplink_bits_per_token",
    "dropped_mass",
    "n_tokens",
)


@pytest.fixture(scope="module")
def pair():
    return ModelPair(SLM, EMBEDDED_LLM, dtype="float32", device="cpu")


@pytest.mark.slow
@pytest.mark.parametrize("scheme", [s for s in DECODE_SCHEMES if s != "qs"])  # qs is an alias of dense
def test_every_scheme_decodes_and_is_reproducible(pair, scheme):
    cfg = DecodeConfig(scheme=scheme, temperature=0.8, max_new_tokens=8, k=8, beta=0.01, seed=3)
    recs = [decode_prompt(pair, cfg, p, i) for i, p in enumerate(PROMPTS)]
    for r in recs:
        assert all(f in r for f in FIELDS)
        assert r["n_tokens"] == 8 and len(r["tokens"]) == 8
        assert 0 <= r["resampling_rate"] <= 1 and r["latency_s"] > 0
        assert all(0 <= t < pair.vocab_size for t in r["tokens"])
    if scheme != "ar":  # drafting happened (cloud-only AR drafts nothing); that drafts are kept: the greedy test
        assert sum(r["tally"]["drafts"] for r in recs) > 0  # (the untrained exit's drafts are rarely kept at T = 0.8)
    again = decode_prompt(pair, cfg, PROMPTS[0], 0)
    assert again["tokens"] == recs[0]["tokens"]
    assert again["resampling_rate"] == recs[0]["resampling_rate"]


@pytest.mark.slow
def test_greedy_sd_equals_greedy_ar(pair):
    """At T = 0 every speculative scheme must emit the LLM's greedy continuation, with drafts accepted on the way
    (a session whose drafting stopped would emit it too)."""
    ar = decode_prompt(pair, DecodeConfig(scheme="ar", temperature=0.0, max_new_tokens=10), PROMPTS[0], 0)
    for scheme in [s for s in DECODE_SCHEMES if s not in ("ar", "qs")]:
        rec = decode_prompt(pair, DecodeConfig(scheme=scheme, temperature=0.0, max_new_tokens=10), PROMPTS[0], 0)
        assert rec["tokens"] == ar["tokens"], scheme
        assert rec["draft_accept_rate"] > 0, scheme


@pytest.mark.slow
def test_cli_json_lines(tmp_path):
    prompts = tmp_path / "prompts.txt"
    prompts.write_text("\n".join(PROMPTS) + "\n\n")
    cmd = [
        str(Path(sys.executable).parent / "sqs"),
        "decode",
        "--scheme",
        "c-sqs",
        "--temperature",
        "0.7",
        "--max-new-tokens",
        "6",
        "--prompts-file",
        str(prompts),
        "--slm",
        SLM,
        "--llm",
        EMBEDDED_LLM,
        "--dtype",
        "float32",
    ]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    recs = [json.loads(line) for line in out.stdout.splitlines()]
    assert [r["prompt"] for r in recs] == PROMPTS
    assert all(math.isfinite(r["latency_s"]) for r in recs)
    assert "decode c-sqs" in out.stderr  # the progress bar goes to stderr, not into the JSON


def test_cli_offline_hub_model_fails_fast_with_the_default_named(tmp_path):
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path)}
    cmd = [
        str(Path(sys.executable).parent / "sqs"),
        "decode",
        "--llm",
        "EleutherAI/gpt-neo-1.3B",
        "--slm",
        "EleutherAI/gpt-neo-125m",
        "--prompt",
        "Hello",
    ]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=env)
    assert out.returncode == 3
    assert "embedded:qwen2.5-coder-1.5b-instruct" in out.stderr and "gpt-neo-1.3B" in out.stderr


def test_cli_rejects_missing_prompts():
    out = subprocess.run([str(Path(sys.executable).parent / "sqs"), "decode"], capture_output=True, text=True)
    assert out.returncode == 2 and "--prompt" in out.stderr

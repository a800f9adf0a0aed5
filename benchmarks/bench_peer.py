"""The peer on the same pair: Hugging Face assisted generation against sqs with the llama.cpp edge.

Both on this CPU's wall clock, the same 12 code openers of the evaluation half, 32 new tokens each, T = 0.2
(sampling): Hugging Face ``generate`` alone (cloud-only AR) and with ``assistant_model`` (the 0.5B drafting
for the 1.5B, both transformers bfloat16) at each number of assistant tokens in ``--assistant-tokens`` (its
``heuristic`` schedule too); sqs ``decode_prompt`` with the 0.5B GGUF on llama.cpp and the 1.5B in transformers
bfloat16 over a free link (no rate limit, no propagation: the peer has no link), each scheme at ``--max-draft-len``.
Each prompt is decoded by every contender before the next prompt; the ratio carries a 95 % bootstrap interval
over prompts. Target (issue #26): the best sqs cell at least 1.5x the best assisted generation.
"""

from __future__ import annotations

import argparse
import sys
import time
from functools import partial

TARGET = 1.5


def hf_run(target, tokenizer, text: str, seed: int, new_tokens: int, temperature: float, assistant=None,
           n_assist=None) -> tuple[int, float]:  # fmt: skip
    """(new tokens, seconds) of one ``target.generate`` on ``text`` (assisted when ``assistant`` is given)."""
    import torch

    kw = {}
    if assistant is not None:
        cfg = assistant.generation_config
        cfg.num_assistant_tokens_schedule = "heuristic" if n_assist == "heuristic" else "constant"
        cfg.num_assistant_tokens = 5 if n_assist == "heuristic" else int(n_assist)
        kw["assistant_model"] = assistant
    ids = tokenizer(text, return_tensors="pt").input_ids
    torch.manual_seed(seed)
    t0 = time.perf_counter()
    out = target.generate(ids, do_sample=temperature > 0, temperature=temperature, max_new_tokens=new_tokens,
                          min_new_tokens=new_tokens, pad_token_id=tokenizer.eos_token_id, **kw)  # fmt: skip
    return out.shape[1] - ids.shape[1], time.perf_counter() - t0


def sqs_run(pair, cfg, text: str, index: int) -> tuple[int, float]:
    """(new tokens, wall-clock seconds) of one sqs session, edge and cloud in this process, from empty KV
    caches (the previous session decoded the same prompt)."""
    from sqs.study.decode import decode_prompt

    pair.reset()
    r = decode_prompt(pair, cfg, text, index)
    return r["n_tokens"], r["latency_measured_s"]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--prompts", type=int, default=12)
    ap.add_argument("--tokens", type=int, default=32)
    ap.add_argument("--temperature", type=float, default=0.2)
    ap.add_argument("--assistant-tokens", nargs="+", default=["2", "4", "6", "heuristic"])
    ap.add_argument("--max-draft-len", type=int, default=6, help="the code openers' best cap (--draft-lens)")
    args = ap.parse_args(argv)

    import numpy as np
    import torch
    from tqdm import tqdm
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from sqs.models.backend import DEFAULT_LLM, DEFAULT_SLM
    from sqs.models.embedded import ensure_checkpoint
    from sqs.models.interface import with_backend
    from sqs.study.decode import DecodeConfig, ModelPair
    from sqs.study.prompts import openers
    from sqs.system.latency import LinkConfig
    from sqs.system.metrics import speedup_ci

    torch.set_num_threads(2)
    prompts = openers("code", "eval")[: args.prompts]
    tok = AutoTokenizer.from_pretrained(ensure_checkpoint(DEFAULT_LLM))
    target = AutoModelForCausalLM.from_pretrained(ensure_checkpoint(DEFAULT_LLM), dtype=torch.bfloat16).eval()
    draft = AutoModelForCausalLM.from_pretrained(ensure_checkpoint(DEFAULT_SLM), dtype=torch.bfloat16).eval()
    pair = ModelPair(with_backend(DEFAULT_SLM, "llama.cpp"), DEFAULT_LLM, "bfloat16", device="cpu")
    free = LinkConfig(uplink_bps=1e12, downlink_bps=1e12, propagation_s=0.0)
    print(f"{len(prompts)} code openers x {args.tokens} tokens, T = {args.temperature}, this CPU's wall clock; "
          "every contender runs on a prompt before the next (a drift of the machine's speed falls on all)")  # fmt: skip
    hf = {"HF generate (AR)": lambda text, i: hf_run(target, tok, text, i, args.tokens, args.temperature)}
    for n in args.assistant_tokens:
        hf[f"HF assisted, {n} assistant tokens"] = lambda text, i, n=n: hf_run(
            target, tok, text, i, args.tokens, args.temperature, draft, n)  # fmt: skip
    ours = {}
    for scheme, params in (("k-sqs", {"k": 16}), ("c-sqs", {"beta": 0.001})):
        cfg = DecodeConfig(scheme=scheme, temperature=args.temperature, max_new_tokens=args.tokens,
                           max_draft_len=args.max_draft_len, link=free, **params)  # fmt: skip
        ours[f"sqs {scheme}, llama.cpp edge, {args.max_draft_len} drafts"] = partial(sqs_run, pair, cfg)
    runs = {name: [] for name in [*hf, *ours]}
    for i, text in enumerate(tqdm(prompts, desc="peer", unit="prompt")):
        for name, run in {**hf, **ours}.items():
            runs[name].append(run(text, i))
    x = {name: np.array(r, dtype=float) for name, r in runs.items()}
    rate = {name: v[:, 0].sum() / v[:, 1].sum() for name, v in x.items()}
    for name in runs:
        print(f"{name:<44} {rate[name]:6.2f} tokens/s", flush=True)
    best_hf = max((n for n in hf if "assisted" in n), key=rate.get)
    best_sqs = max(ours, key=rate.get)
    ratio = rate[best_sqs] / rate[best_hf]
    lo, hi = speedup_ci(x[best_sqs], x[best_hf], np.random.default_rng(0))
    verdict = "yes" if ratio >= TARGET else "NO"
    print(f"best sqs ({best_sqs}) / best assisted generation ({best_hf}): {ratio:.2f}x, 95 % CI over prompts "
          f"[{lo:.2f}, {hi:.2f}] (target >= {TARGET}x: {verdict})")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())

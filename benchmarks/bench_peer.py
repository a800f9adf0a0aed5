"""The peer on the same pair: Hugging Face assisted generation against sqs with the llama.cpp edge.

Both on this CPU's wall clock, the same 12 code openers of the evaluation half, 32 new tokens each, T = 0.2
(sampling): Hugging Face ``generate`` alone (cloud-only AR) and with ``assistant_model`` (the 0.5B drafting
for the 1.5B, both transformers bfloat16) at each number of assistant tokens in ``--assistant-tokens`` (its
``heuristic`` schedule too); sqs ``decode_prompt`` with the 0.5B GGUF on llama.cpp and the 1.5B in transformers
bfloat16 over a free link (no rate limit, no propagation: the peer has no link), each scheme at ``--max-draft-len``.
Target (issue #26): the best sqs cell at least 1.5x the best assisted generation.
"""

from __future__ import annotations

import argparse
import sys
import time

TARGET = 1.5


def hf_rate(target, tokenizer, prompts, new_tokens: int, temperature: float, assistant=None, n_assist=None) -> float:
    """Tokens a second of ``target.generate`` over ``prompts`` (assisted when ``assistant`` is given)."""
    import torch

    kw = {}
    if assistant is not None:
        cfg = assistant.generation_config
        cfg.num_assistant_tokens_schedule = "heuristic" if n_assist == "heuristic" else "constant"
        cfg.num_assistant_tokens = 5 if n_assist == "heuristic" else int(n_assist)
        kw["assistant_model"] = assistant
    total, elapsed = 0, 0.0
    for i, text in enumerate(prompts):
        ids = tokenizer(text, return_tensors="pt").input_ids
        torch.manual_seed(i)
        t0 = time.perf_counter()
        out = target.generate(ids, do_sample=temperature > 0, temperature=temperature, max_new_tokens=new_tokens,
                              min_new_tokens=new_tokens, pad_token_id=tokenizer.eos_token_id, **kw)  # fmt: skip
        elapsed += time.perf_counter() - t0
        total += out.shape[1] - ids.shape[1]
    return total / elapsed


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--prompts", type=int, default=12)
    ap.add_argument("--tokens", type=int, default=32)
    ap.add_argument("--temperature", type=float, default=0.2)
    ap.add_argument("--assistant-tokens", nargs="+", default=["2", "4", "heuristic"])
    ap.add_argument("--max-draft-len", type=int, default=4)
    args = ap.parse_args(argv)

    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from sqs.models.backend import DEFAULT_LLM, DEFAULT_SLM
    from sqs.models.embedded import ensure_checkpoint
    from sqs.models.interface import with_backend
    from sqs.study.decode import DecodeConfig, ModelPair, decode_prompt
    from sqs.study.prompts import openers
    from sqs.system.latency import LinkConfig

    torch.set_num_threads(2)
    prompts = openers("code", "eval")[: args.prompts]
    tok = AutoTokenizer.from_pretrained(ensure_checkpoint(DEFAULT_LLM))
    target = AutoModelForCausalLM.from_pretrained(ensure_checkpoint(DEFAULT_LLM), dtype=torch.bfloat16).eval()
    draft = AutoModelForCausalLM.from_pretrained(ensure_checkpoint(DEFAULT_SLM), dtype=torch.bfloat16).eval()
    print(f"{len(prompts)} code openers x {args.tokens} tokens, T = {args.temperature}, this CPU's wall clock")
    rows = [("HF generate (AR)", hf_rate(target, tok, prompts, args.tokens, args.temperature))]
    print(f"{rows[-1][0]:<44} {rows[-1][1]:6.2f} tokens/s", flush=True)
    for n in args.assistant_tokens:
        rows.append((f"HF assisted, {n} assistant tokens", hf_rate(target, tok, prompts, args.tokens,
                                                                    args.temperature, draft, n)))  # fmt: skip
        print(f"{rows[-1][0]:<44} {rows[-1][1]:6.2f} tokens/s", flush=True)
    del target, draft
    pair = ModelPair(with_backend(DEFAULT_SLM, "llama.cpp"), DEFAULT_LLM, "bfloat16", device="cpu")
    free = LinkConfig(uplink_bps=1e12, downlink_bps=1e12, propagation_s=0.0)
    best_sqs = 0.0
    for scheme, params in (("k-sqs", {"k": 16}), ("c-sqs", {"beta": 0.001})):
        cfg = DecodeConfig(scheme=scheme, temperature=args.temperature, max_new_tokens=args.tokens,
                           max_draft_len=args.max_draft_len, link=free, **params)  # fmt: skip
        recs = [decode_prompt(pair, cfg, p, i) for i, p in enumerate(prompts)]
        rate = sum(r["n_tokens"] for r in recs) / sum(r["latency_measured_s"] for r in recs)
        best_sqs = max(best_sqs, rate)
        print(f"{f'sqs {scheme}, llama.cpp edge, {args.max_draft_len} drafts':<44} {rate:6.2f} tokens/s", flush=True)
    best_hf = max(r for name, r in rows if "assisted" in name)
    ratio = best_sqs / best_hf
    verdict = "yes" if ratio >= TARGET else "NO"
    print(f"best sqs / best assisted generation: {ratio:.2f}x (target >= {TARGET}x: {verdict})")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""make bench (live part): every scheme on the embedded model pair, tokens/s and speedup over cloud-only AR.

Paper link settings: B = 5000 bits, ell = 100, eta = 0.001, alpha = 0.0005; uplink 2 Mb/s, downlink
10 Mb/s, 20 ms propagation per batch. Also the draft pair's E[1 - TV(q, p)] at T = 1 along text the LLM
samples itself, and the share of edge time spent in the protocol.
"""

from __future__ import annotations

import argparse
import statistics
import sys

import numpy as np

from sqs.decode import DecodeConfig, ModelPair, decode_prompt
from sqs.probs import softmax_temperature, tv_distance
from sqs.prompts import news_openers

PROMPTS = news_openers("eval")[:4]  # held out from the draft's distillation
SCHEMES = ["ar", "sd", "dense", "k-sqs", "c-sqs"]


def acceptance(pair: ModelPair, n_tokens: int, seed: int) -> float:
    """Mean 1 - TV(q, p) at T = 1 over positions of LLM-sampled continuations (teacher forced)."""
    vals = []
    for i, text in enumerate(PROMPTS):
        rec = decode_prompt(
            pair, DecodeConfig(scheme="ar", temperature=1.0, max_new_tokens=n_tokens, seed=seed), text, i
        )
        ids = pair.encode(text)
        q = softmax_temperature(pair.slm.score_logits(ids, rec["tokens"]), 1.0)
        p = softmax_temperature(pair.llm.score_logits(ids, rec["tokens"]), 1.0)
        vals.extend((1.0 - tv_distance(q, p)).tolist())
    return float(np.mean(vals))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tokens", type=int, default=24, help="new tokens per prompt")
    ap.add_argument("--prompts", type=int, default=2, help="prompts per cell")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    base = DecodeConfig()
    pair = ModelPair(base.slm, base.llm, device="cpu")
    print(f"edge {pair.slm_id} -> cloud {pair.llm_id}; draft/LLM parameters {pair.compute_ratio:.2f}")
    print(f"E[1 - TV(q, p)] at T=1 on LLM-sampled text: {acceptance(pair, args.tokens, args.seed):.3f}")
    print(
        f"{'T':>4} {'scheme':<6} {'tok/s':>7} {'speedup':>8} {'acc.len':>8} {'resample':>9} {'bits/tok':>9} "
        f"{'protocol%':>9}"
    )
    for t in (0.2, 1.0):
        ar_tps = None
        for scheme in SCHEMES:
            cfg = DecodeConfig(scheme=scheme, temperature=t, max_new_tokens=args.tokens, seed=args.seed)
            recs = [decode_prompt(pair, cfg, p, i) for i, p in enumerate(PROMPTS[: args.prompts])]
            tps = sum(r["n_tokens"] for r in recs) / sum(r["latency_s"] for r in recs)
            ar_tps = tps if scheme == "ar" else ar_tps

            def mean(key: str, recs: list[dict] = recs) -> float:
                return statistics.mean(r[key] for r in recs)

            share = (
                100 * sum(r["latency_protocol_s"] for r in recs) / max(sum(r["latency_edge_s"] for r in recs), 1e-12)
            )
            print(
                f"{t:>4.1f} {scheme:<6} {tps:>7.2f} {tps / ar_tps:>7.2f}x {mean('mean_accept_len'):>8.2f} "
                f"{mean('resampling_rate'):>9.3f} {mean('uplink_bits_per_token'):>9.0f} {share:>8.1f}%",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())

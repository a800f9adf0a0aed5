"""make bench (block verification): what verifying each batch as a block (Sun et al., arXiv 2403.10444) gains over
token-by-token verification, in tokens per round, on the default pair with the edge on llama.cpp (issue #36).

Both rules read the same drafts, q_hat and p, so one live session prices both: each round's drafts are drawn by
the edge as they always are, and sqs.protocol.verify.kept_law gives how many of them each rule keeps, in closed
form, for exactly those drafts (the session itself runs token by token). The gain is the ratio of the two
expected tokens per round (kept drafts + the cloud's token), pooled over a cell's rounds, with a 95 % bootstrap
interval over prompts resampled in pairs. Block verification is optimal in expectation over the drafts, not for
each block, so a cell's gain is read from its interval. Paper link settings (B = 5000 bits, ell = 100); T in
{0.2, 1.0}; news and code openers of the evaluation halves. Token ids alone (exact match, no q_hat: the rule
does not apply) sit beside them: tokens per round and uplink bits per emitted token, sending q or not.
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

import numpy as np

from sqs.models.interface import SLM_BACKENDS, with_backend
from sqs.protocol.schemes import get as scheme_spec
from sqs.protocol.verify import kept_law
from sqs.study.decode import DecodeConfig, ModelPair
from sqs.study.prompts import openers
from sqs.system.cloud import Cloud
from sqs.system.edge import Edge
from sqs.system.metrics import speedup_ci
from sqs.system.session import run_session

SCHEMES = [("sd", {}), ("qs", {}), ("k-sqs", {"k": 16}), ("c-sqs", {"beta": 0.001}), ("tokens", {})]
RULES = ("token", "block")


class PricingCloud(Cloud):
    """A cloud that verifies as usual and prices each round under both rules (expected tokens the round emits)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.expected = {rule: 0.0 for rule in RULES}
        self.rounds = self.bits = 0

    def finish(self, msg, logits, spent_s: float = 0.0):
        verdict = super().finish(msg, logits, spent_s)
        n = len(msg.tokens)
        for rule in RULES:  # token ids alone have no q_hat: exact match, what the round did
            kept = verdict.num_accepted if verdict.q_hat is None else kept_law(rule, msg.tokens, verdict.q_hat,
                                                                                 verdict.p) @ np.arange(n + 1)
            self.expected[rule] += 1.0 + float(kept)
        self.rounds += 1
        self.bits += verdict.payload_bits
        return verdict


def cell(pair: ModelPair, scheme: str, params: dict, t: float, prompts: list[str], args) -> dict:
    rows = {rule: [] for rule in RULES}
    realized, bits = [], 0
    for i, text in enumerate(prompts):
        pair.reset()
        s = scheme_spec(scheme).make(**scheme_spec(scheme).params_from({}, {"ell": 100, **params}))
        edge = Edge(pair.slm, s, t, args.budget_bits, args.max_draft_len, np.random.default_rng([args.seed, i]))
        cloud = PricingCloud(pair.llm, t, np.random.default_rng([args.seed, i, 1]))
        res = run_session(edge, cloud, pair.encode(text), args.tokens)
        for rule in RULES:
            rows[rule].append((cloud.expected[rule], cloud.rounds))
        realized.append((sum(b.num_accepted + 1 for b in res.batches), len(res.batches)))
        bits += cloud.bits
    per = {rule: sum(e for e, _ in rows[rule]) / sum(r for _, r in rows[rule]) for rule in RULES}
    lo, hi = speedup_ci(rows["block"], rows["token"], np.random.default_rng(args.seed))
    return {"scheme": scheme, "temperature": t, "prompts": len(prompts), "rounds": sum(r for _, r in rows["token"]),
            "tokens_per_round_token": per["token"], "tokens_per_round_block": per["block"],
            "gain": per["block"] / per["token"], "gain_lo": lo, "gain_hi": hi,
            "realized_tokens_per_round": sum(a for a, _ in realized) / sum(b for _, b in realized),
            "uplink_bits_per_token": bits / sum(a for a, _ in realized)}  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--prompts", type=int, default=16, help="prompts per cell")
    ap.add_argument("--tokens", type=int, default=24, help="new tokens per prompt")
    ap.add_argument("--max-draft-len", type=int, default=4, help="cap on drafts per batch (the block's length)")
    ap.add_argument("--budget-bits", type=int, default=5000)
    ap.add_argument("--slm-backend", choices=list(SLM_BACKENDS), default="llama.cpp")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", help="also write the table here (CSV)")
    args = ap.parse_args(argv)
    base = DecodeConfig()
    pair = ModelPair(with_backend(base.slm, args.slm_backend), base.llm, base.dtype, device="cpu")
    print(f"edge {pair.slm_id} -> cloud {pair.llm_id}; V = {pair.vocab_size}; L <= {args.max_draft_len}; "
          f"B = {args.budget_bits}; {args.prompts} prompts x {args.tokens} tokens a cell", flush=True)  # fmt: skip
    print(f"{'set':<5} {'T':>4} {'scheme':<6} {'rounds':>6} {'tok/round':>9} {'block':>7} {'gain':>7} {'95% CI':>16} "
          f"{'realized':>8} {'bits/tok':>8}")  # fmt: skip
    out, losses = [], []
    for kind in ("news", "code"):
        prompts = openers(kind, "eval")[: args.prompts]
        for t in (0.2, 1.0):
            for scheme, params in SCHEMES:
                r = {"set": kind, **cell(pair, scheme, params, t, prompts, args)}
                out.append(r)
                if scheme != "tokens" and r["gain_hi"] < 1.0:
                    losses.append(f"{kind} T={t} {scheme}")
                ci = f"[{r['gain_lo']:.3f}, {r['gain_hi']:.3f}]"
                print(f"{kind:<5} {t:>4.1f} {scheme:<6} {r['rounds']:>6} {r['tokens_per_round_token']:>9.3f} "
                      f"{r['tokens_per_round_block']:>7.3f} {r['gain']:>6.3f}x {ci:>16} "
                      f"{r['realized_tokens_per_round']:>8.3f} {r['uplink_bits_per_token']:>8.1f}",
                      flush=True)  # fmt: skip
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        with open(args.out, "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=list(out[0]))
            w.writeheader()
            w.writerows(out)
    print(f"block verification: a loss (interval below 1) in {', '.join(losses) or 'no cell'}", flush=True)
    return 1 if losses else 0


if __name__ == "__main__":
    sys.exit(main())

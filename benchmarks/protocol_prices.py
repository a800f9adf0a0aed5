"""The committed protocol price table, src/sqs/data/protocol_prices.json, measured on this machine.

The named compute profiles price each draft's protocol work (the edge's compress + sample + encode, the cloud's
decode + rebuild + verify) from that table, scaled by V and the device's protocol_scale. This measures it as it
was measured: sqs.steps.compute.time_protocol over 24 positions of the default draft's T = 1 distributions
after three news openers (V = 151,936, ell = 100), medians, fitted a + b K per scheme. ``--schemes tokens``
measures and replaces those schemes' entries only (the others keep the numbers they were measured with);
nothing else should run meanwhile.

    python benchmarks/protocol_prices.py --schemes tokens
"""

from __future__ import annotations

import argparse
import json
import sys

import numpy as np

from sqs.steps.compute import protocol_prices, time_protocol
from sqs.system.compute import PROTOCOL_PRICES


def draft_logits(n_positions: int = 24) -> np.ndarray:
    """The default draft's next-token logits after the first three news openers of the evaluation half."""
    from sqs.models.backend import DEFAULT_SLM
    from sqs.models.interface import load
    from sqs.study.prompts import openers

    lm = load(DEFAULT_SLM, "bfloat16", "cpu", side="edge")
    rows = []
    for text in openers("news", "eval")[:3]:
        ids = lm.tokenizer.encode(text)
        rows += list(lm.model.score_logits(ids[:1], ids[1:])[-(n_positions // 3) :])
    return np.stack(rows)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--schemes", nargs="*", help="only these schemes' entries (default: every scheme)")
    ap.add_argument("--out", default=str(PROTOCOL_PRICES), help="the table to update")
    args = ap.parse_args(argv)
    logits = draft_logits()
    proto = time_protocol(logits, 1.0, 100, np.random.default_rng(0), rows=logits.shape[0], schemes=args.schemes)
    if not proto:
        ap.error(f"no speculative scheme among {args.schemes}")
    table = json.loads(open(args.out).read())
    if table["vocab_size"] != logits.shape[1]:
        raise SystemExit(f"{args.out} is priced at V = {table['vocab_size']}, these logits have {logits.shape[1]}")
    for side, prices in protocol_prices(proto).items():
        table[side].update(prices)
        for name, price in prices.items():
            print(f"{side:15s} {name:8s} a = {1e3 * price['a']:.4f} ms  b = {1e6 * price['b']:.4f} us/K")
    with open(args.out, "w") as fh:
        fh.write(json.dumps(table, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""make bench (sweep part): trace-sweep throughput in grid cells per minute per 1,000 cached positions.

Synthetic logits at the embedded vocabulary size (V = 49,152): SLM logits ~ N(0, 3²), LLM = SLM + N(0, 1).
The grid is the dense paper grid of the workflow's ``sweep`` rule (sqs.trace.sweep.paper_grid): T in 0..1 step
0.05, dense QS, K-SQS K in 1..512 (powers of 2), C-SQS beta on a log grid x eta in {0, 1e-4, 1e-3, 1e-2}.
Target (issue #6): >= 1,000 cells per minute per 1,000 positions on this 2-core machine.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

from sqs.system.compute import per_call
from sqs.trace.sweep import paper_grid, sweep

TARGET = 1000.0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--positions", type=int, default=256)
    ap.add_argument("--vocab", type=int, default=49152)
    args = ap.parse_args(argv)
    rng = np.random.default_rng(0)
    slm = rng.normal(scale=3.0, size=(args.positions, args.vocab)).astype(np.float32)
    llm = (slm + rng.normal(size=slm.shape)).astype(np.float32)
    segments = [(a, min(a + 32, args.positions)) for a in range(0, args.positions, 32)]
    profile = per_call(0.04, 0.08, 0.0)
    cells = paper_grid()
    n_t = len({c.temperature for c in cells})
    print(f"dense grid: {len(cells)} cells ({len(cells) // n_t} per T x {n_t} T), {args.positions} positions")
    print(f"{'workers':>7} {'seconds':>8} {'cells/min/1k pos':>17} {'target':>7} {'met':>4}")
    for workers in sorted({1, os.cpu_count() or 1}):
        t0 = time.perf_counter()
        sweep(slm, llm, segments, cells, profile, workers=workers)
        dt = time.perf_counter() - t0
        rate = len(cells) / dt * 60 * args.positions / 1000
        met = "yes" if rate >= TARGET else "no"
        print(f"{workers:>7} {dt:>8.2f} {rate:>17.0f} {TARGET:>7.0f} {met:>4}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

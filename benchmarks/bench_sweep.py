"""make bench (sweep part): trace-sweep throughput in grid cells per minute per 1,000 cached positions.

Synthetic logits at the embedded vocabulary size (V = 49,152): SLM logits ~ N(0, 3²), LLM = SLM + N(0, 1).
Grid per temperature: dense QS, K-SQS K in 1..512 (10 values), C-SQS beta in {1e-4, 1e-3, 1e-2, 1e-1} x
eta in {0, 1e-4, 1e-3, 1e-2}. Target (issue #6): >= 1,000 cells per minute per 1,000 positions.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np

from sqs.sweep import ComputeProfile, SweepCell, sweep

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
    profile = ComputeProfile(0.04, 0.08, 0.0)
    print(f"{'T':>4} {'cells':>6} {'seconds':>8} {'cells/min/1k pos':>17} {'target':>7} {'met':>4}")
    for t in (0.2, 0.6, 1.0):
        cells = [SweepCell("qs", t)]
        cells += [SweepCell("k-sqs", t, K=k) for k in (1, 2, 4, 8, 16, 32, 64, 128, 256, 512)]
        cells += [
            SweepCell("c-sqs", t, beta0=b, eta=e) for b in (1e-4, 1e-3, 1e-2, 1e-1) for e in (0, 1e-4, 1e-3, 1e-2)
        ]
        t0 = time.perf_counter()
        sweep(slm, llm, segments, cells, profile)
        dt = time.perf_counter() - t0
        rate = len(cells) / dt * 60 * args.positions / 1000
        print(
            f"{t:>4.1f} {len(cells):>6} {dt:>8.2f} {rate:>17.0f} {TARGET:>7.0f} {'yes' if rate >= TARGET else 'no':>4}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())

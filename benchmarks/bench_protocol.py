"""make bench: protocol cost per draft token (compress + encode + decode) at paper scale.

For V = 151936 (Qwen2.5, the default pair), V = 50257 (GPT-Neo/GPT-2) and V = 49152 (SmolLM2), K-SQS
with K in {8, 64, 512} and dense QS, all at ell = 100, on LM-like distributions (softmax of Gaussian
logits with std 3, then a temperature of 1). Targets on the 2-core reference machine: <= 1 ms per token
sparse, <= 10 ms dense.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

import numpy as np

import sqs
from sqs import wire
from sqs.protocol.probs import softmax_temperature

CONFIGS = [
    ("k-sqs", {"k": 8, "ell": 100}, 1.0),
    ("k-sqs", {"k": 64, "ell": 100}, 1.0),
    ("k-sqs", {"k": 512, "ell": 100}, 1.0),
    # C-SQS at the paper's alpha/eta: its support follows the distribution (no fixed target)
    ("c-sqs", {"beta": 1e-3, "ell": 100, "alpha": 5e-4, "eta": 1e-3}, None),
    ("dense", {"ell": 100}, 10.0),
]


def time_one(scheme, q: np.ndarray, rng: np.random.Generator) -> float:
    v = q.size
    t0 = time.perf_counter()
    comp = scheme.compress(q)
    token = comp.sample(rng)
    msg = wire.encode_uplink(scheme.code, v, scheme.ell, scheme.fixed_k, [(comp, token)])
    out = wire.decode_uplink(msg)
    elapsed = time.perf_counter() - t0
    if out.drafts[0].token != token:  # pragma: no cover - a broken round trip must not be timed as a pass
        raise AssertionError("round trip changed the draft token")
    return elapsed


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tokens", type=int, default=60, help="distributions timed per configuration")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    rng = np.random.default_rng(args.seed)
    print(
        f"{'V':>6} {'scheme':<6} {'params':<34} {'K':>6} {'bits/tok':>8} {'mean ms':>8} {'p95 ms':>8} {'target':>6}  ok"
    )
    failures = 0
    for v in (151936, 50257, 49152):
        dists = [softmax_temperature(rng.normal(0.0, 3.0, size=v), 1.0) for _ in range(args.tokens)]
        for name, params, target_ms in CONFIGS:
            scheme = sqs.make_scheme(name, **params)
            time_one(scheme, dists[0], rng)  # warm the bit-cost caches
            times = [time_one(scheme, q, rng) * 1e3 for q in dists]
            probe = sqs.make_scheme(name, **params)
            comps = [probe.compress(q) for q in dists]
            bits = statistics.mean(c.bits for c in comps)
            mean_k = statistics.mean(c.k for c in comps)
            mean, p95 = statistics.mean(times), float(np.percentile(times, 95))
            ok = target_ms is None or mean <= target_ms
            failures += not ok
            shown = ",".join(f"{k}={v}" for k, v in params.items())
            tgt = "-" if target_ms is None else f"{target_ms:.1f}"
            verdict = "-" if target_ms is None else "yes" if ok else "NO"
            print(
                f"{v:>6} {name:<6} {shown:<34} {mean_k:>6.0f} {bits:>8.0f} {mean:>8.3f} {p95:>8.3f} {tgt:>6} {verdict}",
                flush=True,
            )
    print(f"{failures} configuration(s) over target" if failures else "all configurations within target")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""make bench: the protocol's own work per draft token at V = 151,936, against its targets.

Distributions: the default draft (Qwen2.5-Coder-0.5B, bfloat16, probabilities in float64) after news and code
openers of the evaluation halves, the last positions of each, at T = 1 and T = 0.5. Edge: compress (support,
Algorithm 2, bit prices) + sample the draft from q-hat + encode the uplink; cloud: decode the bytes, rebuild
q-hat, verify against p. Targets (issue #26, this 2-core CPU): the edge's work at most 1 ms a draft for K-SQS
(K <= 64), C-SQS and dense QS, at most 2 ms for top-p and min-p. `--synthetic` times softmax(N(0, 3^2)) logits
instead (flatter than a language model's: top-p then keeps thousands of tokens), without targets.
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
from sqs.protocol.verify import verify

CONFIGS = [  # (scheme, parameters, edge target in ms)
    ("k-sqs", {"k": 8}, 1.0),
    ("k-sqs", {"k": 64}, 1.0),
    ("k-sqs", {"k": 512}, None),
    ("c-sqs", {"beta": 1e-3, "eta": 0.0}, 1.0),  # a fixed threshold: the support follows the distribution only
    ("dense", {}, 1.0),
    ("top-p", {"top_p": 0.9}, 2.0),
    ("min-p", {"min_p": 0.05}, 2.0),
]


def draft_distributions(n_positions: int, temperatures=(1.0, 0.5)) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """The default draft's next-token distributions along news and code openers, and a p for each."""
    from sqs.models.backend import DEFAULT_SLM
    from sqs.models.interface import load
    from sqs.study.prompts import openers

    lm = load(DEFAULT_SLM, "bfloat16", "cpu", side="edge")
    logits = []
    for kind in ("news", "code"):
        for text in openers(kind, "eval")[:4]:
            ids = lm.tokenizer.encode(text)
            logits += list(lm.model.score_logits(ids[:1], ids[1:])[-(n_positions // 8) :])
    qs = [softmax_temperature(x, t) for t in temperatures for x in logits]
    return qs, qs[1:] + qs[:1]  # p: another position's distribution (rejections happen)


def time_draft(scheme, q: np.ndarray, p: np.ndarray, rng: np.random.Generator) -> tuple[float, float, int]:
    """(edge seconds, cloud seconds, support size) of one draft."""
    t0 = time.perf_counter()
    comp = scheme.compress(q)
    token = comp.sample(rng)
    msg = wire.encode_uplink(scheme.code, q.size, scheme.ell, scheme.fixed_k, [(comp, token)])
    t1 = time.perf_counter()
    up = wire.decode_uplink(msg)
    verify(up.tokens, up.q_hat(), np.stack([p, p]), rng)
    t2 = time.perf_counter()
    if up.drafts[0].token != token:  # pragma: no cover - a broken round trip must not be timed as a pass
        raise AssertionError("round trip changed the draft token")
    return t1 - t0, t2 - t1, comp.k


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--positions", type=int, default=64, help="draft distributions timed per temperature")
    ap.add_argument("--synthetic", action="store_true", help="softmax of Gaussian logits instead of the draft's")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    rng = np.random.default_rng(args.seed)
    if args.synthetic:
        qs = [softmax_temperature(rng.normal(0.0, 3.0, size=151936), 1.0) for _ in range(args.positions)]
        ps = qs[1:] + qs[:1]
    else:
        qs, ps = draft_distributions(args.positions)
    source = "softmax(N(0, 9)) logits" if args.synthetic else "the default draft's distributions"
    print(f"V = {qs[0].size}, ell = 100, {len(qs)} drafts from {source}; medians in ms")
    head = f"{'scheme':<7} {'params':<22} {'K':>7} {'bits':>6} {'edge ms':>8} {'p95':>6} {'cloud ms':>9} {'target':>6}"
    print(head + "  ok")
    failures = 0
    for name, params, target in CONFIGS:
        scheme = sqs.make_scheme(name, ell=100, **params)
        time_draft(scheme, qs[0], ps[0], rng)  # warm the bit-cost caches
        runs = [time_draft(scheme, q, p, rng) for q, p in zip(qs, ps, strict=True)]
        edge = [1e3 * r[0] for r in runs]
        cloud = statistics.median(1e3 * r[1] for r in runs)
        bits = statistics.mean(sqs.make_scheme(name, ell=100, **params).compress(q).bits for q in qs[:16])
        med, p95 = statistics.median(edge), float(np.percentile(edge, 95))
        ok = target is None or args.synthetic or med <= target
        failures += not ok
        shown = ",".join(f"{k}={v:g}" for k, v in params.items())
        verdict = "-" if target is None or args.synthetic else "yes" if ok else "NO"
        tgt = "-" if target is None else f"{target:.1f}"
        k = statistics.mean(r[2] for r in runs)
        print(f"{name:<7} {shown:<22} {k:>7.0f} {bits:>6.0f} {med:>8.3f} {p95:>6.2f} {cloud:>9.3f} {tgt:>6}  {verdict}",
              flush=True)  # fmt: skip
    print(f"{failures} scheme(s) over target" if failures else "every scheme within its target")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The llama.cpp edge's forward of n new tokens: the output layer at the last position (what drafting and the
catch-up after a batch run, ``next_logits``) against every position (``score_logits``).

The 0.5B GGUF as shipped, this CPU's threads, ``--context`` cached tokens before each call (rolled back
between calls, as after a verdict), median of ``--repeats``. At V = 151,936 the output layer is most of the
cost of a short forward's extra positions.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--new", type=int, nargs="+", default=[1, 2, 3, 5, 9, 17])
    ap.add_argument("--context", type=int, default=40)
    ap.add_argument("--repeats", type=int, default=8)
    args = ap.parse_args(argv)

    from sqs.models.backend import DEFAULT_SLM
    from sqs.models.interface import load, with_backend

    model = load(with_backend(DEFAULT_SLM, "llama.cpp"), side="edge").model
    held = list(range(1000, 1000 + args.context))

    def median_ms(call, n: int) -> float:
        times = []
        for r in range(args.repeats):
            new = [2000 + 20 * r + i for i in range(n)]  # other tokens each time: the cache keeps only the context
            t0 = time.perf_counter()
            call(new)
            times.append(time.perf_counter() - t0)
            assert model.last_forward == (n, args.context), model.last_forward
        return 1e3 * statistics.median(times)

    model.next_logits(held)
    print(f"{DEFAULT_SLM} on llama.cpp, {args.context} cached tokens, median of {args.repeats}")
    print(f"{'new tokens':>10} {'last row ms':>12} {'every row ms':>13}")
    for n in args.new:
        last = median_ms(lambda x: model.next_logits(held + x), n)
        every = median_ms(lambda x: model.score_logits(held, x), n)
        print(f"{n:>10} {last:>12.1f} {every:>13.1f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

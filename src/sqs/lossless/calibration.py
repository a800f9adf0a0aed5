"""The lossless check's calibration and power, measured: ``python -m sqs.lossless.calibration``.

Calibration: counts drawn from the target law itself (an exact sampler) at V = 8, 50, 49,152 and 151,936
and n = 2,000 to 100,000, for a Zipf law and a peaked one, over ``seeds`` seeds; the rejection rate at
alpha should stay near alpha (target <= 2 alpha). Power: one K-SQS round at each V with each known fault
(:mod:`sqs.lossless.faults`); the power at each n from the exact law the fault gives (non-central
chi-square over the test's own bins), beside a simulation of the round at the smaller V, and the fewest
draws at which the fault is caught with power 0.9.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm import tqdm

from sqs.lossless.faults import FAULTS, logits_round, round_law, sample_round
from sqs.lossless.gof import gof_power, gof_test
from sqs.protocol.probs import tv_distance

VOCABS = (8, 50, 49_152, 151_936)
SIZES = (2_000, 10_000, 100_000)
POWER_SIZES = (500, 2_000, 10_000, 100_000)


def law(kind: str, v: int) -> np.ndarray:
    """A Zipf law (exponent 1.1) or a peaked one (0.6 on one token, a steeper Zipf on the rest)."""
    ranks = np.arange(1, v + 1, dtype=np.float64)
    if kind == "zipf":
        p = ranks**-1.1
    elif kind == "peaked":
        p = np.concatenate([[0.0], ranks[1:] ** -1.5])
        p = 0.4 * p / p.sum()
        p[0] = 0.6
    else:
        raise ValueError(f"unknown law {kind!r}; known: zipf, peaked")
    return p / p.sum()


def calibration(seeds: int = 300, alpha: float = 0.01, vocabs=VOCABS, sizes=SIZES, progress: bool = True
                ) -> pd.DataFrame:  # fmt: skip
    """Rejection rate of exact samplers at ``alpha``, a row per law, V and n."""
    rows = []
    cells = [(k, v, n) for k in ("zipf", "peaked") for v in vocabs for n in sizes]
    for kind, v, n in tqdm(cells, desc="calibration", disable=not progress):
        p = law(kind, v)
        rng = np.random.default_rng([v, n, len(kind)])
        tests = [gof_test(rng.multinomial(n, p), p, alpha=alpha) for _ in range(seeds)]
        pvals, g = np.array([t.pvalue for t in tests]), tests[-1]  # df and detectable TV: the same at every seed
        rows.append({"law": kind, "V": v, "n": n, "seeds": seeds, "df": g.df, "alpha": alpha,
                     "rejection_rate": float((pvals < alpha).mean()), "rejections": int((pvals < alpha).sum()),
                     "rate_at_1e-4": float((pvals < 1e-4).mean()), "detectable_tv": g.detectable_tv})  # fmt: skip
    return pd.DataFrame(rows)


def power_round(v: int, fault: str | None, temperature: float = 0.8, seed: int = 0):
    """The power study's round at vocabulary ``v``: a Zipf target, a noisy draft, K-SQS (K = min(16, v/2))."""
    from sqs.protocol.schemes import make_scheme

    g = np.random.default_rng([seed, v])
    p_logits = np.log(law("zipf", v)) + g.normal(0.0, 0.5, v)
    q_logits = p_logits + g.normal(0.0, 1.0, v)
    scheme = make_scheme("k-sqs", k=min(16, v // 2), ell=100)
    return logits_round(q_logits, p_logits, temperature, lambda q: scheme.compress(q).q_hat, fault)


def fewest_draws(alt: np.ndarray, p: np.ndarray, alpha: float, power: float = 0.9, limit: float = 1e10) -> float:
    """The smallest n (to 2 %) at which the test reaches ``power`` against ``alt`` (inf beyond ``limit``)."""
    lo, hi = 0, 1
    while gof_power(alt, p, hi, alpha) < power:
        lo, hi = hi, hi * 2
        if hi > limit:
            return float("inf")
    while hi - lo > max(1, 0.02 * lo):  # power(lo) < power <= power(hi)
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if gof_power(alt, p, mid, alpha) >= power else (mid, hi)
    return float(hi)


def power(seeds: int = 300, alpha: float = 0.01, vocabs=VOCABS, sizes=POWER_SIZES, simulate_up_to: int = 50,
          progress: bool = True) -> pd.DataFrame:  # fmt: skip
    """Power against each fault, a row per V, fault and n: computed, and simulated where V is small."""
    rows = []
    for v in tqdm(vocabs, desc="power", disable=not progress):
        for fault in FAULTS:
            r = power_round(v, fault)
            alt, p = round_law(r), r.p
            need = fewest_draws(alt, p, alpha)
            for n in sizes:
                sim = float("nan")
                if v <= simulate_up_to:
                    rng = np.random.default_rng([v, n, FAULTS.index(fault)])
                    hits = [gof_test(np.bincount(sample_round(r, n, rng), minlength=v), p, alpha=alpha).rejects()
                            for _ in range(seeds)]  # fmt: skip
                    sim = float(np.mean(hits))
                rows.append({"V": v, "fault": fault, "n": n, "tv": float(tv_distance(alt, p)),
                             "power": gof_power(alt, p, n, alpha), "power_simulated": sim,
                             "n_for_power_0.9": need})  # fmt: skip
    return pd.DataFrame(rows)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m sqs.lossless.calibration", description=__doc__)
    ap.add_argument("--seeds", type=int, default=1000, help="seeds per cell (exact samplers, simulated power)")
    ap.add_argument("--alpha", type=float, default=0.01)
    ap.add_argument("--out", default="results/tables", help="folder of lossless_calibration.csv, lossless_power.csv")
    args = ap.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    cal = calibration(args.seeds, args.alpha)
    cal.to_csv(out / "lossless_calibration.csv", index=False)
    print(cal.to_markdown(index=False, floatfmt=".4g") if _has_tabulate() else cal.to_string(index=False))
    pw = power(args.seeds, args.alpha)
    pw.to_csv(out / "lossless_power.csv", index=False)
    print(pw.to_markdown(index=False, floatfmt=".4g") if _has_tabulate() else pw.to_string(index=False))


def _has_tabulate() -> bool:
    try:
        import tabulate  # noqa: F401
    except ImportError:
        return False
    return True


if __name__ == "__main__":
    main()

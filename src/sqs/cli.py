"""Command line: ``sqs simulate`` (toy model pair, every scheme) and ``sqs bits`` (wire cost table)."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import fields
from pathlib import Path

from .simulate import SimulationConfig, simulate, write_csv


def _simulate(args: argparse.Namespace) -> int:
    cfg = SimulationConfig(**{f.name: getattr(args, f.name) for f in fields(SimulationConfig)})
    rows = simulate(cfg, progress=not args.quiet)
    if args.out:
        write_csv(rows, Path(args.out))
        print(f"wrote {args.out}", file=sys.stderr)
    cols = [
        ("scheme", "{:<6}"),
        ("resampling_rate", "{:>9.3f}"),
        ("mean_accept_len", "{:>9.2f}"),
        ("draft_accept_rate", "{:>9.3f}"),
        ("mean_draft_len", "{:>9.2f}"),
        ("uplink_bits_per_token", "{:>11.1f}"),
        ("dropped_mass", "{:>9.4f}"),
        ("expected_rejections", "{:>9.2f}"),
        ("bound_theorem1", "{:>9.2f}"),
    ]
    heads = ["scheme", "resample", "acc.len", "acc.rate", "draft.L", "bits/token", "dropped", "E[rej]", "Thm1 bnd"]
    if args.json:
        for r in rows:
            print(json.dumps(r))
        return 0
    print(" ".join(f"{h:>9}" if i else f"{h:<6}" for i, h in enumerate(heads)))
    for r in rows:
        print(" ".join(fmt.format(r[k]) for k, fmt in cols))
    return 0


def _bits(args: argparse.Namespace) -> int:
    from .enumerative import bits_for
    from .schemes import lattice_bits, size_bits, subset_bits

    v, ell = args.vocab_size, args.ell
    print(f"V={v} ell={ell}: bits per draft token (excluding the draft token's position)")
    print(f"{'K':>7} {'k-sqs':>8} {'c-sqs':>8} {'c-sqs (paper)':>14}")
    for k in args.k:
        lat = lattice_bits(k, ell)
        ksqs = subset_bits(v, k) + lat
        csqs = ksqs + size_bits(v)
        paper = 2 * bits_for(v) + lat
        print(f"{k:>7} {ksqs:>8} {csqs:>8} {paper:>14}")
    print(f"{'dense':>7} {lattice_bits(v, ell):>8}")
    return 0


def _table(args: argparse.Namespace) -> int:
    import csv

    with open(args.csv, newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows:
        print(f"{args.csv}: no rows")
        return 0
    cols = [c for c in args.columns or rows[0].keys() if c in rows[0]]

    def fmt(v: str) -> str:
        try:
            x = float(v)
        except ValueError:
            return v
        return f"{x:.4g}"

    cells = [[fmt(r.get(c, "")) for c in cols] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(cols)]
    print("  ".join(c.rjust(w) for c, w in zip(cols, widths, strict=True)))
    for row in cells:
        print("  ".join(v.rjust(w) for v, w in zip(row, widths, strict=True)))
    return 0


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="sqs", description=__doc__)
    sub = ap.add_subparsers(dest="command", required=True)
    d = SimulationConfig()
    s = sub.add_parser("simulate", help="run every scheme on an exact toy model pair and print a summary table")
    s.add_argument("--vocab-size", type=int, default=d.vocab_size, help="toy vocabulary size V")
    s.add_argument("--n-prompts", type=int, default=d.n_prompts, help="prompts (one start token each)")
    s.add_argument("--max-new-tokens", type=int, default=d.max_new_tokens, help="tokens generated per prompt")
    s.add_argument("--temperature", type=float, default=d.temperature, help="T on both sides; 0 = greedy")
    s.add_argument("--budget-bits", type=int, default=d.budget_bits, help="uplink payload budget B per batch")
    s.add_argument("--max-draft-len", type=int, default=d.max_draft_len, help="cap on drafts per batch")
    s.add_argument("--ell", type=int, default=d.ell, help="lattice resolution")
    s.add_argument("--k", type=int, default=d.k, help="K of K-SQS")
    s.add_argument("--beta", type=float, default=d.beta, help="initial threshold of C-SQS")
    s.add_argument("--alpha", type=float, default=d.alpha, help="C-SQS target dropped mass")
    s.add_argument("--eta", type=float, default=d.eta, help="C-SQS learning rate (0 = fixed threshold)")
    s.add_argument("--top-p", type=float, default=d.top_p, help="mass of the top-p scheme")
    s.add_argument("--closeness", type=float, default=d.closeness, help="how much of the LLM the toy SLM shares")
    s.add_argument("--seed", type=int, default=d.seed)
    s.add_argument("--out", help="also write the table as CSV here")
    s.add_argument("--json", action="store_true", help="print JSON lines instead of a table")
    s.add_argument("--quiet", action="store_true", help="no progress bar")
    s.set_defaults(func=_simulate)
    b = sub.add_parser("bits", help="exact wire cost per draft token for K-SQS / C-SQS vs the paper's figure")
    b.add_argument("--vocab-size", type=int, default=50257)
    b.add_argument("--ell", type=int, default=100)
    b.add_argument("--k", type=int, nargs="+", default=[1, 8, 64, 512, 4096])
    b.set_defaults(func=_bits)
    t = sub.add_parser("table", help="print a results CSV as an aligned table")
    t.add_argument("csv", help="a CSV written by the workflow, e.g. results/tables/toy_summary.csv")
    t.add_argument("--columns", nargs="+", help="only these columns, in this order")
    t.set_defaults(func=_table)
    return ap


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except ValueError as exc:
        print(f"sqs: error: {exc}", file=sys.stderr)
        return 2

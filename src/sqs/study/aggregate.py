"""Per-prompt decoding records -> one row per grid cell (``results/tables/summary.csv``).

The records' tallies (:mod:`sqs.system.metrics`) are added and turned into rates once, so every rate is
pooled from counts (see that module for each rate's definition). ``bound_theorem1`` (and its two
terms) is Theorem 1's bound on expected rejections divided by the number of batches, on the same
scale as ``resampling_rate``; ``expected_rejections`` is the exact expectation sum TV(q_hat, p) on
that scale.
"""

from __future__ import annotations

import math
import zlib

import numpy as np

from sqs.protocol.schemes import SCHEMES
from sqs.protocol.schemes import get as scheme_spec
from sqs.study.grid import CELL_COLUMNS, PARAM_COLUMNS, cell_values, is_preemptive, is_variant
from sqs.system.metrics import CI_COLUMNS, RATE_COLUMNS, bootstrap_ci, pooled

SETTING_COLUMNS = ("alpha", "ell", "budget_bits", "max_draft_len")
SUMMARY_COLUMNS = (
    *CELL_COLUMNS, *PARAM_COLUMNS, *SETTING_COLUMNS, *RATE_COLUMNS, *CI_COLUMNS, "speedup_vs_ar",
    "speedup_vs_ar_measured", "compute", "slm", "llm",
)  # fmt: skip
N_BOOT = 2000  # bootstrap resamples of a live cell's prompts
_RANK = {name: i for i, name in enumerate(SCHEMES)}  # the registry's order: ar, sd, qs, k-sqs, c-sqs, top-p


def cell_metrics(records: list[dict], cell: dict, view) -> dict:
    """The summary row of one cell from its per-prompt records (``view``: its regime's
    :class:`sqs.study.config.StudyConfig`)."""
    if not records:
        raise ValueError(f"cell {cell} has no records")
    d = view.decode
    spec = scheme_spec(str(cell["scheme"]))
    tallies = [r["tally"] for r in records]
    rates = pooled(tallies).rates()
    values = cell_values(cell)
    row = {
        "regime": str(cell.get("regime", "practical")),
        "scheme": spec.name,
        "setting": spec.setting(values),
        "policy": str(cell.get("policy", "static")),
        "preemptive": is_preemptive(cell),
        "temperature": float(cell["temperature"]),
    }
    key = "/".join(f"{c}~{row[c]}" for c in CELL_COLUMNS)  # the cell's own bootstrap draws
    ci = bootstrap_ci(tallies, np.random.default_rng([d.seed, zlib.crc32(key.encode())]), N_BOOT)
    row |= {
        **values,
        "alpha": float(d.alpha) if "alpha" in {f.name for f in spec.param_fields()} else 0.0,
        "ell": round(rates["mean_ell"]),
        "budget_bits": d.budget_bits,
        "max_draft_len": d.max_draft_len,
        **rates,
        **ci,
        "speedup_vs_ar": math.nan,
        "speedup_vs_ar_measured": math.nan,
        "compute": records[0].get("compute", "measured"),
        "slm": records[0]["slm"],
        "llm": records[0]["llm"],
    }
    return row


def summary_table(rows: list[dict]):
    """All cells as a DataFrame in the contract's column order, with ``speedup_vs_ar`` filled in.

    The speedup divides by the ``ar`` row of the same regime and temperature (NaN where the grid has none).
    """
    import pandas as pd

    df = pd.DataFrame(rows)
    missing = [c for c in SUMMARY_COLUMNS if c not in df.columns]
    if missing:
        raise ValueError(f"summary rows lack columns {missing}")
    plain = df[[not is_variant(r) for r in df.to_dict("records")]]
    for col, tps in (("speedup_vs_ar", "tokens_per_s"), ("speedup_vs_ar_measured", "tokens_per_s_measured")):
        ar = plain[plain.scheme == "ar"].set_index(["regime", "temperature"])[tps]
        df[col] = [r[tps] / ar[(r["regime"], r["temperature"])] if (r["regime"], r["temperature"]) in ar.index
                   and ar[(r["regime"], r["temperature"])] else math.nan for r in df.to_dict("records")]  # fmt: skip
    # plain schemes in the registry's order, each variant right after its plain twin
    df["_rank"] = [_RANK.get(r["scheme"], len(_RANK)) + (0.5 if is_variant(r) else 0.0) for r in df.to_dict("records")]
    order = {name: i for i, name in enumerate(dict.fromkeys(df.regime))}  # regimes as the config lists them
    df["_regime"] = df.regime.map(order)
    df = df.sort_values(["_regime", "temperature", "_rank", *PARAM_COLUMNS, "policy", "preemptive"])
    return df[list(SUMMARY_COLUMNS)].reset_index(drop=True)

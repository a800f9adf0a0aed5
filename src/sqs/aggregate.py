"""Per-prompt decoding records -> one row per grid cell (``results/tables/summary.csv``).

Counts are pooled over prompts before dividing (a prompt with more batches weighs more), so the rates
are the paper's: resampling rate = rejected-and-resampled tokens / batches; mean accept length =
(accepted drafts + batches) / batches; draft accept rate = accepted / drafted. ``latency_s`` is the
mean total latency of one prompt's ``max_new_tokens`` tokens and ``latency_s_std`` its spread across
prompts. ``bound_theorem1`` (and its two terms) is Theorem 1's bound on expected rejections divided by
the number of batches, so it is on the same scale as ``resampling_rate``; ``expected_rejections`` is
the exact expectation sum TV(q_hat, p) on that scale.
"""

from __future__ import annotations

import math

import numpy as np

SUMMARY_COLUMNS = (
    "scheme", "temperature", "K", "beta0", "eta", "alpha", "ell", "budget_bits", "n_prompts", "n_tokens",
    "latency_s", "latency_s_std", "tokens_per_s", "speedup_vs_ar", "resampling_rate", "mean_accept_len",
    "draft_accept_rate", "mean_draft_len", "uplink_bits_per_token", "uplink_bits_per_batch", "dropped_mass",
    "expected_rejections", "bound_theorem1", "bound_discrepancy", "bound_distortion", "n_batches",
    "latency_edge_s", "latency_protocol_s", "latency_uplink_s", "latency_propagation_s", "latency_cloud_s",
    "latency_downlink_s", "protocol_share_of_edge", "beta_last_mean", "policy", "preemptive", "mean_ell",
    "predraft_kept_share", "slm", "llm",
)  # fmt: skip

# issue #7's columns; None = the row's own ell
OPTIONAL_DEFAULTS = {"policy": "static", "preemptive": False, "mean_ell": None, "predraft_kept_share": 0.0}


def cell_metrics(records: list[dict], cell: dict, config: dict) -> dict:
    """The summary row of one cell from its per-prompt records."""
    if not records:
        raise ValueError(f"cell {cell} has no records")
    d = config["decode"]
    tokens = np.array([r["n_tokens"] for r in records], dtype=float)
    batches = np.array([r["n_batches"] for r in records], dtype=float)
    latency = np.array([r["latency_s"] for r in records], dtype=float)
    drafts = np.array([r.get("mean_draft_len", 0.0) * r["n_batches"] for r in records])
    accepted = np.array([(r["mean_accept_len"] - 1.0) * r["n_batches"] for r in records])
    nb = batches.sum()
    base = str(cell["scheme"]).partition("+")[0]  # issue #7's variants: qs+adaptive, k-sqs+preemptive, ...
    is_ar = base == "ar"
    ells = [r["mean_ell"] * r["n_batches"] for r in records if r.get("mean_ell")]
    mean_ell = float(sum(ells) / nb) if ells else (0.0 if base in ("ar", "sd") else float(d["ell"]))
    row = {
        "scheme": cell["scheme"],
        "temperature": float(cell["temperature"]),
        "K": int(cell["K"]),
        "beta0": float(cell["beta0"]),
        "eta": float(cell["eta"]),
        "alpha": float(d["alpha"]) if base == "c-sqs" else 0.0,
        "ell": round(mean_ell),
        "policy": records[0].get("policy", "static"),
        "preemptive": bool(records[0].get("preemptive", False)),
        "mean_ell": mean_ell,
        "predraft_kept_share": float(
            sum(r.get("predraft_kept_share", 0.0) * r.get("predrafted", 0) for r in records)
            / max(sum(r.get("predrafted", 0) for r in records), 1)
        ),
        "budget_bits": int(d["budget_bits"]),
        "n_prompts": len(records),
        "n_tokens": int(tokens.sum()),
        "latency_s": float(latency.mean()),
        "latency_s_std": float(latency.std(ddof=1)) if len(records) > 1 else 0.0,
        "tokens_per_s": float(tokens.sum() / latency.sum()),
        "speedup_vs_ar": math.nan,
        "resampling_rate": 0.0 if is_ar else float(sum(r["rejections"] for r in records) / nb),
        "mean_accept_len": 1.0 if is_ar else float((accepted.sum() + nb) / nb),
        "draft_accept_rate": math.nan if is_ar or drafts.sum() == 0 else float(accepted.sum() / drafts.sum()),
        "mean_draft_len": 0.0 if is_ar else float(drafts.sum() / nb),
        "uplink_bits_per_token": float(sum(r["uplink_bits_per_token"] * r["n_tokens"] for r in records) / tokens.sum()),
        "uplink_bits_per_batch": float(sum(r["uplink_bits_per_batch"] * r["n_batches"] for r in records) / nb),
        "dropped_mass": float(np.average([r["dropped_mass"] for r in records], weights=np.maximum(drafts, 1e-12))),
        "n_batches": int(nb),
    }
    for key in ("expected_rejections", "bound_theorem1", "bound_discrepancy", "bound_distortion"):
        row[key] = 0.0 if is_ar else float(sum(r.get(key, 0.0) for r in records) / nb)
    for part in ("edge", "protocol", "uplink", "propagation", "cloud", "downlink"):
        row[f"latency_{part}_s"] = float(np.mean([r[f"latency_{part}_s"] for r in records]))
    edge = row["latency_edge_s"]
    row["protocol_share_of_edge"] = row["latency_protocol_s"] / edge if edge > 0 else 0.0
    betas = [r["beta_last"] for r in records if "beta_last" in r]
    row["beta_last_mean"] = float(np.mean(betas)) if betas else math.nan
    row["slm"], row["llm"] = records[0]["slm"], records[0]["llm"]
    return row


def summary_table(rows: list[dict]):
    """All cells as a DataFrame in the contract's column order, with ``speedup_vs_ar`` filled in.

    The speedup divides by the ``ar`` row at the same temperature (NaN where the grid has none).
    """
    import pandas as pd

    df = pd.DataFrame(rows)
    for col, default in OPTIONAL_DEFAULTS.items():  # rows written before these columns existed
        if col not in df.columns:
            df[col] = df["ell"] if default is None else default
    missing = [c for c in SUMMARY_COLUMNS if c not in df.columns]
    if missing:
        raise ValueError(f"summary rows lack columns {missing}")
    ar = df[df.scheme == "ar"].set_index("temperature")["tokens_per_s"]
    df["speedup_vs_ar"] = [
        row.tokens_per_s / ar[row.temperature] if row.temperature in ar.index else math.nan for row in df.itertuples()
    ]
    order = {s: i for i, s in enumerate(("ar", "sd", "qs", "k-sqs", "c-sqs"))}

    def rank(name: str) -> float:  # plain schemes in the paper's order, each variant after its plain twin
        base, _, variant = name.partition("+")
        return order.get(base, len(order)) + (0.5 if variant else 0.0)

    df = df.sort_values(
        ["temperature", "scheme", "K", "beta0", "eta"], key=lambda c: c.map(rank) if c.name == "scheme" else c
    )
    return df[list(SUMMARY_COLUMNS)].reset_index(drop=True)


def write_summary(metrics_paths: list, out_csv) -> None:
    """The workflow's aggregation: every cell's ``metrics.json`` -> ``summary.csv``."""
    import json
    from pathlib import Path

    rows = [json.loads(Path(p).read_text()) for p in metrics_paths]
    out = Path(out_csv)
    out.parent.mkdir(parents=True, exist_ok=True)
    summary_table(rows).to_csv(out, index=False)

"""The paper's claims decided by intervals, not point estimates.

From the sweep's rows (the trace model over every cached prompt, 95 % bootstrap intervals over prompts),
per regime and temperature of the paper's figures:

- **crossover** (Fig. 2, 6): K-SQS at its best K against C-SQS at its best beta (eta the figures' adaptive
  one), each best by mean latency;
- **adaptivity** (Fig. 5): for each beta, C-SQS with eta > 0 against eta = 0.

A comparison names a winner only where the two 95 % intervals do not overlap; otherwise it says so.
Latency and resampling rate are decided separately (lower is better for both).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from sqs.protocol.schemes import SCHEMES

METRICS = ("latency_s", "resampling_rate")
OVERLAP = "overlap"


def _label(row) -> str:
    spec = SCHEMES[row["scheme"]]
    return spec.cell_label(dict(row)).replace(row["scheme"], spec.label, 1)


def decide(a: pd.Series, b: pd.Series, metric: str) -> str:
    """The lower of ``a`` and ``b`` in ``metric`` where their intervals do not overlap, else ``overlap``."""
    lo, hi = f"{metric}_ci_low", f"{metric}_ci_high"
    if a[hi] < b[lo]:
        return _label(a)
    if b[hi] < a[lo]:
        return _label(b)
    return OVERLAP


def _pair(kind: str, regime: str, t: float, a: pd.Series, b: pd.Series) -> dict:
    row = {"regime": regime, "temperature": t, "comparison": kind, "a": _label(a), "b": _label(b),
           "n_prompts": int(min(a["n_prompts"], b["n_prompts"]))}  # fmt: skip
    for m in METRICS:
        for side, x in (("a", a), ("b", b)):
            row[f"{side}_{m}"] = x[m]
            row[f"{side}_{m}_ci_low"], row[f"{side}_{m}_ci_high"] = x[f"{m}_ci_low"], x[f"{m}_ci_high"]
        row[f"{m}_winner"] = decide(a, b, m)
    return row


def _at(df: pd.DataFrame, column: str, values) -> pd.DataFrame:
    return df[np.isclose(df[column].to_numpy(float)[:, None], np.asarray(values, float)[None, :]).any(axis=1)]


def verdicts(sweep: pd.DataFrame, figures) -> list[dict]:
    """Every comparison above over ``sweep``'s rows at the settings ``figures``
    (:class:`sqs.study.config.FigureSettings`) lists."""
    rows = []
    eta_on = max(figures.values["eta"])
    for regime, reg in sweep.groupby("regime", sort=False):
        for t in figures.temperatures:
            at = reg[np.isclose(reg.temperature, t)]
            k = _at(at[at.scheme == "k-sqs"], "K", figures.values["K"])
            c = _at(at[at.scheme == "c-sqs"], "beta0", figures.values["beta0"])
            c_on = c[np.isclose(c.eta, eta_on)]
            if len(k) and len(c_on):
                best_k = k.loc[k.latency_s.idxmin()]
                best_c = c_on.loc[c_on.latency_s.idxmin()]
                rows.append(_pair("K-SQS best K vs C-SQS best beta", regime, float(t), best_k, best_c))
            if eta_on > 0:
                for beta in figures.values["beta0"]:
                    pair = c[np.isclose(c.beta0, beta)]
                    on, off = pair[np.isclose(pair.eta, eta_on)], pair[np.isclose(pair.eta, 0.0)]
                    if len(on) and len(off):
                        rows.append(_pair("C-SQS eta > 0 vs eta = 0", regime, float(t), on.iloc[0], off.iloc[0]))
    return rows

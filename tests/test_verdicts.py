"""The paper's claims decided by non-overlapping 95 % intervals (sqs.study.verdicts)."""

import pandas as pd

from sqs.study.config import FigureSettings, section
from sqs.study.verdicts import OVERLAP, decide, verdicts


def row(scheme, t, lat, lo, hi, K=0, beta0=0.0, eta=0.0, regime="paper"):
    return {"regime": regime, "scheme": scheme, "temperature": t, "K": K, "beta0": beta0, "eta": eta, "top_p": 0.0,
            "latency_s": lat, "latency_s_ci_low": lo, "latency_s_ci_high": hi, "resampling_rate": 0.5,
            "resampling_rate_ci_low": 0.4, "resampling_rate_ci_high": 0.6, "n_prompts": 64}  # fmt: skip


def test_a_winner_only_where_the_intervals_do_not_overlap():
    a, b = pd.Series(row("k-sqs", 0.2, 1.0, 0.9, 1.1, K=4)), pd.Series(row("c-sqs", 0.2, 1.5, 1.2, 1.8, beta0=0.01))
    assert decide(a, b, "latency_s") == "K-SQS K=4" and decide(b, a, "latency_s") == "K-SQS K=4"
    c = pd.Series(row("c-sqs", 0.2, 1.15, 1.05, 1.3, beta0=0.01))
    assert decide(a, c, "latency_s") == OVERLAP and decide(a, c, "resampling_rate") == OVERLAP


def test_each_scheme_at_its_best_setting_and_adaptivity_per_beta():
    rows = [
        row("k-sqs", 0.2, 1.0, 0.9, 1.1, K=4),
        row("k-sqs", 0.2, 2.0, 1.9, 2.1, K=16),
        row("k-sqs", 0.2, 9.0, 8.9, 9.1, K=64),  # not among the figures' Ks
        row("c-sqs", 0.2, 3.0, 2.9, 3.1, beta0=0.01, eta=0.001),
        row("c-sqs", 0.2, 3.5, 3.4, 3.6, beta0=0.01, eta=0.0),
        row("c-sqs", 0.2, 2.5, 2.4, 2.6, beta0=0.1, eta=0.001),
        row("c-sqs", 0.2, 2.55, 2.3, 2.7, beta0=0.1, eta=0.0),
    ]
    settings = {"temperatures": [0.2], "K": [4, 16], "beta0": [0.01, 0.1], "eta": [0.0, 0.001]}
    out = verdicts(pd.DataFrame(rows), section(FigureSettings, settings))
    cross = [r for r in out if r["comparison"].startswith("K-SQS")]
    assert len(cross) == 1 and (cross[0]["a"], cross[0]["b"]) == ("K-SQS K=4", "C-SQS β₁=0.1 η=0.001")
    assert cross[0]["latency_s_winner"] == "K-SQS K=4"
    adapt = {r["b"]: r["latency_s_winner"] for r in out if r["comparison"].startswith("C-SQS eta")}
    assert adapt == {"C-SQS β₁=0.01 η=0": "C-SQS β₁=0.01 η=0.001", "C-SQS β₁=0.1 η=0": OVERLAP}

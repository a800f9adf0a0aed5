"""The workflow's library side without models: grid, config checks, aggregation, cache statistics, figures."""

import json
import math

import numpy as np
import pandas as pd
import pytest

from sqs.outputs.figures import FIGURES, draw_all
from sqs.protocol.schemes import make_scheme
from sqs.study.aggregate import SUMMARY_COLUMNS, cell_metrics, summary_table
from sqs.study.grid import (
    ConfigError,
    cell_config,
    check_config,
    decode_config,
    grid_cells,
    is_variant,
    min_token_bits,
    vocab_size,
)
from sqs.system.metrics import LATENCY_PARTS, Tally
from sqs.trace.logitcache import cache_statistics, load_trace, support_size


def config(**grid):
    return {
        "models": {"slm": "embedded:smollm2-135m-instruct-draft", "llm": "embedded:smollm2-135m-instruct"},
        "decode": {
            "budget_bits": 5000,
            "ell": 100,
            "alpha": 0.0005,
            "max_new_tokens": 8,
            "max_draft_len": 4,
            "seed": 0,
        },
        "grid": {
            "temperatures": [0.2, 1.0],
            "baselines": ["ar", "sd", "qs"],
            "k_sqs": {"K": [4, 16]},
            "c_sqs": {"beta0": [0.01], "eta": [0.0, 0.001]},
            **grid,
        },
    }


def test_grid_cells_cover_the_grid_once():
    df = grid_cells(config())
    assert list(df.columns) == ["scheme", "policy", "preemptive", "temperature", "K", "beta0", "eta", "top_p"]
    assert len(df) == 2 * (3 + 2 + 2)
    assert not df.duplicated().any()
    assert set(df[df.scheme == "k-sqs"].K) == {4, 16}
    assert (df[df.scheme != "k-sqs"].K == 0).all()


def test_variant_cells_sit_beside_their_plain_twins():
    cfg = config(
        adaptive={"schemes": ["qs"], "K": [16], "ells": [50, 200]}, preemptive={"schemes": ["k-sqs"], "K": [16]}
    )
    cfg["channel"] = {"kind": "gilbert-elliott", "rates_bps": [1e6, 3e6]}
    cfg["models"].update(dtype="float32", device="cpu")
    cfg["link"] = {}
    df = grid_cells(cfg)
    assert len(df) == 2 * (3 + 2 + 2 + 2) and not df.duplicated().any()
    pre = df[df.preemptive]
    assert list(pre.scheme) == ["k-sqs", "k-sqs"] and list(pre.K) == [16, 16]
    assert list(df[df.policy == "adaptive"].scheme) == ["qs", "qs"]
    check_config(cfg)
    # through the same slice of the config the workflow hands each job
    adaptive = df[df.policy == "adaptive"].iloc[0].to_dict()
    ad = decode_config(adaptive, cell_config(cfg, "adaptive"))
    assert (ad.scheme, ad.policy, ad.ells, ad.preemptive) == ("qs", "adaptive", (50, 200), False)
    assert ad.channel.kind == "gilbert-elliott" and ad.channel.rates_bps == (1e6, 3e6)
    p = decode_config(pre.iloc[0].to_dict(), cell_config(cfg, "static"))
    assert (p.scheme, p.k, p.policy, p.preemptive) == ("k-sqs", 16, "static", True)
    plain_row = df[(df.scheme == "k-sqs") & (df.K == 16) & ~df.preemptive].iloc[0].to_dict()
    plain = decode_config(plain_row, cell_config(cfg, "static"))
    assert (plain.policy, plain.preemptive) == ("static", False)
    assert is_variant(adaptive) and is_variant(pre.iloc[0].to_dict()) and not is_variant(plain_row)
    with pytest.raises(ConfigError, match=r"grid\.adaptive\.schemes contains 'c-sqs'.*valid: qs, k-sqs, top-p"):
        check_config(config(adaptive={"schemes": ["c-sqs"], "ells": [50]}))
    with pytest.raises(ConfigError, match=r"grid\.baselines contains 'turbo'"):
        check_config(config(baselines=["ar", "turbo"]))
    with pytest.raises(ConfigError, match=r"grid\.preemptive\.K contains 70000"):
        check_config(config(preemptive={"schemes": ["k-sqs"], "K": [70000]}))
    with pytest.raises(ConfigError, match="too small"):  # every adaptive ell must fit the budget
        check_config(config(adaptive={"schemes": ["qs"], "K": [16], "ells": [100, 3000]}))


def test_vocab_size_of_known_and_unknown_models():
    assert vocab_size(config()) == 49152
    cfg = config()
    cfg["models"] = {"slm": "EleutherAI/gpt-neo-125m", "llm": "EleutherAI/gpt-neo-1.3B"}
    assert vocab_size(cfg) == 50257
    cfg["models"] = {"slm": "some/model", "llm": "EleutherAI/gpt-neo-1.3B"}
    assert vocab_size(cfg) is None
    cfg["models"]["vocab_size"] = 1000
    assert vocab_size(cfg) == 1000


@pytest.mark.parametrize("scheme,k", [("k-sqs", 1), ("k-sqs", 16), ("qs", 0), ("c-sqs", 0)])
def test_min_token_bits_is_reached_by_a_one_hot_draft(scheme, k):
    """The cheapest token of each scheme costs exactly min_token_bits (a one-hot q)."""
    v, ell = 2000, 100
    q = np.zeros(v)
    q[7] = 1.0
    params = {"qs": {"ell": ell}, "k-sqs": {"k": k, "ell": ell}, "c-sqs": {"beta": 0.5, "ell": ell}}[scheme]
    c = make_scheme(scheme, **params).compress(q)
    assert c.bits == min_token_bits(scheme, v, ell, k)


def test_check_config_rejects_k_above_v_and_small_budgets():
    check_config(config())
    with pytest.raises(ConfigError, match=r"grid.k_sqs.K contains 60000.*V = 49152"):
        check_config(config(k_sqs={"K": [60000]}))
    bad = config()
    bad["decode"]["budget_bits"] = 500
    with pytest.raises(ConfigError, match=r"decode.budget_bits=500.*qs"):
        check_config(bad)
    with pytest.raises(ConfigError, match="empty"):
        check_config(config(baselines=[], k_sqs={"K": []}, c_sqs={"beta0": [], "eta": [0.0]}))


def record(n_tokens, n_batches, drafted, accepted, rejections, latency, bits, **kw):
    """One prompt's record as sqs.study.decode writes it: its tally (counts and sums, sqs.system.metrics)."""
    t = Tally(tokens=n_tokens, batches=n_batches, drafts=drafted, accepted=accepted, resampled=rejections,
              payload_bits=bits, dropped_mass=kw.get("dropped", 0.1) * drafted,
              expected_rejections=kw.get("expected", 1.0), bound_theorem1=kw.get("bound", 2.0),
              bound_discrepancy=1.5, bound_distortion=0.5, ell_sum=100 * n_batches, ell_batches=n_batches,
              **{f"{p}_s": latency / 6 for p in LATENCY_PARTS})  # fmt: skip
    t.add_prompt(latency)
    return {**t.rates(), "tally": t.to_dict(), "slm": "s", "llm": "l"}


def test_cell_metrics_pool_counts_before_dividing():
    cell = {"scheme": "k-sqs", "temperature": 1.0, "K": 4, "beta0": 0.0, "eta": 0.0}
    recs = [record(10, 2, 8, 8, 0, 1.0, 400), record(10, 8, 16, 2, 6, 3.0, 1600)]
    row = cell_metrics(recs, cell, config())
    assert row["resampling_rate"] == pytest.approx(6 / 10)
    assert row["mean_accept_len"] == pytest.approx((10 + 10) / 10)
    assert row["draft_accept_rate"] == pytest.approx(10 / 24)
    assert row["tokens_per_s"] == pytest.approx(20 / 4.0)
    assert row["latency_s"] == pytest.approx(2.0) and row["latency_s_std"] == pytest.approx(math.sqrt(2))
    assert row["uplink_bits_per_token"] == pytest.approx(2000 / 20)
    assert row["bound_theorem1"] == pytest.approx(4.0 / 10)  # per batch, the resampling rate's scale
    assert row["alpha"] == 0.0 and row["ell"] == 100


def test_summary_table_speedup_is_against_ar_at_the_same_temperature():
    rows = []
    for t, ar_tps, k_tps in ((0.2, 10.0, 5.0), (1.0, 8.0, 16.0)):
        for scheme, tps in (("ar", ar_tps), ("k-sqs", k_tps)):
            rows.append(
                {c: 0.0 for c in SUMMARY_COLUMNS}
                | {"scheme": scheme, "temperature": t, "tokens_per_s": tps, "policy": "static", "preemptive": False}
            )
    df = summary_table(rows)
    assert list(df.columns) == list(SUMMARY_COLUMNS)
    got = {(r.scheme, r.temperature): r.speedup_vs_ar for r in df.itertuples()}
    assert got == {("ar", 0.2): 1.0, ("k-sqs", 0.2): 0.5, ("ar", 1.0): 1.0, ("k-sqs", 1.0): 2.0}


def test_support_size_matches_brute_force():
    rng = np.random.default_rng(0)
    p = rng.dirichlet(np.full(50, 0.3), size=20)
    got = support_size(p, 0.9)
    for row, k in zip(p, got, strict=True):
        s = np.sort(row)[::-1]
        assert s[:k].sum() >= 0.9 - 1e-12 and (k == 1 or s[: k - 1].sum() < 0.9)


def test_cache_statistics_from_a_written_cache(tmp_path):
    rng = np.random.default_rng(1)
    llm = rng.normal(size=(12, 30)).astype(np.float32)
    np.save(tmp_path / "slm_logits.npy", llm)  # identical models: acceptance 1
    np.save(tmp_path / "llm_logits.npy", llm)
    (tmp_path / "index.json").write_text("[]")
    (tmp_path / "meta.json").write_text(json.dumps({"slm": "a", "llm": "b"}))
    rows = cache_statistics(load_trace(tmp_path), [0.0, 1.0], alpha=0.01, chunk=5)
    assert len(rows) == 4
    greedy = [r for r in rows if r["temperature"] == 0.0]
    assert all(r["support_median"] == 1 and r["accept_prob_mean"] == pytest.approx(1.0) for r in greedy)


def test_every_figure_is_drawn(tmp_path):
    rows = []
    rng = np.random.default_rng(2)
    cells = grid_cells(config())
    for cell in cells.to_dict("records"):
        rows.append(
            {c: float(rng.random()) for c in SUMMARY_COLUMNS}
            | cell
            | {"slm": "s", "llm": "l", "tokens_per_s": 1 + rng.random()}
        )
    summary = summary_table(rows)
    stats = pd.DataFrame(
        [
            {"temperature": t, "model": m, "model_id": m, "alpha": 0.0005, "n_positions": 10, "support_mean": 5,
             "support_median": 4, "support_p10": 1, "support_p90": 9, "accept_prob_mean": 0.5}
            for t in (0.0, 0.5, 1.0) for m in ("slm", "llm")
        ]
    )  # fmt: skip
    paths = draw_all(summary, stats, tmp_path)
    assert [p.stem for p in paths] == list(FIGURES)
    for p in paths:
        assert p.stat().st_size > 5000 and p.with_suffix(".pdf").is_file()

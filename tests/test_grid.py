"""The workflow's library side without models: grid, config checks, aggregation, cache statistics, figures."""

import json
import math

import numpy as np
import pandas as pd
import pytest

from sqs.outputs.figures import draw_all
from sqs.protocol.schemes import make_scheme
from sqs.study.aggregate import SUMMARY_COLUMNS, cell_metrics, summary_table
from sqs.study.config import ConfigError, FigureSettings, StudyConfig, regime_config, section
from sqs.study.decode import DecodeConfig
from sqs.study.grid import (
    cell_config,
    cell_view,
    check_config,
    decode_config,
    grid_cells,
    is_variant,
    min_token_bits,
    trace_cell,
    trace_grid,
    vocab_size,
)
from sqs.system.metrics import LATENCY_PARTS, Tally
from sqs.trace.logitcache import cache_statistics, load_cache, support_size


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


def study(raw: dict) -> StudyConfig:
    return StudyConfig.from_dict(raw)


def job_view(cfg: dict, regime: str, policy: str) -> StudyConfig:
    """What a decoding job reads: its slice of the config, as the workflow hands it, parsed."""
    return cell_view(cell_config(cfg, regime, policy), regime)


def test_grid_cells_cover_the_grid_once():
    df = grid_cells(study(config()))
    assert list(df.columns) == ["regime", "scheme", "setting", "policy", "preemptive", "temperature"]
    assert set(df.regime) == {"practical"}  # a config that names no regime reads its sections as they are
    assert len(df) == 2 * (3 + 2 + 2)
    assert not df.duplicated().any()
    assert set(df[df.scheme == "k-sqs"].setting) == {"K=4", "K=16"}  # only its own parameters name a cell
    assert set(df[df.scheme == "c-sqs"].setting) == {"beta0=0.01+eta=0.0", "beta0=0.01+eta=0.001"}
    assert (df[df.scheme.isin(["ar", "sd", "qs"])].setting == "default").all()


def test_the_verification_rule_reaches_every_live_cell():
    cfg, plain = config(), config()
    cfg["decode"]["verify"] = "block"
    for c in (cfg, plain):
        c["link"] = {}
    df = grid_cells(study(cfg))
    for row in df.to_dict("records"):
        assert decode_config(row, job_view(cfg, "practical", "static")).verify == "block"
    assert decode_config(df.iloc[0].to_dict(), job_view(plain, "practical", "static")).verify == "token"
    with pytest.raises(ValueError, match=r"^unknown verification rule 'tree'; valid: token, block$"):
        DecodeConfig(verify="tree")


def test_variant_cells_sit_beside_their_plain_twins():
    cfg = config(
        adaptive={"schemes": ["qs"], "K": [16], "ells": [50, 200]}, preemptive={"schemes": ["k-sqs"], "K": [16]}
    )
    cfg["channel"] = {"kind": "gilbert-elliott", "rates_bps": [1e6, 3e6]}
    cfg["models"].update(dtype="float32", device="cpu")
    cfg["link"] = {}
    df = grid_cells(study(cfg))
    assert len(df) == 2 * (3 + 2 + 2 + 2) and not df.duplicated().any()
    pre = df[df.preemptive]
    assert list(pre.scheme) == ["k-sqs", "k-sqs"] and list(pre.setting) == ["K=16", "K=16"]
    assert list(df[df.policy == "adaptive"].scheme) == ["qs", "qs"]
    check_config(study(cfg))
    # through the same slice of the config the workflow hands each job
    adaptive = df[df.policy == "adaptive"].iloc[0].to_dict()
    ad = decode_config(adaptive, job_view(cfg, "practical", "adaptive"))
    assert (ad.scheme, ad.policy, ad.ells, ad.preemptive) == ("qs", "adaptive", (50, 200), False)
    assert ad.channel.kind == "gilbert-elliott" and ad.channel.rates_bps == (1e6, 3e6)
    p = decode_config(pre.iloc[0].to_dict(), job_view(cfg, "practical", "static"))
    assert (p.scheme, p.k, p.policy, p.preemptive) == ("k-sqs", 16, "static", True)
    plain_row = df[(df.scheme == "k-sqs") & (df.setting == "K=16") & ~df.preemptive].iloc[0].to_dict()
    plain = decode_config(plain_row, job_view(cfg, "practical", "static"))
    assert (plain.policy, plain.preemptive) == ("static", False)
    assert is_variant(adaptive) and is_variant(pre.iloc[0].to_dict()) and not is_variant(plain_row)
    with pytest.raises(ConfigError, match=r"grid\.adaptive\.schemes contains 'c-sqs'.*valid: qs, k-sqs, top-p"):
        check_config(study(config(adaptive={"schemes": ["c-sqs"], "ells": [50]})))
    with pytest.raises(ConfigError, match=r"grid\.baselines contains 'turbo'"):
        check_config(study(config(baselines=["ar", "turbo"])))
    with pytest.raises(ConfigError, match=r"grid\.preemptive\.K contains 70000"):
        check_config(study(config(preemptive={"schemes": ["k-sqs"], "K": [70000]})))
    with pytest.raises(ConfigError, match="too small"):  # every adaptive ell must fit the budget
        check_config(study(config(adaptive={"schemes": ["qs"], "K": [16], "ells": [100, 3000]})))


def test_a_regime_overrides_decode_keys_and_replaces_link_compute_and_grid():
    cfg = config()
    cfg["models"].update(dtype="float32", device="cpu")
    cfg["link"] = {"uplink_bps": 1e6, "propagation_s": 0.05}
    cfg["compute"] = {"profile": "orin-nano-super+h100-sxm"}
    cfg["regimes"] = {
        "paper": {"decode": {"max_draft_len": None, "accounting": "paper"}, "link": {"preset": "paper"},
                  "compute": {"profile": "calibrated"},
                  "grid": {"temperatures": [1.0], "baselines": ["qs"], "k_sqs": {"K": [16]}, "c_sqs": {"beta0": []}}},
        "practical": {},
    }  # fmt: skip
    paper = regime_config(cfg, "paper")
    assert paper["decode"]["max_draft_len"] is None and paper["decode"]["budget_bits"] == 5000  # B stays shared
    assert paper["link"] == {"preset": "paper"} and paper["compute"]["profile"] == "calibrated"
    assert regime_config(cfg, "practical")["link"] == cfg["link"]
    df = grid_cells(study(cfg))
    # its own grid, nothing inherited (a key it leaves out takes the schema's default, as the workflow fills it)
    assert list(df[df.regime == "paper"].scheme) == ["qs", "k-sqs"]
    assert len(df[df.regime == "practical"]) == 2 * (3 + 2 + 2)
    cell = df[(df.regime == "paper") & (df.scheme == "k-sqs")].iloc[0].to_dict()
    fit = {"a": 0.01, "b": 0.001, "d": 0.0, "e": 0.0}
    cal = {"slm_forward": fit, "llm_forward": fit, "edge_protocol": {}, "cloud_protocol": {}}
    d = decode_config(cell, job_view(cfg, "paper", "static"), calibration=cal)
    assert (d.max_draft_len, d.accounting, d.link.downlink_bps, d.link.propagation_s) == (None, "paper", None, 0.0)
    tc = trace_cell(study(cfg), "paper", cell)
    assert (tc.regime, tc.max_draft_len, tc.param("k"), tc.link.uplink_bps) == ("paper", None, 16, 2e6)
    cs = {"scheme": "c-sqs", "temperature": 1.0, "setting": "beta0=0.01+eta=0.001"}
    conformal = trace_cell(study(cfg), "paper", cs)
    assert (conformal.param("beta"), conformal.param("accounting")) == (0.01, "paper")
    assert "accounting" not in dict(tc.params)  # another scheme's parameter is not part of a cell
    practical = decode_config(df[df.regime == "practical"].iloc[0].to_dict(), job_view(cfg, "practical", "static"))
    assert (practical.max_draft_len, practical.link.uplink_bps, practical.link.downlink_bps) == (4, 1e6, 10e6)
    check_config(study(cfg))
    cfg["regimes"]["paper"]["grid"]["k_sqs"] = {"K": [60000]}
    with pytest.raises(ConfigError, match=r"regime paper: grid.k_sqs.K contains 60000"):
        check_config(study(cfg))
    cfg["regimes"]["paper"] = {"models": {}}
    with pytest.raises(ConfigError, match=r"regimes.paper sets \['models'\]"):
        check_config(study(cfg))
    with pytest.raises(ConfigError, match="not in the config's regimes"):
        regime_config(cfg, "nope")


def test_the_trace_grid_holds_every_figure_setting():
    cfg = {"analysis": {"sweep": {"temperatures": [0.0, 0.5], "K": [1, 4], "beta0": [0.01], "eta": [0.0],
                                  "top_p": [0.9], "min_p": []},
                        "figures": {"temperatures": [0.5, 0.7], "K": [4, 8], "beta0": [0.1],
                                    "eta": [0.001]}}}  # fmt: skip
    g = trace_grid(study(cfg))
    assert g == {"temperatures": [0.0, 0.5, 0.7], "K": [1, 4, 8], "beta0": [0.01, 0.1], "eta": [0.0, 0.001],
                 "top_p": [0.9], "min_p": [], "branch": [2, 3]}  # fmt: skip


def test_vocab_size_of_known_and_unknown_models():
    assert vocab_size(study(config()).models) == 49152
    cfg = config()
    cfg["models"] = {"slm": "EleutherAI/gpt-neo-125m", "llm": "EleutherAI/gpt-neo-1.3B"}
    assert vocab_size(study(cfg).models) == 50257
    cfg["models"] = {"slm": "some/model", "llm": "EleutherAI/gpt-neo-1.3B"}
    assert vocab_size(study(cfg).models) is None
    cfg["models"]["vocab_size"] = 1000
    assert vocab_size(study(cfg).models) == 1000


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
    check_config(study(config()))
    with pytest.raises(ConfigError, match=r"grid.k_sqs.K contains 60000.*V = 49152"):
        check_config(study(config(k_sqs={"K": [60000]})))
    bad = config()
    bad["decode"]["budget_bits"] = 500
    with pytest.raises(ConfigError, match=r"decode.budget_bits=500.*qs"):
        check_config(study(bad))
    with pytest.raises(ConfigError, match="empty"):
        check_config(study(config(baselines=[], k_sqs={"K": []}, c_sqs={"beta0": [], "eta": [0.0]})))


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
    row = cell_metrics(recs, cell, study(config()).view("practical"))
    assert row["resampling_rate"] == pytest.approx(6 / 10)
    assert row["mean_accept_len"] == pytest.approx((10 + 10) / 10)
    assert row["draft_accept_rate"] == pytest.approx(10 / 24)
    assert row["tokens_per_s"] == pytest.approx(20 / 4.0)
    assert row["latency_s"] == pytest.approx(2.0) and row["latency_s_std"] == pytest.approx(math.sqrt(2))
    assert row["uplink_bits_per_token"] == pytest.approx(2000 / 20)
    assert row["bound_theorem1"] == pytest.approx(4.0 / 10)  # per batch, the resampling rate's scale
    assert row["alpha"] == 0.0 and row["ell"] == 100
    # intervals over prompts: the resamples pool counts too, so they hold every pooled value of the two prompts
    assert 0.0 <= row["resampling_rate_ci_low"] <= row["resampling_rate"] <= row["resampling_rate_ci_high"] <= 0.75
    assert row["tokens_per_s_ci_low"] >= 20 / 6.0 - 1e-12 and row["tokens_per_s_ci_high"] <= 10.0 + 1e-12
    assert row["regime"] == "practical" and row["max_draft_len"] == 4


def test_summary_table_speedup_is_against_ar_of_the_same_regime_and_temperature():
    rows = []
    for regime, scale in (("paper", 1.0), ("practical", 4.0)):
        for t, ar_tps, k_tps in ((0.2, 10.0, 5.0), (1.0, 8.0, 16.0)):
            for scheme, tps in (("ar", ar_tps * scale), ("k-sqs", k_tps)):
                rows.append({c: 0.0 for c in SUMMARY_COLUMNS} | {"regime": regime, "scheme": scheme, "temperature": t,
                            "tokens_per_s": tps, "policy": "static", "preemptive": False})  # fmt: skip
    df = summary_table(rows)
    assert list(df.columns) == list(SUMMARY_COLUMNS)
    got = {(r.regime, r.scheme, r.temperature): r.speedup_vs_ar for r in df.itertuples()}
    assert got == {("paper", "ar", 0.2): 1.0, ("paper", "k-sqs", 0.2): 0.5, ("paper", "ar", 1.0): 1.0,
                   ("paper", "k-sqs", 1.0): 2.0, ("practical", "ar", 0.2): 1.0, ("practical", "k-sqs", 0.2): 0.125,
                   ("practical", "ar", 1.0): 1.0, ("practical", "k-sqs", 1.0): 0.5}  # fmt: skip


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
    rows = cache_statistics(load_cache(tmp_path), [0.0, 1.0], alpha=0.01, chunk=5)
    assert len(rows) == 4
    greedy = [r for r in rows if r["temperature"] == 0.0]
    assert all(r["support_median"] == 1 and r["accept_prob_mean"] == pytest.approx(1.0) for r in greedy)


def test_every_figure_is_drawn(tmp_path):
    rows = []
    rng = np.random.default_rng(2)
    cfg = config()
    cfg["regimes"] = {"paper": {"decode": {"max_draft_len": None}}, "practical": {}}
    for cell in grid_cells(study(cfg)).to_dict("records"):
        rows.append(
            {c: float(rng.random()) for c in SUMMARY_COLUMNS}
            | cell
            | {"slm": "s", "llm": "l", "tokens_per_s": 1 + rng.random(), "compute": "calibrated", "n_prompts": 4}
        )
    summary = summary_table(rows)
    stats = pd.DataFrame(
        [
            {"temperature": t, "model": m, "model_id": m, "alpha": 0.0005, "n_positions": 10, "support_mean": 5,
             "support_median": 4, "support_p10": 1, "support_p90": 9, "accept_prob_mean": 0.5}
            for t in (0.0, 0.5, 1.0) for m in ("slm", "llm")
        ]
    )  # fmt: skip
    sweep = []
    for regime in ("paper", "practical"):
        for t in (0.0, 0.5, 1.0):
            for scheme, k, b, e in [("k-sqs", 2, 0, 0), ("k-sqs", 8, 0, 0)] + [
                ("c-sqs", 0, b, e) for b in (0.001, 0.01) for e in (0.0, 0.001)
            ]:
                lat = 1 + rng.random()
                sweep.append({"regime": regime, "scheme": scheme, "temperature": t, "K": k, "beta0": b, "eta": e,
                              "top_p": 0.0, "latency_s": lat, "latency_s_ci_low": lat - 0.1,
                              "latency_s_ci_high": lat + 0.1, "resampling_rate": 0.3, "resampling_rate_ci_low": 0.2,
                              "resampling_rate_ci_high": 0.4, "n_prompts": 64, "budget_bits": 5000,
                              "max_draft_len": None if regime == "paper" else 2, "accounting": "exact",
                              "uplink_bps": 2e6, "downlink_bps": None, "propagation_s": 0.0,
                              "compute": "calibrated"})  # fmt: skip
    settings = {"temperatures": [0.0, 0.5, 1.0], "K": [2, 8], "beta0": [0.001, 0.01], "eta": [0.0, 0.001]}
    figs = section(FigureSettings, settings)
    paths = draw_all(summary, stats, pd.DataFrame(sweep), tmp_path, ["paper", "practical"], figs)
    per_regime = ["fig2_latency_resampling_vs_temperature", "fig4_latency_vs_K_and_beta", "fig5_csqs_adaptivity",
                  "fig6_ksqs_vs_csqs", "fig_baselines", "fig_bound_vs_measured", "measured/fig_baselines"]
    want = [f"{r}/{n}" for r in ("paper", "practical") for n in per_regime]
    want += ["fig_variants", "fig_support_size_vs_temperature"]  # once, from every regime's cells
    assert sorted(str(p.relative_to(tmp_path).with_suffix("")) for p in paths) == sorted(want)
    for p in paths:
        assert p.stat().st_size > 5000 and p.with_suffix(".pdf").is_file()


def test_the_schema_has_a_section_for_every_swept_scheme_parameter():
    """The config lists each scheme's values by the registry's column names, in the live grid, the dense
    sweep and the regimes map; a scheme added to the registry without them fails here."""
    from pathlib import Path

    import yaml

    from sqs.protocol.schemes import SCHEMES

    schema = yaml.safe_load((Path(__file__).resolve().parents[1] / "workflow/schemas/config.schema.yaml").read_text())
    props = schema["properties"]
    analysis = props["analysis"]["properties"]
    for spec in SCHEMES.values():
        for column in spec.columns():
            assert column in props["grid"]["properties"][spec.grid_section]["properties"], (spec.name, column)
            if spec.vectorized is not None:
                for section in ("sweep", "regimes"):
                    assert column in analysis[section]["properties"], (spec.name, section, column)
        for name in spec.columns().values():  # the toy simulation takes each swept parameter by name
            assert name in props["simulation"]["properties"], (spec.name, name)


def test_every_registered_study_figure_has_a_study_that_writes_its_table(monkeypatch):
    import sqs.outputs.figures  # noqa: F401  (fills the registry)
    from sqs.outputs import catalog
    from sqs.outputs.catalog import study_figures
    from sqs.steps.study import STUDIES, run_study_files

    figs = study_figures("policy_study")
    assert set(figs) == set(STUDIES) == {"adaptive_vs_static", "preemptive"}
    assert [f.name for f in figs.values()] == ["fig_adaptive_vs_static", "fig_preemptive"]
    # a study figure not named after its table would break the rule's output pattern (fig_{study}): refused
    misnamed = catalog.Figure("fig_other", "policy_study", "once", ("preemptive.csv",), "", lambda *a: None)
    monkeypatch.setattr(catalog, "REGISTRY", [*catalog.REGISTRY, misnamed])
    with pytest.raises(ValueError, match=r"figure fig_other of rule policy_study must be named fig_preemptive"):
        study_figures("policy_study")
    monkeypatch.undo()
    with pytest.raises(ValueError, match=r"unknown study 'adaptive'; valid: adaptive_vs_static, preemptive"):
        run_study_files("adaptive", {}, None, None, None)

"""The Snakemake workflow: lint, dry runs, config validation, and a tiny real run read back over MLflow's REST API."""

import csv
import json
import sys
from pathlib import Path

import pytest
import yaml

from sqs.outputs.catalog import figure_paths
from sqs.outputs.figures import REGISTRY
from workflow_helpers import (
    GOLDEN,
    N_CELLS,
    ROOT,
    TINY_CELLS,
    TINY_PAPER_CELLS,
    mlflow_server,
    rest,
    snake,
    snapshot,
    write_config,
)

BIN = Path(sys.executable).parent
CONTRACT = (
    "scheme temperature K beta0 eta alpha ell budget_bits n_prompts n_tokens latency_s latency_s_std tokens_per_s "
    "speedup_vs_ar resampling_rate mean_accept_len draft_accept_rate uplink_bits_per_token dropped_mass "
    "bound_theorem1"
).split()


def test_lint_clean():
    out = snake("--lint")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "Congratulations" in out.stdout + out.stderr


def _jobs(out) -> dict:
    """A dry run's job counts (its "Job stats" table)."""
    text = out.stdout + out.stderr
    table = text[text.index("Job stats:") :].splitlines()[3:]
    pairs = [line.split() for line in table]
    return {p[0]: int(p[1]) for p in pairs if len(p) == 2 and p[1].isdigit()}


def _cells(out) -> list[str]:
    """The decoding jobs' cell paths a dry run lists."""
    import re

    return sorted(set(re.findall(r"results/runs/(\S+)/records\.jsonl", out.stdout + out.stderr)))


@pytest.mark.parametrize(
    "configfiles", [["config/config.yaml"], ["config/config.yaml", "config/measured.yaml"],
                    ["config/config.yaml", "config/code.yaml"], ["config/config.yaml", "config/llamacpp.yaml"]],
)  # fmt: skip
def test_dry_run(configfiles):
    out = snake("-n", "--forceall", "--configfile", *configfiles)
    assert out.returncode == 0, out.stdout + out.stderr
    cells = _cells(out)
    assert {c.split("/")[0] for c in cells} == {"regime~paper", "regime~practical"}
    assert _jobs(out)["decode_cell"] == len(cells) == 26  # 8 paper + 18 practical cells


def test_default_run_is_the_config_file_and_a_configfile_replaces_it():
    assert _cells(snake("-n", "--forceall")) == _cells(snake("-n", "--forceall", "--configfile", "config/config.yaml"))


def test_paper_config_stands_alone_and_lists_exactly_the_papers_cells():
    cfg = yaml.safe_load((ROOT / "config/paper.yaml").read_text())
    assert (cfg["models"]["slm"], cfg["models"]["llm"]) == ("EleutherAI/gpt-neo-125m", "EleutherAI/gpt-neo-1.3B")
    assert cfg["data"]["source"] == "datasets" and cfg["data"]["dataset"] == "billion-word-benchmark/lm1b"
    assert cfg["data"]["dataset_revision"] == "refs/convert/parquet"
    assert cfg["grid"]["temperatures"] == [round(0.1 * i, 1) for i in range(11)]
    assert (cfg["decode"]["budget_bits"], cfg["decode"]["ell"], cfg["decode"]["alpha"]) == (5000, 100, 0.0005)
    assert cfg["decode"]["max_draft_len"] is None and cfg["link"] == {"preset": "paper"}
    assert 0.001 in cfg["grid"]["c_sqs"]["eta"] and 0.0 in cfg["grid"]["c_sqs"]["eta"]
    out = snake("-n", "--forceall", "--configfile", "config/paper.yaml")
    assert out.returncode == 0, out.stdout + out.stderr
    cells = [dict(x.split("~", 1) for x in c.split("/")) for c in _cells(out)]
    g = cfg["grid"]
    per_t = len(g["baselines"]) + len(g["k_sqs"]["K"]) + len(g["c_sqs"]["beta0"]) * len(g["c_sqs"]["eta"])
    assert len(cells) == 11 * per_t == 176 and _jobs(out)["decode_cell"] == 176
    assert {c["regime"] for c in cells} == {"paper"} and {c["scheme"] for c in cells} == {"ar", "qs", "k-sqs", "c-sqs"}
    assert {(c["policy"], c["preemptive"]) for c in cells} == {("static", "False")}  # no inherited variants
    assert {"regimes", "policy_headroom", "policy_study"}.isdisjoint(_jobs(out))  # nor the studies beside


def test_policies_target_dry_runs():
    out = snake("-n", "--forceall", "policies")
    assert out.returncode == 0, out.stderr[-3000:]
    assert "policy_study" in out.stdout + out.stderr


@pytest.mark.parametrize(
    "section,override,needles",
    [
        ("decode", {"ell": 0}, ["ell", "0", "minimum"]),
        ("decode", {"alpha": 1.5}, ["alpha", "1.5"]),
        ("grid", {"c_sqs": {"eta": [-0.1]}}, ["eta", "-0.1"]),
        ("grid", {"temperatures": [-1]}, ["temperatures", "-1"]),
        ("grid", {"k_sqs": {"K": [0]}}, ["K", "0"]),
        ("grid", {"k_sqs": {"K": [160000]}}, ["grid.k_sqs.K", "160000", "V = 151936"]),
        ("grid", {"preemptive": {"schemes": ["k-sqs"], "K": [160000]}}, ["grid.preemptive.K", "160000"]),
        ("grid", {"adaptive": {"schemes": ["c-sqs"]}}, ["c-sqs", "adaptive"]),
        ("channel", {"kind": "wifi"}, ["wifi", "gilbert-elliott"]),
        ("decode", {"budget_bits": 500}, ["decode.budget_bits=500", "qs"]),
        ("decode", {"max_new_tokens": "many"}, ["max_new_tokens", "many"]),
        ("models", {"dtype": "int8"}, ["dtype", "int8"]),
        ("simulation", {"k": 4096}, ["simulation.k=4096"]),
        ("analysis", {"sweep": {"K": [1, 160000]}}, ["analysis.sweep.K", "160000", "V = 151936"]),
        (None, {"bogus": 1}, ["bogus"]),
        ("link", {"preset": "fast"}, ["preset", "fast", "paper"]),
        ("regimes", {"paper": {"decode": {"max_draft_len": 0}}}, ["regimes.paper", "max_draft_len", "0"]),
        ("regimes", {"paper": {"grid": {"k_sqs": {"K": [160000]}}}}, ["regime paper", "grid.k_sqs.K", "160000"]),
        ("regimes", {"paper": {"models": {}}}, ["models"]),
        ("decode", {"accounting": "rough"}, ["accounting", "rough", "paper"]),
    ],
)
def test_invalid_config_fails_dry_run(tmp_path, section, override, needles):
    cfg = yaml.safe_load((ROOT / "config/config.yaml").read_text())
    if section is None:
        cfg.update(override)
    else:
        cfg.setdefault(section, {}).update(override)
    out = snake("-n", "--configfile", str(write_config(tmp_path, cfg, "bad.yaml")))
    assert out.returncode != 0
    text = out.stdout + out.stderr
    for needle in needles:
        assert needle in text, f"{needle!r} not in:\n{text[-3000:]}"


def test_tiny_run_table_and_figures(tiny_run):
    work, _ = tiny_run
    with (work / "results/tables/summary.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert set(CONTRACT) <= set(rows[0])
    practical = [r for r in rows if r["regime"] == "practical"]
    paper = [r for r in rows if r["regime"] == "paper"]
    assert sorted({(r["scheme"], r["policy"], r["preemptive"] == "True") for r in practical}) == sorted(TINY_CELLS)
    assert sorted((r["scheme"], r["policy"], r["preemptive"] == "True") for r in paper) == sorted(TINY_PAPER_CELLS)
    assert len(rows) == N_CELLS and {float(r["temperature"]) for r in rows} == {0.5, 1.0}
    for r in rows:
        assert int(r["n_tokens"]) == 2 * 6 and int(r["n_prompts"]) == 2
        assert 0.0 <= float(r["resampling_rate"]) <= 1.0
        assert float(r["latency_s"]) > 0
        for m in ("tokens_per_s", "latency_s", "resampling_rate"):  # 95 % intervals over the prompts
            assert float(r[f"{m}_ci_low"]) <= float(r[m]) + 1e-12 <= float(r[f"{m}_ci_high"]) + 2e-12, (r, m)
        if r["scheme"] == "ar":
            assert float(r["speedup_vs_ar"]) == pytest.approx(1.0)
    for r in paper:  # no cap: the budget alone limits a batch (and the tokens still wanted)
        assert r["max_draft_len"] == "" and r["compute"] == "calibrated"
        if r["scheme"] == "k-sqs":
            assert float(r["mean_draft_len"]) > 2.0
    by = {(r["scheme"], r["policy"], r["preemptive"], float(r["temperature"])): r for r in practical}
    for t in (0.5, 1.0):  # the variants: their own axes, their twins' settings otherwise
        ad, pre = by[("qs", "adaptive", "False", t)], by[("k-sqs", "static", "True", t)]
        assert 50 <= float(ad["mean_ell"]) <= 100
        assert pre["K"] == "4" and by[("k-sqs", "static", "False", t)]["K"] == "4"
        assert 0.0 <= float(pre["predraft_kept_share"]) <= 1.0
        top = by[("top-p", "static", "False", t)]  # wired through by its registry entry and config alone
        assert float(top["top_p"]) == 0.9 and float(top["uplink_bits_per_token"]) > 0
        for r in (top, by[("k-sqs", "static", "False", t)]):  # per-position acceptance beside the pooled rate
            assert 0.0 <= float(r["accept_rate_pos1"]) <= 1.0 and r["accept_rate_by_position"]
    drawn = figure_paths(["figures", "sweep_dense"], ["paper", "practical"], ("png", "pdf"))
    assert len(drawn) == 2 * (2 * (7 + 1) + 2) and {f.rule for f in REGISTRY} >= {"figures", "sweep_dense"}
    for path in drawn:  # every regime's paper figures, live baselines, Theorem 1, heat map; the rest once
        assert (work / path).stat().st_size > 1000, path
    with (work / "results/tables/trace_calibration.csv").open() as f:
        cal = list(csv.DictReader(f))
    assert len(cal) == 2 * 4 + 3 and all(0.0 <= float(r["pred_resampling_rate"]) <= 1.0 for r in cal)
    assert {r["regime"] for r in cal} == {"paper", "practical"} and {r["n_prompts"] for r in cal} == {"2"}
    assert (work / "results/figures/fig_trace_calibration.png").stat().st_size > 1000
    with (work / "results/tables/theorem2.csv").open() as f:
        th = list(csv.DictReader(f))
    assert len(th) == 5 * 2 * 6  # five learning rates x 12 cached positions
    assert (work / "results/figures/fig_theorem2.png").stat().st_size > 1000
    with (work / "results/tables/sweep_dense.csv").open() as f:
        sw = list(csv.DictReader(f))
    # per regime and T: AR, QS, K-SQS K in {1, 4}, C-SQS eta in {0, 0.001}, top-p, min-p, float32 SD, token ids,
    # split verification, token trees of 2 and 3 children
    assert len(sw) == 2 * 2 * (1 + 1 + 2 + 2 + 1 + 1 + 2 + 1 + 2) and all(float(r["ms_per_token"]) > 0 for r in sw)
    assert {r["n_prompts"] for r in sw} == {"2"} and all(float(r["n_tokens"]) == 12 for r in sw)
    for r in sw:
        assert float(r["tokens_per_s_ci_low"]) <= float(r["tokens_per_s"]) <= float(r["tokens_per_s_ci_high"])
    with (work / "results/tables/sweep_best_per_temperature.csv").open() as f:
        assert [(r["regime"], float(r["temperature"])) for r in csv.DictReader(f)] == [
            ("paper", 0.5), ("paper", 1.0), ("practical", 0.5), ("practical", 1.0)]  # fmt: skip
    with (work / "results/tables/verdicts.csv").open() as f:
        ver = list(csv.DictReader(f))
    assert len(ver) == 2 * 2 * 2  # per regime and T: the crossover, and eta > 0 against eta = 0 at beta 0.01
    for r in ver:  # each winner is what its row's own intervals say (lower is better), "overlap" where they meet
        for m in ("latency_s", "resampling_rate"):
            a_lo, a_hi, b_lo, b_hi = (float(r[f"{s}_{m}_ci_{e}"]) for s, e in (("a", "low"), ("a", "high"),
                                                                                ("b", "low"), ("b", "high")))
            want = r["a"] if a_hi < b_lo else r["b"] if b_hi < a_lo else "overlap"
            assert r[f"{m}_winner"] == want, (r, m)
    with (work / "results/tables/policy_headroom.csv").open() as f:
        hr = list(csv.DictReader(f))
    assert {r["rule"] for r in hr} >= {"static L=0", "static L=1", "oracle_any_L", "previous_confidence"}
    for t in {r["temperature"] for r in hr}:  # the oracle bounds every rule; the best static has gain 0
        gains = {r["rule"]: float(r["gain_vs_best_static"]) for r in hr if r["temperature"] == t}
        assert max(v for k, v in gains.items() if k.startswith("static")) == pytest.approx(0.0)
        assert all(v <= gains["oracle_any_L"] + 1e-12 for v in gains.values())
    assert (work / "results/figures/fig_policy_headroom.png").stat().st_size > 1000
    meta = json.loads(next((work / "results/cache").glob("logits-*/meta.json")).read_text())
    assert meta["n_positions"] == 2 * 6 and meta["vocab_size"] == 49152


def test_tiny_run_prices_compute_by_a_profile_and_maps_where_it_pays(tiny_run):
    """Issue #17: latency priced by the default profile with the wall clock beside it; the calibration,
    the regimes map and its live check."""
    work, _ = tiny_run
    cal = json.loads((work / "results/models/compute_calibration.json").read_text())
    assert {"slm_forward", "llm_forward", "edge_protocol", "cloud_protocol"} <= set(cal)
    with (work / "results/tables/compute_calibration.csv").open() as f:
        points = [r for r in csv.DictReader(f) if r["kind"] == "llm_forward"]
    assert len(points) == 18 and all(float(r["seconds"]) > 0 for r in points)
    with (work / "results/tables/summary.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert {r["regime"]: r["compute"] for r in rows} == {"practical": "orin-nano-super+h100-sxm",
                                                         "paper": "calibrated"}  # fmt: skip
    assert all(float(r["latency_measured_s"]) > 0 and float(r["tokens_per_s_measured"]) > 0 for r in rows)
    with (work / "results/tables/regimes.csv").open() as f:
        regimes = list(csv.DictReader(f))
    assert {r["profile"] for r in regimes} == {"orin-nano-super+h100-sxm", "orin-nano-super+a100-80gb", "calibrated"}
    assert {r["scheme"] for r in regimes} == {"qs", "k-sqs", "c-sqs", "top-p", "min-p", "sd", "tokens", "split", "tree"}
    with (work / "results/tables/regimes_validation.csv").open() as f:
        check = list(csv.DictReader(f))
    assert len({(r["uplink_bps"], r["propagation_s"]) for r in check}) >= 3
    err = [abs(float(r["pred_tokens_per_s"]) / float(r["live_tokens_per_s"]) - 1) for r in check]
    assert sum(err) / len(err) < 0.25, err  # the trace model against live trajectories re-linked
    for name in ("fig_regimes", "fig_capacity", "fig_compute_calibration", "practical/measured/fig_baselines"):
        assert (work / f"results/figures/{name}.png").stat().st_size > 1000
    # one cloud, many edges: every profile, each scheme at its best and both readings of AR, N = 1 .. 256
    with (work / "results/tables/capacity.csv").open() as f:
        cap = list(csv.DictReader(f))
    assert {r["scheme"] for r in cap} == {"qs", "k-sqs", "c-sqs", "top-p", "min-p", "sd", "tokens", "split", "tree",
                                          "ar-streamed", "ar-per-token", "server-only", "ar-static",
                                          "edge-only"}  # fmt: skip
    assert {r["profile"] for r in cap} == {r["profile"] for r in regimes}
    assert sorted({int(r["edges"]) for r in cap}) == [2**i for i in range(9)]
    for r in cap:
        within = float(r["latency_per_token_s"]) <= float(r["objective_s"])
        assert within == (int(r["edges"]) <= int(r["capacity"])), r  # capacity: the most edges within it
    with (work / "results/tables/capacity_map.csv").open() as f:
        cmap = list(csv.DictReader(f))
    assert len(cmap) == len({(r["profile"], r["temperature"], r["uplink_bps"], r["propagation_s"]) for r in regimes})


def test_tiny_run_sets_the_families_side_by_side(tiny_run):
    """Issue #36: in each regime, each family at its best setting per T and uplink rate (the regime's own rate
    among them), verdicts by the rows' own intervals, and the crossover of a compressed q_hat with the others."""
    work, _ = tiny_run
    with (work / "results/tables/families.csv").open() as f:
        fam = list(csv.DictReader(f))
    assert {(r["regime"], r["family"]) for r in fam} == {(g, f) for g in ("paper", "practical")
                                                         for f in ("sqs", "sd", "tokens", "split", "tree")}  # fmt: skip
    own = {(r["regime"], r["family"], r["temperature"]) for r in fam if r["at_regime_rate"] == "True"}
    assert len(own) == 2 * 5 * 2 and {float(r["uplink_bps"]) for r in fam if r["at_regime_rate"] == "True"} == {2e6}
    at = {(r["regime"], r["temperature"], r["uplink_bps"], r["family"]): r for r in fam}
    for r in fam:
        assert float(r["tokens_per_s_ci_low"]) <= float(r["tokens_per_s"]) <= float(r["tokens_per_s_ci_high"])
        if r["family"] != "sqs":  # the verdict is what the two rows' intervals say
            q = at[(r["regime"], r["temperature"], r["uplink_bps"], "sqs")]
            lo, hi = float(q["tokens_per_s_ci_low"]), float(q["tokens_per_s_ci_high"])
            want = ("sqs faster" if lo > float(r["tokens_per_s_ci_high"]) else
                    "sqs slower" if float(r["tokens_per_s_ci_low"]) > hi else "no difference")  # fmt: skip
            assert r["verdict_vs_sqs"] == want
        if r["family"] == "tokens":  # ceil(log2 49152) = 16 bits a draft, nothing else up; 6 tokens a prompt
            drafts = float(r["mean_draft_len"]) * float(r["rounds_per_sequence"])
            assert float(r["uplink_bits_per_token"]) == pytest.approx(16.0 * drafts / 6, rel=1e-9)
        if r["family"] == "split":  # the id and q_hat(x) in float64 up; the logits (4 V bytes) down on rejection
            drafts = float(r["mean_draft_len"]) * float(r["rounds_per_sequence"])
            assert float(r["uplink_bits_per_token"]) == pytest.approx(80.0 * drafts / 6, rel=1e-9)
            assert float(r["downlink_bits_per_token"]) > 8 * 10 * float(r["rounds_per_sequence"]) / 6
    with (work / "results/tables/families_crossover.csv").open() as f:
        cross = list(csv.DictReader(f))
    assert {(r["regime"], r["family"]) for r in cross} == {(g, f) for g in ("paper", "practical")
                                                           for f in ("sd", "tokens", "split", "tree")}  # fmt: skip
    assert (work / "results/figures/fig_families.png").stat().st_size > 1000
    with (work / "results/tables/families_block.csv").open() as f:
        blk = list(csv.DictReader(f))
    qhat = {"sd", "qs", "k-sqs", "c-sqs", "top-p", "min-p"}  # every scheme that sends a q̂, at every cap read
    assert {(r["regime"], r["scheme"]) for r in blk} == {(g, s) for g in ("paper", "practical") for s in qhat}
    assert {r["verify"] for r in fam} <= {"token", "block"}
    for r in blk:  # tokens a round: 6 a prompt over each rule's rounds; the gain is their ratio, inside its interval
        gain = float(r["tokens_per_round_block"]) / float(r["tokens_per_round_token"])
        assert float(r["round_gain"]) == pytest.approx(gain, rel=1e-12)
        assert float(r["round_gain_ci_low"]) <= float(r["round_gain"]) <= float(r["round_gain_ci_high"])
        assert r["max_draft_len"] not in ("1", "1.0")  # a block of one draft is verified token by token
    assert (work / "results/figures/fig_families_block.png").stat().st_size > 1000


# Floats computed from the models' probabilities (sums of q over a support, TV(q̂, p), C-SQS's threshold path).
# Forwards round differently between CPU kinds (oneDNN picks kernels by ISA): in float32 a 2-core AVX-512
# machine measured up to 4e-6 relative from the recording made on another, and one C-SQS cell's draft flipped
# (2026-12-02). The tiny run therefore decodes in float64, where that noise is ~1e-15 a layer: 1e-9 relative
# is 1e5x above it and far below what a changed token, support or count moves these columns by.
FROM_PROBABILITIES = {"beta_last_mean", "bound_discrepancy", "bound_distortion", "bound_theorem1", "dropped_mass",
                      "expected_rejections"}  # fmt: skip


def _same(a, b, col: str = "") -> bool:
    """Exact for counts, settings and names; ratios of counts to rounding (1e-12: the pooled tally divides the
    same integers, perhaps in another order); probability-derived floats to 1e-9 (above)."""
    try:  # an empty CSV field is NaN
        x, y = float(a if a != "" else "nan"), float(b if b != "" else "nan")
    except (TypeError, ValueError):
        return str(a) == str(b)
    rel = 1e-9 if col in FROM_PROBABILITIES else 1e-12
    return (x != x and y != y) or x == pytest.approx(y, rel=rel, abs=1e-12)


def test_tiny_run_matches_the_recorded_table(tiny_run):
    """summary.csv's deterministic columns, every plain cell's tokens and every MLflow parameter are what the
    recording holds (tests/data/tiny_recorded.json, written by `python tests/workflow_helpers.py record`)."""
    work, _ = tiny_run
    gold, now = json.loads(GOLDEN.read_text()), snapshot(work)
    assert set(gold["summary"]) == set(now["summary"])
    for key, old in gold["summary"].items():
        for col, val in old.items():
            assert _same(now["summary"][key].get(col), val, col), (key, col, now["summary"][key].get(col), val)
    assert now["tokens"] == gold["tokens"]
    assert now["mlflow_params"] == gold["mlflow_params"]


def test_tiny_run_is_complete_and_mlflow_reads_back_over_rest(tiny_run):
    work, args = tiny_run
    again = snake("-n", *args)
    assert "Nothing to be done" in again.stdout + again.stderr
    with mlflow_server(work) as (base, exp):
        exp_id = exp["experiment"]["experiment_id"]
        runs = rest(base, "runs/search", {"experiment_ids": [exp_id], "max_results": 100})["runs"]
    exp_tags = {t["key"]: t["value"] for t in exp["experiment"].get("tags", [])}
    assert exp_tags.get("mlflow.experimentKind") == "custom_model_development"  # the UI opens on the runs
    tags = [{t["key"]: t["value"] for t in r["data"].get("tags", [])} for r in runs]
    parents = [r for r, t in zip(runs, tags, strict=True) if t.get("sqs.kind") == "workflow"]
    children = [r for r, t in zip(runs, tags, strict=True) if t.get("sqs.kind") == "cell"]
    assert len(parents) == 1 and len(children) == N_CELLS
    assert parents[0]["info"]["run_name"].startswith("sqs-tiny @ ")
    pid = parents[0]["info"]["run_id"]
    names = set()
    for child in children:
        t = {x["key"]: x["value"] for x in child["data"]["tags"]}
        params = {x["key"]: x["value"] for x in child["data"]["params"]}
        metrics = {x["key"] for x in child["data"]["metrics"]}
        name = child["info"]["run_name"]
        names.add(name)
        assert name.startswith(params["scheme"] + " ")
        assert name.endswith(f"T={float(params['temperature']):g} ({params['regime']})")
        assert t["scheme"] == params["scheme"] and float(t["temperature"]) == float(params["temperature"])
        assert t["regime"] == params["regime"]
        assert t["pair"] == f"{params['slm']} -> {params['llm']}"
        assert t["mlflow.parentRunId"] == pid
        assert {"regime", "scheme", "temperature", "slm", "llm", "git_commit", "config_hash"} <= set(params)
        assert {"latency_s", "tokens_per_s", "resampling_rate"} <= metrics
        if params["scheme"] != "ar":
            assert "batch_accepted" in metrics  # the per-batch series, logged with step=
    assert len(names) == N_CELLS and {"k-sqs K=4 T=0.5 (practical)", "c-sqs β₁=0.01 η=0.001 T=1 (paper)"} <= names


def test_forced_mlflow_rerun_adds_no_runs(tiny_run):
    """Re-running the logging rule on unchanged files finds every run already logged."""
    import mlflow

    work, args = tiny_run
    first = json.loads((work / "results/mlflow/runs.json").read_text())
    out = snake("--cores", "1", "--forcerun", "mlflow_log", *args)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    again = json.loads((work / "results/mlflow/runs.json").read_text())
    assert again["added"] == 0 and again["parent_run_id"] == first["parent_run_id"]
    client = mlflow.tracking.MlflowClient(tracking_uri=f"sqlite:///{work / 'results/mlflow/mlflow.db'}")
    exp = client.get_experiment_by_name("sqs-tiny")
    assert len(client.search_runs([exp.experiment_id], max_results=100)) == 1 + N_CELLS


def test_toy_target(tmp_path):
    cfg = {"simulation": {"vocab_size": 64, "n_prompts": 2, "max_new_tokens": 8, "k": 4}}
    work = tmp_path / "work"
    args = ("-s", str(ROOT / "Snakefile"), "--directory", str(work), "--configfile", str(write_config(tmp_path, cfg)))
    out = snake("--cores", "1", "toy", *args)
    assert out.returncode == 0, out.stdout + out.stderr
    with (work / "results/tables/toy_summary.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert [r["scheme"] for r in rows] == ["sd", "qs", "k-sqs", "c-sqs", "top-p", "min-p", "tokens", "split",
                                           "tree"]

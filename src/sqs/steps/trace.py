"""The workflow's trace steps: the logits cache (and the live summary) in, a table and its figure out."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pandas as pd

from sqs.outputs import figures
from sqs.steps.io import read_jsonl, write_table
from sqs.study.config import StudyConfig, study_config
from sqs.study.grid import compute_profile, is_variant, trace_cell, trace_grid, trace_settings
from sqs.system.compute import make_profile
from sqs.trace.families import family_study
from sqs.trace.headroom import HEADROOM_COLUMNS, policy_headroom
from sqs.trace.logitcache import load_cache
from sqs.trace.regimes import (
    ar_terms,
    best_workloads,
    capacity_map,
    capacity_table,
    cell_terms,
    link_terms,
    regime_cells,
    regime_table,
    validate,
)
from sqs.trace.sequence import expected_tallies
from sqs.trace.sweep import (
    SWEEP_SCHEMES,
    ar_rows,
    calibrate,
    cell_predictions,
    grid_cells,
    profile_from_summary,
    sweep,
    theorem2_table,
    with_speedups,
)

log = logging.getLogger(__name__)


def _live(summary_csv) -> list[dict]:
    return pd.read_csv(summary_csv).to_dict("records")


def _calibration(path) -> dict | None:
    return json.loads(Path(path).read_text()) if path else None


def regime_profiles(config: StudyConfig, calibration_path, summary_csv) -> dict:
    """Each regime's compute profile (its live cells were priced with it); under ``measured``, per-call
    prices fitted on that regime's live cells."""
    cal, live, out = _calibration(calibration_path), None, {}
    for view in config.views():
        name = view.regime
        profile = compute_profile(view, cal)
        if profile.measured:
            live = _live(summary_csv) if live is None else live
            profile = profile_from_summary([r for r in live if r.get("regime", name) == name])
        out[name] = profile
    return out


def _live_segments(trace, n_prompts: int) -> list[int]:
    """The cache segments of a live cell's prompts: the first ``n_prompts`` of the prompts file, as decoded."""
    if n_prompts > len(trace.segments):
        raise ValueError(f"a live cell decoded {n_prompts} prompts, the logits cache holds {len(trace.segments)}")
    return list(range(n_prompts))


def calibration_files(cache_dir, summary_csv, config, out_csv, fig_dir, calibration_path=None) -> list[dict]:
    """``trace_calibration``: every plain live cell predicted from the cache over its own prompts, and
    fig_trace_calibration."""
    config = study_config(config)
    tr = load_cache(cache_dir)
    profiles = regime_profiles(config, calibration_path, summary_csv)
    live = []
    for row in _live(summary_csv):
        if row["scheme"] in SWEEP_SCHEMES and not is_variant(row):
            live.append((trace_cell(config, row["regime"], row), row, _live_segments(tr, int(row["n_prompts"]))))
    rows = calibrate(tr.slm, tr.llm, tr.segments, live, profiles, tr.contexts,
                     n_boot=config.analysis.figures.n_boot)  # fmt: skip
    write_table(rows, out_csv)
    figures.draw("fig_trace_calibration", fig_dir, pd.read_csv(out_csv))
    return rows


def dense_sweep_files(cache_dir, summary_csv, config, out_csv, fig_dir, workers: int = 1,
                      calibration_path=None, progress=None) -> list[dict]:  # fmt: skip
    """``sweep_dense``: per regime, the dense grid and the figures' settings over every cached prompt, AR beside;
    the best setting per temperature; each regime's heat map (``<fig_dir>/<regime>/fig_sweep_heatmap``)."""
    config = study_config(config)
    tr = load_cache(cache_dir)
    profiles = regime_profiles(config, calibration_path, summary_csv)
    grid = trace_grid(config)
    n_boot = config.analysis.figures.n_boot
    cells = []
    for view in config.views():
        cells += grid_cells(grid["temperatures"], grid, **trace_settings(view))
    rows = sweep(tr.slm, tr.llm, tr.segments, cells, profiles, progress=progress, workers=workers,
                 contexts=tr.contexts, n_boot=n_boot, seed=config.decode.seed)  # fmt: skip
    links = {n: (profiles[n], config.view(n).link) for n in profiles}
    rows = with_speedups(ar_rows(tr.segments, links, grid["temperatures"], tr.contexts, n_boot) + rows)
    write_table(rows, out_csv)
    sw = pd.read_csv(out_csv, keep_default_na=False, na_values=[""])
    spec = sw[sw.scheme != "ar"]
    write_table(figures.best_per_temperature(spec).to_dict("records"),
                Path(out_csv).with_name("sweep_best_per_temperature.csv"))  # fmt: skip
    for name in config.regime_names():
        figures.draw("fig_sweep_heatmap", fig_dir, spec[spec.regime == name], regime=name)
    return rows


def theorem2_files(cache_dir, temperature: float, beta0: float, alpha: float, etas: list[float], ell: int,
                   out_csv, fig_dir) -> list[dict]:  # fmt: skip
    """``theorem2``: C-SQS's running dropped mass along the trace against Theorem 2, and fig_theorem2."""
    tr = load_cache(cache_dir)
    rows = theorem2_table(tr.slm, tr.llm, temperature, beta0, alpha, etas, ell)
    write_table(rows, out_csv)
    figures.draw("fig_theorem2", fig_dir, pd.read_csv(out_csv), alpha=alpha)
    return rows


def headroom_files(cache_dir, summary_csv, config, out_csv, fig_dir=None, calibration_path=None) -> list[dict]:
    """``policy_headroom``: the cache and the top-level config's compute profile in, table (and fig) out."""
    config = study_config(config)
    s = config.analysis.policies
    tr = load_cache(cache_dir)
    profile = compute_profile(config, _calibration(calibration_path))
    if profile.measured:
        profile = profile_from_summary(_live(summary_csv))
    rows = policy_headroom(
        tr.slm, tr.llm, tr.segments, list(s.temperatures), profile, config.link, ell=max(s.ells),
        budget_bits=config.decode.budget_bits, max_len=max(s.draft_lens), context=tr.mean_context,
    )  # fmt: skip
    write_table(rows, out_csv, HEADROOM_COLUMNS)
    if fig_dir is not None:
        figures.draw("fig_policy_headroom", fig_dir, pd.read_csv(out_csv))
    return rows


def regimes_files(cache_dir, runs_dir, config, out_csv, validation_csv, capacity_csv, capacity_map_csv, fig_dir,
                  calibration_path=None) -> list[dict]:  # fmt: skip
    """``regimes``: the (uplink, propagation) map per profile and temperature under the top-level config's batch
    rule, and the live cells of the regime that runs it beside it (over their own prompts); one cloud serving
    many edges over the top-level link (``capacity_csv``) and its capacity across the map (``capacity_map_csv``)."""
    config = study_config(config)
    r, m = config.analysis.regimes, config.models
    cal = _calibration(calibration_path)
    profiles = {n: make_profile(n, m.slm, m.llm, cal) for n in r.profiles}
    link = config.link
    cells = regime_cells([float(t) for t in r.temperatures], dict(r.values), **trace_settings(config))
    tr = load_cache(cache_dir)
    terms = cell_terms(tr.slm, tr.llm, tr.segments, cells, profiles, tr.contexts)
    ar = {n: ar_terms(tr.segments, p, tr.contexts) for n, p in profiles.items()}
    rows = regime_table(terms, cells, profiles, ar, link.downlink_bps)
    c = config.analysis.capacity
    best = best_workloads(terms, cells, profiles, link, tr.mean_context, c.objective_s, c.max_batch)
    write_table(capacity_table(best, profiles, ar, link, tr.mean_context, c.objective_s, c.max_batch, c.edges),
                capacity_csv)  # fmt: skip
    write_table(capacity_map(best, profiles, ar, link.downlink_bps, tr.mean_context, c.objective_s, c.max_batch),
                capacity_map_csv)  # fmt: skip
    run_profile = config.compute.profile
    live = []  # live plain cells of a regime that reads the top-level config as it is, at a setting the map holds
    base = [n for n in config.regime_names() if config.reads_top_level(n)]
    stats = None
    for metrics in sorted(Path(runs_dir).rglob("metrics.json")):
        row = json.loads(metrics.read_text())
        if is_variant(row) or row["scheme"] not in SWEEP_SCHEMES or row.get("regime") not in base:
            continue
        mine = next((c for c in cells if _same_setting(c, trace_cell(config, row["regime"], row))), None)
        if mine is None or run_profile not in profiles:
            continue
        records = read_jsonl(metrics.with_name("records.jsonl"))
        segs = [tr.segments[i] for i in _live_segments(tr, len(records))]
        ctx = [tr.contexts[i] for i in _live_segments(tr, len(records))]
        if stats is None:  # every map cell solved once (the C-SQS threshold over all prompts, as live)
            solved = cell_predictions(tr.slm, tr.llm, cells, profiles[run_profile], tr.segments, tr.contexts)
            stats = {c: st for c, (st, _) in solved.items()}
        tallies = expected_tallies(stats[mine], segs, mine, profiles[run_profile], mine.link, tr.slm.shape[1], ctx)
        live.append((mine, records, link_terms(tallies)))
    write_table(rows, out_csv)
    write_table(validate(live, run_profile, link.downlink_bps), validation_csv)
    figures.draw("fig_regimes", fig_dir, pd.read_csv(out_csv), pd.read_csv(capacity_map_csv))
    figures.draw("fig_capacity", fig_dir, pd.read_csv(capacity_csv, keep_default_na=False, na_values=[""]))
    return rows


def _same_setting(a, b) -> bool:
    """The same scheme, T and swept settings (the regime and prices aside)."""
    return (a.scheme, a.temperature, a.columns()) == (b.scheme, b.temperature, b.columns())


def families_files(cache_dir, config, out_csv, crossover_csv, block_csv, fig_dir, calibration_path=None,
                   summary_csv=None) -> list[dict]:  # fmt: skip
    """``families``: in each regime (its batch rule, link and compute profile), each family at its best of
    ``analysis.regimes``' settings per temperature and uplink rate, the crossover rates, and block verification
    against token verification of every q̂ cell."""
    config = study_config(config)
    r = config.analysis.regimes
    profiles = regime_profiles(config, calibration_path, summary_csv)
    cells = {v.regime: regime_cells([float(t) for t in r.temperatures], dict(r.values), **trace_settings(v))
             for v in config.views()}  # fmt: skip
    tr = load_cache(cache_dir)
    rows, crossings, gains = family_study(tr.slm, tr.llm, tr.segments, cells, profiles,
                                          {v.regime: v.link for v in config.views()}, tr.contexts,
                                          n_boot=config.analysis.figures.n_boot)  # fmt: skip
    write_table(rows, out_csv)
    write_table(crossings, crossover_csv)
    write_table(gains, block_csv)
    figures.draw("fig_families_block", fig_dir, pd.read_csv(block_csv))
    figures.draw("fig_families", fig_dir, pd.read_csv(out_csv, keep_default_na=False, na_values=[""]),
                 pd.read_csv(crossover_csv))  # fmt: skip
    return rows

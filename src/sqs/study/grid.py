"""The study's grid: which cells the workflow decodes, and how one cell runs.

A cell is a row of the workflow's ``Paramspace``: the regime, the scheme, its ``setting`` (the values of the
parameters it is swept over, as the registry writes them: ``K=16``, ``beta0=0.01+eta=0.001``, ``default``
for a scheme without any), the drafting policy (``static`` or ``adaptive``), preemptive drafting on or off
and the temperature: ``regime~<r>/scheme~<s>/setting~<v>/policy~<p>/preemptive~<b>/temperature~<T>``. A
parameter added to one scheme renames no other scheme's cells. Tables and MLflow also carry one column per
swept parameter of every scheme (:func:`cell_values`; 0 where the scheme has no such parameter).

**Regimes.** ``regimes`` names the settings a study is read in: each is the top-level ``decode``, ``link``,
``compute`` and ``grid`` with its own overrides (:meth:`sqs.study.config.StudyConfig.view`): ``decode`` keys
override one by one (B, ell and alpha stay shared), while a regime's ``link``, ``compute`` or ``grid``
replaces the top-level one whole. The default config has ``paper`` (the draft length set by B alone, the paper's
latency) and ``practical`` (a measured draft cap, a hardware profile, propagation and the downlink).

Every function takes the parsed config (:class:`sqs.study.config.StudyConfig`, or one regime's view of
it); only :func:`cell_config` writes a dict, the decoding job's Snakemake params. The config lists each
scheme's values under ``grid.<section>`` (``k_sqs``, ``c_sqs``, ``top_p``; each list
named by its column); the adaptive policy and preemptive drafting run the schemes listed under
``grid.adaptive`` and ``grid.preemptive`` with every other setting as their plain twin's, so
``summary.csv`` and MLflow hold them beside the plain cells.

Checks that need the vocabulary size (K <= V, a budget that fits one token) run on the config before
any job starts; V comes from ``models.vocab_size`` or from the known model ids below.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from itertools import product

from sqs.models.backend import EMBEDDED_DRAFT, EMBEDDED_LLM, PAPER_LLM, PAPER_SLM
from sqs.models.embedded import EMBEDDED
from sqs.protocol.schemes import SCHEMES, grid_columns, names
from sqs.protocol.schemes import get as scheme_spec
from sqs.protocol.schemes.registry import all_param_fields, cast, column_type
from sqs.study.config import ConfigError, Grid, Models, StudyConfig, regime_config
from sqs.system.compute import PROFILES, shape_of
from sqs.trace.sweep import is_preemptive, is_variant  # noqa: F401 (is_variant: the grid's name for it)

log = logging.getLogger(__name__)

PARAM_COLUMNS = grid_columns()  # K, beta0, eta, top_p, ...: every swept scheme parameter
CELL_COLUMNS = ("regime", "scheme", "setting", "policy", "preemptive", "temperature")  # a cell's path
BASELINES = ("ar", "sd", "qs")
POLICIES = ("static", "adaptive")
KNOWN_VOCAB = {
    **{m.id: m.vocab_size for m in EMBEDDED.values()},
    EMBEDDED_DRAFT: EMBEDDED[EMBEDDED_LLM].vocab_size,
    PAPER_SLM: 50257,
    PAPER_LLM: 50257,
}
CELL_SECTIONS = ("models", "decode", "link", "compute", "channel")  # what a decoding job reads (cell_config)


def vocab_size(models: Models) -> int | None:
    """V for the parse-time checks: ``models.vocab_size``, else a known id's, else None (checked in the job)."""
    if models.vocab_size:
        return int(models.vocab_size)
    base = lambda i: i.rpartition("@exit=")[0] or i  # noqa: E731
    sizes = {KNOWN_VOCAB.get(base(models.slm)), KNOWN_VOCAB.get(base(models.llm))}
    return sizes.pop() if len(sizes) == 1 else None


def min_token_bits(scheme: str, v: int, ell: int, k: int = 1) -> int:
    """The fewest payload bits one draft token of ``scheme`` can cost; 0 where no budget applies."""
    spec = scheme_spec(scheme)
    if not spec.speculative or not spec.budget:
        return 0  # ar sends nothing; sd is exempt from the budget (float32 on the wire)
    return spec.layout.min_token_bits(v, ell, k)


def cell_values(cell: Mapping) -> dict:
    """Every swept column's value in a cell (its scheme's from ``setting`` where the cell has one, else from
    its columns; 0 for the other schemes' columns), typed as the registry declares them."""
    spec = scheme_spec(str(cell["scheme"]))
    own = spec.parse_setting(str(cell["setting"])) if "setting" in cell else {c: cell[c] for c in spec.columns()}
    return {c: column_type(c)(own.get(c, 0)) for c in PARAM_COLUMNS}


def _cell(scheme: str, setting: dict, policy: str = "static", preemptive: bool = False) -> dict:
    spec = scheme_spec(scheme)
    values = {c: setting.get(c, 0) for c in spec.columns()}
    return {"scheme": scheme, "setting": spec.setting(values), "policy": policy, "preemptive": preemptive,
            **cell_values({"scheme": scheme, **values})}  # fmt: skip


def _cells(g: Grid):
    """(key, cell) of every decoding job at temperature 0 (the caller sets T); ``key`` names the config list."""
    for s in g.baselines:
        yield "grid.baselines", _cell(s, {})
    for name, spec in SCHEMES.items():
        block, cols = g.schemes.get(spec.grid_section or "") or {}, list(spec.columns())
        if not spec.grid_section or not cols or not all(block.get(c) for c in cols):
            continue
        for values in product(*(block[c] for c in cols)):
            yield f"grid.{spec.grid_section}.{cols[0]}", _cell(name, dict(zip(cols, values, strict=True)))
    for variant, block in (("adaptive", g.adaptive), ("preemptive", g.preemptive)):
        for s in block.schemes:
            cols = [c for c in scheme_spec(s).columns() if getattr(block, c, None)]
            for values in product(*(getattr(block, c) for c in cols)):
                policy = "adaptive" if variant == "adaptive" else "static"
                cell = _cell(s, dict(zip(cols, values, strict=True)), policy, variant == "preemptive")
                yield f"grid.{variant}.{cols[0] if cols else 'schemes'}", cell


def _check_names(view: StudyConfig) -> None:
    """Scheme names in the config against the registry, with what each place accepts."""
    g, pol = view.grid, view.analysis.policies
    specs = [scheme_spec(n) for n in names(aliases=False)]
    ok = {
        "baselines": [s.name for s in specs if not s.columns()],
        "adaptive": [s.name for s in specs if s.lattice and not s.stateful],
        "preemptive": [s.name for s in specs if s.speculative and not s.stateful],
    }
    places = [("grid.baselines", g.baselines, "baselines")]
    places += [(f"grid.{k}.schemes", getattr(g, k).schemes, k) for k in ("adaptive", "preemptive")]
    places += [("analysis.policies.scheme", [pol.scheme], "adaptive")]
    places += [("analysis.policies.preemptive_scheme", [pol.preemptive_scheme], "preemptive")]
    for key, given, kind in places:
        for name in given or []:
            if name not in ok[kind]:
                why = {"baselines": "a scheme without swept parameters", "adaptive": "the adaptive policy needs a "
                       "stateless lattice scheme", "preemptive": "preemptive drafting needs a stateless speculative "
                       "scheme"}[kind]  # fmt: skip
                raise ConfigError(f"{key} contains {name!r}: {why}; valid: {', '.join(ok[kind])}")


def check_config(cfg: StudyConfig) -> None:
    """Cross-key checks the JSON schema cannot express, in every regime; raises :class:`ConfigError`."""
    if cfg.simulation.k > cfg.simulation.vocab_size:
        raise ConfigError(f"simulation.k={cfg.simulation.k} exceeds simulation.vocab_size="
                          f"{cfg.simulation.vocab_size}: K must be in [1, V]")  # fmt: skip
    for view in cfg.views():
        try:
            _check_regime(view)
        except ConfigError as exc:
            raise ConfigError(f"regime {view.regime}: {exc}") from None


def _check_regime(view: StudyConfig) -> None:
    g, d, m = view.grid, view.decode, view.models
    if m.slm_backend == "llama.cpp" and (not m.slm.startswith("embedded:") or "@exit=" in m.slm):
        raise ConfigError(f"models.slm_backend=llama.cpp runs an embedded model's GGUF as shipped; models.slm="
                          f"{m.slm!r} is not one (valid: {', '.join(EMBEDDED)})")  # fmt: skip
    if g.adaptive.schemes and d.max_draft_len is None:
        raise ConfigError("grid.adaptive.schemes needs decode.max_draft_len (the adaptive policy chooses a draft "
                          "length up to it); it is null (no cap)")  # fmt: skip
    _check_names(view)
    profile = view.compute.profile
    if profile not in PROFILES:
        raise ConfigError(f"compute.profile={profile!r} is not a profile; valid: {', '.join(PROFILES)}")
    if profile not in ("measured", "calibrated"):
        for side in (m.slm, m.llm):  # a hub id not known here is checked in the jobs, once it is fetched
            try:
                shape_of(side)
            except ValueError as exc:
                log.warning("compute.profile=%s: %s", profile, exc)
    cells = list(_cells(g))
    if not cells:
        sections = ", ".join(f"grid.{s.grid_section}" for s in SCHEMES.values() if s.grid_section)
        raise ConfigError(f"the grid is empty: give grid.baselines or one of {sections}")
    v = vocab_size(m)
    if v is None:
        log.warning("vocabulary size unknown for %s/%s: K <= V and the budget are checked in the jobs", m.slm, m.llm)
        return
    for key, cell in cells:
        adaptive = cell["policy"] == "adaptive"
        for ell in g.adaptive.ells if adaptive else [d.ell]:
            check_cell(cell["scheme"], max(int(cell["K"]), 1), v, ell, d.budget_bits, key=key)
    too_big = [k for k in view.analysis.sweep.values.get("K", ()) if k > v]
    if too_big:
        raise ConfigError(
            f"analysis.sweep.K contains {too_big[0]}, but K must be in [1, V] with V = {v} for these models"
        )


def check_cell(scheme: str, k: int, v: int, ell: int, budget_bits: int, key: str = "grid.k_sqs.K") -> None:
    """K <= V, and a budget that fits one draft token of ``scheme``: at parse time and again in each job."""
    spec = scheme_spec(scheme)
    if spec.layout is not None and spec.layout.fixed_k and k > v:
        raise ConfigError(f"{key} contains {k}, but K must be in [1, V] with V = {v} for these models")
    need = min_token_bits(scheme, v, ell, k)
    if need > budget_bits:
        what = f"{scheme} with K = {k}" if spec.layout.fixed_k else scheme
        raise ConfigError(
            f"decode.budget_bits={budget_bits} is too small for even one draft token of {what} "
            f"(needs at least {need} bits at V = {v}, ell = {ell}); raise decode.budget_bits to >= {need}"
        )


def grid_cells(cfg: StudyConfig):
    """The grid as a pandas DataFrame, one row per decoding job (the workflow's Paramspace), every regime's."""
    import pandas as pd

    rows = []
    for view in cfg.views():
        for t in view.grid.temperatures:
            for _, cell in _cells(view.grid):
                rows.append({"regime": view.regime, **cell, "temperature": float(t)})
    return pd.DataFrame(rows, columns=list(CELL_COLUMNS)).drop_duplicates(ignore_index=True)


def cell_config(raw: Mapping, regime: str, policy: str) -> dict:
    """The part of the (validated) workflow config dict one decoding job reads, as its regime reads it: the
    job's Snakemake params, which :func:`cell_view` parses.

    Only these keys go to the job, so editing a figure option, another regime or another variant's list
    does not rerun the cell.
    """
    rc = regime_config(raw, regime)
    out = {k: rc[k] for k in ("models", "decode", "link")}
    out["compute"] = rc.get("compute") or {"profile": "measured"}
    out["channel"] = rc.get("channel") or {}
    if policy == "adaptive":
        out["adaptive"] = rc["grid"]["adaptive"]
    return out


def cell_view(params: Mapping, regime: str = "practical") -> StudyConfig:
    """A decoding job's params (:func:`cell_config`) parsed: the view of its regime that the job reads."""
    raw = {k: params[k] for k in CELL_SECTIONS if k in params}
    if "adaptive" in params:
        raw["grid"] = {"adaptive": params["adaptive"]}
    return StudyConfig.from_dict(raw, regime=regime)


def compute_profile(view: StudyConfig, calibration: dict | None = None, configs: tuple | None = None):
    """A regime's :class:`sqs.system.compute.ComputeProfile` (``calibration``: rule calibrate_compute's JSON;
    ``configs``: the pair's architectures, for shapes of ids not known by name)."""
    from sqs.system.compute import make_profile

    m = view.models
    return make_profile(view.compute.profile, m.slm, m.llm, calibration, configs)


def needs_calibration(cfg: StudyConfig) -> bool:
    """Whether some regime prices compute by this machine's calibration (the ``calibrated`` profile)."""
    return any(v.compute.profile == "calibrated" for v in cfg.views())


def decode_config(cell: Mapping, view: StudyConfig, calibration: dict | None = None, configs: tuple | None = None):
    """The :class:`sqs.study.decode.DecodeConfig` of one cell (scheme ``qs`` is the dense lattice) under a
    regime's view (a decoding job's :func:`cell_view`, or any view: a plain scheme reads nothing else)."""
    from sqs.study.decode import DecodeConfig

    d, m = view.decode, view.models
    spec = scheme_spec(cell["scheme"])
    policy = str(cell.get("policy", "static"))
    values = cell_values(cell)
    params = {}  # the scheme's swept parameters from the cell; every unswept one decode.<name> sets (ell, alpha, ...)
    own = {f.name for f in spec.param_fields()}
    for f in all_param_fields():
        column = f.metadata.get("column")
        if column and f.name in own:
            value = values[column]
        elif not column and hasattr(d, f.name):
            value = getattr(d, f.name)
        else:
            continue
        value = cast(f, value)
        params[f.name] = max(value, 1) if isinstance(value, int) else value
    return DecodeConfig(
        scheme=str(cell["scheme"]),
        temperature=float(cell["temperature"]),
        max_new_tokens=d.max_new_tokens,
        budget_bits=d.budget_bits,
        max_draft_len=d.max_draft_len,
        scheme_state=d.scheme_state,
        verify=d.verify,
        **params,
        slm=m.slm_id,
        llm=m.llm,
        dtype=m.dtype,
        device=m.device,
        seed=d.seed,
        link=view.link,
        channel=view.channel,
        policy=policy,
        ells=tuple(int(e) for e in view.grid.adaptive.ells) if policy == "adaptive" else (),
        preemptive=is_preemptive(cell),
        compute=compute_profile(view, calibration, configs),
    )


def run_cell(cell: Mapping, view: StudyConfig, prompts: list[str], progress: Callable | None = None,
             calibration: dict | None = None) -> list[dict]:  # fmt: skip
    """Decode every prompt under one cell; one record per prompt, per-batch series included."""
    from sqs.study.decode import ModelPair, decode_prompt

    pair = ModelPair.of(view.models)
    cfg = decode_config(cell, view, calibration, configs=pair.configs())
    for ell in cfg.ells or (cfg.ell,):  # V known only now for hub ids
        check_cell(cfg.scheme, cfg.k, pair.vocab_size, ell, cfg.budget_bits)
    # one policy and one stateful scheme for the whole cell: an adaptive policy learns across prompts, and
    # C-SQS's threshold runs over every token of the cell (unless decode.scheme_state is "prompt")
    policy, scheme = cfg.make_policy(), cfg.run_scheme()
    items = progress(list(enumerate(prompts))) if progress else enumerate(prompts)
    return [decode_prompt(pair, cfg, text, i, include_batches=True, policy=policy, scheme=scheme)
            for i, text in items]  # fmt: skip


def trace_settings(view: StudyConfig) -> dict:
    """What a trace cell takes from a regime's view: its batch rule, link, C-SQS settings and the cloud's rule, as
    :class:`sqs.trace.sweep.SweepCell` keywords."""
    d = view.decode
    return dict(alpha=float(d.alpha), ell=int(d.ell), budget_bits=int(d.budget_bits), max_draft_len=d.max_draft_len,
                link=view.link, accounting=d.accounting, scheme_state=d.scheme_state, verify=d.verify,
                regime=view.regime)  # fmt: skip


def trace_cell(cfg: StudyConfig, regime: str, cell: Mapping):
    """The trace model's :class:`sqs.trace.sweep.SweepCell` of a cell (scheme, T and its swept columns) under
    regime ``regime``'s batch rule, link and C-SQS settings."""
    from sqs.trace.sweep import SweepCell

    spec = scheme_spec(str(cell["scheme"]))
    values = {c: v for c, v in cell_values(cell).items() if c in spec.columns()}
    return SweepCell(spec.name, float(cell["temperature"]), **values, **trace_settings(cfg.view(regime)))


def trace_grid(cfg: StudyConfig) -> dict:
    """The settings the trace sweep predicts in every regime: the dense sweep's lists with the paper figures'
    (``analysis.figures``) merged in, so every figure point is a sweep row."""
    sweep, figs = cfg.analysis.sweep, cfg.analysis.figures
    merged = {"temperatures": sorted({round(float(t), 12) for t in (*sweep.temperatures, *figs.temperatures)})}
    for key in PARAM_COLUMNS:
        values = (*sweep.values.get(key, ()), *figs.values.get(key, ()))
        whole = column_type(key) is int
        merged[key] = sorted({int(v) if whole else round(float(v), 12) for v in values})
    return merged

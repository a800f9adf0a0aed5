"""The study's grid: which cells the workflow decodes, and how one cell runs.

A cell is a row of the workflow's ``Paramspace``: the regime, the scheme, its ``setting`` (the values of the
parameters it is swept over, as the registry writes them: ``K=16``, ``beta0=0.01+eta=0.001``, ``default``
for a scheme without any), the drafting policy (``static`` or ``adaptive``), preemptive drafting on or off
and the temperature: ``regime~<r>/scheme~<s>/setting~<v>/policy~<p>/preemptive~<b>/temperature~<T>``. A
parameter added to one scheme renames no other scheme's cells. Tables and MLflow also carry one column per
swept parameter of every scheme (:func:`cell_values`; 0 where the scheme has no such parameter).

**Regimes.** ``regimes`` names the settings a study is read in: each is the top-level ``decode``, ``link``,
``compute`` and ``grid`` with its own overrides (:func:`regime_config`): ``decode`` keys override one by
one (B, ell and alpha stay shared), while a regime's ``link``, ``compute`` or ``grid`` replaces the
top-level one whole. The default config has ``paper`` (the draft length set by B alone, the paper's
latency) and ``practical`` (a measured draft cap, a hardware profile, propagation and the downlink).

The config lists each scheme's values under ``grid.<section>`` (``k_sqs``, ``c_sqs``, ``top_p``; each list
named by its column); the adaptive policy and preemptive drafting run the schemes listed under
``grid.adaptive`` and ``grid.preemptive`` with every other setting as their plain twin's, so
``summary.csv`` and MLflow hold them beside the plain cells.

Checks that need the vocabulary size (K <= V, a budget that fits one token) run on the config before
any job starts; V comes from ``models.vocab_size`` or from the known model ids below.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from itertools import product

from sqs.models.backend import EMBEDDED_DRAFT, EMBEDDED_LLM, PAPER_LLM, PAPER_SLM
from sqs.models.embedded import EMBEDDED
from sqs.models.interface import with_backend
from sqs.protocol.schemes import SCHEMES, grid_columns, names
from sqs.protocol.schemes import get as scheme_spec
from sqs.protocol.schemes.registry import all_param_fields, cast, column_type
from sqs.system.compute import PROFILES, shape_of
from sqs.system.latency import LinkConfig
from sqs.system.latency import link_config as make_link
from sqs.trace.sweep import is_preemptive, is_variant  # noqa: F401 (is_variant: the grid's name for it)

log = logging.getLogger(__name__)

PARAM_COLUMNS = grid_columns()  # K, beta0, eta, top_p, ...: every swept scheme parameter
CELL_COLUMNS = ("regime", "scheme", "setting", "policy", "preemptive", "temperature")  # a cell's path
REGIME_SECTIONS = ("decode", "link", "compute", "grid")  # what a regime may set; decode merges, the rest replace
BASELINES = ("ar", "sd", "qs")
POLICIES = ("static", "adaptive")
KNOWN_VOCAB = {
    **{m.id: m.vocab_size for m in EMBEDDED.values()},
    EMBEDDED_DRAFT: EMBEDDED[EMBEDDED_LLM].vocab_size,
    PAPER_SLM: 50257,
    PAPER_LLM: 50257,
}


class ConfigError(ValueError):
    """A config value the workflow cannot run; the message names the key, the value and what is allowed."""


def vocab_size(config: dict) -> int | None:
    """V for the parse-time checks: ``models.vocab_size``, else a known id's, else None (checked in the job)."""
    m = config["models"]
    if m.get("vocab_size"):
        return int(m["vocab_size"])
    base = lambda i: i.rpartition("@exit=")[0] or i  # noqa: E731
    sizes = {KNOWN_VOCAB.get(base(m["slm"])), KNOWN_VOCAB.get(base(m["llm"]))}
    return sizes.pop() if len(sizes) == 1 else None


def min_token_bits(scheme: str, v: int, ell: int, k: int = 1) -> int:
    """The fewest payload bits one draft token of ``scheme`` can cost; 0 where no budget applies."""
    spec = scheme_spec(scheme)
    if not spec.speculative or not spec.budget:
        return 0  # ar sends nothing; sd is exempt from the budget (float32 on the wire)
    return spec.layout.min_token_bits(v, ell, k)


def cell_values(cell: dict) -> dict:
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


def _cells(g: dict):
    """(key, cell) of every decoding job at temperature 0 (the caller sets T); ``key`` names the config list."""
    for s in g["baselines"]:
        yield "grid.baselines", _cell(s, {})
    for name, spec in SCHEMES.items():
        block, cols = g.get(spec.grid_section or "") or {}, list(spec.columns())
        if not spec.grid_section or not cols or not all(block.get(c) for c in cols):
            continue
        for values in product(*(block[c] for c in cols)):
            yield f"grid.{spec.grid_section}.{cols[0]}", _cell(name, dict(zip(cols, values, strict=True)))
    for variant in ("adaptive", "preemptive"):
        block = g.get(variant) or {}
        for s in block.get("schemes", []):
            cols = [c for c in scheme_spec(s).columns() if block.get(c)]
            for values in product(*(block[c] for c in cols)):
                policy = "adaptive" if variant == "adaptive" else "static"
                cell = _cell(s, dict(zip(cols, values, strict=True)), policy, variant == "preemptive")
                yield f"grid.{variant}.{cols[0] if cols else 'schemes'}", cell


def _check_names(config: dict) -> None:
    """Scheme names in the config against the registry, with what each place accepts."""
    g, pol = config["grid"], config.get("analysis", {}).get("policies", {})
    specs = [scheme_spec(n) for n in names(aliases=False)]
    ok = {
        "baselines": [s.name for s in specs if not s.columns()],
        "adaptive": [s.name for s in specs if s.lattice and not s.stateful],
        "preemptive": [s.name for s in specs if s.speculative and not s.stateful],
    }
    places = [("grid.baselines", g.get("baselines"), "baselines")]
    places += [(f"grid.{k}.schemes", (g.get(k) or {}).get("schemes", []), k) for k in ("adaptive", "preemptive")]
    places += [("analysis.policies.scheme", [pol["scheme"]] if "scheme" in pol else [], "adaptive")]
    pre = pol.get("preemptive_scheme")
    places += [("analysis.policies.preemptive_scheme", [pre] if pre else [], "preemptive")]
    for key, given, kind in places:
        for name in given or []:
            if name not in ok[kind]:
                why = {"baselines": "a scheme without swept parameters", "adaptive": "the adaptive policy needs a "
                       "stateless lattice scheme", "preemptive": "preemptive drafting needs a stateless speculative "
                       "scheme"}[kind]  # fmt: skip
                raise ConfigError(f"{key} contains {name!r}: {why}; valid: {', '.join(ok[kind])}")


def regime_names(config: dict) -> list[str]:
    """The regimes a config studies, in its order (one, ``practical``, where it names none)."""
    return list(config.get("regimes") or {"practical": {}})


def regime_config(config: dict, name: str) -> dict:
    """The config as regime ``name`` reads it: its ``decode`` keys over the top-level ones, its ``link``,
    ``compute`` and ``grid`` (where given) instead of the top-level ones; every other section as it is."""
    regimes = config.get("regimes") or {"practical": {}}
    if name not in regimes:
        raise ConfigError(f"regime {name!r} is not in the config's regimes ({', '.join(regimes)})")
    over = regimes[name] or {}
    unknown = set(over) - set(REGIME_SECTIONS)
    if unknown:
        raise ConfigError(f"regimes.{name} sets {sorted(unknown)}; a regime may set {', '.join(REGIME_SECTIONS)}")
    out = {k: v for k, v in config.items() if k != "regimes"}
    out["decode"] = {**config.get("decode", {}), **(over.get("decode") or {})}
    for key in ("link", "compute", "grid"):
        if key in over:
            out[key] = over[key]
    return out


def check_config(config: dict) -> None:
    """Cross-key checks the JSON schema cannot express, in every regime; raises :class:`ConfigError`."""
    for name in regime_names(config):
        try:
            _check_regime(regime_config(config, name))
        except ConfigError as exc:
            raise ConfigError(f"regime {name}: {exc}") from None


def _check_regime(config: dict) -> None:
    g, d, m = config["grid"], config["decode"], config["models"]
    if m.get("slm_backend") == "llama.cpp" and (not m["slm"].startswith("embedded:") or "@exit=" in m["slm"]):
        raise ConfigError(f"models.slm_backend=llama.cpp runs an embedded model's GGUF as shipped; models.slm="
                          f"{m['slm']!r} is not one (valid: {', '.join(EMBEDDED)})")  # fmt: skip
    try:
        link_config(config)
    except ValueError as exc:
        raise ConfigError(f"link: {exc}") from None
    if (g.get("adaptive") or {}).get("schemes") and d.get("max_draft_len") is None:
        raise ConfigError("grid.adaptive.schemes needs decode.max_draft_len (the adaptive policy chooses a draft "
                          "length up to it); it is null (no cap)")  # fmt: skip
    _check_names(config)
    profile = profile_name(config)
    if profile not in PROFILES:
        raise ConfigError(f"compute.profile={profile!r} is not a profile; valid: {', '.join(PROFILES)}")
    if profile not in ("measured", "calibrated"):
        for side in ("slm", "llm"):  # a hub id not known here is checked in the jobs, once it is fetched
            try:
                shape_of(config["models"][side])
            except ValueError as exc:
                log.warning("compute.profile=%s: %s", profile, exc)
    cells = list(_cells(g))
    if not cells:
        sections = ", ".join(f"grid.{s.grid_section}" for s in SCHEMES.values() if s.grid_section)
        raise ConfigError(f"the grid is empty: give grid.baselines or one of {sections}")
    v = vocab_size(config)
    if v is None:
        log.warning(
            "vocabulary size unknown for %s/%s: K <= V and the budget are checked in the jobs",
            config["models"]["slm"],
            config["models"]["llm"],
        )
        return
    for key, cell in cells:
        adaptive = cell["policy"] == "adaptive"
        for ell in g["adaptive"]["ells"] if adaptive else [d["ell"]]:
            check_cell(cell["scheme"], max(int(cell["K"]), 1), v, ell, d["budget_bits"], key=key)
    too_big = [k for k in config.get("analysis", {}).get("sweep", {}).get("K", []) if k > v]
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


def grid_cells(config: dict):
    """The grid as a pandas DataFrame, one row per decoding job (the workflow's Paramspace), every regime's."""
    import pandas as pd

    rows = []
    for name in regime_names(config):
        g = regime_config(config, name)["grid"]
        for t in g["temperatures"]:
            for _, cell in _cells(g):
                rows.append({"regime": name, **cell, "temperature": float(t)})
    return pd.DataFrame(rows, columns=list(CELL_COLUMNS)).drop_duplicates(ignore_index=True)


def link_config(config: dict) -> LinkConfig:
    """A (regime's) config's link: a preset (``link: {preset: paper}``) and/or explicit fields."""
    return make_link(config.get("link") or {})


def channel_config(section: dict | None):
    """A :class:`sqs.system.channel.ChannelConfig` from a config section (missing keys take their defaults)."""
    from sqs.system.channel import ChannelConfig

    section = dict(section or {})
    for key in ("rates_bps", "p_leave"):
        if key in section:
            section[key] = tuple(section[key])
    return ChannelConfig(**section)


def cell_config(config: dict, regime: str, policy: str) -> dict:
    """The part of the workflow config one decoding job reads (its Snakemake params), as its regime reads it.

    Only these keys go to the job, so editing a figure option, another regime or another variant's list
    does not rerun the cell; :func:`decode_config` reads nothing else.
    """
    rc = regime_config(config, regime)
    out = {k: rc[k] for k in ("models", "decode", "link")}
    out["compute"] = rc.get("compute") or {"profile": "measured"}
    out["channel"] = rc.get("channel") or {}
    if policy == "adaptive":
        out["adaptive"] = rc["grid"]["adaptive"]
    return out


def compute_profile(config: dict, calibration: dict | None = None, configs: tuple | None = None):
    """The run's :class:`sqs.system.compute.ComputeProfile` (``calibration``: rule calibrate_compute's JSON;
    ``configs``: the pair's architectures, for shapes of ids not known by name)."""
    from sqs.system.compute import make_profile

    m = config["models"]
    return make_profile(profile_name(config), m["slm"], m["llm"], calibration, configs)


def profile_name(config: dict) -> str:
    """A (regime's) config's compute profile name."""
    return (config.get("compute") or {}).get("profile", "measured")


def needs_calibration(config: dict) -> bool:
    """Whether some regime prices compute by this machine's calibration (the ``calibrated`` profile)."""
    return any(profile_name(regime_config(config, r)) == "calibrated" for r in regime_names(config))


def decode_config(cell: dict, config: dict, calibration: dict | None = None, configs: tuple | None = None):
    """The :class:`sqs.study.decode.DecodeConfig` of one cell (scheme ``qs`` is the dense lattice).

    ``config`` is :func:`cell_config`'s slice (the full config works too for plain schemes).
    """
    from sqs.study.decode import DecodeConfig

    d, m = config["decode"], config["models"]
    spec = scheme_spec(cell["scheme"])
    policy = str(cell.get("policy", "static"))
    adaptive = (config.get("adaptive") or {}) if policy == "adaptive" else {}
    values = cell_values(cell)
    params = {}  # the scheme's swept parameters from the cell; every unswept one decode.<name> sets (ell, alpha, ...)
    own = {f.name for f in spec.param_fields()}
    for f in all_param_fields():
        column = f.metadata.get("column")
        if column and f.name in own:
            value = values[column]
        elif not column and f.name in d:
            value = d[f.name]
        else:
            continue
        value = cast(f, value)
        params[f.name] = max(value, 1) if isinstance(value, int) else value
    cap = d.get("max_draft_len")
    return DecodeConfig(
        scheme=str(cell["scheme"]),
        temperature=float(cell["temperature"]),
        max_new_tokens=int(d["max_new_tokens"]),
        budget_bits=int(d["budget_bits"]),
        max_draft_len=None if cap is None else int(cap),
        scheme_state=str(d.get("scheme_state", "cell")),
        **params,
        slm=with_backend(m["slm"], m.get("slm_backend", "transformers")),
        llm=m["llm"],
        dtype=m["dtype"],
        device=m["device"],
        seed=int(d["seed"]),
        link=link_config(config),
        channel=channel_config(config.get("channel")),
        policy=policy,
        ells=tuple(int(e) for e in adaptive.get("ells", ())),
        preemptive=is_preemptive(cell),
        compute=compute_profile(config, calibration, configs),
    )


def run_cell(cell: dict, config: dict, prompts: list[str], progress: Callable | None = None,
             calibration: dict | None = None) -> list[dict]:  # fmt: skip
    """Decode every prompt under one cell; one record per prompt, per-batch series included."""
    from sqs.study.decode import ModelPair, decode_prompt

    m = config["models"]
    pair = ModelPair.of(m)
    cfg = decode_config(cell, config, calibration, configs=pair.configs())
    for ell in cfg.ells or (cfg.ell,):  # V known only now for hub ids
        check_cell(cfg.scheme, cfg.k, pair.vocab_size, ell, cfg.budget_bits)
    # one policy and one stateful scheme for the whole cell: an adaptive policy learns across prompts, and
    # C-SQS's threshold runs over every token of the cell (unless decode.scheme_state is "prompt")
    policy, scheme = cfg.make_policy(), cfg.run_scheme()
    items = progress(list(enumerate(prompts))) if progress else enumerate(prompts)
    return [decode_prompt(pair, cfg, text, i, include_batches=True, policy=policy, scheme=scheme)
            for i, text in items]  # fmt: skip


def trace_settings(view: dict, regime: str = "") -> dict:
    """What a trace cell takes from a config view (a regime's, or the top level): its batch rule, link and
    C-SQS settings, as :class:`sqs.trace.sweep.SweepCell` keywords."""
    d = view["decode"]
    cap = d.get("max_draft_len")
    return dict(alpha=float(d["alpha"]), ell=int(d["ell"]), budget_bits=int(d["budget_bits"]),
                max_draft_len=None if cap is None else int(cap), link=link_config(view),
                accounting=str(d.get("accounting", "exact")), scheme_state=str(d.get("scheme_state", "cell")),
                regime=regime)  # fmt: skip


def trace_cell(config: dict, regime: str, cell: dict):
    """The trace model's :class:`sqs.trace.sweep.SweepCell` of a cell (scheme, T and its swept columns) under
    regime ``regime``'s batch rule, link and C-SQS settings (``config``: the whole config)."""
    from sqs.trace.sweep import SweepCell

    spec = scheme_spec(str(cell["scheme"]))
    values = {c: v for c, v in cell_values(cell).items() if c in spec.columns()}
    return SweepCell(spec.name, float(cell["temperature"]), **values,
                     **trace_settings(regime_config(config, regime), regime))  # fmt: skip


def trace_grid(config: dict) -> dict:
    """The settings the trace sweep predicts in every regime: the dense sweep's lists with the paper figures'
    (``analysis.figures``) merged in, so every figure point is a sweep row."""
    a = config["analysis"]
    sweep, figs = a["sweep"], a["figures"]
    merged = {}
    for key in ("temperatures", *PARAM_COLUMNS):
        values = list(sweep.get(key) or []) + list(figs.get(key) or [])
        whole = key != "temperatures" and column_type(key) is int
        merged[key] = sorted({int(v) if whole else round(float(v), 12) for v in values})
    return merged

"""The workflow's config as the library takes it: the validated YAML parsed once into frozen dataclasses.

``workflow/schemas/config.schema.yaml`` documents and validates every key and fills its default; this module
holds the same sections as dataclasses with the same defaults (``tests/test_config.py`` compares the two),
so a library call never reads a config dict and a missing key means the same thing in both places.

A scheme's swept lists live in maps keyed by the registry's grid columns (``Grid.schemes``,
``SweepSettings.values``, ...): a scheme added to the registry needs its config keys in the schema, not a
field here. **Regimes** are views: :meth:`StudyConfig.view` is the config as one regime reads it (its
``decode`` keys over the top-level ones; its ``link``, ``compute`` and ``grid`` instead of them), each
parsed once when the config is.
"""

from __future__ import annotations

import typing
from collections.abc import Mapping
from dataclasses import MISSING, dataclass, field, fields, is_dataclass, replace

from sqs.models.backend import DEFAULT_DTYPE, DEFAULT_LLM, DEFAULT_SLM
from sqs.models.interface import with_backend
from sqs.protocol.schemes import SCHEMES, grid_columns
from sqs.protocol.schemes.registry import column_type
from sqs.study.prompts import Data
from sqs.study.simulate import SimulationConfig
from sqs.system.channel import ChannelConfig
from sqs.system.latency import LinkConfig, link_config

REGIME_SECTIONS = ("decode", "link", "compute", "grid")  # what a regime may set; decode merges, the rest replace


class ConfigError(ValueError):
    """A config value the workflow cannot run; the message names the key, the value and what is allowed."""


def _column_values(raw: Mapping, where: str, allowed: tuple[str, ...] | None = None) -> dict[str, tuple]:
    """The per-column lists of a section (``K``, ``beta0``, ...), typed as the registry declares them."""
    allowed = allowed or grid_columns()
    out = {}
    for key, value in raw.items():
        if key not in allowed:
            raise ConfigError(f"{where}.{key} is not a swept column; valid: {', '.join(allowed)}")
        out[key] = tuple(column_type(key)(v) for v in value or ())
    return out


def _build(cls, raw, where: str, own_parser: bool = True):
    """A section's dataclass from its dict: nested sections built the same way (or by their ``from_dict``),
    lists as tuples; a key the dataclass does not have raises naming the valid ones."""
    if isinstance(raw, cls):
        return raw
    if own_parser and hasattr(cls, "from_dict"):
        return cls.from_dict(raw or {}, where)
    raw = dict(raw or {})
    own = [f for f in fields(cls) if f.init]
    unknown = set(raw) - {f.name for f in own}
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {sorted(unknown)}; valid: {', '.join(f.name for f in own)}")
    hints = typing.get_type_hints(cls)
    kwargs = {}
    for f in own:
        if f.name not in raw:
            continue
        kind, value = hints[f.name], raw[f.name]
        if is_dataclass(kind):
            value = _build(kind, value, f"{where}.{f.name}")
        elif typing.get_origin(kind) is tuple and value is not None:
            value = tuple(value)
        kwargs[f.name] = value
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{where}: {exc}") from None


@dataclass(frozen=True)
class Models:
    slm: str = DEFAULT_SLM
    llm: str = DEFAULT_LLM
    dtype: str = DEFAULT_DTYPE
    device: str = "auto"
    slm_backend: str = "transformers"  # the edge's runtime: transformers at dtype, or llama.cpp on the GGUF
    vocab_size: int | None = None  # V for parse-time checks when the ids are not known ones

    @property
    def slm_id(self) -> str:
        """The edge's model id with its backend's prefix (``llama.cpp:<id>``)."""
        return with_backend(self.slm, self.slm_backend)


@dataclass(frozen=True)
class Cache:
    positions_per_prompt: int = 32
    seed: int = 0


@dataclass(frozen=True)
class Decode:
    """What every live cell of a regime shares (a scheme's own parameters come from its cell)."""

    max_new_tokens: int = 24
    n_prompts: int | None = None  # live cells decode the first n prompts; None: all of them
    budget_bits: int = 5000
    max_draft_len: int | None = 2  # None: no cap, B alone sets the draft length (the paper's rule)
    ell: int = 100
    alpha: float = 0.0005
    accounting: str = "exact"
    scheme_state: str = "cell"
    verify: str = "token"  # the cloud's verification rule: token by token, or the block as a whole
    seed: int = 0


@dataclass(frozen=True)
class Compute:
    profile: str = "orin-nano-super+h100-sxm"


@dataclass(frozen=True)
class AdaptiveCells:
    """``policy~adaptive`` cells: these schemes under the adaptive (draft length, ell) policy over ``ells``."""

    schemes: tuple[str, ...] = ()
    K: tuple[int, ...] = (16,)
    ells: tuple[int, ...] = (50, 100, 200)


@dataclass(frozen=True)
class PreemptiveCells:
    """``preemptive~True`` cells: these schemes drafting on while the cloud verifies."""

    schemes: tuple[str, ...] = ()
    K: tuple[int, ...] = (16,)


def _scheme_defaults() -> dict[str, dict[str, tuple]]:
    """Each scheme's grid section at the values the registry sweeps by default."""
    out = {}
    for spec in SCHEMES.values():
        if spec.grid_section:
            cols = {f.metadata["column"]: f for f in spec.param_fields() if f.metadata.get("column")}
            out[spec.grid_section] = {c: tuple(f.metadata.get("sweep") or ()) for c, f in cols.items()}
    return out


@dataclass(frozen=True)
class Grid:
    """The live cells: baselines, each scheme's lists by grid section (``k_sqs: {K: [16]}``), the variants."""

    temperatures: tuple[float, ...] = (0.2, 0.6, 1.0)
    baselines: tuple[str, ...] = ("ar", "sd", "qs")
    schemes: Mapping[str, Mapping[str, tuple]] = field(default_factory=_scheme_defaults)
    adaptive: AdaptiveCells = field(default_factory=AdaptiveCells)
    preemptive: PreemptiveCells = field(default_factory=PreemptiveCells)

    @classmethod
    def from_dict(cls, raw: Mapping, where: str = "grid") -> Grid:
        sections = {s.grid_section: s for s in SCHEMES.values() if s.grid_section}
        schemes = _scheme_defaults()
        plain = {}
        for key, value in raw.items():
            if key in sections:
                cols = tuple(sections[key].columns())
                schemes[key] = {**schemes[key], **_column_values(value or {}, f"{where}.{key}", cols)}
            else:
                plain[key] = value
        if "schemes" in plain:
            raise ConfigError(f"{where}: unknown key(s) ['schemes']; a scheme's lists go under its section "
                              f"({', '.join(sections)})")  # fmt: skip
        return _build(cls, {**plain, "schemes": schemes}, where, own_parser=False)


class _SweptColumns:
    """A section of named fields plus per-column lists (``values``, by the registry's columns: ``K``,
    ``beta0``, ...): analysis.sweep, .figures and .regimes; a column left out keeps its default."""

    @classmethod
    def from_dict(cls, raw: Mapping, where: str):
        names = {f.name for f in fields(cls) if f.name != "values"}
        own = {k: v for k, v in raw.items() if k in names}
        values = _column_values({k: v for k, v in raw.items() if k not in names}, where)
        defaults = next(f for f in fields(cls) if f.name == "values").default_factory()
        return _build(cls, {**own, "values": {**defaults, **values}}, where, own_parser=False)


@dataclass(frozen=True)
class FigureSettings(_SweptColumns):
    """The settings the paper's figures show (fig2, fig4-6), read from the dense sweep's rows."""

    temperatures: tuple[float, ...] = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)
    values: Mapping[str, tuple] = field(
        default_factory=lambda: {"K": (2, 4, 8, 16, 32, 64), "beta0": (0.0001, 0.001, 0.01, 0.1), "eta": (0.0, 0.001)}
    )
    n_boot: int = 2000


@dataclass(frozen=True)
class SweepSettings(_SweptColumns):
    """The dense trace sweep: every temperature x every listed value of each swept column."""

    temperatures: tuple[float, ...] = tuple(round(0.05 * i, 2) for i in range(21))
    values: Mapping[str, tuple] = field(
        default_factory=lambda: {
            "K": (1, 2, 4, 8, 16, 32, 64, 128, 256, 512),
            "beta0": (1.0e-5, 3.0e-5, 1.0e-4, 3.0e-4, 1.0e-3, 3.0e-3, 1.0e-2, 3.0e-2, 1.0e-1),
            "eta": (0.0, 1.0e-4, 1.0e-3, 1.0e-2),
            "top_p": (0.8, 0.9, 0.95, 0.99),
            "min_p": (0.05, 0.1),
            "branch": (2, 3),
        }
    )
    workers: int = 2


@dataclass(frozen=True)
class RegimeMapSettings(_SweptColumns):
    """fig_regimes: each scheme at its best of these settings across uplink rate and propagation."""

    temperatures: tuple[float, ...] = (0.2, 1.0)
    profiles: tuple[str, ...] = ("orin-nano-super+h100-sxm", "orin-nano-super+a100-80gb", "calibrated")
    values: Mapping[str, tuple] = field(
        default_factory=lambda: dict(K=(4, 16, 64), beta0=(0.001, 0.01), eta=(0.001,), top_p=(0.9,), min_p=(0.05,),
                                     branch=(2, 3))
    )


@dataclass(frozen=True)
class Theorem2Settings:
    temperature: float = 1.0
    beta0: float = 0.01
    etas: tuple[float, ...] = (0.0, 0.001, 0.01, 0.1, 1.0)


@dataclass(frozen=True)
class PolicySettings:
    """The live drafting studies (target ``policies``)."""

    temperatures: tuple[float, ...] = (0.4, 1.0)
    scheme: str = "qs"
    K: int = 16
    draft_lens: tuple[int, ...] = (1, 2, 3, 4, 8)
    ells: tuple[int, ...] = (50, 200)
    n_prompts: int = 4
    max_new_tokens: int = 24
    channel: ChannelConfig = field(default_factory=lambda: ChannelConfig(kind="gilbert-elliott"))
    preemptive_temperatures: tuple[float, ...] = (0.2, 0.6, 1.0)
    preemptive_scheme: str = "k-sqs"
    preemptive_draft_len: int = 1


@dataclass(frozen=True)
class CapacitySettings:
    """One cloud serving many edges (:mod:`sqs.system.capacity`)."""

    objective_s: float = 0.05
    max_batch: int = 256
    edges: tuple[int, ...] = (1, 2, 4, 8, 16, 32, 64, 128, 256)


@dataclass(frozen=True)
class Analysis:
    extra: tuple[str, ...] = ("regimes", "policy_headroom", "families")
    figures: FigureSettings = field(default_factory=FigureSettings)
    temperatures: tuple[float, ...] = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)
    theorem2: Theorem2Settings = field(default_factory=Theorem2Settings)
    policies: PolicySettings = field(default_factory=PolicySettings)
    regimes: RegimeMapSettings = field(default_factory=RegimeMapSettings)
    capacity: CapacitySettings = field(default_factory=CapacitySettings)
    sweep: SweepSettings = field(default_factory=SweepSettings)


@dataclass(frozen=True)
class Resources:
    decode_threads: int = 1
    model_threads: int = 2
    gpu: int = 0
    mem_mb: int = 4000


@dataclass(frozen=True)
class MLflowSettings:
    experiment: str = "sqs-embedded"
    tracking_uri: str | None = None


def _link(raw) -> LinkConfig:
    try:
        return link_config(dict(raw or {}) if not isinstance(raw, LinkConfig) else raw)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"link: {exc}") from None


@dataclass(frozen=True)
class StudyConfig:
    """The whole config (``regime`` empty, every regime's view in ``regimes``), or one regime's view of it."""

    models: Models = field(default_factory=Models)
    data: Data = field(default_factory=Data)  # where the prompts come from (sqs.study.prompts)
    cache: Cache = field(default_factory=Cache)
    decode: Decode = field(default_factory=Decode)
    compute: Compute = field(default_factory=Compute)
    link: LinkConfig = field(default_factory=LinkConfig)  # a preset's values where the config leaves keys out
    channel: ChannelConfig = field(default_factory=ChannelConfig)
    grid: Grid = field(default_factory=Grid)  # the live cells
    analysis: Analysis = field(default_factory=Analysis)
    resources: Resources = field(default_factory=Resources)
    mlflow: MLflowSettings = field(default_factory=MLflowSettings)
    simulation: SimulationConfig = field(default_factory=SimulationConfig)  # the toy pair (target toy)
    regime: str = "practical"
    regimes: Mapping[str, StudyConfig] = field(default_factory=dict, compare=False, repr=False)
    source: Mapping = field(default_factory=dict, compare=False, repr=False)  # the dict it was parsed from

    @classmethod
    def from_dict(cls, raw: Mapping, regime: str | None = None) -> StudyConfig:
        """Parse a (validated) config once: every section, and each regime's view. ``regime``: the name of
        the regime a config slice already is (a decoding job's), which then has no views of its own."""
        raw = dict(raw or {})
        known = {f.name for f in fields(cls) if f.name not in ("regime", "source")}
        unknown = set(raw) - known
        if unknown:
            raise ConfigError(f"unknown config section(s) {sorted(unknown)}; valid: {', '.join(sorted(known))}")
        if regime is not None:
            return cls._parse(raw, regime)
        top = cls._parse(raw, "")  # the top level is no regime; each view names its own
        views = {name: cls._parse(regime_config(raw, name), name) for name in regime_names(raw)}
        return replace(top, regimes=views)

    @classmethod
    def _parse(cls, raw: Mapping, regime: str) -> StudyConfig:
        kwargs = {}
        for f in fields(cls):
            if f.name not in raw or f.name in ("regime", "regimes", "source"):
                continue
            if f.name == "link":
                kwargs["link"] = _link(raw["link"])
            else:
                kind = typing.get_type_hints(cls)[f.name]
                kwargs[f.name] = _build(kind, raw[f.name], f.name)
        return cls(**kwargs, regime=regime, source=dict(raw))

    def regime_names(self) -> list[str]:
        """The regimes this config is read in, in its order."""
        return list(self.regimes) or [self.regime]

    def view(self, name: str) -> StudyConfig:
        """The config as regime ``name`` reads it."""
        if not self.regimes and name == self.regime:
            return self
        if name not in self.regimes:
            raise ConfigError(f"regime {name!r} is not in the config's regimes ({', '.join(self.regime_names())})")
        return self.regimes[name]

    def views(self) -> list[StudyConfig]:
        return [self.view(n) for n in self.regime_names()]

    def reads_top_level(self, name: str) -> bool:
        """Whether regime ``name`` changes nothing of the top-level sections."""
        view = self.view(name)
        return all(getattr(view, s) == getattr(self, s) for s in REGIME_SECTIONS)


def section(cls, raw, where: str | None = None):
    """One section parsed (a step that reads only ``models`` and ``cache`` takes those two); a value that
    already is one passes as it is."""
    return _build(cls, raw, where or cls.__name__.lower())


def study_config(value) -> StudyConfig:
    """A step's config: the parsed one as it is, or the workflow's (validated) dict parsed once here."""
    return value if isinstance(value, StudyConfig) else StudyConfig.from_dict(value)


def regime_names(raw: Mapping) -> list[str]:
    """The regimes a config dict studies, in its order (one, ``practical``, where it names none)."""
    return list(raw.get("regimes") or {"practical": {}})


def regime_config(raw: Mapping, name: str) -> dict:
    """A config dict as regime ``name`` reads it: its ``decode`` keys over the top-level ones, its ``link``,
    ``compute`` and ``grid`` (where given) instead of the top-level ones; every other section as it is. The
    workflow validates each such view against the schema, and a decoding job's params are its slice."""
    regimes = raw.get("regimes") or {"practical": {}}
    if name not in regimes:
        raise ConfigError(f"regime {name!r} is not in the config's regimes ({', '.join(regimes)})")
    over = regimes[name] or {}
    unknown = set(over) - set(REGIME_SECTIONS)
    if unknown:
        raise ConfigError(f"regimes.{name} sets {sorted(unknown)}; a regime may set {', '.join(REGIME_SECTIONS)}")
    out = {k: v for k, v in raw.items() if k != "regimes"}
    out["decode"] = {**(raw.get("decode") or {}), **(over.get("decode") or {})}
    for key in ("link", "compute", "grid"):
        if key in over:
            out[key] = over[key]
    return out


def defaults_of(cls) -> dict:
    """Each field's default (a factory's value for mutable ones): what the schema's defaults are checked against."""
    out = {}
    for f in fields(cls):
        if f.default is not MISSING:
            out[f.name] = f.default
        elif f.default_factory is not MISSING:
            out[f.name] = f.default_factory()
    return out

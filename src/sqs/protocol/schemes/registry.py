"""Every scheme declared once: name, wire code and layout, parameters, state, vectorized selector, label.

The wire, live decoding, the CLI, the toy simulation, the session, the workflow's grid and its
config checks, the trace sweep, the figures and MLflow all read :data:`SCHEMES`. Adding a sparsifier
is: its live selector (:mod:`sqs.protocol.sparsify`), its vectorized selector
(:mod:`sqs.protocol.schemes.vectorized`), a runtime
class if the lattice path does not fit, one :class:`SchemeSpec` below, and config.

Parameters are dataclass fields; ``metadata["column"]`` names the grid column (and summary.csv
column) a parameter is swept under, ``metadata["help"]`` is the CLI's help text.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, fields, replace

from sqs.protocol import sparsify
from sqs.protocol.schemes import layout as L
from sqs.protocol.schemes import vectorized
from sqs.protocol.schemes.compress import (
    ACCOUNTINGS,
    ConformalScheme,
    DenseScheme,
    Float32Scheme,
    SelectorScheme,
    TokenOnlyScheme,
    TopKScheme,
    TopPScheme,
    TreeScheme,
)


def cast(f, value):
    """``value`` as parameter field ``f`` declares it (int, float or str; annotations may be strings)."""
    kind = f.type if isinstance(f.type, str) else f.type.__name__
    return int(value) if kind == "int" else str(value) if kind == "str" else float(value)


def _p(default, help: str, column: str | None = None, choices: tuple | None = None, sweep: tuple = ()):
    """A scheme parameter: its default and help; ``column``: the grid column it is swept under (with ``sweep``,
    the values ``sqs sweep`` tries by default); ``choices``: the values it takes."""
    meta = {"help": help, "column": column, "choices": choices, "sweep": sweep}
    return field(default=default, metadata=meta)


@dataclass(frozen=True)
class NoParams:
    pass


@dataclass(frozen=True)
class DenseParams:
    """Every lattice scheme's: the resolution of Algorithm 2."""

    ell: int = _p(100, "lattice resolution")


@dataclass(frozen=True)
class TopKParams(DenseParams):
    k: int = _p(16, "support size K of K-SQS", column="K", sweep=(4, 16, 64))


@dataclass(frozen=True)
class ConformalParams(DenseParams):
    beta: float = _p(0.001, "initial C-SQS threshold", column="beta0", sweep=(0.001, 0.01))
    alpha: float = _p(0.0005, "C-SQS target dropped mass")
    eta: float = _p(0.001, "C-SQS learning rate (0 = fixed threshold)", column="eta", sweep=(0.0, 0.001))
    accounting: str = _p(
        "exact",
        "C-SQS bits the budget rule charges a draft: exact (the wire's) or paper "
        "(2 ceil(log2 V) + lattice index + token, as Sec. 3 counts)",
        choices=ACCOUNTINGS,
    )


def _check_fraction(name: str, value) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0.0 < value <= 1.0:
        raise ValueError(f"{name} must be a number in (0, 1], got {value!r}")


@dataclass(frozen=True)
class TopPParams(DenseParams):
    top_p: float = _p(0.9, "mass the top-p support keeps", column="top_p")

    def __post_init__(self) -> None:
        _check_fraction("top_p", self.top_p)


@dataclass(frozen=True)
class MinPParams(DenseParams):
    min_p: float = _p(0.05, "min-p: keep the tokens with q >= min_p x max q", column="min_p")

    def __post_init__(self) -> None:
        _check_fraction("min_p", self.min_p)


@dataclass(frozen=True)
class TreeParams:
    branch: int = _p(2, "children of each node the edge's tree expands (its most probable)", column="branch")


# between a setting's parameters: not "," (Snakemake's cluster jobs name their wildcards as a comma list)
SETTING_SEP = "+"


@dataclass(frozen=True)
class SchemeSpec:
    """One scheme, as everything else in sqs sees it."""

    name: str
    label: str  # figures and legends
    style: dict  # matplotlib color and marker
    params: type = NoParams
    build: Callable | None = None  # the runtime class; None: nothing on the wire (cloud-only AR)
    code: int | None = None  # scheme code in the uplink header (sqs.protocol.wire)
    layout: L.Layout | None = None
    aliases: tuple[str, ...] = ()
    stateful: bool = False  # keeps state across batches (C-SQS's threshold): no preemptive drafting
    budget: bool = True  # the bit budget B limits a batch (float32's 32 V bits a token meet none)
    # its support rule over chunks of cached logits (trace model), or a scheme without a lattice its rejection
    vectorized: vectorized.VectorSelector | vectorized.DirectSelector | None = None
    grid_section: str | None = None  # config grid.<section>: one list per swept parameter
    in_paper: bool = True
    select: Callable | None = None  # the live support rule of a SelectorScheme: select(q, **its parameters)
    letter: str = "?"  # one letter where a figure names the winner of a cell
    moves: Callable[[dict], bool] | None = None  # whether its state moves along a sequence at these parameters

    @property
    def speculative(self) -> bool:
        return self.build is not None

    @property
    def lattice(self) -> bool:
        return self.layout is not None and self.layout.lattice

    def param_fields(self):
        return fields(self.params)

    def columns(self) -> dict[str, str]:
        """Grid column -> parameter name, for the parameters this scheme is swept over."""
        return {f.metadata["column"]: f.name for f in self.param_fields() if f.metadata.get("column")}

    def params_of(self, settings) -> dict:
        """This scheme's parameters read by name off any settings object (DecodeConfig, SimulationConfig, ...)."""
        return {f.name: getattr(settings, f.name) for f in self.param_fields()}

    def make(self, **params):
        """The runtime scheme; unknown or missing parameters raise ValueError naming the valid ones."""
        if self.build is None:
            raise ValueError(f"scheme {self.name!r} sends nothing to compress")
        allowed = [f.name for f in self.param_fields()]
        extra = set(params) - set(allowed)
        if extra:
            raise ValueError(f"scheme {self.name!r} takes parameters {allowed or 'none'}, got unknown {sorted(extra)}")
        try:
            return self.build(**params)
        except TypeError as exc:  # a required parameter is missing
            raise ValueError(f"scheme {self.name!r} needs parameters {allowed}: {exc}") from None

    def cell_label(self, cell: dict) -> str:
        """A grid cell's short name: ``k-sqs K=16``, ``c-sqs β₁=0.001 η=0.001``."""
        greek = {"beta0": "β₁", "eta": "η"}
        parts = [self.name] + [f"{greek.get(c, c)}={float(cell[c]):g}" for c in self.columns()]
        return " ".join(parts)

    def defaults(self) -> dict:
        """Every parameter at its declared default."""
        return {f.name: f.default for f in self.param_fields()}

    def setting(self, values: dict) -> str:
        """The swept columns of a cell as its identity in a path: ``K=16``, ``beta0=0.01+eta=0.001``;
        ``default`` for a scheme without any. Another scheme's columns never appear in it; floats are written
        exactly (``repr``), so a setting reads back to the same values."""
        return SETTING_SEP.join(f"{c}={column_type(c)(values[c])!r}" for c in self.columns()) or "default"

    def parse_setting(self, text: str) -> dict:
        """:meth:`setting` back to column values (ints stay ints); unknown or missing columns raise."""
        cols = self.columns()
        if text == "default" and not cols:
            return {}
        items = [item.split("=", 1) for item in text.split(SETTING_SEP)]
        pairs = dict(item for item in items if len(item) == 2)
        try:
            if len(pairs) == len(items) and set(pairs) == set(cols):
                return {c: column_type(c)(float(v)) for c, v in pairs.items()}
        except ValueError:  # a value that is not a number
            pass
        raise ValueError(f"setting {text!r} of {self.name}: expected the columns {', '.join(cols) or 'none'}")

    def params_from(self, values: dict, shared: dict | None = None) -> dict:
        """This scheme's parameters: its swept ones from ``values`` (by column), every other one from ``shared``
        (by name: decode.ell, decode.alpha, ...) or its default; types as declared."""
        out = {}
        for f in self.param_fields():
            column = f.metadata.get("column")
            value = values[column] if column and column in values else (shared or {}).get(f.name, f.default)
            out[f.name] = cast(f, value)
        return out


SCHEMES: dict[str, SchemeSpec] = {}
_ALIASES: dict[str, str] = {}
_BY_CODE: dict[int, SchemeSpec] = {}


def register(spec: SchemeSpec) -> SchemeSpec:
    """Add one scheme; its runtime class reads its declaration from ``spec`` (a class several schemes share,
    :class:`SelectorScheme`, gets a subclass of its own)."""
    if spec.build is not None and getattr(spec.build, "shared", False):
        spec = replace(spec, build=type(f"{spec.build.__name__}[{spec.name}]", (spec.build,), {}))
    for n in (spec.name, *spec.aliases):
        if n in _ALIASES:
            raise ValueError(f"scheme name {n!r} is taken by {_ALIASES[n]!r}")
    if spec.code is not None:
        if spec.code in _BY_CODE or not 0 <= spec.code <= 15:
            raise ValueError(f"wire code {spec.code} of {spec.name!r} is taken or outside 0..15")
        _BY_CODE[spec.code] = spec
    SCHEMES[spec.name] = spec
    _ALIASES.update({n: spec.name for n in (spec.name, *spec.aliases)})
    if spec.build is not None:
        spec.build.spec = spec
    return spec


def get(name: str) -> SchemeSpec:
    """The spec of a scheme name or alias (``dense`` is ``qs``); unknown names raise ValueError."""
    try:
        return SCHEMES[_ALIASES[name]]
    except KeyError:
        raise ValueError(f"unknown scheme {name!r}; valid: {', '.join(names())}") from None


def by_code(code: int) -> SchemeSpec | None:
    return _BY_CODE.get(code)


def names(aliases: bool = True) -> tuple[str, ...]:
    """Every scheme name (with aliases after their scheme's name)."""
    out: list[str] = []
    for s in SCHEMES.values():
        out += [s.name, *(s.aliases if aliases else ())]
    return tuple(out)


def wire_codes() -> frozenset[int]:
    return frozenset(_BY_CODE)


def all_param_fields():
    """Every scheme parameter once (by name, first declaration wins): the CLI's options."""
    seen: dict[str, object] = {}
    for s in SCHEMES.values():
        for f in s.param_fields():
            seen.setdefault(f.name, f)
    return list(seen.values())


def column_type(column: str) -> type:
    """``int`` or ``float``: how a swept column's values are written and read (``K=16``, not ``K=16.0``)."""
    fields_ = {f.metadata.get("column"): f for s in SCHEMES.values() for f in s.param_fields()}
    if column not in fields_:
        raise ValueError(f"no scheme sweeps a column {column!r}; swept columns: {', '.join(grid_columns())}")
    return int if isinstance(cast(fields_[column], 0), int) else float


def grid_columns() -> tuple[str, ...]:
    """Every swept parameter's grid column, in declaration order: the cell columns after scheme and T."""
    out: list[str] = []
    for s in SCHEMES.values():
        out += [c for c in s.columns() if c not in out]
    return tuple(out)


def _settings_class():
    """Every scheme parameter as one frozen dataclass, defaults and help from the entries."""
    from dataclasses import make_dataclass

    specs = [(f.name, f.type, field(default=f.default, metadata=f.metadata)) for f in all_param_fields()]
    cls = make_dataclass("SchemeSettings", specs, frozen=True)
    cls.__doc__ = "All schemes' parameters in one place: the settings live decoding and the toy simulation extend."
    cls.__module__ = __name__
    return cls


def make_scheme(name: str, **params):
    """Build a compression scheme by name; unknown names or parameters raise ValueError."""
    spec = get(name)
    if spec.build is None:
        raise ValueError(f"unknown scheme {name!r}; valid schemes: {', '.join(n for n in names() if get(n).build)}")
    return spec.make(**params)


register(SchemeSpec("ar", "AR (cloud only)", dict(color="black", marker="s"), letter="A"))
register(SchemeSpec("sd", "SD (float32)", dict(color="tab:gray", marker="D"), build=Float32Scheme, code=4,
                    layout=L.FLOAT32, budget=False, vectorized=vectorized.FLOAT32, letter="S"))  # fmt: skip
register(SchemeSpec("qs", "QS (dense lattice)", dict(color="tab:purple", marker="^"), DenseParams, DenseScheme,
                    code=0, layout=L.DENSE, aliases=("dense",), vectorized=vectorized.DENSE, letter="Q"))  # fmt: skip
register(SchemeSpec("k-sqs", "K-SQS", dict(color="tab:blue", marker="o"), TopKParams, TopKScheme, code=1,
                    layout=L.FIXED_K, vectorized=vectorized.TOP_K, grid_section="k_sqs", letter="K"))  # fmt: skip
register(SchemeSpec("c-sqs", "C-SQS", dict(color="tab:orange", marker="v"), ConformalParams, ConformalScheme,
                    code=2, layout=L.VARIABLE_K, stateful=True, vectorized=vectorized.THRESHOLD, grid_section="c_sqs",
                    letter="C", moves=lambda p: p["eta"] > 0))  # fmt: skip
register(SchemeSpec("top-p", "top-p SQS", dict(color="tab:green", marker="P"), TopPParams, TopPScheme, code=3,
                    layout=L.VARIABLE_K, vectorized=vectorized.TOP_P, grid_section="top_p", in_paper=False,
                    letter="P"))  # fmt: skip
register(SchemeSpec("min-p", "min-p SQS", dict(color="tab:brown", marker="X"), MinPParams, SelectorScheme, code=5,
                    layout=L.VARIABLE_K, vectorized=vectorized.MIN_P, grid_section="min_p", in_paper=False,
                    select=sparsify.min_p, letter="M"))  # fmt: skip
register(SchemeSpec("tokens", "token-only SD", dict(color="tab:red", marker="*"), build=TokenOnlyScheme, code=6,
                    layout=L.TOKENS, in_paper=False, vectorized=vectorized.TOKENS, letter="T"))  # fmt: skip
register(SchemeSpec("split", "split verification (DSSD)", dict(color="tab:olive", marker="h"), build=TokenOnlyScheme,
                    code=7, layout=L.SPLIT, aliases=("dssd",), in_paper=False, vectorized=vectorized.SPLIT,
                    letter="D"))  # fmt: skip
register(SchemeSpec("tree", "token tree (SpecExec)", dict(color="tab:pink", marker="1"), TreeParams, TreeScheme,
                    code=8, layout=L.TREE, aliases=("specexec",), in_paper=False, vectorized=vectorized.TREE,
                    grid_section="tree", letter="R"))  # fmt: skip


SchemeSettings = _settings_class()

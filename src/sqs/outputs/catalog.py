"""The figure registry: each figure is declared where it is drawn (``@figure`` in :mod:`sqs.outputs.figures`)
with the rule that draws it, where it goes and what it reads; the rules' outputs, the default targets and
the figures MLflow carries are generated from here (``workflow/rules/common.smk`` imports
:mod:`sqs.outputs.figures`, whose declarations fill :data:`REGISTRY`, then reads it).

Where a figure goes (``scope``): ``regime``, one per regime in ``results/figures/<regime>/``; ``measured``,
one per regime in ``results/figures/<regime>/measured/`` (the live cells on this machine's wall clock);
``once``, ``results/figures/``. ``inputs`` names what it is drawn from: for rule ``figures`` the frames
:func:`sqs.outputs.figures.draw_all` hands it (``points``: the trace model at the figure settings; ``live``:
the regime's plain live cells; ``wall``: the same on the wall clock; ``trace``: the trace calibration;
``summary``: every live cell; ``stats``: the cache's statistics), for the other rules their tables.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

SCOPES = ("regime", "measured", "once")


@dataclass(frozen=True)
class Figure:
    name: str
    rule: str  # the workflow rule that draws it ("" for figures drawn outside the workflow: make bench-network)
    scope: str
    inputs: tuple[str, ...]
    note: str  # rule figures: whose pricing the corner note states ("points", "live", "wall"); "" for none
    draw: Callable

    def stem(self, out_dir: Path, regime: str | None = None) -> Path:
        """Where it is drawn under ``out_dir`` (``results/figures`` in the workflow), without a suffix."""
        if self.scope == "once":
            return Path(out_dir) / self.name
        if regime is None:
            raise ValueError(f"figure {self.name} is drawn per regime: name the regime")
        return Path(out_dir) / regime / ("measured" if self.scope == "measured" else "") / self.name

    def paths(self, regimes=(), ext: str = "png") -> list[str]:
        """Its files in the workflow, one per regime where it is per regime."""
        stems = [self.stem(FIGURE_DIR)] if self.scope == "once" else [self.stem(FIGURE_DIR, r) for r in regimes]
        return [f"{s}.{ext}" for s in stems]


FIGURE_DIR = Path("results/figures")
REGISTRY: list[Figure] = []


def figure(rule: str, scope: str = "once", inputs: tuple[str, ...] = (), note: str = "") -> Callable:
    """Register the decorated ``fig_*`` function as the figure of its name."""
    if scope not in SCOPES:
        raise ValueError(f"figure scope must be one of {', '.join(SCOPES)}, got {scope!r}")

    def register(fn: Callable) -> Callable:
        name = fn.__name__
        if any(f.name == name and f.scope == scope for f in REGISTRY):
            raise ValueError(f"figure {name!r} is registered twice in scope {scope!r}")
        REGISTRY.append(Figure(name, rule, scope, tuple(inputs), note, fn))
        return fn

    return register


def drawn_by(rule: str) -> list[Figure]:
    """The figures one rule draws, in declaration order (import :mod:`sqs.outputs.figures` first: its
    declarations fill the registry)."""
    if not REGISTRY:
        raise RuntimeError("the figure registry is empty: import sqs.outputs.figures before reading it")
    return [f for f in REGISTRY if f.rule == rule]


def figure_paths(rules, regimes, exts=("png",)) -> list[str]:
    """Every file the figures of ``rules`` write, per regime where they are per regime."""
    return [p for rule in rules for f in drawn_by(rule) for ext in exts for p in f.paths(regimes, ext)]


def study_figures(rule: str) -> dict:
    """A rule that draws one figure per run from one table (``policy_study``): the table's name (its
    wildcard, without ``.csv``) -> that figure (named ``fig_<table>``), as the declarations say."""
    out = {}
    for f in drawn_by(rule):
        if len(f.inputs) != 1 or not f.inputs[0].endswith(".csv") or f.scope != "once":
            raise ValueError(f"figure {f.name} of rule {rule} must read one table (.csv) and be drawn once")
        table = f.inputs[0].removesuffix(".csv")
        if f.name != f"fig_{table}":  # the rule's output pattern, results/figures/fig_{study}
            raise ValueError(f"figure {f.name} of rule {rule} must be named fig_{table}, after its table")
        out[table] = f
    return out

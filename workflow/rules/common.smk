import hashlib
import json
import os

from snakemake.utils import Paramspace, validate

import sqs.outputs.figures  # noqa: F401  (its @figure declarations fill the figure registry read below)
from sqs.outputs.catalog import FIGURE_DIR, drawn_by, figure_paths, study_figures
from sqs.study.config import ConfigError, StudyConfig, regime_config, regime_names
from sqs.study.grid import cell_config, check_config, grid_cells, needs_calibration
from sqs.steps.prepare import artifact_versions
from sqs.study.anchors import DSSD_ROWS

SCHEMA = "../schemas/config.schema.yaml"
# Fails `snakemake -n` with the offending key, its value and the rule it broke; fills defaults.
validate(config, schema=SCHEMA, set_default=True)
# Each regime's view of the config (its decode keys over the top-level ones, its link, compute and grid instead
# of them) is validated the same way; the sections a regime sets are stored back with their defaults filled.
for _name in regime_names(config):
    _view = regime_config(config, _name)
    try:
        validate(_view, schema=SCHEMA, set_default=True)
    except WorkflowError as exc:
        raise WorkflowError(f"invalid config in regimes.{_name}: {exc}") from None
    for _section in config["regimes"][_name] or {}:
        config["regimes"][_name][_section] = _view[_section]

# The validated config parsed once (sqs.study.config): what the library reads. Rules pass their sections on as
# dicts (Snakemake compares params to decide a rerun), and each step parses what it is given.
try:
    STUDY = StudyConfig.from_dict(config)
    check_config(STUDY)  # K <= V, a budget that fits one token of every scheme in the grid, per regime
except ConfigError as exc:
    raise WorkflowError(f"invalid config: {exc}") from None

REGIMES = STUDY.regime_names()
# One decoding job per grid cell: results/runs/regime~<r>/scheme~<s>/policy~<p>/preemptive~<b>/temperature~<T>/...
paramspace = Paramspace(grid_cells(STUDY), param_sep="~")


# This machine's compute calibration, written by calibrate_compute; every profile but `measured` prices from it.
COMPUTE_CALIBRATION = "results/models/compute_calibration.json"
CALIBRATION = COMPUTE_CALIBRATION if needs_calibration(STUDY) else []
# Where some regime prices compute by the wall clock, trace rules fit per-call prices on the live cells.
LIVE_PRICES = "results/tables/summary.csv" if any(v.compute.profile == "measured" for v in STUDY.views()) else []


# The built models' recipes (embedded conversion, distilled draft): a new recipe reruns prepare_models.
MODEL_VERSIONS = artifact_versions(STUDY.models)


def _key(*sections, extra=None):
    """Content address of what a cached artifact depends on (its config sections, ``extra``)."""
    blob = json.dumps([config[s] for s in sections] + ([extra] if extra else []), sort_keys=True).encode()
    return hashlib.sha256(blob).hexdigest()[:12]


# The logits cache is stored once per model pair and data shard; its directory name is their hash.
CACHE_DIR = f"results/cache/logits-{_key('models', 'data', 'cache', extra=MODEL_VERSIONS)}"


def cell_outputs(name):
    return expand(f"results/runs/{{params}}/{name}", params=paramspace.instance_patterns)


def tracking_uri():
    return STUDY.mlflow.tracking_uri or "sqlite:///results/mlflow/mlflow.db"


def figure_outputs(rule, ext="png"):
    """The files a rule draws, as the figure registry declares them (PNGs a person reads are report items);
    the one path alone where it draws one."""
    out, figures = [], drawn_by(rule)
    for f in figures:
        for r in [None] if f.scope == "once" else REGIMES:
            path = f"{f.stem(FIGURE_DIR, r)}.{ext}"
            if ext == "png" and f.scope != "measured":
                where = "Figures" if r is None else f"Figures, {r} regime"
                path = report(path, category=where, caption=f"../report/{f.name}.rst")
            out.append(path)
    return out[0] if len(out) == 1 and figures[0].scope == "once" else out


# Decoding jobs time themselves, so in a local run no two compute jobs may share a core, whatever --cores
# says (`snakemake --cores 8` on 2 cores once ran eight single-thread decoders at once and measured AR at
# a third of its speed). Every compute rule claims its threads of `timed_cpus`, of which there are as many
# as this machine has cores; `--resources timed_cpus=N` overrides. On a cluster each job has its own cores.
CPUS = os.cpu_count() or 1
if workflow.local_exec and "timed_cpus" not in workflow.global_resources:
    workflow.register_resource("timed_cpus", CPUS)


def timed_cpus(wildcards, threads):
    """A compute rule's claim on this machine's cores: its threads, never more than the machine has."""
    return min(int(threads), CPUS)


# The live drafting studies (target `policies`): one policy_study run per registered figure, named by the
# table it reads (its figure is fig_<table>, the rule's output pattern; study_figures checks it).
STUDIES = study_figures("policy_study")
STUDY_TABLES = [f"results/tables/{s}.csv" for s in STUDIES]


# The studies beside the paper's figures (analysis.extra): where it pays, and the draft-length headroom.
EXTRA = {
    "regimes": ["results/tables/regimes.csv", "results/tables/capacity.csv", *figure_paths(["regimes"], REGIMES)],
    "policy_headroom": ["results/tables/policy_headroom.csv", *figure_paths(["policy_headroom"], REGIMES)],
    "families": ["results/tables/families.csv", "results/tables/families_crossover.csv",
                 "results/tables/families_block.csv",
                 *figure_paths(["families"], REGIMES)],
}
NEEDS_CALIBRATION = needs_calibration(STUDY) or "regimes" in STUDY.analysis.extra

# The default run's targets (what `snakemake` builds), listed once; the Snakefile's first target reads them.
ALL_TARGETS = [
    "results/tables/summary.csv",
    *figure_paths(["figures", "sweep_dense"], REGIMES, ("png", "pdf")),
    *(["results/tables/compute_calibration.csv"] if NEEDS_CALIBRATION else []),
    "results/mlflow/runs.json",
    "results/tables/trace_calibration.csv",
    "results/tables/theorem2.csv",
    "results/tables/sweep_dense.csv",
    "results/tables/verdicts.csv",
    "results/tables/anchors.csv",
    *(p for name in STUDY.analysis.extra for p in EXTRA[name]),
]
# Every figure the MLflow parent run carries (the PNGs; their PDFs beside them are logged too).
MLFLOW_FIGURES = [
    *figure_paths(["figures", "sweep_dense", "trace_calibration", "theorem2"], REGIMES),
    *(p for name in STUDY.analysis.extra for p in EXTRA[name] if p.endswith(".png")),
    *(figure_paths(["calibrate_compute"], REGIMES) if NEEDS_CALIBRATION else []),
]

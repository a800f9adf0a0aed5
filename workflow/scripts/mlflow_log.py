"""Thin wrapper: mirror the study's files into MLflow (see sqs.outputs.tracking)."""

import json
import logging
from pathlib import Path

from sqs.outputs.tracking import log_study

logging.basicConfig(filename=snakemake.log[0], level=logging.INFO)  # noqa: F821
sm = snakemake  # noqa: F821
cells = [(json.loads(Path(m).read_text()), Path(r)) for m, r in zip(sm.input.metrics, sm.input.records, strict=True)]
ids = log_study(
    tracking_uri=sm.params.tracking_uri,
    experiment=sm.params.experiment,
    artifact_root=Path("results/mlflow/artifacts"),
    config=dict(sm.params.config),
    summary_csv=Path(sm.input.summary),
    cells=cells,
    tables=[Path(t) for t in sm.input.tables],
    figures=[Path(f) for f in sm.input.figures],
    repo=Path(sm.scriptdir).parents[1],
)
Path(sm.output[0]).write_text(json.dumps(ids, indent=2))

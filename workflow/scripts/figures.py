"""Thin wrapper: draw every figure (see sqs.steps.outputs.figures_files)."""

import logging
from pathlib import Path

from sqs.steps.outputs import figures_files

logging.basicConfig(filename=snakemake.log[0], level=logging.INFO)  # noqa: F821
sm = snakemake  # noqa: F821
paths = figures_files(sm.input.summary, sm.input.stats, Path(sm.output.png[0]).parent, sm.input.trace)
logging.info("drew %d figures", len(paths))

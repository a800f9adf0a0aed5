"""Thin wrapper: draw every figure (see sqs.figures)."""

import logging
from pathlib import Path

from sqs.figures import draw_from_files

logging.basicConfig(filename=snakemake.log[0], level=logging.INFO)  # noqa: F821
sm = snakemake  # noqa: F821
paths = draw_from_files(sm.input.summary, sm.input.stats, Path(sm.output.png[0]).parent, sm.input.trace)
logging.info("drew %d figures", len(paths))

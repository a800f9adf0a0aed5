"""Thin wrapper: draw every figure (see sqs.figures)."""

import logging
from pathlib import Path

from sqs.figures import draw_from_files

logging.basicConfig(filename=snakemake.log[0], level=logging.INFO)  # noqa: F821
paths = draw_from_files(snakemake.input.summary, snakemake.input.stats, Path(snakemake.output.png[0]).parent)  # noqa: F821
logging.info("drew %d figures", len(paths))

"""Thin wrapper: the anchors' claims against this model (see sqs.steps.study.anchors_file)."""

import logging
from pathlib import Path

from sqs.steps.study import anchors_file

logging.basicConfig(filename=snakemake.log[0], level=logging.INFO)  # noqa: F821
sm = snakemake  # noqa: F821
anchors_file(sm.input.rows, sm.output.table, Path(sm.output.png).parent)

"""Thin wrapper: the anchors' claims against this model (see sqs.steps.study.anchors_file)."""

import logging

from sqs.steps.study import anchors_file

logging.basicConfig(filename=snakemake.log[0], level=logging.INFO)  # noqa: F821
anchors_file(snakemake.input.rows, snakemake.output.table)  # noqa: F821

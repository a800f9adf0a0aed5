"""Thin wrapper: every cell's metrics -> summary.csv (see sqs.steps.outputs.write_summary)."""

import logging

from sqs.steps.outputs import write_summary

logging.basicConfig(filename=snakemake.log[0], level=logging.INFO)  # noqa: F821
write_summary(list(snakemake.input), snakemake.output[0])  # noqa: F821

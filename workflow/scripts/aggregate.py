"""Thin wrapper: every cell's metrics -> summary.csv (see sqs.aggregate)."""

import logging

from sqs.aggregate import write_summary

logging.basicConfig(filename=snakemake.log[0], level=logging.INFO)  # noqa: F821
write_summary(list(snakemake.input), snakemake.output[0])  # noqa: F821
logging.info("summary of %d cells", len(snakemake.input))  # noqa: F821

"""Thin wrapper: the toy simulation for the workflow (see sqs.steps.outputs.simulate_files)."""

import logging

from sqs.steps.outputs import simulate_files

logging.basicConfig(filename=snakemake.log[0], level=logging.INFO)  # noqa: F821
rows = simulate_files(dict(snakemake.params.simulation), snakemake.output[0])  # noqa: F821
logging.info("wrote %d rows", len(rows))

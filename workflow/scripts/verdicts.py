"""Thin wrapper: K-SQS vs C-SQS and adaptivity verdicts from the sweep's intervals (sqs.steps.outputs)."""

import logging

from sqs.steps.outputs import verdict_files

logging.basicConfig(filename=snakemake.log[0], level=logging.INFO)  # noqa: F821
rows = verdict_files(snakemake.input[0], dict(snakemake.params.figures), snakemake.output[0])  # noqa: F821
logging.info("%d verdicts", len(rows))

"""Thin wrapper: support sizes and acceptance per temperature from the logits cache (sqs.steps.cache)."""

import logging
from pathlib import Path

from sqs.steps.cache import write_cache_statistics

logging.basicConfig(filename=snakemake.log[0], level=logging.INFO)  # noqa: F821
write_cache_statistics(
    Path(snakemake.input.meta).parent,  # noqa: F821
    list(snakemake.params.temperatures),  # noqa: F821
    snakemake.params.alpha,  # noqa: F821
    snakemake.output[0],  # noqa: F821
)

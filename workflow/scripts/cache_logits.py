"""Thin wrapper: teacher-forced logits of both models (see sqs.steps.cache)."""

import logging
from pathlib import Path

import torch

from sqs.steps.cache import build_cache_files

logging.basicConfig(filename=snakemake.log[0], level=logging.INFO)  # noqa: F821
torch.set_num_threads(snakemake.threads)  # noqa: F821
meta = build_cache_files(
    snakemake.input.prompts,  # noqa: F821
    dict(snakemake.params.models),  # noqa: F821
    dict(snakemake.params.cache),  # noqa: F821
    Path(snakemake.output.meta).parent,  # noqa: F821
)
logging.info("cache: %s", meta)

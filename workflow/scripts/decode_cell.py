"""Thin wrapper: one grid cell decoded live (see sqs.steps.decode.decode_cell_files)."""

import logging

import torch

from sqs.steps.decode import decode_cell_files

logging.basicConfig(filename=snakemake.log[0], level=logging.INFO)  # noqa: F821
torch.set_num_threads(snakemake.threads)  # noqa: F821
decode_cell_files(
    dict(snakemake.params.cell),  # noqa: F821
    dict(snakemake.params.config),  # noqa: F821
    snakemake.input.prompts,  # noqa: F821
    snakemake.output.records,  # noqa: F821
    snakemake.output.metrics,  # noqa: F821
    snakemake.input.compute or None,  # noqa: F821
)

"""Thin wrapper: build and check the model pair once (see sqs.steps.prepare)."""

import logging

import torch

from sqs.steps.prepare import prepare_models

logging.basicConfig(filename=snakemake.log[0], level=logging.INFO)  # noqa: F821
torch.set_num_threads(snakemake.threads)  # noqa: F821
info = prepare_models(dict(snakemake.params.models), snakemake.output[0])  # noqa: F821
logging.info("models ready: %s", info)

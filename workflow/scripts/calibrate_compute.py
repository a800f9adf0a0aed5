"""Thin wrapper: time and fit this machine's compute (see sqs.steps.compute.calibrate_compute_files)."""

import logging
from pathlib import Path

import torch

from sqs.steps.compute import calibrate_compute_files

logging.basicConfig(filename=snakemake.log[0], level=logging.INFO)  # noqa: F821
sm = snakemake  # noqa: F821
torch.set_num_threads(sm.threads)
cal = calibrate_compute_files(dict(sm.params.models), Path(sm.input.meta).parent, dict(sm.params.decode),
                              sm.output.json, sm.output.table, Path(sm.output.png).parent)  # fmt: skip
logging.info("calibrated: %s", cal)

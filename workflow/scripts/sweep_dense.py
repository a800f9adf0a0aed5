"""Thin wrapper: the dense trace sweep and its heat map (see sqs.steps.trace.dense_sweep_files)."""

import logging
from pathlib import Path

from sqs.steps.trace import dense_sweep_files

logging.basicConfig(filename=snakemake.log[0], level=logging.INFO)  # noqa: F821
sm = snakemake  # noqa: F821
rows = dense_sweep_files(Path(sm.input.meta).parent, sm.input.summary, dict(sm.params.config), dict(sm.params.grid),
                         sm.output.table, Path(sm.output.png).parent, workers=sm.threads,
                         calibration_path=sm.input.compute or None)  # fmt: skip
logging.info("swept %d cells", len(rows))

"""Thin wrapper: predict the live cells from the logits cache and draw the calibration figure."""

import logging
from pathlib import Path

from sqs.steps.trace import calibration_files

logging.basicConfig(filename=snakemake.log[0], level=logging.INFO)  # noqa: F821
sm = snakemake  # noqa: F821
rows = calibration_files(Path(sm.input.meta).parent, sm.input.summary, dict(sm.params.config), sm.output.table,
                         Path(sm.output.png).parent, sm.input.compute or None)  # fmt: skip
logging.info("calibrated %d cells", len(rows))

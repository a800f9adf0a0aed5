"""Thin wrapper: predict the live cells from the logits cache and draw the calibration figure."""

import logging
from pathlib import Path

from sqs.figures import draw_calibration
from sqs.sweep import calibrate

logging.basicConfig(filename=snakemake.log[0], level=logging.INFO)  # noqa: F821
sm = snakemake  # noqa: F821
rows = calibrate(Path(sm.input.meta).parent, sm.input.summary, dict(sm.params.config), sm.output.table)
draw_calibration(sm.output.table, Path(sm.output.png).parent)
logging.info("calibrated %d cells", len(rows))

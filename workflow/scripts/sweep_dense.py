"""Thin wrapper: the dense trace sweep over the paper grid (sqs.sweep.write_dense_sweep) and its heat map."""

import logging
from pathlib import Path

from sqs.figures import draw_sweep
from sqs.sweep import write_dense_sweep

logging.basicConfig(filename=snakemake.log[0], level=logging.INFO)  # noqa: F821
sm = snakemake  # noqa: F821
rows = write_dense_sweep(Path(sm.input.meta).parent, sm.input.summary, dict(sm.params.config), dict(sm.params.grid),
                         sm.output.table, workers=sm.threads)  # fmt: skip
draw_sweep(sm.output.table, Path(sm.output.png).parent)
logging.info("swept %d cells", len(rows))

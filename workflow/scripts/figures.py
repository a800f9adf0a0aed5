"""Thin wrapper: draw every figure of the figures rule (see sqs.steps.outputs.figures_files)."""

import logging

from sqs.steps.outputs import figures_files

logging.basicConfig(filename=snakemake.log[0], level=logging.INFO)  # noqa: F821
sm = snakemake  # noqa: F821
paths = figures_files(sm.input.summary, sm.input.stats, sm.input.sweep, "results/figures", sm.params.regimes,
                      sm.params.figures, sm.input.trace)  # fmt: skip
logging.info("drew %d figures", len(paths))

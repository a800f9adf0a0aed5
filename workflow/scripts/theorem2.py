"""Thin wrapper: Theorem 2 along the cached trace (see sqs.sweep.theorem2_table) and its figure."""

import logging
from pathlib import Path

from sqs.figures import draw_theorem2
from sqs.sweep import write_theorem2

logging.basicConfig(filename=snakemake.log[0], level=logging.INFO)  # noqa: F821
sm = snakemake  # noqa: F821
th = sm.params.theorem2
write_theorem2(Path(sm.input.meta).parent, th["temperature"], th["beta0"], sm.params.alpha, list(th["etas"]),
               sm.params.ell, sm.output.table)  # fmt: skip
draw_theorem2(sm.output.table, Path(sm.output.png).parent, sm.params.alpha)

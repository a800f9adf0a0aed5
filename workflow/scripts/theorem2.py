"""Thin wrapper: Theorem 2 along the cached trace and its figure (see sqs.steps.trace.theorem2_files)."""

import logging
from pathlib import Path

from sqs.steps.trace import theorem2_files

logging.basicConfig(filename=snakemake.log[0], level=logging.INFO)  # noqa: F821
sm = snakemake  # noqa: F821
th = sm.params.theorem2
theorem2_files(Path(sm.input.meta).parent, th["temperature"], th["beta0"], sm.params.alpha, list(th["etas"]),
               sm.params.ell, sm.output.table, Path(sm.output.png).parent)  # fmt: skip

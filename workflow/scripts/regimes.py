"""Thin wrapper: the where-it-pays map and its live check (see sqs.steps.trace.regimes_files)."""

import logging
from pathlib import Path

from sqs.steps.trace import regimes_files

logging.basicConfig(filename=snakemake.log[0], level=logging.INFO)  # noqa: F821
sm = snakemake  # noqa: F821
rows = regimes_files(Path(sm.input.meta).parent, "results/runs", dict(sm.params.config), sm.output.table,
                     sm.output.validation, sm.output.capacity, sm.output.capacity_map, Path(sm.output.png[0]).parent,
                     sm.input.compute)  # fmt: skip
logging.info("regimes: %d rows", len(rows))

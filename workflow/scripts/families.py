"""Thin wrapper: the families of exact answers to a narrow uplink, side by side (see sqs.steps.trace.families_files)."""

import logging
from pathlib import Path

from sqs.steps.trace import families_files

logging.basicConfig(filename=snakemake.log[0], level=logging.INFO)  # noqa: F821
sm = snakemake  # noqa: F821
rows = families_files(Path(sm.input.meta).parent, dict(sm.params.config), sm.output.table, sm.output.crossover,
                      sm.output.block, Path(sm.output.png[0]).parent, sm.input.compute or None,
                      sm.input.summary or None)  # fmt: skip
logging.info("families: %d rows", len(rows))

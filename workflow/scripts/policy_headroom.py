"""Thin wrapper: the draft-length headroom table and figure from the cache (sqs.steps.trace.headroom_files)."""

import logging
from pathlib import Path

from sqs.steps.trace import headroom_files

logging.basicConfig(filename=snakemake.log[0], level=logging.INFO)  # noqa: F821
sm = snakemake  # noqa: F821
rows = headroom_files(Path(sm.input.meta).parent, sm.input.summary, dict(sm.params.config), sm.output.table,
                      Path(sm.output.png).parent, sm.input.compute or None)  # fmt: skip
logging.info("policy headroom: %d rows", len(rows))

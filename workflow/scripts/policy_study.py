"""Thin wrapper: one live drafting study (sqs.steps.study.run_study_files): table and figure."""

import logging
from pathlib import Path

from sqs.steps.study import run_study_files

logging.basicConfig(filename=snakemake.log[0], level=logging.INFO)  # noqa: F821
sm = snakemake  # noqa: F821
rows = run_study_files(sm.wildcards.study, dict(sm.params.config), sm.input.prompts, sm.output.table,
                       Path(sm.output.png).parent, sm.input.compute or None)  # fmt: skip
logging.info("%s study: %d runs", sm.wildcards.study, len(rows))

"""Thin wrapper: per regime, the dense trace sweep with intervals and heat maps (sqs.steps.trace.dense_sweep_files)."""

import logging
from pathlib import Path

from tqdm import tqdm

from sqs.steps.trace import dense_sweep_files

logging.basicConfig(filename=snakemake.log[0], level=logging.INFO)  # noqa: F821
sm = snakemake  # noqa: F821
rows = dense_sweep_files(Path(sm.input.meta).parent, sm.input.summary, dict(sm.params.config), sm.output.table,
                         Path(sm.output.png[0]).parents[1], workers=sm.threads,
                         calibration_path=sm.input.compute or None,
                         progress=lambda it, total: tqdm(it, total=total, desc="sweep", unit="task"))  # fmt: skip
logging.info("swept %d cells", len(rows))

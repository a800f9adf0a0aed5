"""Thin wrapper: the toy simulation for the workflow (see sqs.simulate)."""

import logging
from pathlib import Path

from sqs.simulate import SimulationConfig, simulate, write_csv

logging.basicConfig(filename=snakemake.log[0], level=logging.INFO)  # noqa: F821
cfg = SimulationConfig(**snakemake.params.simulation)  # noqa: F821
logging.info("config %s", cfg)
rows = simulate(cfg, progress=False)
write_csv(rows, Path(snakemake.output[0]))  # noqa: F821
logging.info("wrote %d rows", len(rows))

"""The workflow's decoding step: one grid cell's prompts file in, its records and summary row out."""

from __future__ import annotations

import json
import logging
import os
import socket
from pathlib import Path

from tqdm import tqdm

from sqs.steps.io import atomic_write, prompt_texts
from sqs.study.aggregate import cell_metrics
from sqs.study.grid import CELL_COLUMNS, cell_view, run_cell

log = logging.getLogger(__name__)


def decode_cell_files(cell: dict, params: dict, prompts_path: Path, records_out: Path, metrics_out: Path,
                      calibration_path: Path | None = None) -> dict:  # fmt: skip
    """The workflow's decoding job: prompts file in, per-prompt records (JSON Lines) and the cell's row out;
    ``params``: its slice of the config (:func:`sqs.study.grid.cell_config`).

    Both outputs are written to temporary names and renamed, so a killed job leaves no half file behind.
    """
    cell = {k: (v.item() if hasattr(v, "item") else v) for k, v in dict(cell).items()}
    view = cell_view(params, str(cell.get("regime", "practical")))
    prompts = prompt_texts(prompts_path)[: view.decode.n_prompts]  # the first n decode live
    label = " ".join(f"{k}={cell[k]}" for k in CELL_COLUMNS)
    calibration = json.loads(Path(calibration_path).read_text()) if calibration_path else None
    bar = lambda xs: tqdm(xs, desc=label, unit="prompt")  # noqa: E731
    records = run_cell(cell, view, prompts, progress=bar, calibration=calibration)
    row = cell_metrics(records, cell, view)
    # provenance: where the job ran (a cluster run is checked job by job against this)
    row["host"], row["slurm_job_id"] = socket.gethostname(), os.environ.get("SLURM_JOB_ID")
    atomic_write(records_out, "".join(json.dumps(r) + "\n" for r in records))
    atomic_write(metrics_out, json.dumps(row, indent=1))
    log.info("%s: %.2f tokens/s, resampling rate %.3f", label, row["tokens_per_s"], row["resampling_rate"])
    return row

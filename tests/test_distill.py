"""The distillation step on the real embedded LLM, at a toy size: it trains, saves, and is reproducible."""

import json

import numpy as np
import pytest
import torch

from sqs.distill import DistillConfig, config_key, distill
from sqs.models import CausalLM, ensure_embedded_checkpoint, load_model

TINY = DistillConfig(
    exit_layer=2,
    n_sequences=6,
    seq_len=6,
    gen_batch=3,
    epochs=1,
    batch_sequences=2,
    heldout_sequences=2,
    lr=1e-3,
    seed=7,
)


@pytest.mark.slow
def test_distill_trains_saves_and_reproduces(tmp_path):
    llm_dir = ensure_embedded_checkpoint()
    a = distill(llm_dir, tmp_path / "a", TINY)
    b = distill(llm_dir, tmp_path / "b", TINY)
    assert a["heldout_accept"] == b["heldout_accept"]  # seeded: same data, same steps, same draft
    assert a["train_tokens"] > 0 and a["total_seconds"] > 0
    assert json.loads((tmp_path / "a" / "distill_report.json").read_text())["config"]["exit_layer"] == 2
    draft, _ = load_model(str(tmp_path / "a"), device="cpu")
    llm, tok = load_model(str(llm_dir), device="cpu")
    assert len(draft.model.layers) == 3
    # frozen layers and head are the LLM's; the extra block was trained away from its initialization
    torch.testing.assert_close(draft.model.layers[0].mlp.up_proj.weight, llm.model.layers[0].mlp.up_proj.weight)
    torch.testing.assert_close(draft.lm_head.weight, llm.lm_head.weight)
    assert not torch.equal(draft.model.layers[2].mlp.up_proj.weight, llm.model.layers[2].mlp.up_proj.weight)
    q = CausalLM(draft, len(tok)).next_logits(tok("The council").input_ids)
    assert q.shape == (len(tok),) and np.isfinite(q).all()


def test_config_key_is_a_content_address():
    assert config_key(TINY) == config_key(DistillConfig(**{**TINY.__dict__}))
    assert config_key(TINY) != config_key(DistillConfig(**{**TINY.__dict__, "seed": 8}))


def test_config_validation():
    with pytest.raises(ValueError, match="heldout"):
        DistillConfig(n_sequences=4, heldout_sequences=4)
    with pytest.raises(ValueError, match="exit_layer"):
        DistillConfig(exit_layer=0)

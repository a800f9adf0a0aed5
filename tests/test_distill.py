"""The distillation step on the real embedded LLM, at a toy size: it trains, saves, and is reproducible."""

import json

import numpy as np
import pytest
import torch
from tests.conftest import LAW_ALPHA

from sqs.lossless import gof_test
from sqs.models.backend import (
    ABSENT_LOGIT,
    HEAD_TOKENS_FILE,
    CausalLM,
    ensure_embedded_checkpoint,
    load_model,
    output_rows,
    restrict_head,
)
from sqs.models.distill import (
    DistillConfig,
    compute_share,
    config_key,
    distill,
    ensure_distilled_draft,
    kl_from_logits,
    sample_next,
    teacher_probs,
)
from sqs.study.decode import DecodeConfig, ModelPair, decode_prompt

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
    head_tokens=0,  # the full head here; the subset head has its own test
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


@pytest.mark.slow
def test_subset_head_draft_puts_zero_mass_outside_its_tokens(tmp_path):
    llm_dir = ensure_embedded_checkpoint()
    cfg = DistillConfig(**{**TINY.__dict__, "head_tokens": 512})
    rep = distill(llm_dir, tmp_path / "d", cfg)
    assert rep["head_tokens"] == 512 and 0.5 < rep["head_mass_train"] < 1
    ids = json.loads((tmp_path / "d" / HEAD_TOKENS_FILE).read_text())["token_ids"]
    assert len(ids) == 512 and ids == sorted(ids)
    draft, tok = load_model(str(tmp_path / "d"), device="cpu")
    llm, _ = load_model(str(llm_dir), device="cpu")
    assert output_rows(draft) == output_rows(llm) == llm.config.vocab_size
    z = CausalLM(draft, len(tok)).next_logits(tok("The council said").input_ids)
    outside = np.ones(len(tok), bool)
    outside[ids] = False
    assert (z[outside] == ABSENT_LOGIT).all() and (z[ids] > ABSENT_LOGIT / 2).all()
    q = np.exp(z - z.max())
    assert q[outside].sum() == 0.0  # exactly: the draft never proposes a token its head cannot score
    # the cut head is the LLM's own head restricted: same logits on the subset
    x = torch.randn(2, 3, llm.config.hidden_size)
    full = llm.lm_head(x)
    torch.testing.assert_close(restrict_head(llm, ids).lm_head(x)[..., ids], full[..., ids])
    assert compute_share(llm.config, cfg) < compute_share(llm.config, TINY)
    assert config_key(cfg) != config_key(TINY)
    # decoding through the cut draft: greedy text equals the LLM's, sampling runs with every sparse scheme
    pair = ModelPair(str(tmp_path / "d"), str(llm_dir), dtype="float32", device="cpu")
    assert pair.vocab_size == len(tok)
    greedy = {
        scheme: decode_prompt(pair, DecodeConfig(scheme=scheme, temperature=0.0, max_new_tokens=5), "The mayor", 0)
        for scheme in ("ar", "k-sqs", "c-sqs", "qs")
    }
    assert all(rec["tokens"] == greedy["ar"]["tokens"] for rec in greedy.values())
    for scheme in ("k-sqs", "c-sqs", "qs"):
        rec = decode_prompt(pair, DecodeConfig(scheme=scheme, temperature=1.0, max_new_tokens=5), "The mayor", 1)
        assert len(rec["tokens"]) == 5
    with pytest.raises(ValueError, match="already cut"):
        restrict_head(draft, ids)
    with pytest.raises(ValueError, match="head token ids"):
        restrict_head(load_model(str(llm_dir), device="cpu")[0], [len(tok) + 5])


def test_config_key_is_a_content_address():
    assert config_key(TINY) == config_key(DistillConfig(**{**TINY.__dict__}))
    assert config_key(TINY) != config_key(DistillConfig(**{**TINY.__dict__, "seed": 8}))


def test_config_validation():
    with pytest.raises(ValueError, match="trained_layers"):
        DistillConfig(trained_layers="8,x")
    with pytest.raises(ValueError, match="steps"):
        DistillConfig(steps=0)
    with pytest.raises(ValueError, match="head_tokens must be >= 0"):
        DistillConfig(head_tokens=-1)
    assert DistillConfig().layers == [*range(12), 25, 26, 27, 28, 29]


def test_default_draft_costs_at_most_half_the_llm(tmp_path):
    from transformers import AutoConfig

    llm_cfg = AutoConfig.from_pretrained(ensure_embedded_checkpoint())
    assert compute_share(llm_cfg, DistillConfig()) <= 0.5
    with pytest.raises(ValueError, match="compute"):
        distill(ensure_embedded_checkpoint(), tmp_path / "never", DistillConfig(frozen_layers=14))


def test_fused_kl_matches_the_textbook_loss_and_gradient():
    gen = torch.Generator().manual_seed(3)
    t = torch.randn(3, 5, 300, generator=gen, dtype=torch.float64) * 4
    z0 = torch.randn(3, 5, 300, generator=gen, dtype=torch.float64) * 4
    p, plogp = teacher_probs(t)
    torch.testing.assert_close(p, torch.softmax(t, -1))
    z = z0.clone().requires_grad_(True)
    fused = kl_from_logits(z, p, plogp)
    fused.backward()
    ref_z = z0.clone().requires_grad_(True)
    ref = (p * (torch.log(p) - torch.log_softmax(ref_z, -1))).sum(-1).mean()
    ref.backward()
    torch.testing.assert_close(fused, ref)
    torch.testing.assert_close(z.grad, ref_z.grad)
    small_p, small_plogp = teacher_probs(t[:1, :2, :20])
    x = z0[:1, :2, :20].clone().requires_grad_(True)
    assert torch.autograd.gradcheck(lambda x: kl_from_logits(x, small_p, small_plogp), (x,))


def test_sample_next_follows_softmax():
    logits = torch.tensor([[2.0, 0.0, -1.0, 1.0, -30.0], [0.0, 0.0, 0.0, 0.0, 5.0]])
    gen = torch.Generator().manual_seed(11)
    n = 20000
    draws = sample_next(logits.repeat_interleave(n, 0), gen).reshape(2, n)  # n draws per row, one call
    for row in range(2):
        counts = np.bincount(draws[row].numpy(), minlength=5)
        probs = torch.softmax(logits[row].double(), -1).numpy()
        res = gof_test(counts, probs)  # the -30 logit (probability ~1e-14) shares a bin with its neighbours
        assert res.impossible == 0 and res.pvalue > LAW_ALPHA

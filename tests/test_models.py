"""The transformers backend: KV-cache reuse and cropping give the same logits as a full recompute."""

import numpy as np
import pytest
import torch
from tokenizers import Tokenizer, models, pre_tokenizers
from transformers import GPTNeoConfig, GPTNeoForCausalLM, LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

from sqs.models.backend import (
    EMBEDDED_LLM,
    CausalLM,
    HFTokenizer,
    HubUnreachableError,
    VocabularyMismatchError,
    load_model,
)
from sqs.models.interface import Loaded, load, shared_vocab_size


def tiny_llama(vocab=64):
    torch.manual_seed(0)
    cfg = LlamaConfig(
        vocab_size=vocab,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=128,
    )
    return LlamaForCausalLM(cfg)


def tiny_gpt_neo(vocab=64):
    torch.manual_seed(1)
    cfg = GPTNeoConfig(
        vocab_size=vocab,
        hidden_size=32,
        num_layers=2,
        num_heads=4,
        attention_types=[[["global", "local"], 1]],
        window_size=256,
        max_position_embeddings=128,
    )
    return GPTNeoForCausalLM(cfg)


def full_logits(model, tokens):
    with torch.inference_mode():
        return model(torch.tensor([tokens])).logits[0].double().numpy()


@pytest.mark.parametrize("make", [tiny_llama, tiny_gpt_neo], ids=["llama", "gpt-neo"])
def test_cached_logits_match_full_recompute(make):
    model = make()
    lm = CausalLM(model)
    rng = np.random.default_rng(0)
    context = rng.integers(64, size=5).tolist()
    for _ in range(12):  # draft, verify, keep a random prefix, repeat: the decoding access pattern
        draft = rng.integers(64, size=int(rng.integers(0, 5))).tolist()
        got = lm.score_logits(context, draft)
        ref = full_logits(model, context + draft)[len(context) - 1 :]
        np.testing.assert_allclose(got, ref, atol=1e-4)
        keep = int(rng.integers(0, len(draft) + 1))
        context = context + draft[:keep] + [int(rng.integers(64))]
        np.testing.assert_allclose(lm.next_logits(context), full_logits(model, context)[-1], atol=1e-4)


def test_accepted_prefix_is_not_recomputed():
    lm = CausalLM(tiny_llama())
    ctx = list(range(10))
    lm.score_logits(ctx, [11, 12, 13])
    assert lm.forward_tokens == 13
    lm.score_logits([*ctx, 11, 40], [41, 42])  # 11 accepted, 12 rejected and replaced by 40
    assert lm.forward_tokens == 13 + 3
    lm.next_logits([*ctx, 11, 40, 41])  # already cached: no forward at all
    assert lm.forward_tokens == 16


def test_padded_output_rows_are_dropped():
    lm = CausalLM(tiny_llama(vocab=72), vocab_size=64)
    assert lm.next_logits([1, 2]).shape == (64,)
    with pytest.raises(ValueError, match="exceeds"):
        CausalLM(tiny_llama(vocab=60), vocab_size=64)


def word_tokenizer(words):
    vocab = {w: i for i, w in enumerate(words)}
    tok = Tokenizer(models.WordLevel(vocab, unk_token=words[0]))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    return PreTrainedTokenizerFast(tokenizer_object=tok, unk_token=words[0])


def test_shared_vocab_requires_identical_tokenizers():
    a = word_tokenizer(["<unk>", "the", "cat", "sat"])
    b = word_tokenizer(["<unk>", "the", "cat", "sat"])
    c = word_tokenizer(["<unk>", "the", "dog", "sat"])
    side = lambda tok, rows: Loaded(CausalLM(tiny_llama(vocab=rows)), HFTokenizer(tok))  # noqa: E731
    assert shared_vocab_size(side(a, 8), side(b, 4)) == 4
    with pytest.raises(VocabularyMismatchError, match="tokenizers differ"):
        shared_vocab_size(side(a, 4), side(c, 4))
    with pytest.raises(VocabularyMismatchError, match="smaller"):
        shared_vocab_size(side(a, 3), side(b, 4))


def test_backends_are_chosen_by_the_id_prefix():
    toy_edge, toy_cloud = load("toy:8:3", side="edge"), load("toy:8:3", side="cloud")
    assert toy_edge.model.vocab_size == len(toy_edge.tokenizer) == 8
    assert not (toy_edge.model.table == toy_cloud.model.table).all()  # the pair's SLM and LLM
    assert toy_edge.tokenizer.encode("0 3 1") == [0, 3, 1] and toy_edge.tokenizer.decode([2, 5]) == "2 5"
    with pytest.raises(ValueError, match=r"give token ids in \[0, 8\)"):
        toy_edge.tokenizer.encode("9")
    with pytest.raises(ValueError, match="side must be edge or cloud"):
        load("toy:8", side="server")
    with pytest.raises(ValueError, match="toy model id must be"):
        load("toy:eight")


def test_hub_model_offline_fails_fast_naming_the_default(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path))
    with pytest.raises(HubUnreachableError, match=r"embedded:qwen2\.5-coder-1\.5b-instruct"):
        load_model("EleutherAI/gpt-neo-125m")


def test_bad_model_options():
    with pytest.raises(ValueError, match="dtype"):
        load_model(EMBEDDED_LLM, dtype="float8")
    with pytest.raises(ValueError, match="unknown embedded model"):
        load_model("embedded:nope")


@pytest.mark.slow
def test_embedded_conversion_is_exact(monkeypatch, tmp_path):
    """The cached safetensors checkpoint gives the same logits as the GGUF it was converted from."""
    from transformers import AutoModelForCausalLM

    from sqs.models.backend import embedded_gguf_path, ensure_embedded_checkpoint

    monkeypatch.setenv("SQS_CACHE_DIR", str(tmp_path))
    path = ensure_embedded_checkpoint()
    assert path.parent == tmp_path and (path / "config.json").is_file()
    assert "quantization_config" not in (path / "config.json").read_text()  # a plain, re-savable checkpoint
    assert ensure_embedded_checkpoint() == path  # second call reuses it
    model, tok = load_model(EMBEDDED_LLM, device="cpu")
    assert len(tok) == 49152
    gguf = embedded_gguf_path()
    ref = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
    ids = tok("The council voted on Tuesday to").input_ids
    lm = CausalLM(model, vocab_size=len(tok))
    np.testing.assert_array_equal(lm.next_logits(ids), full_logits(ref, ids)[-1])

"""The paper's configuration run offline end to end, on structure: config/paper.yaml's settings with a tiny
randomly initialised GPT-Neo pair (the paper's architecture, one shared tokenizer) saved to local
directories and a small local parquet file with LM1B's schema (one `text` column), overridden only
where size demands (models, data files, prompt count, grid size, resources)."""

import csv
import json

import pytest
import yaml

from sqs.study.prompts import load_prompt_records, openers
from workflow_helpers import ROOT, run_config

PAPER = yaml.safe_load((ROOT / "config/paper.yaml").read_text())


def _tokenizer(tmp_path):
    """A byte-level BPE trained here on the committed openers: GPT-Neo's tokenizer family, offline."""
    from tokenizers import ByteLevelBPETokenizer
    from transformers import PreTrainedTokenizerFast

    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator(openers("news", "all") + openers("code", "all"), vocab_size=600,
                            special_tokens=["<|endoftext|>"])  # fmt: skip
    path = tmp_path / "tokenizer.json"
    bpe.save(str(path))
    return PreTrainedTokenizerFast(tokenizer_file=str(path), eos_token="<|endoftext|>", bos_token="<|endoftext|>")


def _gpt_neo(tok, out, layers, hidden, seed):
    import torch
    from transformers import GPTNeoConfig, GPTNeoForCausalLM

    torch.manual_seed(seed)
    cfg = GPTNeoConfig(
        vocab_size=len(tok),
        max_position_embeddings=256,
        hidden_size=hidden,
        num_layers=layers,
        attention_types=[[["global", "local"], layers // 2]],  # the paper models' alternating attention
        num_heads=4,
        window_size=32,
        bos_token_id=tok.bos_token_id,
        eos_token_id=tok.eos_token_id,
    )
    GPTNeoForCausalLM(cfg).save_pretrained(out)
    tok.save_pretrained(out)
    return str(out)


@pytest.fixture(scope="module")
def paper_inputs(tmp_path_factory):
    import pyarrow as pa
    import pyarrow.parquet as pq

    tmp = tmp_path_factory.mktemp("paper")
    tok = _tokenizer(tmp)
    slm = _gpt_neo(tok, tmp / "gpt-neo-tiny-slm", layers=2, hidden=32, seed=0)
    llm = _gpt_neo(tok, tmp / "gpt-neo-tiny-llm", layers=4, hidden=64, seed=1)
    shard = tmp / "lm1b" / "plain_text" / "test"
    shard.mkdir(parents=True)
    sentences = [f"{s} and officials said the plan would be reviewed next week ." for s in openers("news", "all")]
    pq.write_table(pa.table({"text": sentences[:20]}), shard / "0000.parquet")
    return tmp, slm, llm, str(shard / "*.parquet")


def test_lm1b_rows_load_from_local_parquet(paper_inputs):
    _, _, _, files = paper_inputs
    data = {**PAPER["data"], "dataset": "parquet", "data_files": files, "dataset_revision": None, "n_prompts": 3}
    recs = load_prompt_records(data)
    assert len(recs) == 3 and all(r["prompt"] and r["reference"] for r in recs)


def test_parquet_source_names_a_missing_file(tmp_path):
    data = {**PAPER["data"], "dataset": "parquet", "data_files": str(tmp_path / "none-*.parquet"), "n_prompts": 1}
    with pytest.raises(FileNotFoundError, match="none-"):
        load_prompt_records(data)


@pytest.mark.slow
def test_paper_config_runs_offline_end_to_end(paper_inputs, tmp_path):
    _, slm, llm, files = paper_inputs
    cfg = yaml.safe_load((ROOT / "config/paper.yaml").read_text())
    cfg["models"].update(slm=slm, llm=llm, device="cpu")
    cfg["data"].update(dataset="parquet", data_files=files, dataset_revision=None, n_prompts=2)
    cfg["cache"]["positions_per_prompt"] = 8
    cfg["decode"].update(max_new_tokens=4)  # no draft cap, as the paper: B alone (and the tokens wanted) sets L
    cfg["grid"].update(temperatures=[0.0], k_sqs={"K": [4]}, c_sqs={"beta0": [0.01], "eta": [0.001]})
    small = {"temperatures": [1.0], "K": [4], "beta0": [0.01], "eta": [0.001]}
    cfg["analysis"] = {"temperatures": [0.0, 1.0], "extra": [], "figures": {**small, "n_boot": 200},
                       "sweep": {**small, "top_p": [], "workers": 1}}  # fmt: skip
    cfg["resources"] = {"decode_threads": 1, "model_threads": 2, "gpu": 0, "mem_mb": 1000}
    work, out, _ = run_config(tmp_path, "paper", cfg, "--cores", "2")
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-4000:]
    with (work / "results/tables/summary.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert {r["scheme"] for r in rows} == {"ar", "qs", "k-sqs", "c-sqs"} and {r["regime"] for r in rows} == {"paper"}
    assert {float(r["temperature"]) for r in rows} == {0.0}
    assert all(int(r["n_tokens"]) == 2 * 4 for r in rows)
    models = json.loads((work / "results/models/models.json").read_text())
    assert 256 < models["vocab_size"] <= 600 and models["llm"] == llm
    prompts = [json.loads(line) for line in (work / "results/prompts/prompts.jsonl").read_text().splitlines()]
    assert len(prompts) == 2 and all(p["reference"] for p in prompts)  # LM1B sentences split prompt/reference
    greedy = {}  # at T = 0 every scheme emits the LLM's greedy continuation
    for path in (p for p in (work / "results/runs").rglob("records.jsonl") if "/temperature~0.0/" in str(p)):
        recs = [json.loads(line) for line in path.read_text().splitlines()]
        greedy[recs[0]["scheme"]] = [r["tokens"] for r in recs]
    assert set(greedy) == {"ar", "qs", "k-sqs", "c-sqs"}
    assert all(tokens == greedy["ar"] for tokens in greedy.values())

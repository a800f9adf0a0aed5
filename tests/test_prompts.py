"""Prompt sources of the workflow: the committed openers, a text file, and the offline dataset error."""

import json

import pytest

from sqs.study.prompts import load_prompt_records, news_openers, split_sentence, write_prompt_records


def test_openers_are_64_eval_and_64_train_and_disjoint():
    ev, tr = news_openers("eval"), news_openers("train")
    assert len(ev) == len(tr) == 64
    assert not set(ev) & set(tr)


def test_split_sentence_keeps_every_word():
    prompt, ref = split_sentence("one two three four five six seven eight", 0.5)
    assert prompt == "one two three four" and ref == "five six seven eight"
    assert split_sentence("a b c", 0.1) == ("a b", "c")  # at least two prompt words, one reference word


def test_text_file_source(tmp_path):
    f = tmp_path / "s.txt"
    f.write_text("too short\nThe market rallied on Monday after the central bank said it would hold rates.\n")
    recs = load_prompt_records({"source": "text_file", "text_file": str(f), "n_prompts": 1, "min_words": 6})
    assert recs[0]["prompt"].startswith("The market") and recs[0]["reference"].endswith("rates.")
    with pytest.raises(ValueError, match=r"data\.n_prompts=2"):
        load_prompt_records({"source": "text_file", "text_file": str(f), "n_prompts": 2})
    with pytest.raises(FileNotFoundError, match=r"data\.text_file"):
        load_prompt_records({"source": "text_file", "text_file": str(tmp_path / "nope.txt"), "n_prompts": 1})


def test_openers_source_writes_jsonl(tmp_path):
    out = tmp_path / "p.jsonl"
    assert write_prompt_records({"source": "openers", "split": "eval", "n_prompts": 3}, out) == 3
    rows = [json.loads(x) for x in out.read_text().splitlines()]
    assert [r["prompt"] for r in rows] == news_openers("eval")[:3] and all(r["reference"] == "" for r in rows)


def test_unreachable_dataset_fails_fast_naming_the_offline_options():
    with pytest.raises(RuntimeError, match=r"data\.source: text_file"):
        load_prompt_records({"source": "datasets", "dataset": "no-such-org/no-such-dataset-sqs", "n_prompts": 1})


def test_code_openers_are_a_split_set_of_single_lines():
    from sqs.study.prompts import openers

    every = openers("code", "all")
    assert len(every) >= 64 and len(set(every)) == len(every)
    ev, tr = openers("code", "eval"), openers("code", "train")
    assert ev + tr == every and not set(ev) & set(tr) and abs(len(ev) - len(tr)) <= 1
    assert all("\n" not in line and "\\n" not in line for line in every)
    recs = load_prompt_records({"source": "openers", "openers": "code", "split": "eval", "n_prompts": 4})
    assert [r["prompt"] for r in recs] == ev[:4]
    with pytest.raises(ValueError, match="news, code"):
        openers("poetry")

"""The trace sweep: exact agreement with the live compress path, and a hand-computed toy trace."""

import numpy as np
import pandas as pd
import pytest

from sqs.protocol.lattice import quantize
from sqs.protocol.probs import softmax_temperature, tv_distance
from sqs.protocol.schemes import make_scheme
from sqs.system.compute import per_call
from sqs.system.latency import LinkConfig
from sqs.trace.sequence import expected_tallies
from sqs.trace.sweep import (
    SweepCell,
    _quantize_rows,
    paper_grid,
    position_stats,
    sweep,
)


def test_row_quantizer_is_algorithm_2_bit_for_bit():
    rng = np.random.default_rng(0)
    x = rng.dirichlet(np.full(12, 0.4), size=300)
    x[:50, :6] = 1.0 / 12  # ties in the rounding error
    for ell in (1, 3, 10, 100):
        got = _quantize_rows(x, ell)
        want = np.stack([quantize(row, ell) for row in x])
        assert (got == want).all()


@pytest.mark.parametrize("temperature", [0.5, 1.0])
def test_per_position_rejection_equals_the_live_compress_path(temperature):
    rng = np.random.default_rng(1)
    v, n = 300, 40
    slm = rng.normal(scale=2.5, size=(n, v))
    llm = slm + rng.normal(scale=1.0, size=(n, v))
    cells = [
        SweepCell("qs", temperature, ell=50),
        SweepCell("k-sqs", temperature, K=8, ell=50),
        SweepCell("c-sqs", temperature, beta0=0.01, eta=0.5, alpha=0.05, ell=50),
        SweepCell("top-p", temperature, top_p=0.9, ell=50),
        SweepCell("min-p", temperature, min_p=0.05, ell=50),
    ]
    stats = position_stats(slm, llm, cells, chunk=7)
    schemes = [
        make_scheme("qs", ell=50),
        make_scheme("k-sqs", k=8, ell=50),
        make_scheme("c-sqs", beta=0.01, eta=0.5, alpha=0.05, ell=50),
        make_scheme("top-p", top_p=0.9, ell=50),
        make_scheme("min-p", min_p=0.05, ell=50),
    ]
    for cell, scheme in zip(cells, schemes, strict=True):
        for i in range(n):  # C-SQS: compress() applies update (8) after every position, as the trace does
            q = softmax_temperature(slm[i], temperature)
            p = softmax_temperature(llm[i], temperature)
            c = scheme.compress(q)
            assert stats[cell]["r"][i] == pytest.approx(float(tv_distance(c.q_hat, p)), abs=1e-12)
            assert stats[cell]["bits"][i] == c.bits
            assert stats[cell]["k"][i] == c.k
            assert stats[cell]["dropped"][i] == pytest.approx(c.dropped_mass, abs=1e-12)


@pytest.mark.parametrize("temperature", [0.0, 0.5, 1.0])
def test_the_schemes_without_a_lattice_price_and_reject_as_live(temperature):
    """float32 q: r = TV(q̂, p) of the rebuilt float32 q̂; token ids alone: r = 1 - sum q p, checked against the
    live sampler and verify_match (a draft kept when the cloud's own draw agrees), bits and K as the records'."""
    from sqs.protocol.verify import verify_match

    rng = np.random.default_rng(3)
    v, n = 40, 12
    slm = rng.normal(scale=2.0, size=(n, v))
    llm = slm + rng.normal(scale=1.0, size=(n, v))
    slm[0, :2] = llm[0, :2] = slm[0].max() + 1.0  # a tied maximum (T = 0: one-hot on the first)
    cells = [SweepCell("sd", temperature), SweepCell("tokens", temperature)]
    stats = position_stats(slm, llm, cells, chunk=5)
    sd, tok = make_scheme("sd"), make_scheme("tokens")
    for i in range(n):
        q = softmax_temperature(slm[i], temperature)
        p = softmax_temperature(llm[i], temperature)
        c = sd.compress(q)
        assert stats[cells[0]]["r"][i] == pytest.approx(float(tv_distance(c.q_hat, p)), abs=1e-12)
        assert (stats[cells[0]]["bits"][i], stats[cells[0]]["k"][i]) == (c.bits, c.k)
        c = tok.compress(q)
        assert (stats[cells[1]]["bits"][i], stats[cells[1]]["k"][i]) == (c.bits, c.k)
        if i < 3:  # the live sampler and cloud: kept drafts in 4,000 rounds within 5 binomial sd of 1 - r
            draws = 4000
            kept = sum(verify_match([c.sample(rng)], np.stack([p, p]), rng)[0] for _ in range(draws))
            keep = 1.0 - stats[cells[1]]["r"][i]
            assert abs(kept / draws - keep) <= 5 * np.sqrt(keep * (1 - keep) / draws) + 1e-12
    assert stats[cells[1]]["bits"][0] == 6  # ceil(log2 40)


@pytest.mark.parametrize("temperature", [0.0, 0.7, 1.5])
def test_windowed_quantizer_agrees_with_the_live_path_on_broad_supports(temperature):
    """Supports far wider than the ~3 ell window, tied logits, T = 0 one-hots on tied maxima."""
    rng = np.random.default_rng(2)
    v, n, ell = 2000, 24, 10
    slm = rng.normal(scale=1.0, size=(n, v)).astype(np.float32)
    llm = (slm + rng.normal(scale=0.5, size=(n, v))).astype(np.float32)
    slm[:4, :50] = slm[:4].max()  # tied maxima and a tied top block
    slm[4:8, 100:400] = 0.0  # a tied plateau inside wide supports
    cells = [
        SweepCell("qs", temperature, ell=ell),
        SweepCell("k-sqs", temperature, K=700, ell=ell),
        SweepCell("k-sqs", temperature, K=30, ell=ell),
        SweepCell("c-sqs", temperature, beta0=1e-5, eta=0.01, alpha=0.05, ell=ell),
        SweepCell("c-sqs", temperature, beta0=0.9, eta=0.0, alpha=0.05, ell=ell),
        SweepCell("top-p", temperature, top_p=0.95, ell=ell),
        SweepCell("top-p", temperature, top_p=0.3, ell=ell),
        SweepCell("min-p", temperature, min_p=0.5, ell=ell),
        SweepCell("min-p", temperature, min_p=0.01, ell=ell),
    ]
    stats = position_stats(slm, llm, cells, chunk=5)
    schemes = [
        make_scheme("qs", ell=ell),
        make_scheme("k-sqs", k=700, ell=ell),
        make_scheme("k-sqs", k=30, ell=ell),
        make_scheme("c-sqs", beta=1e-5, eta=0.01, alpha=0.05, ell=ell),
        make_scheme("c-sqs", beta=0.9, eta=0.0, alpha=0.05, ell=ell),
        make_scheme("top-p", top_p=0.95, ell=ell),
        make_scheme("top-p", top_p=0.3, ell=ell),
        make_scheme("min-p", min_p=0.5, ell=ell),
        make_scheme("min-p", min_p=0.01, ell=ell),
    ]
    for cell, scheme in zip(cells, schemes, strict=True):
        for i in range(n):
            q = softmax_temperature(slm[i], temperature)
            p = softmax_temperature(llm[i], temperature)
            c = scheme.compress(q)
            assert stats[cell]["r"][i] == pytest.approx(float(tv_distance(c.q_hat, p)), abs=1e-12), (cell, i)
            assert (stats[cell]["bits"][i], stats[cell]["k"][i]) == (c.bits, c.k), (cell, i)
            assert stats[cell]["dropped"][i] == pytest.approx(c.dropped_mass, abs=1e-12)


def test_parallel_sweep_equals_serial():
    rng = np.random.default_rng(3)
    slm = rng.normal(scale=2.0, size=(40, 500))
    llm = slm + rng.normal(size=slm.shape)
    cells = paper_grid(temperatures=(0.0, 0.5, 1.0), ks=(1, 8), betas=(1e-3, 1e-1), etas=(0.0, 0.01))
    prof = per_call(0.01, 0.02, 0.001)
    serial = sweep(slm, llm, [(0, 20), (20, 40)], cells, prof, workers=1, n_boot=200)
    parallel = sweep(slm, llm, [(0, 20), (20, 40)], cells, prof, workers=2, n_boot=200)
    assert len(serial) == len(cells) == 3 * (4 + 2 + 4)  # qs, sd, tokens, split once; K-SQS x 2; C-SQS x 4
    # each cell's bootstrap draws are its own, whichever process computes it (NaN: no wall clock in a trace)
    assert pd.DataFrame(serial).equals(pd.DataFrame(parallel))
    assert [(r["scheme"], r["temperature"]) for r in serial] == [(c.scheme, c.temperature) for c in cells]
    for r in serial:  # every sequence generates exactly its segment's tokens; the intervals hold the point
        assert r["n_tokens"] == 40 and r["mean_accept_len"] == pytest.approx(40 / r["n_batches"])
        for m in ("tokens_per_s", "latency_s", "resampling_rate"):
            assert r[f"{m}_ci_low"] <= r[m] + 1e-12 and r[m] <= r[f"{m}_ci_high"] + 1e-12


TOY = {
    "r": np.array([0.5, 0.0, 1.0, 0.2]),
    "bits": np.array([40.0, 40.0, 40.0, 40.0]),
    "charge": np.array([40.0, 40.0, 40.0, 40.0]),
    "dropped": np.zeros(4),
    "k": np.full(4, 4.0),
    "tv_qp": np.array([0.4, 0.1, 0.9, 0.2]),
}


def test_a_sequence_decoded_in_expectation_on_a_hand_computed_trace():
    """Four positions, budget 100 with 40 bits a draft (two fit), cap 3, and the tokens still wanted."""
    cell = SweepCell("k-sqs", 1.0, K=4, budget_bits=100, max_draft_len=3, link=LinkConfig(
        uplink_bps=8e3, downlink_bps=8e6, propagation_s=0.01))  # fmt: skip
    prof = per_call(edge_s_per_draft=0.1, cloud_s_per_batch=0.05, cloud_s_per_token=0.0)
    (t,) = expected_tallies(TOY, [(0, 4)], cell, prof, cell.link, vocab_size=1000, contexts=[10])
    # from 0: two drafts (r = 0.5, 0.0): none accepted w.p. 0.5 (next at 1), both w.p. 0.5 (next at 3);
    # from 1: two drafts (r = 0.0, 1.0): exactly one accepted (next at 3); from 3: one token wanted, no draft
    assert (t.batches, t.drafts, t.accepted, t.resampled) == pytest.approx((2.5, 3.0, 1.5, 1.0))
    assert t.tokens == 4 and t.batches + t.accepted == pytest.approx(4)  # no overshoot past the sequence
    assert t.reached == pytest.approx([1.5, 1.0]) and t.accepted_at == pytest.approx([1.0, 0.5])
    up = 8 * (18 + 10) / 8e3  # header + 80 payload bits, whole bytes
    assert t.edge_s == pytest.approx(1.0 * 0.2 + 0.5 * 0.2)
    assert t.uplink_s == pytest.approx(1.5 * up + 1.0 * 8 * 18 / 8e3)  # the last batch sends a bare header
    assert t.latency_s == pytest.approx(t.edge_s + t.uplink_s + 2.5 * (0.01 + 0.05 + 8 * 10 / 8e6))
    # Theorem 1 and the exact expectation over the drafted positions, weighted by how often a batch starts there
    assert t.expected_rejections == pytest.approx(1.0 * (0.5 + 0.0) + 0.5 * (0.0 + 1.0))
    assert t.bound_theorem1 == pytest.approx(1.0 * (0.5 + 0.02) + 0.5 * (1.0 + 0.02))


def test_without_a_cap_the_budget_alone_sets_the_draft_length_and_a_wasted_step_is_charged():
    """K-SQS K = 4 at V = 1000: its cheapest draft costs 54 bits (a 4-subset, the lattice index, one count)."""
    link = LinkConfig(propagation_s=0.0)
    cell = SweepCell("k-sqs", 1.0, K=4, budget_bits=200, max_draft_len=None, link=link)
    prof = per_call(edge_s_per_draft=0.1, cloud_s_per_batch=0.0)
    stats = {**TOY, "r": np.zeros(4), "charge": np.array([60.0, 60.0, 90.0, 60.0])}
    (t,) = expected_tallies(stats, [(0, 4)], cell, prof, link, vocab_size=1000, contexts=[10])
    # from 0: 60 + 60 fit, 60 + 60 + 90 > 200: two drafts, both accepted, then one token wanted and no draft
    assert (t.batches, t.drafts) == pytest.approx((2.0, 2.0))
    # 80 bits were left, room for the cheapest draft: the edge computed a third one, which did not fit
    assert t.edge_s == pytest.approx(0.3)
    tight = SweepCell("k-sqs", 1.0, K=4, budget_bits=130, max_draft_len=None, link=link)
    stats["charge"] = np.array([60.0, 60.0, 60.0, 60.0])  # 10 bits left after two: no step is spent on a third
    (t,) = expected_tallies(stats, [(0, 4)], tight, prof, link, vocab_size=1000, contexts=[10])
    assert (t.drafts, t.edge_s) == pytest.approx((2.0, 0.2))


def test_sweep_cli_writes_one_row_per_cell(tmp_path):
    import csv
    import json

    from sqs.cli import main

    rng = np.random.default_rng(3)
    slm = rng.normal(scale=2.0, size=(24, 200)).astype(np.float32)
    np.save(tmp_path / "slm_logits.npy", slm)
    np.save(tmp_path / "llm_logits.npy", slm + rng.normal(size=slm.shape).astype(np.float32))
    (tmp_path / "index.json").write_text(json.dumps([{"row": 0, "tokens": [0] * 12}, {"row": 12, "tokens": [0] * 12}]))
    (tmp_path / "meta.json").write_text(json.dumps({"slm": "a", "llm": "b"}))
    out = tmp_path / "sweep.csv"
    args = ["sweep", "--cache", str(tmp_path), "--temperatures", "0.5", "1.0", "--k", "2", "8", "--beta", "0.01",
            "--eta", "0", "0.01", "--top-p", "0.9", "--branch", "2", "--budget-bits", "400", "--max-draft-len", "4",
            "--out", str(out)]  # fmt: skip
    assert main(args) == 0
    rows = list(csv.DictReader(out.open()))
    assert len(rows) == 2 * (5 + 2 + 2 + 1)  # qs, sd, tokens, split, tree; K-SQS x 2; C-SQS x 2; top-p
    assert sum(r["scheme"] == "top-p" for r in rows) == 2
    assert all(0.0 <= float(r["resampling_rate"]) <= 1.0 for r in rows)
    assert all(1.0 <= float(r["mean_accept_len"]) <= 5.0 for r in rows)
    assert all(float(r["tokens_per_s_ci_low"]) <= float(r["tokens_per_s"]) <= float(r["tokens_per_s_ci_high"])
               for r in rows)  # fmt: skip
    assert {r["verify"] for r in rows} == {"token"}
    block = tmp_path / "block.csv"  # the cloud verifying blocks: q̂ cells only; ids, trees and split keep theirs
    assert main([*args[:-1], str(block), "--verify", "block"]) == 0
    by = {(r["scheme"], r["temperature"], r["setting"]): r for r in csv.DictReader(block.open())}
    for r in rows:
        other = by[(r["scheme"], r["temperature"], r["setting"])]
        sends_q_hat = r["scheme"] not in ("tokens", "split", "tree")
        assert other["verify"] == ("block" if sends_q_hat else "token")
        if sends_q_hat:  # never fewer kept drafts a round (Sun et al.); C-SQS's moving threshold may draw others
            moving = r["scheme"] == "c-sqs" and float(r["eta"]) > 0
            assert float(other["mean_accept_len"]) >= float(r["mean_accept_len"]) - 1e-6 or moving
        else:
            assert other["mean_accept_len"] == r["mean_accept_len"]


def test_a_threshold_that_commits_no_update_stays_where_it_started():
    """C-SQS commits update (8) only for accepted drafts: a zero weight at every row freezes beta (eta acts as 0)."""
    rng = np.random.default_rng(5)
    slm = rng.normal(scale=2.0, size=(30, 200))
    llm = slm + rng.normal(size=slm.shape)
    moving = SweepCell("c-sqs", 1.0, beta0=0.01, eta=0.5, alpha=0.05, ell=20)
    still = SweepCell("c-sqs", 1.0, beta0=0.01, eta=0.0, alpha=0.05, ell=20)
    free = position_stats(slm, llm, [moving, still])
    frozen = position_stats(slm, llm, [moving], weights={moving: np.zeros(30)})
    assert (frozen[moving]["k"] == free[still]["k"]).all() and not (free[moving]["k"] == free[still]["k"]).all()
    half = position_stats(slm, llm, [moving], weights={moving: np.full(30, 0.5)})
    slow = position_stats(slm, llm, [SweepCell("c-sqs", 1.0, beta0=0.01, eta=0.25, alpha=0.05, ell=20)])
    assert (half[moving]["k"] == next(iter(slow.values()))["k"]).all()  # weight 1/2 is half the learning rate


def test_a_threshold_restarted_per_prompt_equals_a_fresh_live_scheme_per_prompt():
    """scheme_state 'prompt': the trace restarts beta at each segment's first row, as a new live C-SQS does;
    'cell' carries it over (the two differ after the first segment)."""
    rng = np.random.default_rng(8)
    slm = rng.normal(scale=2.5, size=(36, 150))
    llm = slm + rng.normal(size=slm.shape)
    segments = [(0, 10), (10, 23), (23, 36)]
    per_prompt = SweepCell("c-sqs", 1.0, beta0=0.01, eta=0.5, alpha=0.05, ell=30, scheme_state="prompt")
    carried = SweepCell("c-sqs", 1.0, beta0=0.01, eta=0.5, alpha=0.05, ell=30, scheme_state="cell")
    for chunk in (7, 64):  # a prompt start inside a chunk and at its first row
        stats = position_stats(slm, llm, [per_prompt, carried], chunk=chunk, segments=segments)
        live_k = []
        for lo, hi in segments:
            scheme = make_scheme("c-sqs", beta=0.01, eta=0.5, alpha=0.05, ell=30)
            live_k += [scheme.compress(softmax_temperature(slm[i], 1.0)).k for i in range(lo, hi)]
        assert stats[per_prompt]["k"].tolist() == live_k
        assert stats[carried]["k"][:10].tolist() == live_k[:10] and stats[carried]["k"].tolist() != live_k

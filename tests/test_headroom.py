"""The draft-length headroom analysis on synthetic traces whose predictability is known."""

import numpy as np
import pytest

from sqs import wire
from sqs.system.compute import per_call
from sqs.system.latency import LinkConfig
from sqs.trace.headroom import policy_headroom
from sqs.trace.sweep import SweepCell, position_stats

V = 64
PROFILE = per_call(edge_s_per_draft=0.03, cloud_s_per_batch=0.08, cloud_s_per_token=0.004)
LINK = LinkConfig()


def trace(easy: np.ndarray, seed: int = 0):
    """SLM = LLM (plus a little noise) where ``easy``, independent logits elsewhere."""
    rng = np.random.default_rng(seed)
    llm = rng.normal(0, 3, (easy.size, V))
    slm = np.where(easy[:, None], llm + rng.normal(0, 0.05, llm.shape), rng.normal(0, 3, llm.shape))
    return slm, llm


def rows_by_rule(slm, llm, segments, t=1.0):
    rows = policy_headroom(slm, llm, segments, [t], PROFILE, LINK, ell=50, budget_bits=5000, max_len=3)
    return {r["rule"]: r for r in rows}


def test_invariants_and_static_rate_by_hand():
    easy = np.random.default_rng(1).random(40) < 0.5
    slm, llm = trace(easy)
    segments = [(0, 20), (20, 40)]
    got = rows_by_rule(slm, llm, segments)
    statics = [r for name, r in got.items() if name.startswith("static")]
    assert max(r["gain_vs_best_static"] for r in statics) == pytest.approx(0.0)
    assert all(r["gain_vs_best_static"] <= got["oracle_any_L"]["gain_vs_best_static"] + 1e-12 for r in got.values())
    assert all(0.0 <= r["drafting_share"] <= 1.0 for r in got.values())
    # never continuing is one of the gated rule's choices: it is at least static L = 1
    assert got["confidence_gated"]["tokens_per_s"] >= got["static L=1"]["tokens_per_s"] - 1e-12
    # static L = 1 by hand: one draft from every start that has a previous position and 3 more after it
    cell = SweepCell("qs", 1.0, ell=50, budget_bits=5000, max_draft_len=3, link=LINK)
    stats = position_stats(slm, llm, [cell])[cell]
    starts = np.r_[1:18, 21:38]
    up = 8 * (np.ceil(stats["bits"][starts] / 8) + wire.UPLINK_HEADER_BYTES) / LINK.uplink_bps
    t1 = 0.03 + up + LINK.propagation_s + 0.08 + 2 * 0.004 + 8 * wire.DOWNLINK_BYTES / LINK.downlink_bps
    rate = (2.0 - stats["r"][starts]).sum() / t1.sum()
    assert got["static L=1"]["tokens_per_s"] == pytest.approx(rate, rel=1e-12)


def test_predictable_runs_are_found_and_iid_ones_are_not():
    n = 120
    runs = (np.arange(n) // 10) % 2 == 0  # easy and hard positions in runs of ten
    iid = np.random.default_rng(5).permutation(runs)
    segments = [(0, n)]
    r_runs = rows_by_rule(*trace(runs), segments)
    r_iid = rows_by_rule(*trace(iid), segments)
    # with runs, the previous position's acceptance recovers most of the one-draft oracle's gain
    assert r_runs["oracle"]["gain_vs_best_static"] > 0.05
    assert r_runs["previous_accept"]["gain_vs_best_static"] > 0.6 * r_runs["oracle"]["gain_vs_best_static"]
    # shuffled, the same positions carry no signal about the next one
    assert r_iid["oracle"]["gain_vs_best_static"] > 0.05
    assert r_iid["previous_accept"]["gain_vs_best_static"] < 0.4 * r_iid["oracle"]["gain_vs_best_static"]

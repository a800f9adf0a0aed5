"""Token trees (SpecExec): the edge's best-first tree, its wire layout, the cloud's walk and its tree forward."""

import heapq
import math
import struct
import zlib

import numpy as np
import pytest
from tests.conftest import LAW_ALPHA

import sqs
from sqs.lossless.harness import check_scheme
from sqs.models.interface import tree_logits
from sqs.models.toy import MarkovLM, random_pair
from sqs.protocol import wire
from sqs.protocol.enumerative import bits_for
from sqs.protocol.probs import softmax_temperature
from sqs.protocol.verify import tree_path, verify_tree
from sqs.system.cloud import Cloud
from sqs.system.edge import Edge
from sqs.system.session import run_session


def _best_paths(slm: MarkovLM, start: int, branch: int, cap: int, temperature: float) -> set[tuple[int, ...]]:
    """Brute force: every path of the draft's top-``branch`` children up to depth ``cap``, the ``cap`` most probable
    (the best-first tree must hold exactly these: a path is never more probable than its prefix)."""
    q = softmax_temperature(slm.table, temperature)
    tree = sqs.make_scheme("tree", branch=branch)
    out, frontier = [], [((), start, 0.0)]
    while frontier:
        path, last, logp = frontier.pop()
        if len(path) == cap:
            continue
        for x, qx in tree.children(q[last]):
            out.append((logp + math.log(qx), (*path, x)))
            frontier.append(((*path, x), x, logp + math.log(qx)))
    return {p for _, p in heapq.nlargest(cap, out)}


@pytest.mark.parametrize("branch,cap", [(1, 4), (2, 5), (3, 6)])
def test_the_edges_tree_holds_the_most_probable_paths_and_prices_each_node(branch, cap):
    slm, _ = random_pair(12, np.random.default_rng(branch), 0.3)
    edge = Edge(slm, sqs.make_scheme("tree", branch=branch), 1.5, 10**6, cap, np.random.default_rng(0))
    edge.start([0])
    batch = edge.draft(wanted=cap + 1)
    paths = []
    for i, up in enumerate(batch.parents):
        assert -1 <= up < i
        paths.append((*(paths[up] if up >= 0 else ()), batch.tokens[i]))
    assert set(paths) == _best_paths(slm, 0, branch, cap, 1.5) and len(paths) == cap
    assert branch == 1 or any(batch.parents.count(u) > 1 for u in set(batch.parents))  # it branches
    assert [c.bits for c in batch.compressed] == [bits_for(12) + bits_for(i + 1) for i in range(cap)]
    assert len(batch.forwards) <= cap  # an SLM call only for a node whose children were wanted
    msg = wire.decode_uplink(batch.message)
    assert msg.parents.tolist() == batch.parents and msg.tokens.tolist() == batch.tokens
    assert msg.payload_bits == sum(c.bits for c in batch.compressed)


def test_the_walk_emits_the_clouds_own_draws():
    """verify_tree's next token after the root follows p whatever the tree; the accepted node is the child
    drawn. 20,000 walks of a one-level tree against p at 5 binomial sd, and the path's law over two levels."""
    rng = np.random.default_rng(1)
    p = np.array([[0.5, 0.3, 0.2], [0.1, 0.1, 0.8], [0.6, 0.2, 0.2], [1 / 3, 1 / 3, 1 / 3]])
    tokens, parents = [0, 1, 2], [-1, -1, 0]  # root -> 0 (-> 2), root -> 1
    counts = np.zeros((3, 4))  # (first emitted token, outcome)
    for _ in range(20_000):
        path, y = verify_tree(tokens, parents, p, rng)
        walked = [tokens[i] for i in path] + [y]
        counts[walked[0], min(len(path), 3)] += 1
    first = counts.sum(axis=1) / 20_000
    assert np.all(np.abs(first - p[0]) <= 5 * np.sqrt(p[0] * (1 - p[0]) / 20_000))
    # the root's child 0 is accepted w.p. 0.5, then its child 2 w.p. 0.8 (p after node 0, row 1)
    assert abs(counts[0, 2] / 20_000 - 0.5 * 0.8) <= 5 * np.sqrt(0.4 * 0.6 / 20_000)
    assert counts[2].sum() == counts[2, 0]  # 2 is no child of the root: emitted, nothing accepted
    with pytest.raises(ValueError, match=r"^node 1's parent 1 is not the root \(-1\) or an earlier node$"):
        verify_tree([0, 1], [-1, 1], p[:3], rng)


def test_a_forged_tree_is_refused_before_work():
    tree = sqs.make_scheme("tree")
    q = np.full(10, 0.1)
    good = wire.encode_uplink(tree.code, 10, 0, 0, [(tree.node(q, i), i) for i in range(3)], parents=[-1, 0, 0])
    assert wire.decode_uplink(good).parents.tolist() == [-1, 0, 0]
    w = wire.BitWriter()
    for field, bits in ((0, 0), (1, 1), (3, 2)):  # node 2's 2-bit parent field holds 1 + 2: node 2 itself
        w.write(field, bits)
        w.write(1, 4)
    payload = w.to_bytes()
    head = wire._UP_HEAD.pack(0xC5, 0x18, 10, 0, 0, 3)
    forged = head + struct.pack(">I", zlib.crc32(payload, zlib.crc32(head))) + payload
    with pytest.raises(wire.WireFormatError, match=r"^node 2's parent 2 is not the root or an earlier node$"):
        wire.decode_uplink(forged)
    with pytest.raises(ValueError, match=r"^parents \(2\) go up only with a tree, one a node \(3 drafts\)$"):
        wire.encode_uplink(tree.code, 10, 0, 0, [(tree.node(q, i), i) for i in range(3)], parents=[-1, 0])
    with pytest.raises(ValueError, match=r"^node 2's parent 2 is not the root \(-1\) or an earlier node$"):
        wire.encode_uplink(tree.code, 10, 0, 0, [(tree.node(q, i), i) for i in range(3)], parents=[-1, 0, 2])


def test_a_tree_session_agrees_on_the_text_and_greedy_equals_ar():
    slm, llm = random_pair(16, np.random.default_rng(3), 0.4)
    ar = [int(np.argmax(llm.table[0]))]
    for _ in range(11):
        ar.append(int(np.argmax(llm.table[ar[-1]])))
    for temperature in (0.0, 1.2):
        edge = Edge(slm, sqs.make_scheme("tree", branch=3), temperature, 5000, 5, np.random.default_rng(0))
        cloud = Cloud(llm, temperature, np.random.default_rng(1))
        res = run_session(edge, cloud, [0], 12)
        assert edge.tokens == cloud.tokens and len(res.tokens) == 12
        assert all(b.downlink_bytes == wire.DOWNLINK_BYTES for b in res.batches)
        if temperature == 0.0:
            assert res.tokens == ar and sum(b.num_accepted for b in res.batches) > 0
    with pytest.raises(ValueError, match=r"nor a tree\); got"):
        run_session(Edge(slm, sqs.make_scheme("tree"), 1.0, 5000, 3, np.random.default_rng(0)), cloud, [0], 4,
                    preemptive=True)  # fmt: skip


@pytest.mark.slow
def test_token_trees_pass_the_lossless_check_where_they_branch():
    """Edge and Cloud exchanging bytes, trees of up to 3 nodes with 3 children offered a node (T = 2 and a loose
    pair, so that the trees branch): the joint law of the first three tokens is the LLM's."""
    res = check_scheme(sqs.make_scheme("tree", branch=3), sessions=6_000, seed=4, temperature=2.0, closeness=0.2,
                       alpha=LAW_ALPHA)  # fmt: skip
    assert res.tested and res.gof.impossible == 0 and res.fault_power == {}
    assert res.gof.pvalue > LAW_ALPHA, res.row()
    assert res.accepted > 0 and res.resampled > 0


def test_tree_logits_without_a_tree_forward_read_each_leafs_path():
    """A model without score_tree (the toy): every node's row is the model's logits after its own path."""
    _, llm = random_pair(9, np.random.default_rng(0), 0.5)
    rows = tree_logits(llm, [4, 2], [1, 3, 5], [-1, 0, -1])
    np.testing.assert_array_equal(rows, llm.table[[2, 1, 3, 5]])


@pytest.mark.slow
def test_the_tree_forward_equals_each_paths_own_forward():
    """CausalLM.score_tree (one forward, a 4D mask, positions by depth) against score_logits along each leaf's
    path on the real embedded SmolLM2-135M in float32, to 1e-4 (two kernels' summation orders); the cache
    keeps the context only, and a second tree after a longer context reuses it."""
    from sqs.models.backend import EMBEDDED_LLM
    from sqs.models.interface import load

    lm = load(EMBEDDED_LLM, "float32", "cpu", side="cloud").model
    ref = load(EMBEDDED_LLM, "float32", "cpu", side="cloud").model.session()
    context = lm_tokens = [1, 504, 3365, 2724, 314, 253]
    tokens, parents = [30, 1123, 47, 9, 2056], [-1, 0, 0, -1, 3]
    for ctx in (context, [*lm_tokens, 30, 47, 12]):
        got = lm.score_tree(ctx, tokens, parents)
        assert lm._ids == list(ctx)  # the tree left the cache
        for leaf in (1, 2, 4):
            path = tree_path(parents, leaf)
            want = ref.score_logits(ctx, [tokens[i] for i in path])
            np.testing.assert_allclose(got[[0, *[i + 1 for i in path]]], want, atol=1e-4, rtol=0)
    assert lm.last_forward == (3 + len(tokens), len(context))  # the context's new tokens and the tree, one call


@pytest.mark.parametrize("branch", [1, 3])
def test_the_trace_model_of_a_tree_is_the_live_tree_where_contexts_do_not_matter(branch):
    """With q and p the same after every context (the trace model's assumption holds exactly) the expected
    rounds and accepted nodes of a prompt equal the live sessions' means, to 5 standard errors over 400."""
    from sqs.system.compute import per_call
    from sqs.trace.sweep import SweepCell, cell_predictions

    rng = np.random.default_rng(0)
    v, n = 30, 12
    row_q = rng.normal(scale=1.5, size=v)
    row_p = row_q + rng.normal(scale=1.0, size=v)
    cell = SweepCell("tree", 1.0, branch=branch, max_draft_len=4)
    segments = [(0, n)]
    ((_, tallies),) = cell_predictions(np.tile(row_q, (n, 1)), np.tile(row_p, (n, 1)), [cell],
                                       per_call(0.01, 0.02, 0.001), segments).values()  # fmt: skip
    slm, llm = MarkovLM(np.tile(row_q, (v, 1))), MarkovLM(np.tile(row_p, (v, 1)))
    rounds, accepted = [], []
    for k in range(400):
        edge = Edge(slm, sqs.make_scheme("tree", branch=branch), 1.0, 5000, 4, np.random.default_rng([k, 1]))
        res = run_session(edge, Cloud(llm, 1.0, np.random.default_rng([k, 2])), [0], n)
        rounds.append(len(res.batches))
        accepted.append(sum(b.num_accepted for b in res.batches))
    for live, want in ((rounds, tallies[0].batches), (accepted, tallies[0].accepted)):
        assert abs(np.mean(live) - want) <= 5 * np.std(live) / np.sqrt(len(live)) + 1e-9
    assert tallies[0].drafts > tallies[0].accepted > 0


def test_the_walk_refuses_a_malformed_tree_by_name():
    p = np.full((3, 4), 0.25)
    rng = np.random.default_rng(0)
    for tokens, parents, rows, shape in (([0, 1], [-1, 0], p[:2], r"\(2, 4\), 2"), ([0, 1], [-1], p, r"\(3, 4\), 1"),
                                         ([0, 1], [-1, 0], p[0], r"\(4,\), 2")):  # fmt: skip
        with pytest.raises(ValueError, match=rf"^need p \(n\+1, V\) and n parents for n=2 nodes, got {shape}$"):
            verify_tree(tokens, parents, rows, rng)
    with pytest.raises(ValueError, match=r"^node 1's parent -2 is not the root \(-1\) or an earlier node$"):
        verify_tree([0, 1], [-1, -2], p, rng)


@pytest.mark.parametrize("temperature", [0.0, 1.0])
def test_the_trace_reads_each_rows_children_as_the_edge_names_them(temperature):
    """position_stats of a tree cell: each row's ``branch`` most probable draft tokens' q and p (0 where q is 0, as
    at T = 0, where the edge offers no such child), and r = 1 - their summed p."""
    from sqs.trace.sweep import SweepCell, position_stats

    rng = np.random.default_rng(4)
    slm, llm = rng.normal(scale=2.0, size=(10, 20)), rng.normal(scale=2.0, size=(10, 20))
    llm[0] = 0.0
    llm[0, np.argsort(-slm[0])[1]] = 5.0  # the LLM's choice is the draft's second: at T = 0 no child, so r = 1
    cell = SweepCell("tree", temperature, branch=3)
    stats = position_stats(slm, llm, [cell], chunk=4)[cell]
    tree = sqs.make_scheme("tree", branch=3)
    for i in range(10):
        q, p = softmax_temperature(slm[i], temperature), softmax_temperature(llm[i], temperature)
        kids = tree.children(q)
        want_q = [qx for _, qx in kids] + [0.0] * (3 - len(kids))
        want_p = [p[x] for x, _ in kids] + [0.0] * (3 - len(kids))
        np.testing.assert_allclose(stats["tq"][i], want_q, rtol=0, atol=1e-15)
        np.testing.assert_allclose(stats["tp"][i], want_p, rtol=0, atol=1e-15)
        assert stats["r"][i] == pytest.approx(1.0 - sum(want_p), abs=1e-12)
        assert len(kids) == (1 if temperature == 0.0 else 3)

"""A token tree's rounds in expectation over cached positions (the trace model of scheme ``tree``).

Under the trace model's assumption (the contexts are the cached reference's), a node at depth d of the tree
that starts at cached position j has the draft's q and the LLM's p of position j + d whatever path led to it:
its children are the ``branch`` most probable tokens of q_{j+d}, and the cloud's walk reaches it with
probability prod_i p_{j+i}(its i-th token). The edge's best-first growth (:meth:`sqs.system.edge.Edge.draft`)
then runs on ranks alone: the same heap, the same expansions, the same nodes, so a round's node count, SLM
calls, payload and the law of its accepted length A follow exactly, P(A >= a) = the summed reach of the nodes
at depth a.
"""

from __future__ import annotations

import heapq
import math

import numpy as np

from sqs.protocol.enumerative import bits_for


def tree_round(tq: np.ndarray, tp: np.ndarray, room: int, budget_bits: float, vocab_size: int
               ) -> tuple[int, int, int, np.ndarray]:  # fmt: skip
    """One round from a start position: ``tq``, ``tp`` (depth, branch): q and p of the ``branch`` most probable
    draft tokens at each position from the start on (q 0: no such child). At most ``room`` nodes within
    ``budget_bits``. Returns (nodes, SLM calls, payload bits, P(A >= a) for a = 0 .. room + 1)."""
    reach_at = np.zeros(room + 2)
    reach_at[0] = 1.0
    heap: list = [(0.0, 0, -1, None)]
    depth, reach = {-1: 0}, {-1: 1.0}
    nodes = calls = bits = order = 0
    id_bits = bits_for(vocab_size)
    while heap and nodes < room:
        cost, _, node, child = heapq.heappop(heap)
        if child is None:
            calls += 1
            d = depth[node]
            for r in range(tq.shape[1]):
                if tq[d, r] > 0:
                    order += 1
                    heapq.heappush(heap, (cost - math.log(tq[d, r]), order, node, (r, tp[d, r])))
            continue
        need = id_bits + bits_for(nodes + 1)
        if bits + need > budget_bits:
            break
        bits += need
        depth[nodes], reach[nodes] = depth[node] + 1, reach[node] * child[1]
        reach_at[depth[nodes]] += reach[nodes]
        order += 1
        heapq.heappush(heap, (cost, order, nodes, None))
        nodes += 1
    return nodes, calls, bits, reach_at


def tree_rounds(tq: np.ndarray, tp: np.ndarray, segments: list[tuple[int, int]], cap: int, width: int,
                budget_bits: float, vocab_size: int) -> tuple[np.ndarray, ...]:  # fmt: skip
    """:func:`tree_round` from every start j of every segment, at most ``cap`` nodes and never past the tokens
    still wanted (the segment's end less one, as the live edge). Arrays (segments, N_max): nodes, SLM calls,
    payload bits; and (segments, N_max, width + 2): P(A >= a)."""
    n_max = max(hi - lo for lo, hi in segments)
    nodes = np.zeros((len(segments), n_max), dtype=np.int64)
    calls = np.zeros_like(nodes)
    bits = np.zeros((len(segments), n_max))
    at_least = np.zeros((len(segments), n_max, width + 2))
    for s, (lo, hi) in enumerate(segments):
        for j in range(hi - lo):
            room = max(min(cap, hi - lo - 1 - j), 0)
            a, c, b, reach = tree_round(tq[lo + j : lo + j + room], tp[lo + j : lo + j + room], room, budget_bits,
                                        vocab_size)  # fmt: skip
            nodes[s, j], calls[s, j], bits[s, j] = a, c, b
            at_least[s, j, : room + 2] = reach
    return nodes, calls, bits, at_least

"""Each scheme's support rule over a chunk of cached logits, vectorized (the trace model's selectors; the live
rule of each is in :mod:`sqs.protocol.sparsify`).

A selector reads a cell's parameters by their registry names (``cell.param("k")``). It sees a chunk of
cached rows at one temperature (:class:`sqs.trace.sweep` builds it): ``q`` and ``p`` (rows x V), ``qsorted``
(q in descending order of SLM logit), its prefix sums ``cum``, ``neg`` = −qsorted, ``qtot``, ``rows`` and
``v``. Every support of a lattice scheme is a top set of q, so a selector returns its size and kept mass
per row (``sizes``); rows where ties could make the live selector pick other tokens than the first k of
that order are flagged (``unsafe``) and priced on the exact path with the live selector's own ids
(``exact_ids``).

A scheme without a lattice (float32 q, token ids alone) has no support to select: its selector gives each
row's rejection probability directly (``rejection``), with the K its records carry.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

from sqs.protocol import sparsify


class VectorSelector(Protocol):
    def sizes(self, ch, cells: list, state: dict) -> dict:
        """cell -> (support size, kept q mass) per row; ``state`` carries what runs along the rows."""

    def unsafe(self, ch, cell, k: np.ndarray) -> np.ndarray:
        """Rows whose first-k-in-order support may differ from the live selector's (ties)."""

    def exact_ids(self, ch, i: int, cell, k: int) -> np.ndarray:
        """The live selector's support at row ``i`` (sorted ids)."""


class DirectSelector(Protocol):
    def rejection(self, ch, cell) -> tuple[np.ndarray, np.ndarray]:
        """(P(a draft at the row is rejected), the K its record carries) per row."""


def _boundary_tie(ch, k: np.ndarray) -> np.ndarray:
    """A tie between the k-th and the (k+1)-th largest q: the live rule takes the lowest ids."""
    kk = np.minimum(k, ch.v - 1)
    at = np.arange(ch.rows)
    return (k < ch.v) & (ch.qsorted[at, np.maximum(kk - 1, 0)] == ch.qsorted[at, kk])


def _top(ch, k: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A top-k support's size and mass per row."""
    return k, ch.cum[np.arange(ch.rows), k - 1]


class _Dense:
    def sizes(self, ch, cells, state):
        return {c: (np.full(ch.rows, ch.v), ch.qtot) for c in cells}

    def unsafe(self, ch, cell, k):
        return np.zeros(ch.rows, dtype=bool)

    def exact_ids(self, ch, i, cell, k):
        return np.arange(ch.v)


class _TopK:
    def sizes(self, ch, cells, state):
        return {c: _top(ch, np.full(ch.rows, min(c.param("k"), ch.v))) for c in cells}

    def unsafe(self, ch, cell, k):
        return _boundary_tie(ch, k) if cell.param("k") < ch.v else np.zeros(ch.rows, dtype=bool)

    def exact_ids(self, ch, i, cell, k):
        return sparsify.top_k(ch.q[i], min(cell.param("k"), ch.v))


class _Threshold:
    """C-SQS: q >= β with update (8) after every position, carried along the rows in order (``state``)."""

    def sizes(self, ch, cells, state):
        beta = np.array([state.setdefault(("beta", c), c.param("beta")) for c in cells])
        eta = np.array([c.param("eta") for c in cells])
        alpha = np.array([c.param("alpha") for c in cells])
        beta0 = np.array([c.param("beta") for c in cells])
        per_prompt = np.array([getattr(c, "scheme_state", "cell") == "prompt" for c in cells])
        resets = {int(x) for x in getattr(ch, "resets", ())}  # rows where a prompt starts (per-prompt restarts)
        # how much of update (8) each row commits: 1 as if every draft were accepted, or the probability that the
        # token there is an accepted draft (the committed updates of Algorithm 1; sqs.trace.sweep iterates it)
        weights = getattr(ch, "weights", {})
        w = np.stack([weights.get(c, np.ones(ch.rows)) for c in cells], axis=1) if weights else np.ones((ch.rows, 1))
        kk = np.empty((ch.rows, len(cells)), dtype=np.int64)
        for i in range(ch.rows):
            if i in resets:
                beta = np.where(per_prompt, beta0, beta)
            k_i = np.maximum(np.searchsorted(ch.neg[i], -beta, side="right"), 1)
            kk[i] = k_i
            dropped = np.maximum((ch.qtot[i] - ch.cum[i, k_i - 1]) / ch.qtot[i], 0.0)
            beta = beta - eta * w[i] * (dropped - alpha)
        for j, c in enumerate(cells):
            state[("beta", c)] = float(beta[j])
        return {c: _top(ch, kk[:, j]) for j, c in enumerate(cells)}

    def unsafe(self, ch, cell, k):  # an empty threshold keeps the argmax: lowest id among tied maxima
        return (k == 1) & (ch.qsorted[:, 0] == ch.qsorted[:, min(1, ch.v - 1)]) & (ch.v > 1)

    def exact_ids(self, ch, i, cell, k):
        ids = np.flatnonzero(ch.q[i] >= ch.qsorted[i, k - 1]) if k > 1 else None
        if ids is None or ids.size != k:
            ids = sparsify.threshold(ch.q[i], np.inf)  # the argmax, as the edge keeps it
        return ids


class _TopP:
    """Nucleus: the fewest most-probable tokens holding mass ``top_p`` of the row's total."""

    def sizes(self, ch, cells, state):
        return {
            c: _top(ch, np.minimum((ch.cum < c.param("top_p") * ch.qtot[:, None]).sum(axis=1) + 1, ch.v))
            for c in cells
        }

    def unsafe(self, ch, cell, k):
        # the size is the same in any order of tied values (equal values give equal prefix sums, and the
        # probabilities follow the logits' order); only a tie across the boundary can put other ids in it
        return _boundary_tie(ch, k)

    def exact_ids(self, ch, i, cell, k):
        return sparsify.top_p(ch.q[i], cell.param("top_p"))


class _MinP:
    """Tokens with q >= min_p x max q: a set rule, so every tie at the boundary is in it, as live."""

    def sizes(self, ch, cells, state):
        return {c: _top(ch, (ch.qsorted >= c.param("min_p") * ch.qsorted[:, :1]).sum(axis=1)) for c in cells}

    def unsafe(self, ch, cell, k):
        return np.zeros(ch.rows, dtype=bool)

    def exact_ids(self, ch, i, cell, k):
        return sparsify.min_p(ch.q[i], cell.param("min_p"))


class _Float32:
    """Plain SD: q̂ is q rounded to float32 and renormalized (what both sides rebuild); r = TV(q̂, p)."""

    def rejection(self, ch, cell):
        w = ch.q.astype(np.float32).astype(np.float64)
        q_hat = w / w.sum(axis=1, keepdims=True)
        return 0.5 * np.abs(q_hat - ch.p).sum(axis=1), np.full(ch.rows, ch.v)


class _Tokens:
    """Token ids alone: the draft, drawn from q, survives when the cloud's own draw from p equals it, so
    r = 1 - sum_x q(x) p(x) (:func:`sqs.protocol.verify.verify_match`); no support is named (K = 0)."""

    def rejection(self, ch, cell):
        agree = np.einsum("ij,ij->i", ch.q, ch.p)  # both rows from softmax_temperature: each sums to 1
        return np.maximum(1.0 - agree, 0.0), np.zeros(ch.rows)


class _Split:
    """Split verification (DSSD): the draft is drawn from q and accepted with min(1, p(x)/q(x)), exactly plain
    SD's test against the unquantized q, so r = TV(q, p); no support is named (K = 0)."""

    def rejection(self, ch, cell):
        return ch.tv_qp, np.zeros(ch.rows)


class _Tree:
    """A token tree: each row's ``branch`` most probable draft tokens with their q and p (q 0: no such child;
    :mod:`sqs.trace.trees` grows the tree from them); a one-level tree's rejection, 1 - their summed p, as r."""

    def ranked(self, ch, cell) -> tuple[np.ndarray, np.ndarray]:
        b = min(int(cell.param("branch")), ch.v)
        ids = ch.order[:, :b]
        tq = np.take_along_axis(ch.q, ids, axis=1)
        return tq, np.where(tq > 0, np.take_along_axis(ch.p, ids, axis=1), 0.0)

    def rejection(self, ch, cell):
        return np.maximum(1.0 - self.ranked(ch, cell)[1].sum(axis=1), 0.0), np.zeros(ch.rows)


DENSE, TOP_K, THRESHOLD, TOP_P, MIN_P = _Dense(), _TopK(), _Threshold(), _TopP(), _MinP()
FLOAT32, TOKENS, SPLIT, TREE = _Float32(), _Tokens(), _Split(), _Tree()

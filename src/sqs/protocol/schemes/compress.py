"""The compression schemes' runtime: sparsify, lattice-quantize, and price one draft distribution.

Each class is one entry of :mod:`sqs.protocol.schemes.registry`, which declares its name, wire code and
layout, parameters and label; the class reads them from there (``self.spec``). ``compress(q)``
returns a :class:`Compressed` whose ``bits`` is the exact cost of that draft token in the uplink
payload (priced by the layout, :mod:`sqs.protocol.schemes.layout`) and whose ``sample(rng)`` draws the draft
token from exactly ``q_hat``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property
from typing import ClassVar

import numpy as np

from sqs.protocol import sparsify
from sqs.protocol.conformal import ConformalThreshold
from sqs.protocol.enumerative import bits_for
from sqs.protocol.lattice import quantize, sample_counts
from sqs.protocol.probs import sample_probs


def full_q_hat(
    vocab_size: int, support: np.ndarray, counts: np.ndarray | None, ell: int, weights: np.ndarray | None
) -> np.ndarray:
    """q_hat over the whole vocabulary from what the wire carries; edge and cloud both build it here."""
    out = np.zeros(vocab_size, dtype=np.float64)
    if counts is not None:
        out[support] = counts / ell
    else:
        w = weights.astype(np.float64)
        out[:] = w / w.sum()
    return out


@dataclass(frozen=True, eq=False)
class Compressed:
    """One compressed draft distribution as the edge will send it."""

    vocab_size: int
    support: np.ndarray  # sorted token ids
    counts: np.ndarray | None  # lattice counts aligned with support (None for the float32 scheme)
    ell: int
    support_bits: int  # subset code
    size_bits: int  # K field (variable-size schemes only)
    lattice_bits: int  # lattice index (or 32 V for float32)
    token_bits: int  # the draft token's position
    dropped_mass: float  # alpha_n: SLM mass outside the support
    paper_bits: float  # the paper's formula (1) for the same token, for comparison
    beta: float | None = None  # C-SQS threshold that chose this support
    weights: np.ndarray | None = None  # float32 probabilities (float32 scheme only)
    charged: int | None = None  # bits the budget rule charges, where a scheme's accounting is not the wire's

    @property
    def charge(self) -> int:
        """Bits this draft takes from the batch's budget B: the wire's own unless the scheme counts as the paper."""
        return self.bits if self.charged is None else self.charged

    @property
    def k(self) -> int:
        return int(self.support.size)

    @property
    def bits(self) -> int:
        """Exact payload bits of this token on the wire."""
        return self.support_bits + self.size_bits + self.lattice_bits + self.token_bits

    @cached_property
    def q_hat(self) -> np.ndarray:
        """The quantized distribution over the full vocabulary (float64)."""
        return full_q_hat(self.vocab_size, self.support, self.counts, self.ell, self.weights)

    @cached_property
    def nonzero(self) -> np.ndarray:
        """Token ids the draft can be (positive q_hat), sorted: the draft token is sent as a position here."""
        if self.counts is None:
            return np.arange(self.vocab_size, dtype=np.int64)
        return self.support[self.counts > 0]

    def sample(self, rng: np.random.Generator) -> int:
        """Draw the draft token from exactly q_hat."""
        if self.counts is None:
            return sample_probs(self.q_hat, rng)
        return int(self.support[sample_counts(self.counts, self.ell, rng)])

    def token_position(self, token: int) -> int:
        pos = int(np.searchsorted(self.nonzero, token))
        if pos >= self.nonzero.size or self.nonzero[pos] != token:
            raise ValueError(f"token {token} has zero probability under q_hat")
        return pos


def _check_int(name: str, value, low: int, high: int | None = None) -> int:
    ok = not isinstance(value, bool) and isinstance(value, int | np.integer)
    if not ok or value < low or (high is not None and value > high):
        rng = f">= {low}" if high is None else f"in [{low}, {high}]"
        raise ValueError(f"{name} must be an integer {rng}, got {value!r}")
    return int(value)


class _Declared:
    """What every scheme reads from its registry entry (set by :mod:`sqs.protocol.schemes.registry`)."""

    spec: ClassVar  # its sqs.protocol.schemes.registry.SchemeSpec (the registry sets it; no import back to it)

    name = property(lambda self: self.spec.name)
    code = property(lambda self: self.spec.code)  # in the uplink header
    stateful = property(lambda self: self.spec.stateful)  # state across batches: no preemptive drafting
    bit_budget_applies = property(lambda self: self.spec.budget)

    # Stateless schemes have nothing to checkpoint; C-SQS overrides these.
    def begin_batch(self) -> None:
        return None

    def end_batch(self, num_accepted: int) -> None:
        return None


class LatticeScheme(_Declared):
    """Common path of the lattice schemes: support -> Algorithm 2 -> exact bit prices."""

    def __init__(self, ell: int) -> None:
        self.ell = _check_int("ell", ell, 1, 65535)

    @property
    def fixed_k(self) -> int:
        """K in the header when every token has the same support size, else 0."""
        return 0

    def params(self) -> dict:
        return {"ell": self.ell}

    accounting = "exact"  # how the budget rule counts a draft's bits (C-SQS may count as the paper does)

    def min_charge(self, vocab_size: int) -> int:
        """The fewest bits the budget rule can charge one draft: the edge stops before a forward that cannot fit."""
        return self.spec.layout.min_token_bits(vocab_size, self.ell, self.fixed_k or 1)

    def select(self, q: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def compress(self, q: np.ndarray) -> Compressed:
        q = np.asarray(q, dtype=np.float64)
        support = self.select(q)
        return self._package(q, support)

    def _package(self, q: np.ndarray, support: np.ndarray, beta: float | None = None) -> Compressed:
        counts = quantize(q if support.size == q.size else q[support], self.ell)  # dense: no O(V) gather
        v, k = q.size, support.size
        layout = self.spec.layout
        nnz = int(np.count_nonzero(counts))
        return Compressed(
            vocab_size=v,
            support=support,
            counts=counts,
            ell=self.ell,
            support_bits=layout.support_bits(v, k),
            size_bits=layout.size_bits(v),
            lattice_bits=layout.distribution_bits(v, k, self.ell),
            token_bits=bits_for(nnz),
            dropped_mass=sparsify.dropped_mass(q, support),
            paper_bits=layout.paper_bits(v, k, self.ell),
            beta=beta,
            charged=None if self.accounting == "exact" else layout.charged_bits(v, k, self.ell, nnz, self.accounting),
        )


class DenseScheme(LatticeScheme):
    def select(self, q: np.ndarray) -> np.ndarray:
        return sparsify.dense(q)


class TopKScheme(LatticeScheme):
    def __init__(self, k: int, ell: int) -> None:
        super().__init__(ell)
        self.k = _check_int("k", k, 1)

    @property
    def fixed_k(self) -> int:
        return self.k

    def params(self) -> dict:
        return {"k": self.k, "ell": self.ell}

    def select(self, q: np.ndarray) -> np.ndarray:
        return sparsify.top_k(q, self.k)


ACCOUNTINGS = ("exact", "paper")


class ConformalScheme(LatticeScheme):
    def __init__(self, beta: float, ell: int, alpha: float = 0.0005, eta: float = 0.001,
                 accounting: str = "exact") -> None:  # fmt: skip
        super().__init__(ell)
        for key, val in (("beta", beta), ("alpha", alpha), ("eta", eta)):
            if isinstance(val, bool) or not isinstance(val, int | float) or not math.isfinite(val):
                raise ValueError(f"{key} must be a finite number, got {val!r}")
        if accounting not in ACCOUNTINGS:
            raise ValueError(f"accounting must be one of {', '.join(ACCOUNTINGS)}, got {accounting!r}")
        self.controller = ConformalThreshold(beta=float(beta), alpha=float(alpha), eta=float(eta))
        self.beta0 = float(beta)
        self.accounting = accounting

    def params(self) -> dict:
        c = self.controller
        return {"beta": self.beta0, "ell": self.ell, "alpha": c.alpha, "eta": c.eta, "accounting": self.accounting}

    def select(self, q: np.ndarray) -> np.ndarray:
        return sparsify.threshold(q, self.controller.beta)

    def compress(self, q: np.ndarray) -> Compressed:
        q = np.asarray(q, dtype=np.float64)
        beta = self.controller.beta
        out = self._package(q, self.select(q), beta=beta)
        self.controller.update(out.dropped_mass)
        return out

    def begin_batch(self) -> None:
        self.controller.begin_batch()

    def end_batch(self, num_accepted: int) -> None:
        self.controller.end_batch(num_accepted)


class TopPScheme(LatticeScheme):
    def __init__(self, top_p: float, ell: int) -> None:
        super().__init__(ell)
        if isinstance(top_p, bool) or not isinstance(top_p, int | float) or not 0.0 < top_p <= 1.0:
            raise ValueError(f"top_p must be a number in (0, 1], got {top_p!r}")
        self.top_p = float(top_p)

    def params(self) -> dict:
        return {"top_p": self.top_p, "ell": self.ell}

    def select(self, q: np.ndarray) -> np.ndarray:
        return sparsify.top_p(q, self.top_p)


class SelectorScheme(LatticeScheme):
    """A stateless support rule and Algorithm 2: the runtime a new sparsifier needs when the lattice path fits
    it. Its registry entry names the live rule (``spec.select(q, **parameters)``) and the parameter dataclass
    that validates the values; each entry gets a subclass of its own (``shared``)."""

    shared = True

    def __init__(self, ell: int, **params) -> None:
        super().__init__(ell)
        self.spec.params(ell=self.ell, **params)  # the entry's dataclass checks every value
        self.rule_params = dict(params)

    def params(self) -> dict:
        return {**self.rule_params, "ell": self.ell}

    def select(self, q: np.ndarray) -> np.ndarray:
        return self.spec.select(q, **self.rule_params)


class _Unparameterized(_Declared):
    """A scheme without a lattice or a parameter: nothing to set, 0 for ell and K in the header."""

    ell = 0
    fixed_k = 0

    def params(self) -> dict:
        return {}


class Float32Scheme(_Unparameterized):
    """Plain speculative decoding: the full distribution as float32, 32 V bits a token."""

    def min_charge(self, vocab_size: int) -> int:
        return 0  # no budget applies (the draft cap alone limits a batch)

    def compress(self, q: np.ndarray) -> Compressed:
        q = np.asarray(q, dtype=np.float64)
        w = q.astype(np.float32)
        if not w.sum(dtype=np.float64) > 0:
            raise ValueError("distribution underflows float32")
        v = q.size
        return Compressed(
            vocab_size=v,
            support=np.arange(v, dtype=np.int64),
            counts=None,
            ell=0,
            support_bits=0,
            size_bits=0,
            lattice_bits=32 * v,
            token_bits=bits_for(v),
            dropped_mass=0.0,
            paper_bits=32.0 * v,
            weights=w,
        )


class TokenOnlyScheme(_Unparameterized):
    """A draft sent without a q̂: the edge samples it from its own q and sends the id alone, ceil(log2 V) bits
    (``tokens``: llama.cpp's speculative example, SpecExec, SpecEdge; the cloud keeps it while its own sample
    from p agrees, :func:`sqs.protocol.verify.verify_match`), or the id and q(x) in float64 (``split``: DSSD;
    the cloud accepts with min(1, p(x)/q(x)) and sends p down after a rejection, the edge resamples the residual
    from its own q, :func:`sqs.protocol.verify.verify_split`). Both exact at every T; the layout prices them."""

    shared = True  # one runtime, two registry entries

    def min_charge(self, vocab_size: int) -> int:
        return self.spec.layout.min_token_bits(vocab_size, 0)

    def compress(self, q: np.ndarray) -> Compressed:
        q = np.asarray(q, dtype=np.float64)
        if not q.sum() > 0:
            raise ValueError("cannot draft from a distribution without positive mass")
        v, layout = q.size, self.spec.layout
        return Compressed(
            vocab_size=v,
            support=np.empty(0, dtype=np.int64),  # no support is named: K = 0 in the records, as on the wire
            counts=None,
            ell=0,
            support_bits=0,
            size_bits=0,
            lattice_bits=layout.distribution_bits(v, 0, 0),
            token_bits=bits_for(v),
            dropped_mass=0.0,
            paper_bits=layout.paper_bits(v, 0, 0),
            weights=q,  # the law the draft is drawn from (its q_hat, q / sum q); only q_hat(x) may go up
        )


class TreeScheme(_Unparameterized):
    """A tree of token ids (SpecExec; SpecEdge sends ids, positions and parents): the edge expands, best first
    by the draft's path probability, each node into its ``branch`` most probable children, and sends every
    node's id and its parent's index; the cloud scores the whole tree in one forward and walks it by its own
    draws from p (:func:`sqs.protocol.verify.verify_tree`), exact at every T with no q on the wire. The edge
    grows the tree (:meth:`sqs.system.edge.Edge.draft`); this class names the children and prices a node."""

    def __init__(self, branch: int = 2) -> None:
        self.branch = _check_int("branch", branch, 1, 64)

    def params(self) -> dict:
        return {"branch": self.branch}

    def min_charge(self, vocab_size: int) -> int:
        return self.spec.layout.min_token_bits(vocab_size, 0)

    def children(self, q: np.ndarray) -> list[tuple[int, float]]:
        """The ``branch`` most probable tokens of q with positive probability, most probable first (lowest id
        among equals), with their probabilities."""
        q = np.asarray(q, dtype=np.float64)
        b = min(self.branch, q.size)
        top = np.argpartition(-q, b - 1)[:b] if b < q.size else np.arange(q.size)
        top = top[np.lexsort((top, -q[top]))]
        return [(int(t), float(q[t])) for t in top if q[t] > 0]

    def node(self, q: np.ndarray, index: int) -> Compressed:
        """Node ``index`` of a tree, a child of the node whose next-token law is ``q``: its parent field and id."""
        v, layout = q.size, self.spec.layout
        return Compressed(
            vocab_size=v,
            support=np.empty(0, dtype=np.int64),  # no support is named (K = 0)
            counts=None,
            ell=0,
            support_bits=layout.parent_bits(index),  # the node's place in the tree: its parent's index
            size_bits=0,
            lattice_bits=0,
            token_bits=bits_for(v),
            dropped_mass=0.0,
            paper_bits=layout.paper_bits(v, 0, 0),
            weights=np.asarray(q, dtype=np.float64),  # the law at the node's position; never sent
        )

    def compress(self, q: np.ndarray) -> Compressed:
        """A tree's first node (a child of the root), after naming q's children: one node's protocol work."""
        q = np.asarray(q, dtype=np.float64)
        if not self.children(q):
            raise ValueError("cannot draft from a distribution without positive mass")
        return self.node(q, 0)


Scheme = LatticeScheme | Float32Scheme | TokenOnlyScheme | TreeScheme

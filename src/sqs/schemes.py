"""Compression schemes: sparsify, lattice-quantize, and price one draft distribution on the wire.

``make_scheme(name, **params)`` builds one of

- ``dense`` (alias ``qs``): all V tokens, lattice of resolution ``ell`` (the QS baseline, ref. [22]);
- ``k-sqs``: top-``k`` support (paper section 2);
- ``c-sqs``: threshold support ``q >= beta`` with the online conformal update (paper section 3);
- ``top-p``: nucleus support of mass ``top_p`` (an extra, not in the paper);
- ``sd``: no compression, float32 probabilities on the wire (plain speculative decoding).

``compress(q)`` returns a :class:`Compressed` whose ``bits`` is the exact cost of that draft token in
the uplink payload (see :mod:`sqs.wire` for the layout) and whose ``sample(rng)`` draws the draft
token from exactly ``q_hat``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property, lru_cache
from typing import ClassVar

import numpy as np

from . import sparsify
from .conformal import ConformalThreshold
from .enumerative import bits_for, subset_count
from .lattice import index_bits, num_points, quantize, sample_counts
from .probs import sample_probs

# Scheme codes in the uplink header (sqs.wire). Variable-size schemes send K with every token.
CODE_DENSE, CODE_TOPK, CODE_THRESHOLD, CODE_TOPP, CODE_FLOAT32 = 0, 1, 2, 3, 4
VARIABLE_SIZE_CODES = frozenset({CODE_THRESHOLD, CODE_TOPP})


@lru_cache(maxsize=4096)
def subset_bits(vocab_size: int, k: int) -> int:
    """Exact cost of naming a k-subset of the vocabulary: ceil(log2 C(V, k))."""
    return bits_for(subset_count(vocab_size, k))


@lru_cache(maxsize=4096)
def lattice_bits(k: int, ell: int) -> int:
    return index_bits(k, ell)


@lru_cache(maxsize=4096)
def _log2_points(k: int, ell: int) -> float:
    return math.log2(num_points(k, ell))


def size_bits(vocab_size: int) -> int:
    """Cost of the support size K in 1..V for the variable-size schemes: ceil(log2 V)."""
    return bits_for(vocab_size)


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


class LatticeScheme:
    """Common path of the lattice schemes: support -> Algorithm 2 -> exact bit prices."""

    name: ClassVar[str] = ""
    code: ClassVar[int] = -1
    bit_budget_applies: ClassVar[bool] = True

    def __init__(self, ell: int) -> None:
        self.ell = _check_int("ell", ell, 1, 65535)

    @property
    def fixed_k(self) -> int:
        """K in the header when every token has the same support size, else 0."""
        return 0

    def params(self) -> dict:
        return {"ell": self.ell}

    def select(self, q: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def support_cost(self, vocab_size: int, k: int) -> tuple[int, int, float]:
        """(subset bits, size bits, the paper's support overhead) for a support of size k."""
        return subset_bits(vocab_size, k), 0, math.log2(subset_count(vocab_size, k))

    def compress(self, q: np.ndarray) -> Compressed:
        q = np.asarray(q, dtype=np.float64)
        support = self.select(q)
        return self._package(q, support)

    def _package(self, q: np.ndarray, support: np.ndarray, beta: float | None = None) -> Compressed:
        counts = quantize(q[support], self.ell)
        v, k = q.size, support.size
        sub_bits, sz_bits, paper_support = self.support_cost(v, k)
        lat_bits = lattice_bits(k, self.ell)
        nnz = int(np.count_nonzero(counts))
        return Compressed(
            vocab_size=v,
            support=support,
            counts=counts,
            ell=self.ell,
            support_bits=sub_bits,
            size_bits=sz_bits,
            lattice_bits=lat_bits,
            token_bits=bits_for(nnz),
            dropped_mass=sparsify.dropped_mass(q, support),
            paper_bits=paper_support + _log2_points(k, self.ell),
            beta=beta,
        )

    # Stateless schemes have nothing to checkpoint; C-SQS overrides these.
    def begin_batch(self) -> None:
        return None

    def end_batch(self, num_accepted: int) -> None:
        return None


class DenseScheme(LatticeScheme):
    name = "dense"
    code = CODE_DENSE

    def select(self, q: np.ndarray) -> np.ndarray:
        return sparsify.dense(q)

    def support_cost(self, vocab_size: int, k: int) -> tuple[int, int, float]:
        return 0, 0, 0.0


class TopKScheme(LatticeScheme):
    name = "k-sqs"
    code = CODE_TOPK

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


class VariableSizeScheme(LatticeScheme):
    """Support size varies per token, so K itself goes on the wire: ceil(log2 V) bits."""

    def support_cost(self, vocab_size: int, k: int) -> tuple[int, int, float]:
        # The paper prints ceil(log2 V) + ceil(log2 V) for C-SQS; that cannot identify a subset.
        # The wire carries the real subset code plus K; the paper's figure is kept for comparison.
        sz = size_bits(vocab_size)
        return subset_bits(vocab_size, k), sz, 2.0 * sz


class ConformalScheme(VariableSizeScheme):
    name = "c-sqs"
    code = CODE_THRESHOLD

    def __init__(self, beta: float, ell: int, alpha: float = 0.0005, eta: float = 0.001) -> None:
        super().__init__(ell)
        for key, val in (("beta", beta), ("alpha", alpha), ("eta", eta)):
            if isinstance(val, bool) or not isinstance(val, int | float) or not math.isfinite(val):
                raise ValueError(f"{key} must be a finite number, got {val!r}")
        self.controller = ConformalThreshold(beta=float(beta), alpha=float(alpha), eta=float(eta))
        self.beta0 = float(beta)

    def params(self) -> dict:
        c = self.controller
        return {"beta": self.beta0, "ell": self.ell, "alpha": c.alpha, "eta": c.eta}

    def select(self, q: np.ndarray) -> np.ndarray:
        return sparsify.threshold(q, self.controller.beta)

    def compress(self, q: np.ndarray) -> Compressed:
        q = np.asarray(q, dtype=np.float64)
        beta = self.controller.beta
        out = self._package(q, sparsify.threshold(q, beta), beta=beta)
        self.controller.update(out.dropped_mass)
        return out

    def begin_batch(self) -> None:
        self.controller.begin_batch()

    def end_batch(self, num_accepted: int) -> None:
        self.controller.end_batch(num_accepted)


class TopPScheme(VariableSizeScheme):
    name = "top-p"
    code = CODE_TOPP

    def __init__(self, top_p: float, ell: int) -> None:
        super().__init__(ell)
        if isinstance(top_p, bool) or not isinstance(top_p, int | float) or not 0.0 < top_p <= 1.0:
            raise ValueError(f"top_p must be a number in (0, 1], got {top_p!r}")
        self.top_p = float(top_p)

    def params(self) -> dict:
        return {"top_p": self.top_p, "ell": self.ell}

    def select(self, q: np.ndarray) -> np.ndarray:
        return sparsify.top_p(q, self.top_p)


class Float32Scheme:
    """Plain speculative decoding: the full distribution as float32, 32 V bits a token."""

    name = "sd"
    code = CODE_FLOAT32
    ell = 0
    fixed_k = 0
    # 32 V bits a token meets no uplink budget (1.6 Mbit at V = 50k): only the draft cap limits a batch
    bit_budget_applies = False

    def params(self) -> dict:
        return {}

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

    def begin_batch(self) -> None:
        return None

    def end_batch(self, num_accepted: int) -> None:
        return None


Scheme = LatticeScheme | Float32Scheme

_FACTORIES = {
    "dense": (DenseScheme, {"ell"}),
    "qs": (DenseScheme, {"ell"}),
    "k-sqs": (TopKScheme, {"k", "ell"}),
    "c-sqs": (ConformalScheme, {"beta", "ell", "alpha", "eta"}),
    "top-p": (TopPScheme, {"top_p", "ell"}),
    "sd": (Float32Scheme, set()),
}
SCHEME_NAMES = tuple(_FACTORIES)


def make_scheme(name: str, **params) -> Scheme:
    """Build a compression scheme by name; unknown names or parameters raise ValueError."""
    if name not in _FACTORIES:
        raise ValueError(f"unknown scheme {name!r}; valid schemes: {', '.join(SCHEME_NAMES)}")
    cls, allowed = _FACTORIES[name]
    extra = set(params) - allowed
    if extra:
        raise ValueError(f"scheme {name!r} takes parameters {sorted(allowed) or 'none'}, got unknown {sorted(extra)}")
    try:
        return cls(**params)
    except TypeError as exc:  # a required parameter is missing
        raise ValueError(f"scheme {name!r} needs parameters {sorted(allowed)}: {exc}") from None

"""What one draft token costs on the wire, per uplink layout: the one bit formula everyone uses.

A layout is what the uplink record of a draft carries (see :mod:`sqs.protocol.wire`): a lattice over all V
tokens (``dense``), a K-subset named with K fixed in the header (``fixed-k``), a K-subset whose K
rides with every token (``variable-k``), V float32 probabilities (``float32``), the token's id alone
(``tokens``: no distribution; the cloud verifies by exact match), or the id and q̂(x) of the drawn token in
float64 (``split``: DSSD's split verification, p comes down after a rejection). Live compression,
the wire, the grid's budget check, the trace sweep and ``sqs bits`` all price a token here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from sqs.protocol.enumerative import bits_for, subset_count
from sqs.protocol.lattice import index_bits, num_points


@lru_cache(maxsize=1 << 16)
def subset_bits(vocab_size: int, k: int) -> int:
    """Exact cost of naming a k-subset of the vocabulary: ceil(log2 C(V, k))."""
    return bits_for(subset_count(vocab_size, k))


@lru_cache(maxsize=1 << 16)
def lattice_bits(k: int, ell: int) -> int:
    return index_bits(k, ell)


@lru_cache(maxsize=1 << 16)
def log2_points(k: int, ell: int) -> float:
    return math.log2(num_points(k, ell))


def size_bits(vocab_size: int) -> int:
    """Cost of the support size K in 1..V for the variable-size layouts: ceil(log2 V)."""
    return bits_for(vocab_size)


@dataclass(frozen=True)
class Layout:
    """One uplink record layout and its exact price."""

    name: str
    names_subset: bool  # the support is sent as a subset code
    sends_size: bool  # K rides with every token
    fixed_k: bool  # K is in the message header
    float32: bool = False  # V float32 probabilities instead of a lattice
    ids_only: bool = False  # the token id alone: no distribution at all
    split: bool = False  # the token id and q̂(x) alone; the cloud sends p down after a rejection (DSSD)
    tree: bool = False  # a tree of token ids, each with its parent's index (SpecExec, SpecEdge)

    @property
    def family(self) -> str:
        """What goes up for a draft, as the study of the field's answers groups schemes (:data:`FAMILIES`)."""
        if self.tree:
            return "tree"
        return "tokens" if self.ids_only else "split" if self.split else "sd" if self.float32 else "sqs"

    @property
    def lattice(self) -> bool:
        """q̂ is a point of Algorithm 2's lattice, named by its support and index."""
        return not (self.float32 or self.ids_only or self.split or self.tree)

    @property
    def id_record(self) -> bool:
        """A draft's record is its id among all V, with at most a parent field (trees) or q̂(x) (split)."""
        return self.ids_only or self.split or self.tree

    @property
    def sends_q_hat(self) -> bool:
        """The cloud rebuilds the whole q̂ (and may verify by any rule); token ids, trees and split drafts carry
        none."""
        return not self.id_record

    @property
    def exact_match(self) -> bool:
        """Drafts kept while the cloud's own draws from p agree (token ids, trees), not by min(1, p/q̂)."""
        return self.ids_only or self.tree

    def parent_bits(self, index: int) -> int:
        """A tree node's parent field: node ``index``'s parent is the root or one of the ``index`` nodes before
        it, ceil(log2(index + 1)) bits (0 for the first node); 0 for every other layout."""
        return bits_for(index + 1) if self.tree else 0

    @property
    def whole_id(self) -> bool:
        """The draft token is named among all V (no support of non-zero counts to name it in)."""
        return not self.lattice

    def support_bits(self, v: int, k: int) -> int:
        return subset_bits(v, k) if self.names_subset else 0

    def size_bits(self, v: int) -> int:
        return size_bits(v) if self.sends_size else 0

    def distribution_bits(self, v: int, k: int, ell: int) -> int:
        """The lattice index of the counts (32 V for float32, nothing for token ids alone, q̂(x) in float64 for
        split verification)."""
        if self.ids_only or self.tree:
            return 0
        if self.split:
            return 64
        return 32 * v if self.float32 else lattice_bits(k, ell)

    def side_bits(self, v: int, k: int, ell: int) -> int:
        """Everything of one token's record but the draft token's own position."""
        return self.support_bits(v, k) + self.size_bits(v) + self.distribution_bits(v, k, ell)

    def token_bits(self, v: int, k: int, ell: int, nnz: int) -> int:
        """Exact payload bits of one draft token whose q̂ has ``nnz`` nonzero entries."""
        return self.side_bits(v, k, ell) + bits_for(v if self.whole_id else nnz)

    def token_bits_array(self, v: int, k: np.ndarray, ell: int, nnz: np.ndarray) -> np.ndarray:
        """:meth:`token_bits` over arrays of support sizes and nonzero counts (memoized per distinct K)."""
        uniq, inv = np.unique(np.asarray(k, dtype=np.int64), return_inverse=True)
        side = np.array([_side_bits(self, v, int(kk), ell) for kk in uniq.tolist()], dtype=np.float64)
        n = np.full(np.shape(k), v, dtype=np.float64) if self.whole_id else np.asarray(nnz, dtype=np.float64)
        token = np.frexp(n - 1.0)[1]  # bits_for(n) = (n - 1).bit_length()
        return side[inv.reshape(np.shape(k))] + token

    def min_token_bits(self, v: int, ell: int, k: int = 1) -> int:
        """The fewest bits one draft record can take here (one nonzero count): the config check, the edge's
        test before it spends a forward on a draft that could not fit, and the wire's check of a payload's
        length. Either accounting charges it the same: at K = 1 the paper's 2 ceil(log2 V) is the wire's
        subset code plus K."""
        if self.whole_id:
            return self.side_bits(v, 0, ell) + bits_for(v)
        kk = v if not self.names_subset else (k if self.fixed_k else 1)
        return self.side_bits(v, kk, ell)

    def charged_bits(self, v: int, k: int, ell: int, nnz: int, accounting: str = "exact") -> int:
        """Bits the budget rule charges a draft: the wire's (``exact``), or for a layout that sends K with every
        token the paper's count (``paper``): 2 ceil(log2 V) for the support and its size, as Sec. 3 prints
        it, plus the lattice index and the token's position (docs/protocol.md)."""
        if accounting == "exact" or not self.sends_size:
            return self.token_bits(v, k, ell, nnz)
        return 2 * size_bits(v) + self.distribution_bits(v, k, ell) + bits_for(nnz)

    def charged_bits_array(self, v: int, k: np.ndarray, ell: int, nnz: np.ndarray, accounting: str = "exact"):
        """:meth:`charged_bits` over arrays (the trace sweep's budget rule)."""
        if accounting == "exact" or not self.sends_size:
            return self.token_bits_array(v, k, ell, nnz)
        uniq, inv = np.unique(np.asarray(k, dtype=np.int64), return_inverse=True)
        lat = np.array([lattice_bits(int(kk), ell) for kk in uniq.tolist()], dtype=np.float64)
        token = np.frexp(np.asarray(nnz, dtype=np.float64) - 1.0)[1]
        return 2 * size_bits(v) + lat[inv.reshape(np.shape(k))] + token

    def paper_bits(self, v: int, k: int, ell: int) -> float:
        """The paper's formula (1) for the same token. For C-SQS the paper prints ceil(log2 V) twice,
        which cannot name a subset; the wire carries the real subset code plus K (docs/protocol.md)."""
        if self.float32:
            return 32.0 * v
        if self.id_record:
            return float(self.distribution_bits(v, k, ell) + bits_for(v))
        if self.sends_size:
            support = 2.0 * size_bits(v)
        elif self.names_subset:
            support = math.log2(subset_count(v, k))
        else:
            support = 0.0
        return support + log2_points(k, ell)


@lru_cache(maxsize=1 << 17)
def _side_bits(layout: Layout, v: int, k: int, ell: int) -> int:
    return layout.side_bits(v, k, ell)


FAMILIES = {"sqs": "a compressed q̂ (SQS)", "sd": "q in float32 (SD)", "tokens": "token ids alone",
            "split": "q̂(x) alone, p down on rejection (DSSD)", "tree": "a tree of token ids (SpecExec)"}

DENSE = Layout("dense", names_subset=False, sends_size=False, fixed_k=False)
FIXED_K = Layout("fixed-k", names_subset=True, sends_size=False, fixed_k=True)
VARIABLE_K = Layout("variable-k", names_subset=True, sends_size=True, fixed_k=False)
FLOAT32 = Layout("float32", names_subset=False, sends_size=False, fixed_k=False, float32=True)
TOKENS = Layout("tokens", names_subset=False, sends_size=False, fixed_k=False, ids_only=True)
SPLIT = Layout("split", names_subset=False, sends_size=False, fixed_k=False, split=True)
TREE = Layout("tree", names_subset=False, sends_size=False, fixed_k=False, tree=True)

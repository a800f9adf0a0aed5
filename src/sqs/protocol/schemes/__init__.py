"""Compression schemes: the registry (one declaration per scheme), the layouts' bit prices, the runtime.

``make_scheme(name, **params)`` builds one of

- ``qs`` (alias ``dense``): all V tokens, lattice of resolution ``ell`` (the QS baseline, ref. [22]);
- ``k-sqs``: top-``k`` support (paper section 2);
- ``c-sqs``: threshold support ``q >= beta`` with the online conformal update (paper section 3);
- ``top-p``: nucleus support of mass ``top_p`` (an extra, not in the paper);
- ``sd``: no compression, float32 probabilities on the wire (plain speculative decoding);
- ``tokens``: no distribution at all, the draft token's id alone, verified by exact match;
- ``split`` (alias ``dssd``): the id and q_hat(x) in float64, the logits down after a rejection (DSSD);
- ``tree`` (alias ``specexec``): a tree of token ids with their parents' indices, walked by the cloud's draws.
"""

from sqs.protocol.schemes.compress import (
    Compressed,
    ConformalScheme,
    DenseScheme,
    Float32Scheme,
    LatticeScheme,
    Scheme,
    TopKScheme,
    TopPScheme,
    full_q_hat,
)
from sqs.protocol.schemes.layout import Layout, lattice_bits, size_bits, subset_bits
from sqs.protocol.schemes.registry import (
    SCHEMES,
    SchemeSpec,
    by_code,
    get,
    grid_columns,
    make_scheme,
    names,
    wire_codes,
)

SCHEME_NAMES = tuple(n for n in names() if get(n).speculative)

__all__ = [
    "SCHEMES", "SCHEME_NAMES", "Compressed", "ConformalScheme", "DenseScheme", "Float32Scheme", "LatticeScheme",
    "Layout", "Scheme", "SchemeSpec", "TopKScheme", "TopPScheme", "by_code", "full_q_hat", "get", "grid_columns",
    "lattice_bits", "make_scheme", "names", "size_bits", "subset_bits", "wire_codes",
]  # fmt: skip

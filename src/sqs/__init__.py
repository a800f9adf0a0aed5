"""sqs: exact sparse quantize-and-sample speculative decoding for bandwidth-limited edge-cloud links."""

from . import budget, conformal, enumerative, lattice, probs, sparsify, wire
from .schemes import SCHEME_NAMES, Compressed, make_scheme
from .verify import verify

__all__ = [
    "SCHEME_NAMES",
    "Compressed",
    "budget",
    "conformal",
    "enumerative",
    "lattice",
    "make_scheme",
    "probs",
    "sparsify",
    "verify",
    "wire",
]
__version__ = "0.1.0"

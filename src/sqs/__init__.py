"""sqs: exact sparse quantize-and-sample speculative decoding for bandwidth-limited edge-cloud links.

The package is grouped by layer: ``protocol`` (codes, lattice, schemes, wire, verification),
``system`` (edge, cloud, session, link), ``models``, ``trace`` (the logits cache and its analyses),
``study`` (live decoding, the grid), ``outputs`` (figures, MLflow) and ``steps`` (what the workflow
runs). The documented public API keeps its short names (aliases of the layered modules):
``sqs.make_scheme``, ``sqs.lattice``, ``sqs.verify``, ``sqs.wire``, ``sqs.edge.Edge``,
``sqs.cloud.Cloud``, ``sqs.session.run_session``.
"""

import sys

from sqs.protocol import budget, conformal, enumerative, lattice, probs, sparsify, wire
from sqs.protocol import verify as _verify_module
from sqs.protocol.schemes import SCHEME_NAMES, Compressed, make_scheme
from sqs.protocol.verify import verify
from sqs.system import cloud, edge, session

# the documented module names, as aliases of their modules in the layered tree
for _name, _module in {"lattice": lattice, "verify": _verify_module, "wire": wire, "edge": edge, "cloud": cloud,
                       "session": session}.items():  # fmt: skip
    sys.modules[f"{__name__}.{_name}"] = _module

__all__ = [
    "SCHEME_NAMES", "Compressed", "budget", "cloud", "conformal", "edge", "enumerative", "lattice", "make_scheme",
    "probs", "session", "sparsify", "verify", "wire",
]  # fmt: skip
__version__ = "0.1.0"

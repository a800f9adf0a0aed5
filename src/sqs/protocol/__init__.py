"""The protocol: what the edge computes, what goes on the wire, and how the cloud verifies it.

Exact enumerative codes (``enumerative``), Algorithm 2's lattice (``lattice``), support selectors
(``sparsify``), the conformal threshold (``conformal``), the scheme registry and runtime
(``schemes``), the byte formats (``wire``), Leviathan verification (``verify``), the batch-length
rule (``budget``), float64 probabilities (``probs``) and the papers' bounds (``bounds``). Pure math on
arrays and bytes: no models, no files.
"""

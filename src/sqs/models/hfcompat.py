"""Differences between transformers releases that the model backends must bridge, in one place."""

from __future__ import annotations

import inspect


def cache_kwarg(model) -> str:
    """The forward argument that takes a KV cache: ``cache`` in transformers >= 5.24 (``past_key_values``
    there is deprecated, to be removed in 5.40), ``past_key_values`` before."""
    return "cache" if "cache" in inspect.signature(model.forward).parameters else "past_key_values"

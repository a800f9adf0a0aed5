"""Differences between transformers releases that the model backends must bridge, in one place."""

from __future__ import annotations

import inspect


def cache_kwarg(model) -> str:
    """The forward argument that takes a KV cache: ``cache`` in transformers >= 5.24 (``past_key_values``
    there is deprecated, to be removed in 5.40), ``past_key_values`` before."""
    return "cache" if "cache" in inspect.signature(model.forward).parameters else "past_key_values"


def cache_tensors(cache) -> list[tuple]:
    """A DynamicCache's (keys, values) per layer, each (batch, heads, positions, head_dim)."""
    if hasattr(cache, "layers"):
        return [(layer.keys, layer.values) for layer in cache.layers]
    return list(zip(cache.key_cache, cache.value_cache, strict=True))  # releases before the layer API


def cache_from(tensors: list[tuple]):
    """A DynamicCache holding these per-layer (keys, values)."""
    from transformers import DynamicCache

    cache = DynamicCache()
    for i, (k, v) in enumerate(tensors):
        cache.update(k, v, i)
    return cache

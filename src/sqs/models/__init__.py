"""Language models: the transformers backend (``backend``: one KV cache per side, loaders with an offline
error, the default pair), the offline wheels (``embedded``), release differences (``hfcompat``), the
SmolLM2 pair's distilled draft (``distill``) and exact toy Markov pairs (``toy``)."""

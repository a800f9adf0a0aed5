"""Compare every scheme on an exact toy model pair: the protocol's main job until real models land.

The pair is a random Markov (bigram) SLM/LLM over ``vocab_size`` tokens; every scheme decodes the
same prompts with the same seeds through Edge and Cloud components that exchange only bytes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from tqdm import tqdm

from sqs.models.toy import random_pair
from sqs.protocol.schemes import SCHEMES
from sqs.protocol.schemes import get as scheme_spec
from sqs.protocol.schemes.registry import SchemeSettings
from sqs.system.cloud import Cloud
from sqs.system.edge import Edge
from sqs.system.metrics import pooled
from sqs.system.session import run_session


@dataclass(frozen=True)
class SimulationConfig(SchemeSettings):
    """The toy simulation; every scheme's parameters come from SchemeSettings (a toy V takes a higher beta)."""

    vocab_size: int = 1024
    n_prompts: int = 8
    max_new_tokens: int = 64
    temperature: float = 1.0
    budget_bits: int = 5000
    max_draft_len: int = 8
    beta: float = 0.01
    closeness: float = 0.8
    seed: int = 0

    def scheme_names(self) -> list[str]:
        """Every speculative scheme of the registry; each reads its parameters off self by name."""
        return [n for n, spec in SCHEMES.items() if spec.speculative]


def simulate(cfg: SimulationConfig, progress: bool = True) -> list[dict]:
    """One summary row per scheme, pooled over prompts (sqs.system.metrics)."""
    slm, llm = random_pair(cfg.vocab_size, np.random.default_rng(cfg.seed), cfg.closeness)
    prompts = np.random.default_rng(cfg.seed + 1).integers(cfg.vocab_size, size=cfg.n_prompts)
    jobs = [(name, i) for name in cfg.scheme_names() for i in range(cfg.n_prompts)]
    per_scheme: dict[str, list] = {}
    for name, i in tqdm(jobs, desc="simulate", unit="prompt", disable=not progress):
        rng = np.random.default_rng([cfg.seed, i])
        spec = scheme_spec(name)
        edge = Edge(slm, spec.make(**spec.params_of(cfg)), cfg.temperature, cfg.budget_bits, cfg.max_draft_len, rng)
        cloud = Cloud(llm, cfg.temperature, np.random.default_rng([cfg.seed, i, 1]))
        res = run_session(edge, cloud, [int(prompts[i])], cfg.max_new_tokens)
        per_scheme.setdefault(name, []).append(res.tally())
    rows = []
    for name, tallies in per_scheme.items():
        t = pooled(tallies)
        rows.append({"scheme": name, **scheme_spec(name).params_of(cfg), **t.rates(), "rejections": t.resampled,
                     "uplink_bytes_per_token": t.uplink_bytes / max(t.tokens, 1)})  # fmt: skip
    return rows

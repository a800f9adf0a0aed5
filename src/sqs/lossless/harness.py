"""A scheme run through a real Edge and Cloud, which exchange only bytes, on an exact toy target.

The target is a Markov pair (:func:`sqs.models.toy.random_pair`), whose LLM law of the first tokens is
known in closed form. Each session decodes ``tokens`` tokens from the prompt [0], batches of up to
``draft_len`` drafts through the wire, and the joint law of those tokens is tested against the LLM's own
(:func:`sqs.lossless.gof.gof_test`). A check in which no draft was accepted and none rejected tests
nothing (cloud-only decoding is exact by construction): :attr:`CheckResult.tested` says so.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np
from tqdm import tqdm

from sqs.lossless.faults import fault_laws
from sqs.lossless.gof import GofResult, gof_power, gof_test
from sqs.models.toy import MarkovLM, random_pair
from sqs.protocol.probs import softmax_temperature
from sqs.system.cloud import Cloud
from sqs.system.edge import Edge
from sqs.system.session import run_session


@dataclass(frozen=True)
class CheckResult:
    """The law test and what the sessions exercised: drafts sent, accepted, and rounds that resampled."""

    gof: GofResult
    sessions: int
    drafts: int
    accepted: int
    resampled: int
    counts: np.ndarray
    target: np.ndarray
    fault_power: dict  # fault -> power of this check against it (empty when tokens - 1 > the draft cap)

    @property
    def tested(self) -> bool:
        """Both verification outcomes happened: accepted drafts and resampled rejections."""
        return self.accepted > 0 and self.resampled > 0

    def row(self) -> dict:
        g = self.gof
        return {"pvalue": g.pvalue, "sessions": self.sessions, "cells": int(self.target.size), "df": g.df,
                "detectable_tv": g.detectable_tv, "drafts": self.drafts, "accepted": self.accepted,
                "resampled": self.resampled, "impossible": g.impossible,
                **{f"power: {f}": pw for f, pw in self.fault_power.items()}}  # fmt: skip


def _chain(first: np.ndarray, steps: list[np.ndarray]) -> np.ndarray:
    """Joint law of a Markov chain: ``first`` the first token's law, ``steps[i]`` the (V, V) law of token i + 2
    after token i + 1; shape (V,) * (len(steps) + 1)."""
    law = np.asarray(first, dtype=np.float64)
    for step in steps:
        law = law[..., None] * step.reshape((1,) * (law.ndim - 1) + step.shape)
    return law


def first_tokens_law(llm: MarkovLM, temperature: float, prompt_token: int, tokens: int) -> np.ndarray:
    """The LLM's exact joint law of its first ``tokens`` tokens after ``prompt_token``, shape (V,) * tokens."""
    p = softmax_temperature(llm.table, temperature)
    return _chain(p[prompt_token], [p] * (tokens - 1))


def check_scheme(scheme, sessions: int = 20_000, vocab_size: int = 5, tokens: int = 3, temperature: float = 0.8,
                 closeness: float = 0.5, draft_len: int = 3, budget_bits: int = 10**6, seed: int = 0,
                 alpha: float = 0.01, progress: bool = False, pair: tuple[MarkovLM, MarkovLM] | None = None,
                 edge_kwargs: dict | None = None, rule: str = "token") -> CheckResult:  # fmt: skip
    """Run ``sessions`` sessions of ``scheme`` (a runtime scheme: ``sqs.make_scheme(...)``) and test the law.

    ``pair`` overrides the random toy pair (an (SLM, LLM) of :class:`MarkovLM`); ``edge_kwargs`` go to the
    :class:`Edge` (a drafting ``policy``, say); ``rule`` is the cloud's verification rule (``token``, ``block``).
    """
    if sessions < 1 or tokens < 1 or vocab_size < 2:
        raise ValueError(f"need sessions >= 1, tokens >= 1, vocab_size >= 2; got {sessions}, {tokens}, {vocab_size}")
    slm, llm = pair if pair is not None else random_pair(vocab_size, np.random.default_rng(seed), closeness)
    v = llm.vocab_size
    target = first_tokens_law(llm, temperature, 0, tokens)
    counts = np.zeros(v**tokens, dtype=np.int64)
    edge = Edge(slm, scheme, temperature, budget_bits, draft_len, np.random.default_rng([seed, 1]),
                **(edge_kwargs or {}))  # fmt: skip
    cloud = Cloud(llm, temperature, np.random.default_rng([seed, 2]), rule=rule)
    drafts = accepted = resampled = 0
    for _ in tqdm(range(sessions), desc="lossless check", disable=not progress, unit="session"):
        res = run_session(edge, cloud, [0], tokens)
        counts[np.ravel_multi_index(tuple(res.tokens[:tokens]), (v,) * tokens)] += 1
        for b in res.batches:
            drafts += b.num_drafts
            accepted += b.num_accepted
            resampled += b.resampled
    gof = gof_test(counts, target.ravel(), alpha=alpha)
    # the faults are modelled on token-by-token verification of a q_hat: no power figure for another rule
    modelled = tokens - 1 <= draft_len and rule == "token" and not scheme.spec.layout.exact_match
    power = fault_power(scheme, slm, llm, temperature, tokens, sessions, alpha) if modelled else {}
    return CheckResult(gof, sessions, drafts, accepted, resampled, counts, target.ravel(), power)


def fault_power(scheme, slm: MarkovLM, llm: MarkovLM, temperature: float, tokens: int, sessions: int,
                alpha: float, wanted: int | None = None) -> dict[str, float]:  # fmt: skip
    """The check's power against each known fault (:mod:`sqs.lossless.faults`), from the law the fault gives.

    Sessions decode ``wanted`` tokens (default ``tokens``) and the joint law of the first ``tokens`` is tested.
    With budget to spare and ``wanted`` - 1 <= the draft cap, every position but the last is drafted (the edge
    never drafts past the tokens wanted, and a batch's bonus token lands on the last position or later), so
    under a fault the joint law is prod_i law_f(x_i | x_{i-1}) times the cloud's own p for the last token: exact
    for stateless schemes; C-SQS's q_hat is taken at its current threshold. The scheme is copied: its state
    stays put.
    """
    p = softmax_temperature(llm.table, temperature)
    p1 = softmax_temperature(llm.table, 1.0)
    q = softmax_temperature(slm.table, temperature)
    probe = copy.deepcopy(scheme)
    rows = [fault_laws(q[c], probe.compress(q[c]).q_hat, p[c], p1[c]) for c in range(llm.vocab_size)]
    target = first_tokens_law(llm, temperature, 0, tokens).ravel()
    wanted = tokens if wanted is None else wanted
    out = {}
    for f in rows[0]:
        step = np.array([r[f] for r in rows])  # (V, V): the emitted token's law after each context
        last = p1 if f == "temperature on the edge only" else p
        laws = [step if i < wanted - 1 else last for i in range(tokens)]  # position i + 1 drafted unless last
        out[f] = gof_power(_chain(laws[0][0], laws[1:]).ravel(), target, sessions, alpha)
    return out

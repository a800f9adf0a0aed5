"""Live edge-cloud decoding of text prompts with real language models (the ``sqs decode`` command).

Schemes: ``ar`` (cloud-only autoregressive, the baseline speedups are measured against), ``sd``
(uncompressed float32 distributions on the wire), ``qs``/``dense``, ``k-sqs``, ``c-sqs``, ``top-p``.
Every prompt generates exactly ``max_new_tokens`` tokens (no early stop at end-of-text), so schemes are
compared on equal lengths.

Cloud-only AR is charged the cloud's compute per token, the downlink message of each token, and one
propagation delay for the whole stream (the cloud never waits for the edge; :meth:`Pricer.ar_stream`):
the most favourable reading for the baseline, so a speedup over it is not inflated.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

import numpy as np

from sqs.models.backend import DEFAULT_DTYPE, DEFAULT_LLM, DEFAULT_SLM
from sqs.models.interface import LanguageModel, encode_prompt, load, shared_vocab_size
from sqs.protocol import wire
from sqs.protocol.probs import sample_probs, softmax_temperature
from sqs.protocol.schemes import get as scheme_spec
from sqs.protocol.schemes import names as scheme_names
from sqs.protocol.schemes.registry import SchemeSettings
from sqs.protocol.verify import verify_rule
from sqs.system.adaptive import make_policy
from sqs.system.channel import ChannelConfig, RateProcess
from sqs.system.cloud import Cloud
from sqs.system.compute import MEASURED, ComputeProfile, forward_of
from sqs.system.edge import Edge
from sqs.system.latency import LinkConfig
from sqs.system.metrics import Tally
from sqs.system.pricing import Pricer
from sqs.system.session import SessionInterrupted, run_session

log = logging.getLogger(__name__)

DECODE_SCHEMES = scheme_names()
SCHEME_STATES = ("cell", "prompt")


@dataclass(frozen=True)
class DecodeConfig(SchemeSettings):
    """One live decoding run; every scheme's parameters (ell, k, beta, ...) come from SchemeSettings."""

    scheme: str = "c-sqs"
    temperature: float = 0.7
    max_new_tokens: int = 24
    budget_bits: int = 5000
    max_draft_len: int | None = 2  # None: no cap, the budget B alone sets the draft length (the paper's rule)
    slm: str = DEFAULT_SLM
    llm: str = DEFAULT_LLM
    dtype: str = DEFAULT_DTYPE
    device: str = "auto"
    seed: int = 0
    link: LinkConfig = field(default_factory=LinkConfig)
    channel: ChannelConfig = field(default_factory=ChannelConfig)  # the uplink rate per batch
    policy: str = "static"  # static: max_draft_len drafts at ell; adaptive: sqs.system.adaptive over ells
    ells: tuple[int, ...] = ()  # the adaptive policy's resolutions (default: ell alone)
    preemptive: bool = False  # the edge drafts on while the cloud verifies (sqs.system.session.run_session)
    compute: ComputeProfile = MEASURED  # how compute is priced (sqs.system.compute); the wall clock is kept beside
    # a stateful scheme (C-SQS's threshold) runs over every token of the run, prompts in sequence, as the
    # paper's update (8) runs over all T tokens ("cell"); or restarts at each prompt ("prompt")
    scheme_state: str = "cell"
    verify: str = "token"  # the cloud's verification rule (sqs.protocol.verify.RULES)

    def __post_init__(self) -> None:
        scheme_spec(self.scheme)  # unknown names raise, naming the valid ones
        if self.max_new_tokens < 1:
            raise ValueError(f"max_new_tokens must be >= 1, got {self.max_new_tokens}")
        if not self.temperature >= 0:
            raise ValueError(f"temperature must be >= 0, got {self.temperature}")
        if self.policy not in ("static", "adaptive"):
            raise ValueError(f"unknown draft policy {self.policy!r}; valid: static, adaptive")
        verify_rule(self.verify)  # unknown rules raise, naming the valid ones
        if self.scheme_state not in SCHEME_STATES:
            raise ValueError(f"unknown scheme_state {self.scheme_state!r}; valid: {', '.join(SCHEME_STATES)}")
        if self.max_draft_len is not None and not 1 <= self.max_draft_len <= wire.MAX_DRAFTS:
            raise ValueError(f"max_draft_len must be None (no cap) or in [1, {wire.MAX_DRAFTS}], "
                             f"got {self.max_draft_len}")  # fmt: skip
        spec = scheme_spec(self.scheme)
        if self.policy == "adaptive" and self.max_draft_len is None:
            raise ValueError("the adaptive policy chooses a draft length up to max_draft_len: give it a cap, not None")
        if self.policy == "adaptive" and not spec.lattice:
            ok = ", ".join(n for n in scheme_names(aliases=False) if scheme_spec(n).lattice)
            raise ValueError(f"the adaptive policy needs a lattice scheme ({ok}), not {self.scheme!r}")
        if self.preemptive and (not spec.speculative or spec.stateful or self.policy != "static"):
            ok = ", ".join(
                n for n in scheme_names(aliases=False) if scheme_spec(n).speculative and not scheme_spec(n).stateful
            )
            raise ValueError(
                f"preemptive drafting needs a stateless speculative scheme ({ok}) and the static "
                f"policy, got scheme={self.scheme!r}, policy={self.policy!r}"
            )

    def make_policy(self):
        """A fresh drafting policy for this config (None for the plain static edge)."""
        if self.policy == "static":
            return None
        ells = list(self.ells)
        return make_policy(self.policy, draft_len=self.max_draft_len, ell=self.ell, ells=ells, link=self.link)

    def scheme_params(self) -> dict:
        return scheme_spec(self.scheme).params_of(self)

    def run_scheme(self):
        """The scheme object a whole run shares (a stateful scheme under ``scheme_state: cell``), else None:
        each prompt then builds its own."""
        spec = scheme_spec(self.scheme)
        if spec.speculative and spec.stateful and self.scheme_state == "cell":
            return spec.make(**self.scheme_params())
        return None


class ModelPair:
    """The edge SLM and the cloud LLM over their shared vocabulary, each behind its own cache; any backend
    (:func:`sqs.models.interface.load`)."""

    def __init__(self, slm_id: str, llm_id: str, dtype: str = DEFAULT_DTYPE, device: str = "auto") -> None:
        t0 = time.perf_counter()
        llm = load(llm_id, dtype, device, side="cloud")
        slm = load(slm_id, dtype, device, side="edge")
        self.vocab_size = shared_vocab_size(slm, llm)
        self.tokenizer = llm.tokenizer
        self.slm: LanguageModel = slm.model.session(self.vocab_size)
        self.llm: LanguageModel = llm.model.session(self.vocab_size)
        self.slm_id, self.llm_id = slm_id, llm_id
        self.slm_info, self.llm_info = slm.model.describe(), llm.model.describe()
        self.compute_ratio = self.slm_info.parameters / self.llm_info.parameters
        log.info("loaded %s -> %s in %.1f s (V=%d)", slm_id, llm_id, time.perf_counter() - t0, self.vocab_size)

    @classmethod
    def of(cls, models) -> ModelPair:
        """The pair a config's models section names (:class:`sqs.study.config.Models`: its edge on its
        backend)."""
        return cls(models.slm_id, models.llm, models.dtype, models.device)

    def reset(self) -> None:
        """Both models' KV caches emptied: the next session starts cold, as a new user's would."""
        self.slm.reset()
        self.llm.reset()

    def configs(self) -> tuple[dict | None, dict | None]:
        """Both models' architectures (for the shapes a named compute profile prices)."""
        return self.slm_info.config, self.llm_info.config

    def encode(self, text: str) -> list[int]:
        return encode_prompt(self.tokenizer, text)

    def decode(self, tokens: list[int]) -> str:
        return self.tokenizer.decode(tokens)

    def make_cloud(self, temperature: float, seed: tuple[int, ...], scheme_code: int, rule: str = "token") -> Cloud:
        """One prompt's verifier, in this process (:class:`sqs.net.client.RemotePair` makes a remote one)."""
        return Cloud(self.llm, temperature, np.random.default_rng(list(seed)), scheme_code=scheme_code, rule=rule)


def run_autoregressive(
    llm: LanguageModel, prompt: list[int], max_new_tokens: int, temperature: float, rng, link: LinkConfig,
    compute: ComputeProfile = MEASURED,
) -> tuple[list[int], dict]:  # fmt: skip
    """Cloud-only AR: the LLM samples every token; priced as one stream (:meth:`Pricer.ar_stream`)."""
    tokens = list(prompt)
    measured_s, forwards = 0.0, []
    for _ in range(max_new_tokens):
        t0 = time.perf_counter()
        p = softmax_temperature(llm.next_logits(tokens), temperature)
        measured_s += time.perf_counter() - t0
        forwards.append(forward_of(llm, 1, len(tokens) - 1))
        tokens.append(sample_probs(p, rng))
    clock = Pricer(MEASURED, link).ar_stream(forwards, cloud_measured_s=measured_s)
    priced = clock if compute.measured else Pricer(compute, link).ar_stream(forwards)
    t = Tally(tokens=max_new_tokens, propagation_s=priced.propagation_s, cloud_s=priced.cloud_s,
              downlink_s=priced.downlink_s, downlink_bytes=max_new_tokens * wire.DOWNLINK_BYTES)  # fmt: skip
    for _ in range(max_new_tokens):  # one token a round: a batch without drafts
        t.add_batch(0, 0)
    t.add_prompt(priced.total_s)
    t.measured_latency_s = clock.total_s
    summary = {**t.rates(), "rejections": 0, "uplink_bytes": 0, "downlink_bytes": t.downlink_bytes,
               "predrafted": 0, "tally": t.to_dict()}  # fmt: skip
    return tokens[len(prompt) :], summary


def decode_prompt(
    pair: ModelPair, cfg: DecodeConfig, text: str, index: int, include_batches: bool = False, policy=None,
    scheme=None,
) -> dict:  # fmt: skip
    """One prompt, one scheme: the continuation and its metrics (names as in the workflow's summary.csv).

    ``include_batches`` adds ``batches``: per-batch series (drafts, accepted, bits, latency, beta) that
    the workflow logs to MLflow with ``step=``. ``policy`` is the edge's drafting policy and ``scheme``
    the run's scheme object (``cfg.run_scheme()``); pass the same objects for every prompt of a run so an
    adaptive policy keeps what it learned and C-SQS's threshold runs on (defaults: fresh ones).
    """
    policy = policy if policy is not None else cfg.make_policy()
    prompt = pair.encode(text)
    edge_rng = np.random.default_rng([cfg.seed, index])
    failure = None
    if not scheme_spec(cfg.scheme).speculative:
        if pair.llm is None:
            raise ValueError(f"scheme {cfg.scheme!r} is cloud-only: it has no edge to run against a remote cloud")
        cloud_rng = np.random.default_rng([cfg.seed, index, 1])
        tokens, summary = run_autoregressive(pair.llm, prompt, cfg.max_new_tokens, cfg.temperature, cloud_rng, cfg.link,
                                             cfg.compute)  # fmt: skip
        extra: dict = {"batches": []} if include_batches else {}
    else:
        scheme = scheme if scheme is not None else scheme_spec(cfg.scheme).make(**cfg.scheme_params())
        edge = Edge(pair.slm, scheme, cfg.temperature, cfg.budget_bits, cfg.max_draft_len, edge_rng, policy=policy)
        cloud = pair.make_cloud(cfg.temperature, (cfg.seed, index, 1), scheme.code, cfg.verify)
        rates = RateProcess(cfg.channel, cfg.link.uplink_bps, np.random.default_rng([cfg.seed, index, 2]))
        try:
            result = run_session(edge, cloud, prompt, cfg.max_new_tokens, cfg.link, rates, cfg.preemptive, cfg.compute)
        except SessionInterrupted as exc:  # the tokens so far are kept, with what happened
            result, failure = exc.result, {"batch": exc.batch, "message": exc.reason}
        finally:
            cloud.close()
        tokens, summary = result.tokens, result.summary()
        betas = [b for x in result.batches for b in x.betas if b is not None]
        extra = (
            {"beta_first": betas[0], "beta_last": betas[-1], "beta_min": min(betas), "beta_max": max(betas)}
            if betas
            else {}
        )  # the threshold's path, for people; its last value is pooled through the tally
        if include_batches:
            extra["batches"] = [_batch_series(x) for x in result.batches]
    return {
        "index": index,
        "prompt": text,
        "continuation": pair.decode(tokens),
        "tokens": tokens,
        "scheme": cfg.scheme,
        "temperature": cfg.temperature,
        **cfg.scheme_params(),
        "budget_bits": cfg.budget_bits,
        "policy": cfg.policy,
        "channel": cfg.channel.kind,
        "preemptive": cfg.preemptive,
        "compute": cfg.compute.name,
        "slm": pair.slm_id,
        "llm": pair.llm_id,
        **summary,
        **extra,
        **({"error": failure} if failure else {}),
    }


def _batch_series(x) -> dict:
    betas = [b for b in x.betas if b is not None]
    return {
        "drafts": x.num_drafts,
        "accepted": x.num_accepted,
        "resampled": x.resampled,
        "uplink_bits": x.payload_bits,
        "latency_s": x.latency.total_s,
        "compute_s": x.latency.edge_s + x.latency.cloud_s,  # priced by the run's profile: re-linkable
        "uplink_bytes": x.uplink_bytes,
        "downlink_bytes": x.downlink_bytes,
        "support_size_mean": float(np.mean(x.support_sizes)) if x.support_sizes else 0.0,
        "dropped_mass_mean": float(np.mean(x.dropped_mass)) if x.dropped_mass else 0.0,
        "rejection_prob_sum": float(sum(x.rejection_prob)),
        "bound_theorem1": x.bound_theorem1,
        "uplink_bps": x.uplink_bps,
        "predrafted": x.predrafted,
        "predrafts_kept": x.predrafts_kept,
        **({"predicted_latency_s": x.predicted.total_s, "network_s": x.latency.network_s} if x.predicted else {}),
        **({"ell": x.ell} if x.ell is not None else {}),
        **({"beta_last": betas[-1]} if betas else {}),
    }

"""Compute profiles: the seconds one model call costs, as a deterministic function of its shape.

A call is a forward of ``n`` new tokens after ``c`` cached ones (a draft step is n = 1; a
verification n = drafts + 1). A profile prices it on each side:

- **measured**: no model; the session keeps the wall clock of the machine it runs on (the QS
  reference code's way, kept for comparison);
- **calibrated**: fitted on this machine by the workflow's ``calibrate_compute`` rule, which times
  the real models' forwards at several (n, c), repeated, median, and the protocol per draft;
  ``t(n, c) = a + b n + d c + e n c`` by least squares;
- **a named hardware profile** per side (:data:`DEVICES`): a roofline from the model's own shape
  (weights and KV cache read once per call, 2 FLOPs per parameter and token plus attention) against
  the device's published memory bandwidth and peak 16-bit throughput, each at an achievable
  fraction, plus a fixed launch overhead per call. ``docs/compute-profiles.md`` gives every constant's
  source and checks the result against published per-token figures.

The protocol's own compute (compress, sample, encode at the edge; decode and verify in the cloud) is
priced per draft and scheme as ``a + b K`` (K the support size): under ``calibrated`` from this
machine's fresh calibration; under a named profile from the committed table
``src/sqs/data/protocol_prices.json`` (this machine, once, with the command that measured it), its
constant term scaled by V / V_ref and everything by the device's ``protocol_scale``, so a named
profile prices the same on every machine. Under any profile but ``measured`` the latency of a session is a function
of its token trajectory alone, so the same seed gives the same latency columns on every machine.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass(frozen=True)
class ModelShape:
    """What a forward reads and computes (decoder-only transformer, grouped-query attention)."""

    name: str
    params: float  # all parameters, embeddings included
    layers: int
    hidden: int
    kv_heads: int
    head_dim: int
    vocab: int

    def kv_bytes_per_token(self, bytes_per_value: float = 2.0) -> float:
        return 2.0 * self.layers * self.kv_heads * self.head_dim * bytes_per_value

    def bytes_read(self, n_new: int, context: int, weight_bits: float) -> float:
        """Weights once, and the KV cache of every position the call attends to."""
        return self.params * weight_bits / 8.0 + self.kv_bytes_per_token() * (context + n_new)

    def flops(self, n_new: int, context: int) -> float:
        """2 per parameter and new token, plus QK^T and AV over the attended positions."""
        attended = n_new * context + n_new * (n_new + 1) / 2.0
        return 2.0 * self.params * n_new + 4.0 * self.layers * self.hidden * attended


# Architectures from the models' config.json (Qwen2.5-Coder on the hub; SmolLM2; GPT-Neo).
SHAPES = {
    "qwen2.5-coder-0.5b-instruct": ModelShape("Qwen2.5-Coder-0.5B-Instruct", 0.494e9, 24, 896, 2, 64, 151936),
    "qwen2.5-coder-1.5b-instruct": ModelShape("Qwen2.5-Coder-1.5B-Instruct", 1.544e9, 28, 1536, 2, 128, 151936),
    "smollm2-135m-instruct": ModelShape("SmolLM2-135M-Instruct", 0.1345e9, 30, 576, 3, 64, 49152),
    "gpt-neo-125m": ModelShape("GPT-Neo-125M", 0.125e9, 12, 768, 12, 64, 50257),
    "gpt-neo-1.3b": ModelShape("GPT-Neo-1.3B", 1.316e9, 24, 2048, 16, 128, 50257),
    # the anchors' pairs (docs/capacity.md, "The anchors"): Qwen3 model cards, LLaMA/Vicuna and OPT config.json
    "qwen3-0.6b": ModelShape("Qwen3-0.6B", 0.6e9, 28, 1024, 8, 128, 151936),
    "qwen3-1.7b": ModelShape("Qwen3-1.7B", 1.7e9, 28, 2048, 8, 128, 151936),
    "qwen3-14b": ModelShape("Qwen3-14B", 14.8e9, 40, 5120, 8, 128, 151936),
    "qwen3-32b": ModelShape("Qwen3-32B", 32.8e9, 64, 5120, 8, 128, 151936),
    "vicuna-68m": ModelShape("Vicuna-68M", 0.068e9, 2, 768, 12, 64, 32000),
    "llama-2-7b": ModelShape("Llama-2-7B", 6.74e9, 32, 4096, 32, 128, 32000),
    "opt-125m": ModelShape("OPT-125M", 0.125e9, 12, 768, 12, 64, 50272),
    "opt-1.3b": ModelShape("OPT-1.3B", 1.316e9, 24, 2048, 32, 64, 50272),
    "opt-6.7b": ModelShape("OPT-6.7B", 6.66e9, 32, 4096, 32, 128, 50272),
    "opt-13b": ModelShape("OPT-13B", 12.85e9, 40, 5120, 40, 128, 50272),
}


def shape_from_config(name: str, cfg: dict) -> ModelShape:
    """A decoder's shape from its ``config.json`` (parameters estimated from the matrices' sizes)."""
    hidden = int(cfg.get("hidden_size") or cfg["n_embd"])
    layers = int(cfg.get("num_hidden_layers") or cfg.get("num_layers") or cfg["n_layer"])
    heads = int(cfg.get("num_attention_heads") or cfg.get("num_heads") or cfg["n_head"])
    kv = int(cfg.get("num_key_value_heads") or heads)
    head_dim = int(cfg.get("head_dim") or hidden // heads)
    vocab = int(cfg["vocab_size"])
    inner = int(cfg.get("intermediate_size") or cfg.get("n_inner") or 4 * hidden)
    gated = cfg.get("hidden_act", cfg.get("activation_function", "")) in ("silu", "swiglu")
    per_layer = hidden * (2 * hidden + 2 * kv * head_dim) + (3 if gated else 2) * hidden * inner
    embed = vocab * hidden * (1 if cfg.get("tie_word_embeddings", True) else 2)
    return ModelShape(name, float(embed + layers * per_layer), layers, hidden, kv, head_dim, vocab)


def shape_of(model_id: str, config: dict | None = None) -> ModelShape:
    """The shape of a model id: a known one (embedded id, the paper's hub ids), the loaded model's
    ``config`` (:class:`sqs.models.interface.ModelInfo`), or a local directory's ``config.json``; ``@exit=N``
    keeps N of its layers."""
    base, _, exit_ = model_id.removeprefix("llama.cpp:").partition("@exit=")  # a runtime does not change a shape
    key = base.removeprefix("embedded:").rsplit("/", 1)[-1].lower().removesuffix("-draft")
    if key in SHAPES:
        s = SHAPES[key]
    elif config is not None:
        return shape_from_config(model_id, config)  # already cut to its layers
    elif (Path(base) / "config.json").is_file():
        s = shape_from_config(base, json.loads((Path(base) / "config.json").read_text()))
    else:
        raise ValueError(
            f"no shape known for model {model_id!r} (known: {', '.join(SHAPES)}, or a local directory with a "
            "config.json): a named compute profile cannot price it; use compute.profile: calibrated or measured"
        )
    if exit_:  # the first N layers and the (tied) embedding
        n = int(exit_)
        per_layer = (s.params - s.vocab * s.hidden) / s.layers
        s = ModelShape(f"{s.name}@exit={n}", s.params - per_layer * (s.layers - n), n, s.hidden, s.kv_heads,
                       s.head_dim, s.vocab)  # fmt: skip
    return s


@dataclass(frozen=True)
class Device:
    """Published peak numbers of one accelerator, and the modelling constants that derate them."""

    name: str
    mem_bw: float  # bytes/s, published peak
    peak_flops: float  # dense 16-bit FLOP/s, published peak
    bw_efficiency: float  # achieved fraction of mem_bw in batch-1 decoding (assumption, docs)
    flops_efficiency: float  # achieved fraction of peak_flops (assumption, docs)
    launch_s: float  # host cost of one kernel launch (assumption, docs)
    kernels_per_layer: int  # kernels one decoder layer launches in a forward
    weight_bits: float  # precision the deployment stores weights in
    protocol_scale: float  # this machine's protocol seconds x this: the device's CPU (assumption, docs)
    source: str
    host_cores: int = 1  # host CPU cores a serving device has for protocol work (one verifier thread: 1)

    def forward_s(self, shape: ModelShape, n_new: int, context: int, sessions: float = 1) -> float:
        """One forward of ``sessions`` sequences at once, each ``n_new`` new tokens after ``context`` cached
        ones: the weights are read once, every sequence's KV cache and FLOPs are its own."""
        overhead = self.kernels_per_layer * shape.layers * self.launch_s
        weights = shape.params * self.weight_bits / 8.0
        kv = sessions * (shape.bytes_read(n_new, context, self.weight_bits) - weights)
        memory = (weights + kv) / (self.mem_bw * self.bw_efficiency)
        compute = sessions * shape.flops(n_new, context) / (self.peak_flops * self.flops_efficiency)
        return overhead + max(memory, compute)


def _jetson(name: str, bw: float, flops: float, protocol_scale: float, source: str) -> Device:
    """A Jetson running llama.cpp: Q4_K_M weights (~4.5 bits); a third of peak bandwidth reached (set from
    llama.cpp's Qwen2.5-Coder-1.5B figure, docs/compute-profiles.md); 15 µs a kernel launch on its Arm host."""
    return Device(name, bw, flops, 0.32, 0.5, 15e-6, 10, 4.5, protocol_scale, source)


def _datacenter(name: str, bw: float, flops: float, host_cores: int, source: str) -> Device:
    """A datacenter GPU serving bf16 weights at batch 1: 0.8 of peak bandwidth, 5 µs a kernel launch; its share
    of its server's CPU cores for the protocol's host work."""
    return Device(name, bw, flops, 0.8, 0.5, 5e-6, 10, 16, 1.0, source, host_cores)


DEVICES = {
    "orin-nano-super": _jetson("Jetson Orin Nano 8GB (Super mode)", 102e9, 16.7e12, 2.0,
                               "NVIDIA Jetson Orin Nano Super: 102 GB/s LPDDR5, 67 sparse INT8 TOPS "
                               "(16.7 dense FP16 TFLOPS derived)"),
    "orin-nano": _jetson("Jetson Orin Nano 8GB", 68e9, 10.2e12, 2.5,
                         "NVIDIA Jetson Orin Nano datasheet: 68 GB/s LPDDR5, 20 dense INT8 TOPS "
                         "(10 dense FP16 TFLOPS derived)"),
    "h100-sxm": _datacenter("NVIDIA H100 SXM", 3.35e12, 989e12, 14, "H100 SXM: 3.35 TB/s HBM3, 989 dense BF16 "
                            "TFLOPS; DGX H100: 112 CPU cores for 8 GPUs"),
    "h100-pcie": _datacenter("NVIDIA H100 PCIe", 2.0e12, 756e12, 14, "H100 PCIe: 2.0 TB/s HBM2e, 756 dense BF16 "
                             "TFLOPS; host cores as a DGX H100's share"),
    "a100-40gb": _datacenter("NVIDIA A100 40GB SXM", 1.555e12, 312e12, 16,
                             "NVIDIA A100 datasheet: 1,555 GB/s HBM2, 312 dense BF16 TFLOPS; DGX A100: 128 CPU cores "
                             "for 8 GPUs"),
    "h800": _datacenter("NVIDIA H800 SXM", 3.35e12, 989e12, 14, "H800 SXM: the H100 SXM's memory and tensor cores "
                        "(3.35 TB/s, 989 dense BF16 TFLOPS), its NVLink cut; host cores as a DGX H100's share"),
    "rtx-4090": _datacenter("NVIDIA GeForce RTX 4090", 1.008e12, 165.2e12, 1,
                            "Ada Lovelace whitepaper: 1,008 GB/s GDDR6X, 165.2 dense FP16 tensor TFLOPS with FP32 "
                            "accumulate (330.3 with FP16 accumulate, the figure SpecEdge quotes)"),
    "jetson-nano": Device("NVIDIA Jetson Nano 4GB", 25.6e9, 0.472e12, 0.32, 0.5, 15e-6, 10, 16, 4.0,
                          "NVIDIA Jetson Nano datasheet: 25.6 GB/s LPDDR4, 472 FP16 GFLOPS; PyTorch fp16 weights; "
                          "bandwidth fraction and launch as the Orin's (assumption)"),
    "a100-80gb": _datacenter("NVIDIA A100 80GB SXM", 2.039e12, 312e12, 16,
                             "NVIDIA A100 datasheet: 2,039 GB/s HBM2e, 312 dense BF16 TFLOPS; DGX A100: 128 CPU "
                             "cores for 8 GPUs"),
}  # fmt: skip
# named edge/cloud pairs: <edge>+<cloud>, any two of the devices
PAIRS = tuple(f"{edge}+{cloud}" for edge in DEVICES for cloud in DEVICES)
PROFILES = ("measured", "calibrated", *PAIRS)


@dataclass(frozen=True)
class Fitted:
    """This machine, fitted: t(n, c) = a + b n + d c + e n c (seconds)."""

    a: float
    b: float
    d: float
    e: float

    def forward_s(self, n_new: int, context: int, sessions: float = 1) -> float:
        """``sessions`` sequences in one forward, on a CPU: the call's constant once, every token, context and
        attention term per sequence (a batch costs its tokens, as a compute-bound device's does)."""
        per = self.b * n_new + self.d * context + self.e * n_new * context
        return max(self.a + sessions * per, 0.0)


def fit_forward(samples: list[tuple[int, int, float]]) -> Fitted:
    """Least squares of t(n, c) over (n, c, seconds) samples (each typically a median of repeats)."""
    n, c, t = (np.array(x, dtype=float) for x in zip(*samples, strict=True))
    design = np.stack([np.ones_like(n), n, c, n * c], axis=1)
    coef, *_ = np.linalg.lstsq(design, t, rcond=None)
    return Fitted(*(float(x) for x in coef))


@dataclass(frozen=True)
class Linear:
    """Per-draft protocol seconds a + b K (K: the draft's support size)."""

    a: float = 0.0
    b: float = 0.0

    def __call__(self, k: int) -> float:
        return max(self.a + self.b * k, 0.0)


def fit_linear(samples: list[tuple[int, float]]) -> Linear:
    k, t = (np.array(x, dtype=float) for x in zip(*samples, strict=True))
    if np.ptp(k) == 0:
        return Linear(float(np.median(t)), 0.0)
    b, a = np.polyfit(k, t, 1)
    return Linear(float(a), float(b))


@dataclass(frozen=True)
class Side:
    """One side's price list: its model's forwards, and its protocol work per draft for each scheme."""

    forward: Fitted | tuple[Device, ModelShape]
    protocols: tuple[tuple[str, Linear], ...] = ()  # (scheme name, per-draft seconds) pairs
    label: str = ""

    def protocol_s(self, scheme: str, k: int) -> float:
        """One draft's protocol seconds under ``scheme`` with support size ``k``. A side without any protocol
        prices (per-call prices fitted on live cells) charges none; one with prices refuses a scheme it lacks."""
        table = dict(self.protocols)
        if scheme in table:
            return table[scheme](k)
        if not table:
            return 0.0
        raise ValueError(f"no protocol price for scheme {scheme!r} on {self.label or 'this side'} (priced: "
                         f"{', '.join(table)}); re-measure the protocol prices (rule calibrate_compute)")  # fmt: skip

    @property
    def host_cores(self) -> int:
        """Cores that share the protocol's host work across sessions (a fitted machine: one verifier thread)."""
        return 1 if isinstance(self.forward, Fitted) else self.forward[0].host_cores

    def forward_s(self, n_new: int, context: int, sessions: float = 1) -> float:
        """A forward's seconds (``sessions`` sequences batched into one: the cloud verifying many edges)."""
        if n_new <= 0:
            return 0.0  # everything was cached: no forward
        if isinstance(self.forward, Fitted):
            return self.forward.forward_s(n_new, context, sessions)
        device, shape = self.forward
        return device.forward_s(shape, n_new, context, sessions)


@dataclass(frozen=True)
class ComputeProfile:
    """How a run prices compute: ``measured`` (edge is None) or a model of each side."""

    name: str = "measured"
    edge: Side | None = None
    cloud: Side | None = None

    @property
    def measured(self) -> bool:
        return self.edge is None

    @property
    def slm_on_cloud(self) -> Side:
        """The SLM served beside the LLM on the cloud's accelerator (server-only SD: both models there, no link):
        the cloud's device with the SLM's shape; a fitted profile's SLM fit as it is (one machine runs both)."""
        edge, cloud = self.edge.forward, self.cloud.forward
        if isinstance(edge, Fitted) or isinstance(cloud, Fitted):
            return Side(edge, (), f"the SLM on {self.cloud.label}")
        return Side((cloud[0], edge[1]), (), f"the SLM on {self.cloud.label}")


MEASURED = ComputeProfile()


def per_call(edge_s_per_draft: float, cloud_s_per_batch: float, cloud_s_per_token: float = 0.0,
             name: str = "per-call") -> ComputeProfile:  # fmt: skip
    """Constant prices: an SLM step costs ``edge_s_per_draft``; a verification of n tokens
    ``cloud_s_per_batch + n cloud_s_per_token`` (what a fit on live summary rows gives)."""
    return ComputeProfile(
        name,
        Side(Fitted(edge_s_per_draft, 0.0, 0.0, 0.0), (), "per call"),
        Side(Fitted(cloud_s_per_batch, cloud_s_per_token, 0.0, 0.0), (), "per call"),
    )


def forward_of(model, n_new: int, cached: int) -> tuple[int, int]:
    """The shape of the call ``model`` just made, (new tokens, cached tokens): its ``last_forward`` when it
    keeps a cache (``keeps_cache``; no new token for a cache hit), else the shape a cache would have run,
    (``n_new``, ``cached``)."""
    if model.keeps_cache:
        return model.last_forward or (0, n_new + cached)
    return n_new, cached


PROTOCOL_PRICES = Path(__file__).resolve().parents[1] / "data/protocol_prices.json"


def _protocols(table: dict, scale: float, a_scale: float = 1.0) -> tuple:
    return tuple((n, Linear(v["a"] * scale * a_scale, v["b"] * scale)) for n, v in sorted(table.items()))


def make_profile(name: str, slm_id: str, llm_id: str, calibration: dict | None = None,
                 configs: tuple | None = None) -> ComputeProfile:  # fmt: skip
    """The profile ``name`` (one of :data:`PROFILES`) for this pair; ``calibration`` is the
    ``calibrate_compute`` rule's JSON (needed by ``calibrated`` only); ``configs``: the (SLM, LLM)
    architectures as their backends describe them, for the shapes of ids not known here."""
    if name == "measured":
        return MEASURED
    if name not in PROFILES:
        raise ValueError(f"unknown compute profile {name!r}; valid: {', '.join(PROFILES)}")
    if name == "calibrated":
        if calibration is None:
            raise ValueError("compute profile 'calibrated' needs this machine's calibration (rule calibrate_compute)")
        return ComputeProfile(
            name,
            Side(Fitted(**calibration["slm_forward"]), _protocols(calibration["edge_protocol"], 1.0), "this machine"),
            Side(Fitted(**calibration["llm_forward"]), _protocols(calibration["cloud_protocol"], 1.0), "this machine"),
        )
    edge_name, cloud_name = name.split("+")
    ed, cd = DEVICES[edge_name], DEVICES[cloud_name]
    slm, llm = (shape_of(i, c) for i, c in zip((slm_id, llm_id), configs or (None, None), strict=True))
    prices = json.loads(PROTOCOL_PRICES.read_text())
    v = llm.vocab / prices["vocab_size"]  # the per-draft constant is O(V): softmax, selection, sampling
    return ComputeProfile(
        name,
        Side((ed, slm), _protocols(prices["edge_protocol"], ed.protocol_scale, v), ed.name),
        Side((cd, llm), _protocols(prices["cloud_protocol"], cd.protocol_scale, v), cd.name),
    )


def load_profile(name: str, slm_id: str, llm_id: str, calibration_file: Path | str | None) -> ComputeProfile:
    """:func:`make_profile` reading the calibration JSON from a file (None for ``measured``)."""
    cal = json.loads(Path(calibration_file).read_text()) if calibration_file else None
    return make_profile(name, slm_id, llm_id, cal)

"""The embedded pair's edge draft: a layer subset of the LLM, partly retrained, distilled on LLM text.

No smaller model with the LLM's tokenizer can be had offline, so the draft is built from the LLM: its
first ``frozen_layers`` decoder layers (frozen), then the LLM layers listed in ``trained_layers``
(initialized from the LLM's own and trained), the final norm (trained) and the tied embedding head
(frozen). The last layers are the ones that turn the residual stream into the output distribution, so
training them to read an early layer's stream beats training a fresh block on top of an early exit
at the same cost (measured; README).

With ``head_tokens = n`` the draft's output layer covers only the n tokens that hold the most LLM
probability mass on the training text (the tied head is a fifth of the LLM's per-token compute), the
other tokens get probability 0, and the compute saved pays for more decoder layers under the same
cap; the checkpoint then carries ``head_tokens.json`` and ``sqs.models.backend.load_model`` cuts its head.
The default spends it so: layers 0-11 frozen, layers 25-29 trained, a head over 8 192 tokens (0.48
of the LLM's compute; held-out acceptance 0.49 against 0.42 for layers 0-7 + 8, 28, 29 with the full
head at 0.50).

The draft is distilled with KL(p || q) on text the LLM sampled itself at T = 1 from the training half
of the committed news openers (``sqs.study.prompts``), which is the distribution the draft faces during
decoding; it is scored on text sampled from the other half. The frozen prefix's output and the
teacher's final hidden state are captured while the text is sampled, so training runs only the
trained layers. Every random choice comes from generators seeded by ``DistillConfig.seed``; the
result is an ordinary Hugging Face checkpoint plus a JSON report.
"""

from __future__ import annotations

import copy
import json
import logging
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from sqs.models.hfcompat import cache_kwarg

log = logging.getLogger(__name__)

MAX_COMPUTE_SHARE = 0.5  # the draft may cost at most half the LLM's per-token compute


@dataclass(frozen=True)
class DistillConfig:
    frozen_layers: int = 12
    trained_layers: str = "25,26,27,28,29"  # LLM layer indices appended after the frozen prefix, comma-separated
    sequences_per_prompt: int = 12
    heldout_per_prompt: int = 1
    seq_len: int = 96
    gen_batch: int = 256
    steps: int = 320
    batch_sequences: int = 8
    lr: float = 1e-3
    warmup_steps: int = 50
    seed: int = 0
    head_tokens: int = 8192  # > 0: the output layer covers only the tokens holding most LLM mass (0: all)

    def __post_init__(self) -> None:
        if self.frozen_layers < 0:
            raise ValueError(f"frozen_layers must be >= 0, got {self.frozen_layers}")
        try:
            layers = self.trained
        except ValueError:
            raise ValueError(
                f"trained_layers must be comma-separated layer indices such as '8,28,29', got {self.trained_layers!r}"
            ) from None
        if not layers or min(layers) < 0:
            raise ValueError(f"trained_layers needs at least one layer index >= 0, got {self.trained_layers!r}")
        if self.head_tokens < 0:
            raise ValueError(f"head_tokens must be >= 0 (0: the full vocabulary), got {self.head_tokens}")
        for name in ("sequences_per_prompt", "heldout_per_prompt", "seq_len", "gen_batch", "steps", "batch_sequences"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if not 0 < self.lr < 1:
            raise ValueError(f"lr must be in (0, 1), got {self.lr}")

    @property
    def trained(self) -> list[int]:
        return [int(x) for x in self.trained_layers.split(",")]

    @property
    def layers(self) -> list[int]:
        """The LLM layers the draft runs, in order."""
        return list(range(self.frozen_layers)) + self.trained


def per_token_macs(config, n_layers: int, head_rows: int = 0) -> int:
    """Multiply-accumulates per token of a Llama-style decoder (projections, MLP and head over
    ``head_rows`` tokens, default all; attention scores are left out: at these context lengths they are
    under 5 % of a layer)."""
    d, f, v = config.hidden_size, config.intermediate_size, config.vocab_size
    kv = config.num_key_value_heads * (d // config.num_attention_heads)
    layer = d * d * 2 + d * kv * 2 + 3 * d * f
    return n_layers * layer + d * min(head_rows or v, v)


def compute_share(config, cfg: DistillConfig) -> float:
    """The draft's per-token compute as a share of the LLM's."""
    draft = per_token_macs(config, len(cfg.layers), cfg.head_tokens)
    return draft / per_token_macs(config, config.num_hidden_layers)


def head_subset(head, teacher, n: int, chunk: int = 64):
    """The ``n`` tokens holding the most LLM probability mass over ``teacher`` (final hidden states),
    sorted by id, and the share of the mass they hold."""
    import torch

    mass = torch.zeros(head.weight.shape[0], dtype=torch.float64)
    with torch.no_grad():
        for i in range(0, len(teacher), chunk):
            mass += torch.softmax(head(teacher[i : i + chunk]).float(), -1).sum((0, 1)).double()
    ids = torch.argsort(mass, descending=True)[:n].sort().values
    return ids, float(mass[ids].sum() / mass.sum())


def select_layers(model, indices: list[int]):
    """``model`` with only the decoder layers ``indices`` (in that order), re-indexed for the KV cache."""
    import torch

    layers = model.model.layers
    if max(indices) >= len(layers):
        raise ValueError(f"layer index {max(indices)} out of range: the model has {len(layers)} layers")
    model.model.layers = torch.nn.ModuleList([layers[i] for i in indices])
    for i, layer in enumerate(model.model.layers):
        layer.self_attn.layer_idx = i
    model.config.num_hidden_layers = len(indices)
    if isinstance(getattr(model.config, "layer_types", None), list):
        model.config.layer_types = [model.config.layer_types[i] for i in indices]
    return model


def sample_with_features(llm, prompts: list[list[int]], cfg: DistillConfig, generator, desc: str):
    """LLM text at T = 1 and what training needs from it, from one pass with a KV cache.

    Returns ``inputs`` (n, P) hidden states after the frozen prefix at the P = ctx + seq_len - 1 input
    positions, and ``teacher`` (n, seq_len, d) the LLM's final hidden state at the positions whose
    next token was sampled (the last ``seq_len`` input positions).
    """
    import torch
    from tqdm import tqdm
    from transformers import DynamicCache

    k = cfg.frozen_layers
    inputs, teacher = [], []
    cache_kw = cache_kwarg(llm)
    for start in tqdm(range(0, len(prompts), cfg.gen_batch), desc=desc, unit="batch"):
        step = torch.tensor(prompts[start : start + cfg.gen_batch])
        cache = DynamicCache()
        h_in, h_out = [], []
        with torch.inference_mode():
            for t in range(cfg.seq_len):
                out = llm(
                    input_ids=step,
                    **{cache_kw: cache},
                    use_cache=True,
                    output_hidden_states=True,
                    logits_to_keep=1,
                )
                h_in.append(out.hidden_states[k])
                h_out.append(out.hidden_states[-1][:, -1:])
                if t == cfg.seq_len - 1:
                    break
                step = sample_next(out.logits[:, -1], generator)
        inputs.append(torch.cat(h_in, dim=1))
        teacher.append(torch.cat(h_out, dim=1))
    return torch.cat(inputs), torch.cat(teacher)


def sample_next(logits, generator):
    """One token per row from softmax(logits), by inverse CDF in float64.

    Six times faster than ``torch.multinomial`` over a 49k vocabulary (which dominated sampling time).
    """
    import torch

    weights = (logits - logits.max(-1, keepdim=True).values).double().exp_()
    cdf = weights.cumsum_(-1)
    u = torch.rand(cdf.shape[0], 1, generator=generator, dtype=torch.float64) * cdf[:, -1:]
    return torch.searchsorted(cdf, u, right=True).clamp_max_(cdf.shape[1] - 1)


def teacher_probs(logits):
    """softmax(logits) and its negative entropy sum p log p per row (the constant part of KL(p || q))."""
    import torch

    lse = torch.logsumexp(logits, -1)
    p = (logits - lse[..., None]).exp_()
    return p, torch.linalg.vecdot(p, logits) - lse


def _kl_function():
    import torch

    class KLFromLogits(torch.autograd.Function):
        """Mean KL(p || softmax(z)) over rows, with gradient softmax(z) - p: the same loss as
        log_softmax + elementwise products, without materializing log q, p log p or their gradients
        (cuts a training step by a quarter on the 49k-vocabulary head)."""

        @staticmethod
        def forward(ctx, z, p, plogp):
            lse = torch.logsumexp(z, -1)
            ctx.save_for_backward(z, p, lse)
            return (plogp - torch.linalg.vecdot(p, z) + lse).mean()

        @staticmethod
        def backward(ctx, grad):
            z, p, lse = ctx.saved_tensors
            q = (z - lse[..., None]).exp_()
            rows = z.numel() // z.shape[-1]
            return q.sub_(p).mul_(grad / rows), None, None

    return KLFromLogits


def kl_from_logits(z, p, plogp):
    """Mean over rows of KL(p || softmax(z)); ``p, plogp`` from :func:`teacher_probs`."""
    return _kl_function().apply(z, p, plogp)


def _tv_accept(p, q):
    return 1.0 - 0.5 * (p - q).abs().sum(-1)


def distill(llm_dir: Path, target: Path, cfg: DistillConfig) -> dict:
    """Train the draft, save it to ``target`` (atomically), return the report."""
    import torch
    from tqdm import tqdm
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from sqs.models.embedded import HEAD_TOKENS_FILE, checkpoint_dir
    from sqs.study.prompts import news_openers

    t_start = time.perf_counter()
    gen = torch.Generator().manual_seed(cfg.seed)
    tok = AutoTokenizer.from_pretrained(llm_dir)
    llm = AutoModelForCausalLM.from_pretrained(llm_dir, dtype=torch.float32).eval()
    n_llm = llm.config.num_hidden_layers
    if max(cfg.layers) >= n_llm or cfg.frozen_layers >= n_llm:
        raise ValueError(f"layers {cfg.layers} do not fit the LLM's {n_llm} layers")
    share = compute_share(llm.config, cfg)
    if share > MAX_COMPUTE_SHARE:
        raise ValueError(
            f"a draft of {len(cfg.layers)} layers costs {share:.2f} of the LLM's per-token compute; "
            f"at most {MAX_COMPUTE_SHARE} is allowed: use fewer frozen or trained layers, or a smaller head_tokens"
        )

    # every opener is cut to the shortest one's length, so batches need no padding
    train_open, eval_open = news_openers("train"), news_openers("eval")
    encoded = {o: tok(o).input_ids for o in train_open + eval_open}
    ctx = min(len(ids) for ids in encoded.values())
    train_prompts = [encoded[o][:ctx] for o in train_open for _ in range(cfg.sequences_per_prompt)]
    held_prompts = [encoded[o][:ctx] for o in eval_open for _ in range(cfg.heldout_per_prompt)]
    train_in, train_teacher = sample_with_features(llm, train_prompts, cfg, gen, "sample LLM text (train)")
    held_in, held_teacher = sample_with_features(llm, held_prompts, cfg, gen, "sample LLM text (held out)")
    t_data = time.perf_counter() - t_start

    # the trained part alone: it reads the frozen prefix's cached output (positions start at 0)
    tail = select_layers(copy.deepcopy(llm), cfg.trained)
    for p in tail.parameters():
        p.requires_grad_(False)
    trained = [*tail.model.layers.parameters(), *tail.model.norm.parameters()]
    for p in trained:
        p.requires_grad_(True)
    opt = torch.optim.AdamW(trained, lr=cfg.lr, weight_decay=0.0, betas=(0.9, 0.98))
    warm = max(1, cfg.warmup_steps)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda i: min(1.0, (i + 1) / warm) * 0.5 * (1 + math.cos(math.pi * min(i, cfg.steps) / cfg.steps))
    )
    head = llm.lm_head
    n_vocab = head.weight.shape[0]
    subset, head_mass = None, 1.0
    if 0 < cfg.head_tokens < n_vocab:  # the draft's head and the training target cover the subset only
        subset, head_mass = head_subset(head, train_teacher, cfg.head_tokens)
        log.info("head over %d tokens holding %.4f of the LLM's mass on the training text", len(subset), head_mass)
    w_out = head.weight.detach() if subset is None else head.weight.detach()[subset].clone()

    def student_logits(h):
        hidden = tail.model(inputs_embeds=h).last_hidden_state[:, -cfg.seq_len :]
        return (hidden @ w_out.T).float()

    def evaluate() -> float:
        tail.eval()
        vals = []
        with torch.inference_mode():
            for i in range(0, len(held_in), cfg.batch_sequences):
                q = torch.softmax(student_logits(held_in[i : i + cfg.batch_sequences]), -1)
                p = torch.softmax(head(held_teacher[i : i + cfg.batch_sequences]).float(), -1)
                if subset is not None:  # probability 0 outside the head's tokens
                    q = torch.zeros_like(p).index_copy_(-1, subset, q)
                vals.append(_tv_accept(p, q).reshape(-1))
        tail.train()
        return float(torch.cat(vals).mean())

    before = evaluate()
    n_train = len(train_in)
    history, losses = [], []
    order, pos = torch.randperm(n_train, generator=gen), 0
    every = max(1, cfg.steps // 4)  # each held-out evaluation costs about five training steps
    t_train = time.perf_counter()
    tail.train()
    for step in tqdm(range(cfg.steps), desc="distill", unit="step"):
        if pos + cfg.batch_sequences > n_train:
            order, pos = torch.randperm(n_train, generator=gen), 0
        idx = order[pos : pos + cfg.batch_sequences]
        pos += cfg.batch_sequences
        with torch.no_grad():  # over the subset: the LLM's distribution renormalized on the head's tokens
            p, plogp = teacher_probs((train_teacher[idx] @ w_out.T).float())
        loss = kl_from_logits(student_logits(train_in[idx]), p, plogp)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(trained, 1.0)
        opt.step()
        sched.step()
        losses.append(float(loss.detach()))
        if (step + 1) % every == 0 or step + 1 == cfg.steps:
            history.append(
                {
                    "step": step + 1,
                    "seconds": time.perf_counter() - t_train,
                    "kl": sum(losses[-every:]) / len(losses[-every:]),
                    "heldout_accept": evaluate(),
                }
            )
            log.info("step %d: %s", step + 1, history[-1])

    draft = select_layers(copy.deepcopy(llm), cfg.layers)
    for i, layer in enumerate(tail.model.layers):
        draft.model.layers[cfg.frozen_layers + i].load_state_dict(layer.state_dict())
    draft.model.norm.load_state_dict(tail.model.norm.state_dict())
    report = {
        "config": asdict(cfg),
        "layers": cfg.layers,
        "heldout_accept_before": before,
        "heldout_accept": history[-1]["heldout_accept"],
        "heldout_tokens": len(held_in) * cfg.seq_len,
        "history": history,
        "train_tokens": n_train * cfg.seq_len,
        "trained_tokens": cfg.steps * cfg.batch_sequences * cfg.seq_len,
        "compute_share": share,
        "head_tokens": n_vocab if subset is None else len(subset),
        "head_mass_train": head_mass,
        "data_seconds": t_data,
        "train_seconds": time.perf_counter() - t_train,
        "total_seconds": time.perf_counter() - t_start,
    }
    with checkpoint_dir(target) as tmp:
        draft.eval().save_pretrained(tmp)
        tok.save_pretrained(tmp)
        (tmp / "distill_report.json").write_text(json.dumps(report, indent=2))
        if subset is not None:  # the checkpoint keeps the tied head; loading cuts it (models.restrict_head)
            (tmp / HEAD_TOKENS_FILE).write_text(json.dumps({"token_ids": subset.tolist()}))
    return report


def config_key(cfg: DistillConfig) -> str:
    """Content address of a draft: the same config (and the same LLM) always means the same draft."""
    import hashlib

    fields = asdict(cfg)
    if not fields["head_tokens"]:  # the full head: keys from before the option existed stay valid
        del fields["head_tokens"]
    blob = json.dumps({"recipe": 3, **fields}, sort_keys=True).encode()
    return hashlib.sha256(blob).hexdigest()[:12]


def ensure_distilled_draft(cfg: DistillConfig | None = None, cache: Path | None = None) -> Path:
    """The distilled draft checkpoint for ``cfg``, trained (minutes on a CPU) and cached on first use."""
    from sqs.models.embedded import SMOLLM2, cache_root, ensure_checkpoint

    cfg = cfg or DistillConfig()
    target = (cache or cache_root()) / f"smollm2-135m-instruct-draft-{config_key(cfg)}"
    if (target / "config.json").is_file():
        return target
    log.warning("building the distilled edge draft once (cached at %s)", target)
    distill(ensure_checkpoint(SMOLLM2.id, cache), target, cfg)
    return target

"""The embedded pair's edge draft: an early exit of the LLM with one trained block, distilled on LLM text.

No smaller model with the LLM's tokenizer can be had offline, so the draft is built from the LLM: its
first ``exit_layer`` decoder layers (frozen), the next layer (trained, initialized from the LLM's own),
the final norm (trained) and the tied embedding head (frozen). It is distilled with KL(p || q) on text
the LLM sampled itself at T = 1, which is the distribution the draft faces during decoding.

Every random choice comes from generators seeded by ``DistillConfig.seed``; the result is saved as an
ordinary Hugging Face checkpoint (a ``num_hidden_layers = exit_layer + 1`` model) plus a JSON report.
"""

from __future__ import annotations

import copy
import json
import logging
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

# News-style sentence openers written for this project (the generation seeds of the distillation set).
OPENERS = [
    "The city council voted on Tuesday to",
    "Shares of the company fell sharply after",
    "Scientists at the university announced that",
    "The minister told reporters that the new law",
    "Heavy rain flooded several streets in",
    "The national team won its third match",
    "Police said the suspect had been",
    "The central bank raised interest rates",
    "Officials confirmed that the bridge would",
    "A spokesperson for the hospital said",
    "The museum will open a new exhibition",
    "Local farmers are worried that the drought",
    "The president met with business leaders to",
    "Researchers found that children who",
    "The airline cancelled dozens of flights",
    "Voters in the northern district will",
]


@dataclass(frozen=True)
class DistillConfig:
    exit_layer: int = 10
    n_sequences: int = 512
    seq_len: int = 64
    gen_batch: int = 32
    epochs: int = 3
    batch_sequences: int = 16
    lr: float = 2e-3
    heldout_sequences: int = 32
    seed: int = 0

    def __post_init__(self) -> None:
        if self.heldout_sequences >= self.n_sequences:
            raise ValueError("heldout_sequences must be smaller than n_sequences")
        if self.exit_layer < 1:
            raise ValueError(f"exit_layer must be >= 1, got {self.exit_layer}")


def sample_corpus(model, tokenizer, cfg: DistillConfig, generator) -> np.ndarray:
    """(n_sequences, prompt + seq_len) token ids the LLM sampled at T = 1, in batches with a KV cache."""
    import torch
    from tqdm import tqdm
    from transformers import DynamicCache

    prompts = [tokenizer(t).input_ids for t in OPENERS]
    width = min(len(p) for p in prompts)
    prompts = [p[:width] for p in prompts]
    out = []
    batches = range(0, cfg.n_sequences, cfg.gen_batch)
    for start in tqdm(batches, desc="sample LLM text", unit="batch"):
        n = min(cfg.gen_batch, cfg.n_sequences - start)
        ids = torch.tensor([prompts[(start + i) % len(prompts)] for i in range(n)])
        cache = DynamicCache()
        seq = ids
        step_in = ids
        with torch.inference_mode():
            for _ in range(cfg.seq_len):
                logits = model(input_ids=step_in, past_key_values=cache, use_cache=True).logits[:, -1]
                probs = torch.softmax(logits.double(), dim=-1)
                nxt = torch.multinomial(probs, 1, generator=generator)
                seq = torch.cat([seq, nxt], dim=1)
                step_in = nxt
        out.append(seq.numpy())
    return np.concatenate(out)


def _head_probs(model, hidden):
    import torch

    return torch.softmax(model.lm_head(hidden).float(), dim=-1)


def distill(llm_dir: Path, target: Path, cfg: DistillConfig) -> dict:
    """Train the draft, save it to ``target`` (atomically), return the report."""
    import torch
    from tqdm import tqdm
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from .models import checkpoint_dir, truncate_layers

    t_start = time.perf_counter()
    gen = torch.Generator().manual_seed(cfg.seed)
    tok = AutoTokenizer.from_pretrained(llm_dir)
    llm = AutoModelForCausalLM.from_pretrained(llm_dir, dtype=torch.float32).eval()
    corpus = torch.tensor(sample_corpus(llm, tok, cfg, gen))
    t_data = time.perf_counter() - t_start

    # teacher: the LLM's final (normed) hidden state at every position, one batched pass
    finals = []
    with torch.inference_mode():
        for chunk in torch.split(corpus, cfg.gen_batch):
            finals.append(llm(input_ids=chunk, output_hidden_states=True).hidden_states[-1])
    teacher_h = torch.cat(finals)

    student = truncate_layers(copy.deepcopy(llm), cfg.exit_layer + 1).train()
    for p in student.parameters():
        p.requires_grad_(False)
    trained = [*student.model.layers[cfg.exit_layer].parameters(), *student.model.norm.parameters()]
    for p in trained:
        p.requires_grad_(True)
    opt = torch.optim.AdamW(trained, lr=cfg.lr, weight_decay=0.0)

    n_train = cfg.n_sequences - cfg.heldout_sequences
    train_ids, held_ids = corpus[:n_train], corpus[n_train:]
    train_h, held_h = teacher_h[:n_train], teacher_h[n_train:]

    def evaluate(ids, th) -> float:
        student.eval()
        vals = []
        with torch.inference_mode():
            for i in range(0, len(ids), cfg.batch_sequences):
                q = torch.softmax(student(input_ids=ids[i : i + cfg.batch_sequences]).logits.float(), -1)
                p = _head_probs(llm, th[i : i + cfg.batch_sequences])
                vals.append(1.0 - 0.5 * (p - q).abs().sum(-1))
        student.train()
        return float(torch.cat([v.reshape(-1) for v in vals]).mean())

    before = evaluate(held_ids, held_h)
    history = []
    for epoch in range(cfg.epochs):
        order = torch.randperm(n_train, generator=gen)
        losses = []
        steps = range(0, n_train, cfg.batch_sequences)
        for i in tqdm(steps, desc=f"distill epoch {epoch + 1}/{cfg.epochs}", unit="step"):
            idx = order[i : i + cfg.batch_sequences]
            with torch.no_grad():
                p = _head_probs(llm, train_h[idx])
            logq = torch.log_softmax(student(input_ids=train_ids[idx]).logits.float(), -1)
            loss = (p * (torch.log(p.clamp_min(1e-30)) - logq)).sum(-1).mean()  # KL(p || q)
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(float(loss.detach()))
        history.append({"epoch": epoch + 1, "kl": float(np.mean(losses)), "heldout_accept": evaluate(held_ids, held_h)})
        log.info("epoch %d: %s", epoch + 1, history[-1])

    report = {
        "config": asdict(cfg),
        "heldout_accept_before": before,
        "heldout_accept": history[-1]["heldout_accept"] if history else before,
        "history": history,
        "train_tokens": int(train_ids.numel()),
        "data_seconds": t_data,
        "total_seconds": time.perf_counter() - t_start,
        "draft_parameters_share": sum(p.numel() for p in student.parameters())
        / sum(p.numel() for p in llm.parameters()),
    }
    with checkpoint_dir(target) as tmp:
        student.eval().save_pretrained(tmp)
        tok.save_pretrained(tmp)
        (tmp / "distill_report.json").write_text(json.dumps(report, indent=2))
    return report


def config_key(cfg: DistillConfig) -> str:
    """Content address of a draft: the same config (and the same LLM) always means the same draft."""
    import hashlib

    blob = json.dumps(asdict(cfg), sort_keys=True).encode()
    return hashlib.sha256(blob).hexdigest()[:12]


def ensure_distilled_draft(cfg: DistillConfig | None = None, cache: Path | None = None) -> Path:
    """The distilled draft checkpoint for ``cfg``, trained (minutes on a CPU) and cached on first use."""
    from .models import cache_root, ensure_embedded_checkpoint

    cfg = cfg or DistillConfig()
    target = (cache or cache_root()) / f"smollm2-135m-instruct-draft-{config_key(cfg)}"
    if (target / "config.json").is_file():
        return target
    log.warning("building the distilled edge draft once (cached at %s)", target)
    distill(ensure_embedded_checkpoint(cache), target, cfg)
    return target

"""The drafting studies, by live decoding: adaptive versus static (L, ell) under a
time-varying uplink, and preemptive drafting versus none.

Every static (L, ell) pair of a grid and the adaptive policy decode the same prompts with the same
seeds and the same channel realization (the rate sequence depends only on the seed and the prompt).
One policy object serves all prompts of a run, so the adaptive policy carries what it learned from
prompt to prompt, cold start included. Every rate is pooled by :mod:`sqs.system.metrics` (tokens/s: all tokens
over all latency).
"""

from __future__ import annotations

from dataclasses import replace

from sqs.study.decode import DecodeConfig, ModelPair, decode_prompt
from sqs.system.metrics import pooled

STUDY_COLUMNS = (
    "temperature", "policy", "draft_len", "ell", "scheme", "channel", "n_prompts", "n_tokens", "tokens_per_s",
    "latency_s", "latency_s_std", "mean_draft_len", "draft_accept_rate", "accept_rate_pos1", "mean_accept_len",
    "resampling_rate", "uplink_bits_per_token", "mean_ell", "mean_uplink_bps", "n_batches", "best_static",
    "gain_vs_best_static",
)  # fmt: skip
PREEMPT_COLUMNS = (
    "temperature", "preemptive", "scheme", "draft_len", "ell", "n_prompts", "n_tokens", "tokens_per_s", "latency_s",
    "latency_s_std", "mean_draft_len", "draft_accept_rate", "accept_rate_pos1", "mean_accept_len", "n_batches",
    "predrafted",
    "predraft_kept_share", "speedup_vs_off",
)  # fmt: skip


def _pooled(cfg: DecodeConfig, records: list[dict]) -> dict:
    t = pooled(r["tally"] for r in records)
    return {
        "temperature": cfg.temperature,
        "policy": cfg.policy,
        "draft_len": cfg.max_draft_len,
        "ell": cfg.ell if cfg.policy == "static" else 0,
        "scheme": cfg.scheme,
        "channel": cfg.channel.kind,
        **t.rates(),
        "preemptive": cfg.preemptive,
        "predrafted": t.predrafted,
    }


def compare_policies(pair: ModelPair, texts: list[str], base: DecodeConfig, temperatures: list[float],
                     draft_lens: list[int], ells: list[int], progress=None) -> list[dict]:  # fmt: skip
    """Static (L, ell) over the grid and the adaptive policy (over ``ells``, up to max L) per temperature."""
    runs = []
    for t in temperatures:
        tb = replace(base, temperature=t)
        runs += [replace(tb, policy="static", max_draft_len=n, ell=e) for n in draft_lens for e in ells]
        runs.append(replace(tb, policy="adaptive", max_draft_len=max(draft_lens), ell=max(ells),
                            ells=tuple(ells)))  # fmt: skip
    rows = []
    for cfg in progress(runs) if progress else runs:
        policy = cfg.make_policy()
        recs = [decode_prompt(pair, cfg, text, i, include_batches=True, policy=policy) for i, text in enumerate(texts)]
        rows.append(_pooled(cfg, recs))
    for t in temperatures:
        static = [r for r in rows if r["temperature"] == t and r["policy"] == "static"]
        best = max(static, key=lambda r: r["tokens_per_s"])
        for r in rows:
            if r["temperature"] == t:
                r["best_static"] = r is best
                r["gain_vs_best_static"] = r["tokens_per_s"] / best["tokens_per_s"] - 1.0
    return rows


def compare_preemptive(pair: ModelPair, texts: list[str], base: DecodeConfig, temperatures: list[float],
                       progress=None) -> list[dict]:  # fmt: skip
    """The same static config with and without preemptive drafting, per temperature."""
    runs = [replace(base, temperature=t, preemptive=on) for t in temperatures for on in (False, True)]
    rows = []
    for cfg in progress(runs) if progress else runs:
        recs = [decode_prompt(pair, cfg, text, i, include_batches=True) for i, text in enumerate(texts)]
        rows.append(_pooled(cfg, recs))
    for r in rows:
        off = next(x for x in rows if x["temperature"] == r["temperature"] and not x["preemptive"])
        r["speedup_vs_off"] = r["tokens_per_s"] / off["tokens_per_s"]
    return rows

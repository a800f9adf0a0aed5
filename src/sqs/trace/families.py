"""Does sending a compressed distribution pay? The field's exact answers to a narrow uplink, side by side.

A *family* is what goes up for a draft (:data:`sqs.protocol.schemes.layout.FAMILIES`): a compressed q̂ (QS,
K-SQS, C-SQS, top-p, min-p), q in float32 (plain SD) or the token ids alone (exact-match verification). Each
cell's prompts are decoded in expectation from the logits cache (:mod:`sqs.trace.sequence`) under a regime's
batch rule and compute profile; what a prompt costs besides its uplink bytes does not depend on the uplink rate
R, so one solution per cell prices every R (as :mod:`sqs.trace.regimes` does):

    tokens/s(R) = sum of tokens / sum of (compute + 8 uplink bytes / R + batches d + downlink time)

Per regime, T and R each family is read at its best setting there (most pooled tokens/s), with a 95 %
bootstrap interval over prompts; families and cloud-only AR share the resampled prompts, so a family's
tokens/s over the compressed q̂'s has a paired interval too (``vs_sqs``). The verdict between the compressed
q̂ and another family at a rate is by non-overlapping intervals (the stricter reading); the
*crossover* is the rate where their best tokens/s are equal (log-linear between grid rates), with the
interval of the same crossing over the resampled prompts.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

from sqs.protocol.schemes import SCHEMES
from sqs.protocol.schemes.layout import FAMILIES
from sqs.system.latency import LinkConfig
from sqs.trace.regimes import PromptTerms

RATES_BPS = tuple(float(x) for x in np.geomspace(1e4, 1e8, 33))  # 0.01 .. 100 Mb/s, 8 points a decade
# Draft caps each family may take beside its regime's own: B sets no useful length for token ids (18 bits a
# draft fit 277 times in B = 5000) nor for float32 q (no budget), so a cap is their one setting, as in llama.cpp.
DRAFT_CAPS = (1, 2, 3, 4, 6, 8)


def family_of(scheme: str) -> str:
    """The family of a speculative scheme (its uplink layout's)."""
    return SCHEMES[scheme].layout.family


def _resampled_rate(tokens: np.ndarray, seconds: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """Pooled tokens/s over each row of prompt indices ``idx`` (n_boot x prompts)."""
    return tokens[idx].sum(axis=1) / seconds[idx].sum(axis=1)


def _ci(x: np.ndarray) -> tuple[float, float]:
    lo, hi = np.percentile(x, [2.5, 97.5])
    return float(lo), float(hi)


def family_rows(terms: dict, ar: tuple[np.ndarray, np.ndarray], link: LinkConfig, rates=RATES_BPS,
                n_boot: int = 2000, rng: np.random.Generator | None = None,
                regime: str = "") -> tuple[list[dict], list[dict]]:  # fmt: skip
    """Each family at its best setting per T and uplink rate (``terms``: {SweepCell: PromptTerms} of one regime,
    every cell over the same prompts; ``ar``: cloud-only AR's tokens and seconds per prompt, which no uplink
    rate changes), and the crossover rate of the compressed q̂ against each other family per T. Returns
    (rows, crossovers)."""
    rng = rng or np.random.default_rng(0)
    ar_tokens, ar_sec = ar
    n = ar_tokens.size
    idx = rng.integers(0, n, size=(n_boot, n))  # one resampling of prompts for every family, rate and AR
    ar_rate, ar_boot = ar_tokens.sum() / ar_sec.sum(), _resampled_rate(ar_tokens, ar_sec, idx)
    rows, crossings = [], []
    for t in sorted({c.temperature for c in terms}):
        cells = {c: pt for c, pt in terms.items() if c.temperature == t}
        by_family: dict[str, dict] = {}  # family -> its cells at T, grouped once for every rate
        for c, pt in cells.items():
            by_family.setdefault(family_of(c.scheme), {})[c] = pt
        fams = list(by_family)
        curve = {f: np.empty(len(rates)) for f in fams}  # best pooled tokens/s per rate
        boot = {f: np.empty((len(rates), n_boot)) for f in fams}
        for i, r in enumerate(rates):
            at_rate = {}
            for f, mine in by_family.items():
                sec = {c: pt.seconds(link, r) for c, pt in mine.items()}
                best = max(mine, key=lambda c: mine[c].tokens.sum() / sec[c].sum())
                pt, s = mine[best], sec[best]
                curve[f][i] = pt.tokens.sum() / s.sum()
                boot[f][i] = _resampled_rate(pt.tokens, s, idx)
                (lo, hi), speed = _ci(boot[f][i]), _ci(boot[f][i] / ar_boot)
                at_rate[f] = {
                    "regime": regime, "temperature": t, "uplink_bps": r, "family": f, "family_label": FAMILIES[f],
                    "scheme": best.scheme, "setting": SCHEMES[best.scheme].setting(best.columns()),
                    "max_draft_len": best.max_draft_len, "verify": best.verify,
                    "tokens_per_s": curve[f][i], "tokens_per_s_ci_low": lo, "tokens_per_s_ci_high": hi,
                    "speedup_vs_ar": curve[f][i] / ar_rate, "speedup_vs_ar_ci_low": speed[0],
                    "speedup_vs_ar_ci_high": speed[1], "ar_tokens_per_s": ar_rate,
                    "mean_accept_len": (pt.accepted.sum() + pt.batches.sum()) / pt.batches.sum(),
                    "mean_draft_len": pt.drafts.sum() / pt.batches.sum(),
                    "uplink_bits_per_token": pt.payload_bits.sum() / pt.tokens.sum(),
                    "downlink_bits_per_token": 8.0 * pt.downlink_bytes.sum() / pt.tokens.sum(),
                    "rounds_per_sequence": pt.batches.mean(),
                    "uplink_share": float(link.uplink_s(pt.uplink_bytes.sum(), r) / s.sum()),
                    "verdict_vs_sqs": "", "vs_sqs": math.nan, "vs_sqs_ci_low": math.nan, "vs_sqs_ci_high": math.nan,
                }  # fmt: skip
            for f, row in at_rate.items():
                if f != "sqs" and "sqs" in at_rate:
                    row["verdict_vs_sqs"] = verdict(at_rate["sqs"], row)
                    paired = _ci(boot[f][i] / boot["sqs"][i])  # the same resampled prompts: a paired interval
                    row.update(vs_sqs=curve[f][i] / curve["sqs"][i], vs_sqs_ci_low=paired[0], vs_sqs_ci_high=paired[1])
            rows += at_rate.values()
        if "sqs" not in fams:
            continue
        for f in fams:
            if f != "sqs":
                crossings.append({"regime": regime, "temperature": t, "family": f, "family_label": FAMILIES[f],
                                  **crossover(np.asarray(rates), curve["sqs"], curve[f], boot["sqs"], boot[f])})
    return rows, crossings


def verdict(sqs: dict, other: dict) -> str:
    """Which of the compressed q̂ and another family is faster at one point, by non-overlapping intervals."""
    if sqs["tokens_per_s_ci_low"] > other["tokens_per_s_ci_high"]:
        return "sqs faster"
    if other["tokens_per_s_ci_low"] > sqs["tokens_per_s_ci_high"]:
        return "sqs slower"
    return "no difference"


def _crossing(rates: np.ndarray, ratio: np.ndarray) -> float:
    """The first rate where log(ratio) changes sign, log-linear between grid rates; NaN if it never does."""
    lr = np.log(ratio)
    for i in range(len(rates) - 1):
        if lr[i] == 0.0:
            return float(rates[i])
        if lr[i] * lr[i + 1] < 0:
            x0, x1 = math.log(rates[i]), math.log(rates[i + 1])
            return float(math.exp(x0 + (x1 - x0) * lr[i] / (lr[i] - lr[i + 1])))
    return float(rates[-1]) if lr[-1] == 0.0 else math.nan


def crossover(rates: np.ndarray, sqs: np.ndarray, other: np.ndarray, sqs_boot: np.ndarray,
              other_boot: np.ndarray) -> dict:  # fmt: skip
    """Where the compressed q̂ and another family are equally fast: the rate, which side wins below it, and
    the rate's 95 % interval over resampled prompts (NaN ends: resamples that never cross in the range)."""
    at = _crossing(rates, sqs / other)
    per = np.array([_crossing(rates, sqs_boot[:, b] / other_boot[:, b]) for b in range(sqs_boot.shape[1])])
    inside = np.isfinite(per)
    lo, hi = _ci(per[inside]) if inside.mean() >= 0.95 else (math.nan, math.nan)
    low_side = "sqs" if sqs[0] > other[0] else "other"
    return {"crossover_bps": at, "crossover_ci_low": lo, "crossover_ci_high": hi,
            "crossing_share": float(inside.mean()), "faster_below": low_side,
            "ratio_at_lowest_rate": float(sqs[0] / other[0]), "ratio_at_highest_rate": float(sqs[-1] / other[-1]),
            "lowest_bps": float(rates[0]), "highest_bps": float(rates[-1])}  # fmt: skip


def with_caps(cells: list, caps=DRAFT_CAPS) -> list:
    """Each cell under its own draft cap and under each of ``caps`` (a setting every family may take). A cell
    whose state moves along the sequence (C-SQS with eta > 0) keeps its own cap: each cap needs its own fixed
    point of the committed threshold (:func:`sqs.trace.sweep.cell_predictions`)."""
    out = []
    for c in cells:
        for cap in dict.fromkeys((c.max_draft_len, *(() if c.moves() else caps))):
            out.append(c if cap == c.max_draft_len else replace(c, max_draft_len=cap))
    return list(dict.fromkeys(out))


def with_rules(cells: list) -> list:
    """Each cell that sends a q̂ under both of the cloud's rules: block verification reads the same q̂ and p as
    token verification, so it is a setting of the same scheme at no cost in bits. A cap of one draft has one
    rule: a block of one is verified token by token."""
    out = []
    for c in cells:
        out.append(c)
        if SCHEMES[c.scheme].layout.sends_q_hat and c.max_draft_len != 1:
            out.append(replace(c, verify="block" if c.verify == "token" else "token"))
    return list(dict.fromkeys(out))


def block_rows(terms: dict, link: LinkConfig, n_boot: int = 2000, rng: np.random.Generator | None = None,
               regime: str = "") -> list[dict]:  # fmt: skip
    """Block verification against token verification of each cell (``terms``: {SweepCell: PromptTerms}, every
    cell over the same prompts; cells without their other rule are skipped): tokens a round and tokens/s at the
    link's own rate under each rule, and block's gain in each with a paired 95 % interval over resampled
    prompts (Sun et al. prove the gain in tokens a block is never below 1 in expectation)."""
    rng = rng or np.random.default_rng(0)
    n = next(iter(terms.values())).tokens.size
    idx = rng.integers(0, n, size=(n_boot, n))
    rows = []
    for cell, blk in terms.items():
        tok = terms.get(replace(cell, verify="token"))
        if cell.verify != "block" or tok is None:
            continue
        row = {"regime": regime, "temperature": cell.temperature, "scheme": cell.scheme,
               "setting": SCHEMES[cell.scheme].setting(cell.columns()), "max_draft_len": cell.max_draft_len,
               "uplink_bps": link.uplink_bps, "mean_draft_len": tok.drafts.sum() / tok.batches.sum()}  # fmt: skip
        boots = {}
        for rule, pt in (("token", tok), ("block", blk)):
            sec = pt.seconds(link, link.uplink_bps)
            row[f"tokens_per_round_{rule}"] = pt.tokens.sum() / pt.batches.sum()
            row[f"tokens_per_s_{rule}"] = pt.tokens.sum() / sec.sum()
            boots[rule] = (_resampled_rate(pt.tokens, pt.batches, idx), _resampled_rate(pt.tokens, sec, idx))
        for i, (what, name) in enumerate((("round", "tokens_per_round"), ("speed", "tokens_per_s"))):
            lo, hi = _ci(boots["block"][i] / boots["token"][i])
            row.update({f"{what}_gain": row[f"{name}_block"] / row[f"{name}_token"], f"{what}_gain_ci_low": lo,
                        f"{what}_gain_ci_high": hi})  # fmt: skip
        rows.append(row)
    return rows


def family_study(slm, llm, segments, cells: dict, profiles: dict, links: dict, contexts=None, rates=RATES_BPS,
                 n_boot: int = 2000, seed: int = 0, caps=DRAFT_CAPS) -> tuple[list[dict], ...]:  # fmt: skip
    """:func:`family_rows` and :func:`block_rows` for each regime: ``cells``, ``profiles`` and ``links`` by
    regime name (its cells carry its batch rule), each cell also under ``caps`` (:func:`with_caps`) and, where it
    sends a q̂, under both verification rules (:func:`with_rules`). The regime's own uplink rate joins the
    rates, so each regime is read at its own point too."""
    from sqs.trace.sequence import ar_tallies
    from sqs.trace.sweep import cell_predictions

    rows, crossings, gains = [], [], []
    for name, mine in cells.items():
        mine = with_rules(with_caps(mine, caps))
        profile, link = profiles[name], links[name]
        solved = cell_predictions(slm, llm, mine, profile, segments, contexts)
        terms = {c: PromptTerms.of(tallies) for c, (_, tallies) in solved.items()}
        ar = ar_tallies(segments, profile, link, contexts)
        grid = tuple(sorted({*rates, float(link.uplink_bps)}))
        r, x = family_rows(terms, (np.array([t.tokens for t in ar], float), np.array([t.latency_s for t in ar])),
                           link, grid, n_boot, np.random.default_rng([seed, len(rows)]), name)  # fmt: skip
        for row in r:
            row["at_regime_rate"] = row["uplink_bps"] == link.uplink_bps
        rows += r
        crossings += x
        gains += block_rows(terms, link, n_boot, np.random.default_rng([seed, len(gains), 1]), name)
    return rows, crossings, gains

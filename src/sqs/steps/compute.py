"""The workflow's ``calibrate_compute`` step: time this machine's real model calls and protocol work,
fit the ``calibrated`` profile (sqs.system.compute), write the measurements beside the fit."""

from __future__ import annotations

import json
import time

import numpy as np
import pandas as pd

from sqs.outputs import figures
from sqs.protocol import wire
from sqs.protocol.probs import softmax_temperature
from sqs.protocol.schemes import SCHEMES
from sqs.steps.io import atomic_write, write_table
from sqs.study.config import Decode, Models, section
from sqs.study.decode import ModelPair
from sqs.system.cloud import verify_uplink
from sqs.system.compute import Fitted, fit_forward, fit_linear
from sqs.trace.logitcache import load_cache

NEW = (1, 2, 3, 5, 9, 17)  # tokens per forward: a draft step is 1, a verification of L drafts L + 1
CONTEXTS = (8, 32, 128)  # cached tokens before the call
REPEATS = 3
PROTOCOL_K = {"k-sqs": (4, 16, 64, 256)}  # support sizes timed; other schemes at their defaults


def time_forwards(model, vocab_size: int, rng: np.random.Generator, repeats: int = REPEATS,
                  every_row: bool = True) -> list[dict]:  # fmt: skip
    """Median seconds of a forward of n new tokens after c cached ones, each (n, c) ``repeats`` times: with the
    logits of every new position (the cloud scoring drafts), or of the last (``every_row=False``: the edge's
    catch-up before its next draft, which a backend may run without the others' output layer)."""
    rows = []
    for c in CONTEXTS:
        for n in NEW:
            times = []
            for _ in range(repeats):
                ids = rng.integers(100, vocab_size - 100, size=c + n).tolist()
                model.reset()
                model.next_logits(ids[:c])  # the cache holds c tokens
                t0 = time.perf_counter()
                model.score_logits(ids[:c], ids[c:]) if every_row else model.next_logits(ids)
                times.append(time.perf_counter() - t0)
                assert model.last_forward == (n, c), model.last_forward
            rows.append({"n_new": n, "context": c, "seconds": float(np.median(times)), "repeats": repeats})
    model.reset()
    return rows


def time_protocol(slm_logits: np.ndarray, temperature: float, ell: int, rng: np.random.Generator,
                  rows: int = 6, schemes=None) -> list[dict]:  # fmt: skip
    """Per scheme and support size: the edge's compress + sample + encode of one draft, and the cloud's
    decode + verify of it, median over ``rows`` cached positions."""
    out = []
    qs = [softmax_temperature(np.asarray(slm_logits[i]), temperature) for i in range(min(rows, slm_logits.shape[0]))]
    v = qs[0].size
    for name, spec in SCHEMES.items():
        if not spec.speculative or (schemes is not None and name not in schemes):
            continue
        for k in PROTOCOL_K.get(name) or (None,):
            params = {f.name: f.default for f in spec.param_fields()}  # the registry's defaults, then ell and K
            params |= {n: v for n, v in (("ell", ell), ("k", k)) if n in params and v}
            edge_t, cloud_t, ks = [], [], []
            for q in qs:
                scheme = spec.make(**params)
                t0 = time.perf_counter()
                comp = scheme.compress(q)
                token = comp.sample(rng)
                msg = wire.encode_uplink(scheme.code, v, scheme.ell, scheme.fixed_k, [(comp, token)])
                t1 = time.perf_counter()
                decoded = wire.decode_uplink(msg)
                verify_uplink(decoded, np.stack([q, q]), rng)
                t2 = time.perf_counter()
                edge_t.append(t1 - t0)
                cloud_t.append(t2 - t1)
                ks.append(comp.k)
            out.append({"scheme": name, "k": int(np.median(ks)), "edge_seconds": float(np.median(edge_t)),
                        "cloud_seconds": float(np.median(cloud_t)), "repeats": len(qs)})  # fmt: skip
    return out


def protocol_prices(proto: list[dict]) -> dict:
    """:func:`time_protocol`'s rows as per-draft prices a + b K per scheme, for each side (the ``calibrated``
    profile's, and those of ``src/sqs/data/protocol_prices.json``: benchmarks/protocol_prices.py)."""
    out: dict = {"edge_protocol": {}, "cloud_protocol": {}}
    for name in dict.fromkeys(r["scheme"] for r in proto):
        mine = [r for r in proto if r["scheme"] == name]
        out["edge_protocol"][name] = vars(fit_linear([(r["k"], r["edge_seconds"]) for r in mine]))
        out["cloud_protocol"][name] = vars(fit_linear([(r["k"], r["cloud_seconds"]) for r in mine]))
    return out


def calibrate_compute_files(models, cache_dir, decode, out_json, out_csv, fig_dir) -> dict:
    """Both models' forwards and every scheme's protocol, timed here; the fit as JSON, the points as CSV
    (``models``, ``decode``: those sections)."""
    rng = np.random.default_rng(0)
    models, decode = section(Models, models), section(Decode, decode)
    pair = ModelPair.of(models)
    sides = {"slm": time_forwards(pair.slm, pair.vocab_size, rng, every_row=False),
             "llm": time_forwards(pair.llm, pair.vocab_size, rng)}  # fmt: skip
    proto = time_protocol(load_cache(cache_dir).slm, 1.0, decode.ell, rng)
    cal = {
        "slm": models.slm, "llm": models.llm, "dtype": models.dtype, "vocab_size": pair.vocab_size,
        "slm_forward": vars(fit_forward([(r["n_new"], r["context"], r["seconds"]) for r in sides["slm"]])),
        "llm_forward": vars(fit_forward([(r["n_new"], r["context"], r["seconds"]) for r in sides["llm"]])),
        **protocol_prices(proto),
    }  # fmt: skip
    atomic_write(out_json, json.dumps(cal, indent=1))
    rows = []
    for side, pts in sides.items():
        fit = Fitted(**cal[f"{side}_forward"])
        rows += [{"kind": f"{side}_forward", **r, "fitted_seconds": fit.forward_s(r["n_new"], r["context"])}
                 for r in pts]  # fmt: skip
    rows += [{"kind": "protocol", **r} for r in proto]
    write_table(rows, out_csv)
    figures.draw("fig_compute_calibration", fig_dir, pd.read_csv(out_csv))
    return cal

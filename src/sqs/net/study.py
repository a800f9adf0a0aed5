"""Measurements across a real link: the latency model against the clock, and many sessions at once.

``link_study`` decodes prompts through a ``sqs serve`` cloud for each scheme and keeps, per batch, the
measured round trip beside the latency model's price of the same batch (the link's rate and
propagation applied to the bytes its messages occupy on the link, with both sides' measured compute): the
model's error on a real TCP link. ``load_study`` runs 1, 2, 4, ... concurrent sessions against one server and reports
throughput and per-session latency, and whether every session decoded exactly what it decodes alone.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from sqs.net.client import RemoteCloud
from sqs.net.frames import HEAD, MAC_BYTES
from sqs.net.identity import LoadedModel, load_side
from sqs.protocol import wire
from sqs.protocol.schemes import SCHEMES, make_scheme
from sqs.system.edge import Edge
from sqs.system.latency import LinkConfig
from sqs.system.pricing import Pricer
from sqs.system.session import SessionResult, run_session

LINK_COLUMNS = ("scheme", "prompt", "batch", "drafts", "accepted", "payload_bits", "uplink_bytes", "downlink_bytes",
                "edge_s", "cloud_s", "measured_s", "predicted_s", "measured_link_s", "predicted_link_s",
                "message_link_s")  # fmt: skip
LOAD_COLUMNS = ("sessions", "tokens", "wall_s", "tokens_per_s", "latency_per_token_s", "latency_per_token_s_max",
                "identical_to_alone", "lost")  # fmt: skip
FRAME_OVERHEAD_BYTES = HEAD.size + MAC_BYTES  # what sqs.net.frames adds to every wire message
TCPIP_HEADER_BYTES = 20 + 32 + 14  # IPv4, TCP with the timestamp option, Ethernet: per segment
SEGMENT_BYTES = 1500 - 20 - 32  # a 1500-byte MTU less the IPv4 and TCP headers: the payload of a full segment


def carried_bytes(message_bytes: int) -> int:
    """What a wire message occupies on a TCP link: its frame (:mod:`sqs.net.frames`), then a header a segment.
    The ACKs of the other direction's segments are left out: sent while the receiver computes, they rarely
    queue ahead of a message."""
    framed = int(message_bytes) + FRAME_OVERHEAD_BYTES
    return framed + -(-framed // SEGMENT_BYTES) * TCPIP_HEADER_BYTES


def priced_link_s(link: LinkConfig, up_bytes: int, down_bytes: int, burst_bytes: int = 0, host_s: float = 0.0):
    """The latency model's link time of one batch on a TCP link: the bytes its messages occupy there beyond the
    shaper's bucket (``burst_bytes``: a shaper on a faster interface lets a full bucket pass at line rate; 0 for
    a link that serializes every byte) at each direction's rate, the propagation, and ``host_s``: what a round
    trip spends in software outside both sides' clocks (a relay's passes, frames read and written), measured on
    an unshaped path (:func:`host_seconds`)."""
    up = max(carried_bytes(up_bytes) - burst_bytes, 0)
    down = max(carried_bytes(down_bytes) - burst_bytes, 0)
    return link.uplink_s(up) + link.propagation_s + link.downlink_s(down) + host_s


def host_seconds(batches_csv) -> float:
    """A link study's mean residual, measured link time less the model's, over a path with no shaper (its rates
    given as line rate): the software's own seconds a round trip (a relay's passes and late wake-ups, frames
    read and written), the ``host_s`` of :func:`priced_link_s`. ``batches_csv``: its net_link_batches.csv."""
    from sqs.steps.io import read_csv_rows

    rows = read_csv_rows(batches_csv)
    if not rows:
        raise ValueError(f"{batches_csv}: no batches to measure the software path from")
    return float(np.mean([float(r["measured_link_s"]) - float(r["predicted_link_s"]) for r in rows]))


@dataclass(frozen=True)
class Session:
    """What one session decodes: scheme, its parameters, prompt, seed (edge and cloud)."""

    scheme: str
    params: dict
    prompt: tuple[int, ...]
    seed: int


def run_remote(edge_model, side: LoadedModel, address: str, token: bytes, cloud_model: str, s: Session,
               max_new_tokens: int, temperature: float, link: LinkConfig, budget_bits: int = 5000,
               max_draft_len: int = 2) -> SessionResult:  # fmt: skip
    """One session against a server, the seeds fixed as the in-process decoder fixes them."""
    edge = Edge(edge_model, make_scheme(s.scheme, **s.params), temperature, budget_bits, max_draft_len,
                np.random.default_rng([s.seed, 0]))  # fmt: skip
    cloud = RemoteCloud(address, token, side, cloud_model, temperature, edge.scheme.code, (s.seed, 0, 1))
    try:
        return run_session(edge, cloud, list(s.prompt), max_new_tokens, link)
    finally:
        cloud.close()


def link_study(side: LoadedModel, address: str, token: bytes, cloud_model: str, sessions: Sequence[Session],
               max_new_tokens: int, temperature: float, link: LinkConfig, counters: Callable[[], dict] | None = None,
               progress=None, burst_bytes: int = 0, host_s: float = 0.0,
               **edge_kw) -> tuple[list[dict], list[dict]]:  # fmt: skip
    """(per-batch rows, per-scheme summary rows). ``counters()`` reads the edge interface's byte and
    packet counters (tx_bytes, tx_packets): the summary then reports what the link carried per uplink.
    ``burst_bytes``, ``host_s``: the link's shaper bucket and software seconds (:func:`priced_link_s`)."""
    model = side.session_model()
    rows, summary = [], []
    for scheme in dict.fromkeys(s.scheme for s in sessions):
        before = counters() if counters else None
        mine = [s for s in sessions if s.scheme == scheme]
        for i, s in enumerate(progress(mine) if progress else mine):
            res = run_remote(model, side, address, token, cloud_model, s, max_new_tokens, temperature, link, **edge_kw)
            for j, b in enumerate(res.batches):
                p, m = b.predicted, b.latency
                message_link_s = p.uplink_s + p.propagation_s + p.downlink_s  # the messages' bits alone
                link_s = priced_link_s(link, b.uplink_bytes, b.downlink_bytes, burst_bytes, host_s)
                rows.append({"scheme": scheme, "prompt": i, "batch": j, "drafts": b.num_drafts,
                             "accepted": b.num_accepted, "payload_bits": b.payload_bits,
                             "uplink_bytes": b.uplink_bytes, "downlink_bytes": b.downlink_bytes,
                             "edge_s": m.edge_s, "cloud_s": m.cloud_s, "measured_s": m.total_s,
                             "predicted_s": p.total_s - message_link_s + link_s, "measured_link_s": m.network_s,
                             "predicted_link_s": link_s, "message_link_s": message_link_s})  # fmt: skip
        after = counters() if counters else None
        summary.append({**_summarize(scheme, [r for r in rows if r["scheme"] == scheme], len(mine), before, after),
                        "burst_bytes": burst_bytes, "host_s": host_s})
    return rows, summary


def _summarize(scheme: str, rows: list[dict], n_sessions: int, before, after) -> dict:
    meas = np.array([r["measured_s"] for r in rows])
    pred = np.array([r["predicted_s"] for r in rows])
    link_m = np.array([r["measured_link_s"] for r in rows])
    link_p = np.array([r["predicted_link_s"] for r in rows])
    up = np.array([r["uplink_bytes"] for r in rows])
    out = {
        "scheme": scheme,
        "batches": len(rows),
        "sessions": n_sessions,
        "uplink_message_bytes": float(up.mean()),
        "payload_bytes": float(np.mean([r["payload_bits"] for r in rows]) / 8),
        "measured_s": float(meas.mean()),
        "predicted_s": float(pred.mean()),
        "mean_abs_rel_error": float(np.mean(np.abs(pred - meas) / meas)),
        "median_abs_rel_error": float(np.median(np.abs(pred - meas) / meas)),
        "mean_rel_error": float(np.mean((pred - meas) / meas)),
        "measured_link_s": float(link_m.mean()),
        "predicted_link_s": float(link_p.mean()),
        "link_mean_abs_rel_error": float(np.mean(np.abs(link_p - link_m) / link_m)),
        "message_link_s": float(np.mean([r["message_link_s"] for r in rows])),
        "framing_bytes_per_message": FRAME_OVERHEAD_BYTES + wire.UPLINK_HEADER_BYTES,
    }
    if before and after:  # everything the edge sent (handshakes, BYE and ACKs too), per uplink message
        sent = after["tx_bytes"] - before["tx_bytes"]
        out["wire_bytes_per_uplink"] = sent / len(rows)
        out["packets_per_uplink"] = (after["tx_packets"] - before["tx_packets"]) / len(rows)
        out["overhead_bytes_per_uplink"] = out["wire_bytes_per_uplink"] - out["payload_bytes"]
    return out


def load_study(side: LoadedModel, address: str, token: bytes, cloud_model: str, sessions: Sequence[Session],
               counts: Sequence[int], max_new_tokens: int, temperature: float, link: LinkConfig,
               **edge_kw) -> list[dict]:  # fmt: skip
    """For n in ``counts``: the first n ``sessions`` at once (one thread and one KV cache each); every
    session's tokens compared with the same session run alone."""
    alone = {}
    rows = []
    for n in counts:
        if n > len(sessions):
            raise ValueError(f"{n} concurrent sessions asked, {len(sessions)} defined")
        results: list = [None] * n
        models = [side.session_model() for _ in range(n)]

        def go(i: int, results: list = results, models: list = models) -> None:
            try:
                results[i] = run_remote(models[i], side, address, token, cloud_model, sessions[i], max_new_tokens,
                                        temperature, link, **edge_kw)  # fmt: skip
            except Exception as exc:  # a lost session is counted, not raised
                results[i] = exc

        t0 = time.perf_counter()
        threads = [threading.Thread(target=go, args=(i,)) for i in range(n)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall = time.perf_counter() - t0
        ok = [r for r in results if isinstance(r, SessionResult)]
        for i, r in enumerate(results):
            if isinstance(r, SessionResult) and i not in alone and n == 1:
                alone[i] = r.tokens
        for i in range(n):  # each session's reference: the same session alone
            if i not in alone:
                alone[i] = run_remote(side.session_model(), side, address, token, cloud_model, sessions[i],
                                      max_new_tokens, temperature, link, **edge_kw).tokens  # fmt: skip
        per_token = [sum(b.latency.total_s for b in r.batches) / max(len(r.tokens), 1) for r in ok]
        tokens = sum(len(r.tokens) for r in ok)
        rows.append({"sessions": n, "tokens": tokens, "wall_s": wall, "tokens_per_s": tokens / wall,
                     "latency_per_token_s": float(np.mean(per_token)) if per_token else float("nan"),
                     "latency_per_token_s_max": float(np.max(per_token)) if per_token else float("nan"),
                     "identical_to_alone": all(isinstance(r, SessionResult) and r.tokens == alone[i]
                                               for i, r in enumerate(results)),
                     "lost": n - len(ok)})  # fmt: skip
    return rows


CAPACITY_COLUMNS = ("edges", "tokens", "wall_s", "system_tokens_per_s", "system_tokens_per_s_whole_run",
                    "pred_system_tokens_per_s",
                    "system_error", "latency_per_token_s", "pred_latency_per_token_s", "latency_error",
                    "mean_draft_len", "tokens_per_batch", "edge_s_per_batch", "round_sessions", "round_s",
                    "cloud_s_per_batch", "bottleneck", "identical_to_alone", "lost")  # fmt: skip


def time_rounds(side: LoadedModel, sizes: Sequence[int], n_new: int, context: int, repeats: int = 3) -> list:
    """The cloud's batched verification forward on this machine, alone: (sessions, median seconds) for each
    size, ``n_new`` tokens after ``context`` cached ones a session (what a round of the server costs)."""
    rng = np.random.default_rng(0)
    out = []
    for s in sizes:
        times = []
        for _ in range(repeats):
            sessions = [side.session_model() for _ in range(s)]
            seqs = [rng.integers(100, side.vocab_size - 100, size=context + n_new).tolist() for _ in range(s)]
            for m, q in zip(sessions, seqs, strict=True):
                m.next_logits(q[:context])  # each cache holds its context
            t0 = time.perf_counter()
            side.weights.score_many(sessions, [q[:context] for q in seqs], [q[context:] for q in seqs])
            times.append(time.perf_counter() - t0)
        out.append((int(s), float(np.median(times))))
    return out


def _drafting(slm: str, dtype: str, cores: Sequence[int], ready, stop, limit_s: float = 600.0) -> None:
    """An edge drafting one token after another on ``cores`` until ``stop`` (at most ``limit_s``)."""
    import torch

    os.sched_setaffinity(0, cores)
    torch.set_num_threads(1)
    model = load_side(slm, "edge", dtype).session_model()
    held, steps, t_end = list(range(1000, 1040)), 0, time.time() + limit_s
    model.next_logits(held)
    ready.set()
    while not stop.is_set() and time.time() < t_end:
        model.next_logits([*held, 2000 + steps % 64])  # one new token after the same context, as a draft step
        steps += 1


def rounds_beside_an_edge(side: LoadedModel, sizes: Sequence[int], n_new: int, context: int, slm: str, dtype: str,
                          edge_cores: Sequence[int]) -> list:  # fmt: skip
    """:func:`time_rounds` again while one edge drafts on ``edge_cores`` (pinned runs only, else []): how much
    the other cores' work slows the cloud's forward (memory bandwidth and caches are shared)."""
    import multiprocessing as mp

    if not edge_cores:
        return []
    ctx = mp.get_context("spawn")
    ready, stop = ctx.Event(), ctx.Event()
    edge = ctx.Process(target=_drafting, args=(slm, dtype, list(edge_cores), ready, stop), daemon=True)
    edge.start()  # a Process, not a Pool: events pass to a child only when it is created
    try:
        while not ready.wait(1.0):
            if not edge.is_alive():
                raise RuntimeError(f"the drafting edge exited with code {edge.exitcode} before it drafted")
        return time_rounds(side, sizes, n_new, context)
    finally:
        stop.set()
        edge.join(60)
        if edge.is_alive():
            edge.kill()


def fit_rounds(points: list, n_new: int):
    """t(s) = a + s p by least squares: the ``calibrated`` price of a round of s sessions
    (:class:`sqs.system.compute.Fitted` with its per-session term on the new tokens)."""
    from sqs.system.compute import Fitted

    s, t = (np.array(x, dtype=float) for x in zip(*points, strict=True))
    p, a = np.polyfit(s, t, 1) if np.ptp(s) else (t.mean(), 0.0)
    return Fitted(float(a), float(p) / n_new, 0.0, 0.0)


def _edge_worker(job: dict) -> dict:
    """One edge process: load its model on one thread, wait for the others, decode its sessions; returns each
    session's tokens and per-batch clock."""
    import torch

    if job["cores"]:
        os.sched_setaffinity(0, job["cores"])
    torch.set_num_threads(1)
    side = load_side(job["slm"], "edge", job["dtype"])
    link = LinkConfig(**job["link"])
    results, token = [], job["token"]
    job["barrier"].wait()
    t0 = time.time()
    for s in job["sessions"]:
        t_s = time.time()
        try:
            r = run_remote(side.session_model(), side, job["address"], token, job["llm"], s, job["tokens"],
                           job["temperature"], link, max_draft_len=job["max_draft_len"])  # fmt: skip
        except Exception as exc:  # a lost session is counted, not raised
            results.append({"error": f"{type(exc).__name__}: {exc}"})
            continue
        results.append({"tokens": r.tokens, "span": (t_s, time.time()), "batches": [
            {"drafts": b.num_drafts, "accepted": b.num_accepted, "edge_s": b.latency.edge_s,
             "cloud_s": b.latency.cloud_s, "total_s": b.latency.total_s, "uplink_bytes": b.uplink_bytes,
             "downlink_bytes": b.downlink_bytes} for b in r.batches]})  # fmt: skip
    return {"start": t0, "end": time.time(), "results": results}


def capacity_study(slm: str, llm: str, dtype: str, address: str, token: bytes, prompts: Sequence[tuple[int, ...]],
                   counts: Sequence[int], rounds, scheme: str, max_new_tokens: int, temperature: float,
                   link: LinkConfig, max_draft_len: int, max_batch: int, cloud_threads: int,
                   context: float, progress=None, edge_cores: Sequence[int] = ()) -> list[dict]:  # fmt: skip
    """N real edge processes (one thread each, ``slm`` each, on ``edge_cores`` if given) against one
    batched-verification server, for N in ``counts``: the clock's system throughput (while every edge decodes;
    over the whole run beside it) and per-token latency (each edge's own clock, its mean over edges) beside
    :mod:`sqs.system.capacity`'s prediction from the same workload (its drafts and tokens a batch; the edge's
    and the server's seconds a batch at the first count, N = 1: the session alone, its prompt's prefill spread
    over its batches), each further session of a round adding its share of the batched forward (``rounds``,
    :func:`fit_rounds`) and its own decode-and-verify work (the server's one verifier thread), on this
    machine's shared cores, or, given ``edge_cores``, the edges there and the server on cores of its own
    (pinned by the caller). Every session's tokens are compared with the same session at N = 1."""
    import multiprocessing as mp
    import os

    from sqs.system import capacity as cap
    from sqs.system.compute import ComputeProfile, Side

    if not counts or counts[0] != 1:
        raise ValueError(f"edge counts must start at 1 (the workload alone is measured there), got {list(counts)}")
    ctx = mp.get_context("spawn")
    rows, alone, base = [], {}, None
    profile = ComputeProfile("this machine", Side(rounds, (), "edge"), Side(rounds, (), "this machine"))
    shared = cap.SharedMachine(len(edge_cores) or os.cpu_count() or 1, cloud_threads, cloud_apart=bool(edge_cores))
    for n in progress(list(counts)) if progress else counts:
        # edge i decodes every prompt, starting at the i-th; a session (prompt j, seed j) is the same on every edge
        order = [[(i + k) % len(prompts) for k in range(len(prompts))] for i in range(n)]
        sessions = [[Session(scheme, SCHEME_PARAMS[scheme], prompts[j], j) for j in js] for js in order]
        with ctx.Manager() as manager:
            barrier = manager.Barrier(n)
            jobs = [{"slm": slm, "llm": llm, "dtype": dtype, "address": address, "token": token, "sessions": ss,
                     "tokens": max_new_tokens, "temperature": temperature, "link": vars(link),
                     "max_draft_len": max_draft_len, "barrier": barrier, "cores": list(edge_cores)}
                    for ss in sessions]  # fmt: skip
            with ctx.Pool(n) as pool:
                out = pool.map(_edge_worker, jobs)
        ok = [(order[i][k], r) for i, o in enumerate(out) for k, r in enumerate(o["results"]) if "error" not in r]
        lost = sum(len(o["results"]) for o in out) - len(ok)
        batches = [b for _, r in ok for b in r["batches"]]
        tokens = sum(len(r["tokens"]) for _, r in ok)
        wall = max(o["end"] for o in out) - min(o["start"] for o in out)
        # while every edge decodes (from the last start to the first finish), each session's tokens spread
        # evenly over its span: the steady state the model describes, without the start and the tail
        w0, w1 = max(o["start"] for o in out), min(o["end"] for o in out)
        in_window = sum(len(r["tokens"]) * max(0.0, min(r["span"][1], w1) - max(r["span"][0], w0))
                        / (r["span"][1] - r["span"][0]) for _, r in ok)  # fmt: skip
        steady = in_window / (w1 - w0)
        per_edge = [sum(b["total_s"] for r in o["results"] if "error" not in r for b in r["batches"])
                    / max(sum(len(r["tokens"]) for r in o["results"] if "error" not in r), 1) for o in out]  # fmt: skip
        drafts = float(np.mean([b["drafts"] for b in batches]))
        per_batch = tokens / len(batches)
        if base is None:  # the workload alone (the first count, N = 1): its edge's and the cloud's seconds a batch
            cloud = float(np.mean([b["cloud_s"] for b in batches]))
            base = cap.Workload(scheme, drafts, per_batch, float(np.mean([b["edge_s"] for b in batches])),
                                float(np.mean([b["uplink_bytes"] for b in batches])),
                                float(np.mean([b["downlink_bytes"] for b in batches])), cloud, context,
                                max_new_tokens)  # fmt: skip
        w = cap.Workload(scheme, drafts, per_batch, base.edge_s, base.uplink_bytes, base.downlink_bytes, base.cloud_s,
                         context, max_new_tokens)  # fmt: skip
        pricer = Pricer(profile, link)
        pred = cap.point(pricer, w, n, max_batch, machine=shared)
        plain = cap.point(pricer, w, n, max_batch)
        which = ("machine" if pred["cycle_s"] > plain["cycle_s"] * (1 + 1e-9) else
                 "cloud" if pred["cloud_busy"] > 0.99 else "edge")  # fmt: skip
        if not alone:  # the first count's sessions (N = 1: each alone) are the reference
            alone = {j: r["tokens"] for j, r in ok}
        same = all(alone.get(j) == r["tokens"] for j, r in ok)
        measured_latency = float(np.mean(per_edge))
        rows.append({"edges": n, "tokens": tokens, "wall_s": wall, "system_tokens_per_s": steady,
                     "system_tokens_per_s_whole_run": tokens / wall,
                     "pred_system_tokens_per_s": pred["system_tokens_per_s"],
                     "system_error": pred["system_tokens_per_s"] / steady - 1.0,
                     "latency_per_token_s": measured_latency, "pred_latency_per_token_s": pred["latency_per_token_s"],
                     "latency_error": pred["latency_per_token_s"] / measured_latency - 1.0,
                     "mean_draft_len": drafts, "tokens_per_batch": per_batch, "edge_s_per_batch": base.edge_s,
                     "round_sessions": pred["round_sessions"], "round_s": pred["round_s"],
                     "cloud_s_per_batch": float(np.mean([b["cloud_s"] for b in batches])), "bottleneck": which,
                     "identical_to_alone": same, "lost": lost})  # fmt: skip
    return rows


# the settings the network study decodes each scheme with: its registry defaults (the paper's ell, K = 16, ...)
SCHEME_PARAMS = {name: spec.defaults() for name, spec in SCHEMES.items() if spec.speculative}


def _interface_counters(name: str) -> Callable[[], dict]:
    from pathlib import Path

    base = Path("/sys/class/net") / name / "statistics"
    if not base.is_dir():
        raise ValueError(f"no network interface {name!r} here (ip link shows the names)")
    return lambda: {k: int((base / k).read_text()) for k in ("tx_bytes", "tx_packets", "rx_bytes", "rx_packets")}


def main(argv: list[str] | None = None) -> int:
    """``python -m sqs.net.study link|load``: the network measurements, tables and figures into --out-dir."""
    import argparse
    import json
    from pathlib import Path

    import pandas as pd
    from tqdm import tqdm

    from sqs.net.identity import load_side
    from sqs.outputs import figures
    from sqs.steps.io import write_table

    ap = argparse.ArgumentParser(prog="python -m sqs.net.study", description=main.__doc__)
    ap.add_argument("kind", choices=["link", "load", "capacity"])
    ap.add_argument("--cloud", help="HOST:PORT of a sqs serve cloud (capacity: started here, batched, if not given)")
    ap.add_argument("--token-file", required=True)
    ap.add_argument("--slm", required=True, help="the edge model (toy:V:seed:closeness for the toy pair)")
    ap.add_argument("--llm", required=True, help="the cloud model the server runs")
    ap.add_argument("--dtype", default="bfloat16")
    ap.add_argument("--schemes", nargs="+", default=["qs", "k-sqs", "c-sqs"], choices=sorted(SCHEME_PARAMS))
    ap.add_argument("--prompts", nargs="+", default=["0", "1", "2", "3"], help="prompts (token ids for a toy)")
    ap.add_argument("--max-new-tokens", type=int, default=24)
    ap.add_argument("--temperature", type=float, default=1.0)
    ap.add_argument("--max-draft-len", type=int, default=2)
    ap.add_argument("--sessions", type=int, nargs="+", default=[1, 2, 4, 8], help="load: concurrent sessions")
    ap.add_argument("--uplink-bps", type=float, default=2e6)
    ap.add_argument("--downlink-bps", type=float, default=10e6)
    ap.add_argument("--propagation-s", type=float, default=0.02, help="round-trip propagation the relay adds")
    ap.add_argument("--interface", help="the edge's interface, to count what the link carried (veth-edge)")
    ap.add_argument("--edges", type=int, nargs="+", default=[1, 2, 4, 8, 16], help="capacity: edge processes")
    ap.add_argument("--max-batch", type=int, default=16, help="capacity: sessions one verification round takes")
    ap.add_argument("--cloud-threads", type=int, default=os.cpu_count() or 1,
                    help="capacity: the server's forward's threads (default all; --cloud-cores sets it)")  # fmt: skip
    ap.add_argument("--cloud-cores", type=int, nargs="+",
                    help="capacity: pin the cloud (its calibration and the server it starts) to these CPUs and the "
                    "edges to --edge-cores, as two machines would be")  # fmt: skip
    ap.add_argument("--edge-cores", type=int, nargs="+", help="capacity: the CPUs of the edges (with --cloud-cores)")
    ap.add_argument("--burst-bytes", type=int, default=0, help="link: the shaper's bucket (tests/net/netlink.sh's "
                    "SQS_BURST, 1600), which lets that many bytes pass at line rate; 0: every byte serialized")
    ap.add_argument("--host-s-from", help="link: a link study's net_link_batches.csv over an unshaped path (rates "
                    "given as line rate): its mean residual is the software's own seconds a round trip, added to the "
                    "model")
    ap.add_argument("--out-dir", required=True)
    args = ap.parse_args(argv)
    if args.kind == "capacity":
        return _capacity_main(args)
    if not args.cloud:
        ap.error(f"{args.kind} needs --cloud HOST:PORT")
    if args.burst_bytes < 0:
        ap.error(f"--burst-bytes must be >= 0 (0: every byte serialized), got {args.burst_bytes}")
    token = Path(args.token_file).read_text().strip().encode()
    side = load_side(args.slm, "edge", args.dtype)
    prompts = [tuple(side.encode(p)) for p in args.prompts]
    link = LinkConfig(args.uplink_bps, args.downlink_bps, args.propagation_s)
    out = Path(args.out_dir)
    os.makedirs(out, exist_ok=True)
    kw = {"max_draft_len": args.max_draft_len}
    if args.kind == "link":
        sessions = [Session(s, SCHEME_PARAMS[s], p, i) for s in args.schemes for i, p in enumerate(prompts)]
        counters = _interface_counters(args.interface) if args.interface else None
        bar = lambda xs: tqdm(xs, desc="link study", unit="prompt")  # noqa: E731
        host_s = host_seconds(args.host_s_from) if args.host_s_from else 0.0
        rows, summary = link_study(side, args.cloud, token, args.llm, sessions, args.max_new_tokens,
                                   args.temperature, link, counters, bar, args.burst_bytes, host_s, **kw)  # fmt: skip
        write_table(rows, out / "net_link_batches.csv", LINK_COLUMNS)
        write_table(summary, out / "net_link.csv", tuple(summary[0]))
        figures.fig_net_link(pd.read_csv(out / "net_link_batches.csv"), pd.read_csv(out / "net_link.csv"),
                             out / "fig_net_link")  # fmt: skip
        print(json.dumps(summary))
    else:
        scheme = args.schemes[0]
        n = max(args.sessions)
        sessions = [Session(scheme, SCHEME_PARAMS[scheme], prompts[i % len(prompts)], i) for i in range(n)]
        rows = load_study(side, args.cloud, token, args.llm, sessions, args.sessions, args.max_new_tokens,
                          args.temperature, link, **kw)  # fmt: skip
        write_table(rows, out / "net_load.csv", LOAD_COLUMNS)
        figures.fig_net_load(pd.read_csv(out / "net_load.csv"), out / "fig_net_load", scheme)
        print(json.dumps(rows))
    return 0


def pinning(cloud: Sequence[int] | None, edges: Sequence[int] | None) -> tuple[list[int], list[int]]:
    """The cloud's and the edges' CPUs, checked: both or neither, disjoint, each one this process may use."""
    if not cloud and not edges:
        return [], []
    allowed = sorted(os.sched_getaffinity(0))
    if not cloud or not edges:
        raise ValueError(f"give both --cloud-cores and --edge-cores (CPUs here: {allowed}), got {cloud} and {edges}")
    bad = sorted((set(cloud) | set(edges)) - set(allowed))
    if bad:
        raise ValueError(f"CPUs {bad} are not available to this process; these are: {allowed}")
    if set(cloud) & set(edges):
        raise ValueError(f"--cloud-cores {list(cloud)} and --edge-cores {list(edges)} overlap; pin them apart")
    return sorted(set(cloud)), sorted(set(edges))


def _capacity_main(args) -> int:
    """Calibrate the server's rounds here (the cloud model alone), then run the edges against a batched server."""
    import gc
    import json
    import sys
    from contextlib import ExitStack
    from pathlib import Path

    import pandas as pd
    from tqdm import tqdm

    from sqs.net.launch import announced
    from sqs.outputs import figures
    from sqs.steps.io import write_table

    cloud_cores, edge_cores = pinning(args.cloud_cores, args.edge_cores)
    out = Path(args.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    token_file = Path(args.token_file)
    if cloud_cores:  # the calibration runs where the server will, on as many threads
        import torch

        os.sched_setaffinity(0, cloud_cores)
        torch.set_num_threads(len(cloud_cores))
        args.cloud_threads = len(cloud_cores)
    edge = load_side(args.slm, "edge", args.dtype)
    prompts = [tuple(edge.encode(p)) for p in args.prompts]
    context = float(np.mean([len(p) for p in prompts])) + args.max_new_tokens / 2
    del edge
    cloud = load_side(args.llm, "cloud", args.dtype)
    n_new = args.max_draft_len + 1
    sizes = sorted({min(n, args.max_batch) for n in args.edges} | {1})
    points = time_rounds(cloud, sizes, n_new, int(context))
    beside = rounds_beside_an_edge(cloud, sizes, n_new, int(context), args.slm, args.dtype, edge_cores)
    rounds = fit_rounds(points, n_new)
    print(f"rounds of the cloud alone: {points}; beside an edge drafting: {beside}; fit (alone) a={rounds.a:.4f} "
          f"s + {rounds.b * n_new:.4f} s a session",
          file=sys.stderr)  # fmt: skip
    del cloud
    gc.collect()
    if edge_cores:
        os.sched_setaffinity(0, edge_cores)  # what this process starts from now on (the edges' pool) lands there
    link = LinkConfig(args.uplink_bps, args.downlink_bps, args.propagation_s)
    with ExitStack() as stack:
        address = args.cloud
        if address is None:
            pin = ["taskset", "-c", ",".join(map(str, cloud_cores))] if cloud_cores else []
            serve = [*pin, str(Path(sys.executable).parent / "sqs"), "serve", "--llm", args.llm, "--dtype", args.dtype,
                     "--token-file", str(token_file), "--port", "0", "--batch-verify", "--max-batch",
                     str(args.max_batch)]  # fmt: skip
            _, info = stack.enter_context(announced(serve, out / "serve_capacity.log", "the batched server"))
            address = info["listening"]
        token = token_file.read_text().strip().encode()
        bar = lambda xs: tqdm(xs, desc="capacity study", unit="count")  # noqa: E731
        rows = capacity_study(args.slm, args.llm, args.dtype, address, token, prompts, args.edges, rounds,
                              args.schemes[0], args.max_new_tokens, args.temperature, link, args.max_draft_len,
                              args.max_batch, args.cloud_threads, context, bar, edge_cores)  # fmt: skip
    write_table(rows, out / "net_capacity.csv", CAPACITY_COLUMNS)
    write_table([{"sessions": s, "seconds": t, "seconds_beside_an_edge": dict(beside).get(s, float("nan"))}
                 for s, t in points], out / "net_capacity_rounds.csv")  # fmt: skip
    figures.fig_net_capacity(pd.read_csv(out / "net_capacity.csv"), out / "fig_net_capacity")
    print(json.dumps(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

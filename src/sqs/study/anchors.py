"""The anchors' claims against this project's model: each under its own setup and its own baseline, and the same
system against continuous-batching AR on the same hardware.

The systems this project measures itself against report 1.5–3× where the capacity model here finds a fraction
of AR's capacity.
Each anchor is priced by the same rooflines (:mod:`sqs.system.compute`), the same pricer and the same capacity
model (:mod:`sqs.system.capacity`, its baselines included), with its devices and model pair from its own code or
paper. Every constant below names its source; a quantity no reachable source publishes (an acceptance rate, a
round trip, a context length) is an assumption and says so. Nothing is fitted to the number it predicts.
docs/capacity.md ("The anchors") reads the table.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from sqs.system import capacity as cap
from sqs.system.compute import DEVICES, SHAPES, ComputeProfile, Side, per_call
from sqs.system.latency import LinkConfig
from sqs.system.pricing import Pricer

DSSD_ROWS = Path(__file__).resolve().parents[1] / "data/anchors_dssd.csv"
SPECEDGE = "arXiv 2505.17052; github kaist-ina/specedge@1edcaf0"
DSSD = "arXiv 2507.12000; github JasonNing96/DSSD-Efficient-Edge-Computing@ce91217"
EARLY_EXITS = "arXiv 2505.21594 (abstract); tokens a round: Spec-Bench Leaderboard.md@fd2c1cd"
DIP_SD = "arXiv 2604.20919 (abstract)"
# its abstract's two numbers: throughput over AR one request at a time, and over AR with greedy batching
DIP_SD_CLAIMS = (17.89, 1.93)
SPEC_BENCH = "github hemingkx/Spec-Bench@fd2c1cd, Leaderboard.md (A100, Vicuna-7B-v1.3, SpS)"
# Spec-Bench's SpS row on an A100 80GB: mean accepted tokens a step (a round's tokens) and the overall speedup; its
# draft length is HF assisted generation's (5 to start, adapted; an assumption here)
SPEC_BENCH_SPS = {"tokens": 2.28, "speedup": 1.52, "gamma": 5}
# SpecEdge's own prices (src/metric/__init__.py), dollars per second: GCP a2-highgpu-1g's A100 40GB, an RTX 4090
SPECEDGE_A100_USD_S, SPECEDGE_4090_USD_S = 0.001125, 0.00009722222222
# its README figure (img/performance.jpg, batch size 1, A100), $ per million tokens read off the bars (about
# ±1): autoregressive, server-only SpecExec, SpecEdge, per (target, draft)
SPECEDGE_FIGURE = {("qwen3-14b", "qwen3-0.6b"): (60.0, 36.0, 18.5), ("qwen3-32b", "qwen3-1.7b"): (115.0, 59.0, 31.0)}
CONTEXT = 256.0  # tokens verified at: prompt and the output so far (assumption: no anchor publishes its mean)
AR_CAPACITY_SESSIONS = 256  # continuous batching's round at the capacity point (the capacity model's max_batch)


@dataclass(frozen=True)
class Row:
    """One published claim beside this model's prediction under the anchor's own setup and baseline."""

    anchor: str
    claim: str
    baseline: str
    setup: str
    published: float
    predicted: float
    vs_continuous_ar: float  # the same system against continuous-batching AR on the same hardware (nan: not priced)
    missing_term: str
    sources: str

    def to_dict(self) -> dict:
        """With the error, on the claim's ratio (:func:`as_ratio`)."""
        pub, pred = as_ratio(self.claim, self.published), as_ratio(self.claim, self.predicted)
        err = pred / pub - 1.0 if pub and pred == pred else None
        return {**self.__dict__, "error": err, "within_25pct": err is not None and abs(err) <= 0.25}


def as_ratio(claim: str, value):
    """A claim's value as a ratio: a signed change (a claim of "change": -11 % latency) as 1 + change, so errors
    and plots read every claim on one scale (scalars or arrays)."""
    return 1.0 + value if "change" in claim else value


def roofline(edge: str, slm: str, cloud: str, llm: str, launch_s: float | None = None) -> ComputeProfile:
    """Two devices and two model shapes, no protocol prices: the anchors verify on the accelerator. ``launch_s``:
    a kernel's host cost on both (an anchor's software stack, :func:`stack_launch_s`) instead of the devices'."""
    ed, cd = DEVICES[edge], DEVICES[cloud]
    if launch_s is not None:
        ed, cd = replace(ed, launch_s=launch_s), replace(cd, launch_s=launch_s)
    return ComputeProfile(f"{edge}+{cloud}", Side((ed, SHAPES[slm]), (), ed.name), Side((cd, SHAPES[llm]), (), cd.name))


def stack_launch_s(cloud: str, llm: str, ar_token_s: float) -> float:
    """The kernel launch cost that makes the roofline's AR token on ``cloud`` take ``ar_token_s``: what an anchor's
    own AR measurement says of its software stack (eager PyTorch launches kernels one by one), read from its AR
    baseline, never from the claim it is used to predict."""
    dev, shape = DEVICES[cloud], SHAPES[llm]
    bare = replace(dev, launch_s=0.0).forward_s(shape, 1, int(CONTEXT))
    return max(ar_token_s - bare, 0.0) / (dev.kernels_per_layer * shape.layers)


def _server_tree(nodes: float, steps: int) -> cap.Workload:
    """Server-only SpecExec's round as the capacity model prices it: a tree of ``nodes`` grown in ``steps`` SLM
    forwards on the server (each scoring a frontier of nodes / steps) and verified in one forward; the tokens a
    round do not enter a round's seconds."""
    return cap.Workload("server-only", nodes, 1.0, 0.0, 0.0, 0.0, 0.0, CONTEXT, draft_calls=steps,
                        draft_width=nodes / steps)  # fmt: skip


def specedge() -> list[Row]:
    """SpecEdge: RTX 4090 edges draft SpecExec trees (budget 32 nodes, 4 steps: config/specedge.example.yaml),
    an A100 verifies, 14.07 ms round trip; baseline: server-only SpecExec (budget 64, both models on the server:
    config/server_only.example.yaml). Its server throughput over server-only's is the ratio of the server's
    seconds a round at batch 1, both rounds yielding the same tokens (an assumption that favours the baseline,
    whose tree is twice as large)."""
    rows = []
    edges_per_slot = 2  # the paper: RTX 4090s = batch size x 2 (pipeline-aware scheduling interleaves two batches)
    usd = SPECEDGE_A100_USD_S + edges_per_slot * SPECEDGE_4090_USD_S
    rtt = 0.01407
    pairs = [("qwen3-14b", "qwen3-1.7b"), *SPECEDGE_FIGURE]
    runs = [(llm, slm, None) for llm, slm in pairs]  # the roofline's launch cost, then its stack's (its AR bar)
    runs += [(llm, slm, stack_launch_s("a100-40gb", llm, _ar_bar_s(llm))) for llm, slm in pairs]
    for llm, slm, launch in runs:
        p = Pricer(roofline("rtx-4090", slm, "a100-40gb", llm, launch))  # rounds from forwards; the RTT added below
        so = cap.server_only_round_s(p, _server_tree(64, 4), 1)
        verify = p.cloud_batch_s(1, 33, CONTEXT)
        draft_edge = 4 * p.edge_forward_s(8, int(CONTEXT))
        setup = f"{SHAPES[llm].name} on an A100 40GB, {SHAPES[slm].name} on RTX 4090s, batch 1, RTT 14.07 ms; " + (
            "roofline" if launch is None else f"its stack: {launch * 1e6:.0f} us a kernel, from its AR bar")
        fig = SPECEDGE_FIGURE.get((llm, slm))
        t_ar = p.cloud_batch_s(1, 1, CONTEXT)
        vs_ar = float("nan")
        if fig:  # tokens a round from the figure's server-only against AR (another published number than those below)
            tokens = fig[0] / fig[1] * so / t_ar
            vs_ar = _vs_ar(p, tokens, AR_CAPACITY_SESSIONS)
            above = max((b for b in range(1, AR_CAPACITY_SESSIONS + 1) if _vs_ar(p, tokens, b) >= 1.0), default=0)
            missing_ar = (f"; against continuous-batching AR {_vs_ar(p, tokens, 1):.2f}x at one session a round, "
                          f"above 1x up to {above} sessions a round ({tokens:.1f} tokens kept of 33 verified: a "
                          "memory-bound round prices them alike, a compute-bound one by the token)")  # fmt: skip
        steps = so - p.cloud_batch_s(1, 65, CONTEXT)
        missing = (f"server-only's round {so * 1e3:.1f} ms (4 SLM steps {steps * 1e3:.1f} ms + a 64-node "
                   f"verification) against SpecEdge's {verify * 1e3:.1f} ms: the SLM steps' share of "
                   "the server, set by the stack's cost a kernel" + (missing_ar if fig else ""))  # fmt: skip
        if (llm, slm) == pairs[0]:
            rows.append(Row("SpecEdge", "server throughput over the baseline's (mean of its runs)",
                            "server-only SpecExec", setup, 2.22, so / verify, vs_ar, missing, SPECEDGE))  # fmt: skip
            rows.append(Row("SpecEdge", "cost efficiency over the baseline's (mean of its runs)",
                            "server-only SpecExec", setup, 1.91, so * SPECEDGE_A100_USD_S / (verify * usd), vs_ar,
                            "the throughput ratio's, through SpecEdge's own GPU prices (src/metric/__init__.py)",
                            SPECEDGE))  # fmt: skip
            # the server alternates two batches (pipeline-aware scheduling), so a client's round is the longer of
            # two verifications and its own verification, round trip and whatever drafting proactive drafting
            # leaves exposed (none when its guess of the verdict holds, all of it when not)
            hidden = max(2 * verify, verify + rtt) / so - 1.0
            exposed = max(2 * verify, verify + rtt + draft_edge) / so - 1.0
            alone = (verify + rtt) / so - 1.0
            rows.append(Row("SpecEdge", "inter-token latency change against the baseline's", "server-only SpecExec",
                            setup, -0.1124, hidden, vs_ar,
                            f"a client waits for the other batch's verification too; the edge's drafting "
                            f"({draft_edge * 1e3:.1f} ms a round on the 4090) hidden by proactive drafting; exposed "
                            f"{exposed:+.1%}; one batch alone, no wait: {alone:+.1%}; a signed change: its error is "
                            "on 1 + change", SPECEDGE))  # fmt: skip
            continue
        rows.append(Row("SpecEdge", "token cost, server-only over SpecEdge (README figure)", "server-only SpecExec",
                        setup, fig[1] / fig[2], so * SPECEDGE_A100_USD_S / (verify * usd), vs_ar, missing, SPECEDGE))
        rows.append(Row("SpecEdge", "token cost, AR over SpecEdge (README figure)", "autoregressive, batch 1", setup,
                        fig[0] / fig[2], tokens * t_ar * SPECEDGE_A100_USD_S / (verify * usd), vs_ar,
                        "tokens a round from the figure's server-only/AR bars", SPECEDGE))  # fmt: skip
    return rows


def _vs_ar(p: Pricer, tokens: float, sessions: int, verified: float = 33.0) -> float:
    """A speculating server against continuous-batching AR's, both ``sessions`` a round on the same accelerator:
    tokens a second of one verification round (``verified`` tokens a session, ``tokens`` kept; SpecEdge's tree:
    33) over one AR round's (one a session)."""
    return tokens * p.cloud_batch_s(sessions, 1, CONTEXT) / p.cloud_batch_s(sessions, verified, CONTEXT)


def _ar_bar_s(llm: str) -> float:
    """Seconds an AR token took in SpecEdge's figure (its $ per million tokens at its A100's price), per target."""
    dollars = next(v[0] for (target, _), v in SPECEDGE_FIGURE.items() if target == llm)
    return dollars / 1e6 / SPECEDGE_A100_USD_S


def early_exits(rtt: float = 0.02) -> list[Row]:
    """Vicuna-68M on a Jetson Nano drafting for Llama-2-7B on an A100, against cloud AR (streamed: one round trip
    a request). Tokens a round: Spec-Bench's for the same draft model on a LLaMA-7B (:data:`SPEC_BENCH_SPS`);
    draft length and round trip are not in the abstract (assumptions); the per-token AR time the headline would
    need beside them."""
    gamma, tokens = SPEC_BENCH_SPS["gamma"], SPEC_BENCH_SPS["tokens"]
    p = Pricer(roofline("jetson-nano", "vicuna-68m", "a100-80gb", "llama-2-7b"), LinkConfig(1e8, 1e8, rtt))
    w = cap.Workload("sd", gamma, tokens, gamma * p.edge_forward_s(1, int(CONTEXT)), 4.0 * gamma, 8.0, 0.0, CONTEXT)
    sd = cap.point(p, w, 1)["latency_per_token_s"]
    ar = cap.point(p, cap.Workload.autoregressive(64, CONTEXT), 1, mode="ar-streamed")["latency_per_token_s"]
    need = sd / 0.65
    setup = (f"Llama-2-7B on an A100 80GB, Vicuna-68M on a Jetson Nano; {tokens} tokens a round (Spec-Bench), "
             f"gamma {gamma} and RTT {rtt * 1e3:.0f} ms assumed")  # fmt: skip
    missing = (f"the Nano's draft step {p.edge_forward_s(1, int(CONTEXT)) * 1e3:.1f} ms against the A100's AR token "
               f"{ar * 1e3:.1f} ms (roofline); -35 % needs cloud AR at {need * 1e3:.1f} ms a token "
               f"({need / ar:.1f}x the roofline's: an eager stack's, or a round trip a token)")  # fmt: skip
    return [Row("Early exits", "latency change against cloud AR", "cloud autoregressive", setup, -0.35,
                sd / ar - 1.0, ar / sd, missing, EARLY_EXITS)]  # fmt: skip


def spec_bench() -> list[Row]:
    """Spec-Bench's SpS (HF assisted generation, Vicuna-68M drafting for Vicuna-7B-v1.3, both on one A100 80GB,
    greedy, batch 1): server-only SD for one user against the same GPU's AR, the baseline model's own check."""
    gamma, tokens = SPEC_BENCH_SPS["gamma"], SPEC_BENCH_SPS["tokens"]
    eager = stack_launch_s("a100-40gb", "qwen3-14b", _ar_bar_s("qwen3-14b"))  # SpecEdge's eager PyTorch on an A100
    rows = []
    for launch, how in ((None, "roofline"), (eager, f"an eager stack: {eager * 1e6:.0f} us a kernel, SpecEdge's")):
        p = Pricer(roofline("a100-80gb", "vicuna-68m", "a100-80gb", "llama-2-7b", launch), LinkConfig(1e9, 1e9, 0.0))
        w = cap.Workload("sd", gamma, tokens, 0.0, 0.0, 0.0, 0.0, CONTEXT)
        server_only = cap.point(p, w, 1, mode="server-only")["latency_per_token_s"]
        ar = cap.point(p, cap.Workload.autoregressive(64, CONTEXT), 1, mode="ar-streamed")["latency_per_token_s"]
        draft = gamma * p.server_draft_s(1, 1, CONTEXT)
        setup = (f"Vicuna-7B (Llama-2-7B's shape) and Vicuna-68M on one A100 80GB, {tokens} tokens a round (its "
                 f"leaderboard), gamma {gamma} assumed (HF's first draft length); {how}")  # fmt: skip
        missing = (f"a round drafts {draft * 1e3:.2f} ms and verifies {(server_only * tokens - draft) * 1e3:.1f} ms; "
                   f"AR {ar * 1e3:.1f} ms a token: the drafting's share, set by the stack's cost a kernel "
                   "(its AR time is not on the leaderboard)")  # fmt: skip
        rows.append(Row("Spec-Bench SpS", "speedup over AR, one user, both models on the GPU", "AR on the same GPU",
                        setup, SPEC_BENCH_SPS["speedup"], ar / server_only, ar / server_only, missing,
                        SPEC_BENCH))  # fmt: skip
    return rows


def dssd(grid: list[dict]) -> list[Row]:
    """DSSD's grid (OPT-125M drafting for OPT-6.7B / OPT-13B on two H800s; round trip 0/20/50 ms; its speedup over
    the target's own AR, no link) priced with its own measured per-call seconds (the CSV's slm_thr and base_thr:
    gamma draft steps and one verification a round, the round trip) and its own protocol as its code runs it:
    after a rejection the draft is kept whole (gamma tokens a round; gamma + 1 when all are accepted, taken as
    acceptance^gamma). No serialization: its CSV's communication share is 0.0 at no round trip, whatever the
    rate column says (the rate it read was bit/s taken as Mb/s). The exact reading (accepted + 1 tokens a
    round) and the H800 roofline sit beside it. ``grid``: its CSV's rows (:data:`DSSD_ROWS`, as
    :func:`sqs.steps.io.read_csv_rows` reads them)."""
    speed = lambda pr, w: cap.point(pr, w, 1)["tokens_per_s_per_edge"]  # noqa: E731
    rows = []
    for r in grid:
        g, a, rtt = int(r["gamma"]), float(r["accept_rate"]), float(r["rtt_ms"]) / 1e3
        t_slm, t_llm = 1.0 / float(r["slm_thr"]), 1.0 / float(r["base_thr"])
        link = LinkConfig(1e15, 1e15, rtt)  # no serialization (its logits up and down cost it nothing measured)
        own = Pricer(per_call(t_slm, t_llm), link)
        as_run = cap.Workload("dssd", g, g + a**g, g * t_slm, 0.0, 0.0, t_llm, CONTEXT)
        exact = cap.Workload("dssd", g, a * g + 1.0, g * t_slm, 0.0, 0.0, t_llm, CONTEXT)
        exact_speed = speed(own, exact)
        llm = "opt-6.7b" if r["model_l"].endswith("6.7b") else "opt-13b"
        roof = Pricer(roofline("h800", "opt-125m", "h800", llm), link)
        w_roof = cap.Workload("dssd", g, a * g + 1.0, g * roof.edge_forward_s(1, int(CONTEXT)), 0.0, 0.0, 0.0, CONTEXT)
        ar_roof = cap.point(roof, cap.Workload.autoregressive(128, CONTEXT), 1, mode="ar-streamed")
        setup = (f"OPT-125M -> {SHAPES[llm].name}, two H800s, gamma {g}, RTT {rtt * 1e3:.0f} ms, rate column "
                 f"{r['bw_Mbps']}")
        measured_round = exact.tokens / float(r["dsp_thr"])
        missing = (f"its round took {measured_round * 1e3:.0f} ms (read exactly) where its per-call prices sum to "
                   f"{exact.tokens / exact_speed * 1e3:.0f}: work its calls do not time (the logits copied to "
                   f"the host each step, a verification over the whole prefix uncached); read as its committed code "
                   f"runs (the draft kept whole after a rejection) it would be {speed(own, as_run) * t_llm:.2f}x; "
                   f"its AR runs {t_llm * 1e3:.0f} ms a token where the H800 roofline says "
                   f"{1e3 / ar_roof['tokens_per_s_per_edge']:.1f}")  # fmt: skip
        rows.append(Row("DSSD", "speedup over the target's AR (its CSV, one row)", "target-only AR, no link", setup,
                        float(r["speedup"]), exact_speed * t_llm,
                        speed(roof, w_roof) / ar_roof["tokens_per_s_per_edge"], missing, DSSD))  # fmt: skip
    return rows


def _batched_users(p: Pricer, ratio: float, mode: str) -> int:
    """The fewest users whose AR, batched by ``mode`` (``ar-streamed``: every user in every round; ``ar-static``:
    a batch runs to its longest request), gives ``ratio`` times one-at-a-time AR's system throughput."""
    ar = cap.Workload.autoregressive(64, CONTEXT)
    one = cap.point(p, ar, 1, mode="ar-streamed")["system_tokens_per_s"]
    return next(n for n in range(1, AR_CAPACITY_SESSIONS + 1)
                if cap.point(p, ar, n, mode=mode)["system_tokens_per_s"] >= ratio * one)  # fmt: skip


def chain_acceptance(tokens: float, gamma: int) -> float:
    """The per-draft acceptance at which a chain of ``gamma`` i.i.d. drafts yields ``tokens`` a round (accepted
    + 1: (1 - a^(gamma + 1)) / (1 - a)); nan above gamma + 1."""
    if not 1.0 <= tokens <= gamma + 1:
        return float("nan")
    lo, hi = 0.0, 1.0
    for _ in range(60):  # the yield grows with a: bisection to 1e-18
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if sum(mid**i for i in range(gamma + 1)) < tokens else (lo, mid)
    return lo


def dip_sd(device: str = "a100-80gb", gamma: int = 4) -> list[Row]:
    """DiP-SD (numerical results, Qwen3-1.7B devices drafting for a Qwen3-32B edge server): 17.89x AR and 1.93x AR
    with greedy batching. Its abstract gives neither the server's device, the user count, the acceptance nor the
    batching law, so the claim is not predicted; what its two numbers imply is. Their ratio (9.27x) is batching
    alone over one-at-a-time AR: the roofline gives it at N users, under each reading of greedy batching. At that
    N the SD rounds (drafting hidden by its pipelining; ``gamma`` drafts, an assumption) must yield the tokens a
    round 1.93x needs; the same system against continuous-batching AR then follows, if the claim holds."""
    vs_ar, vs_greedy = DIP_SD_CLAIMS
    p = Pricer(roofline(device, "qwen3-1.7b", device, "qwen3-32b"), LinkConfig(1e9, 1e9, 0.0))

    def reading(n: int, stretch: float, g: int) -> tuple[float, float]:
        """(the tokens a round 1.93x needs at N = n against AR batches that cost ``stretch`` rounds a token, that
        system against continuous-batching AR at AR's capacity point), chains of ``g`` drafts."""
        tokens = vs_greedy * p.cloud_batch_s(n, g + 1, CONTEXT) / (p.cloud_batch_s(n, 1, CONTEXT) * stretch)
        return tokens, _vs_ar(p, tokens, AR_CAPACITY_SESSIONS, g + 1)

    n_c = _batched_users(p, vs_ar / vs_greedy, "ar-streamed")
    n_s = _batched_users(p, vs_ar / vs_greedy, "ar-static")
    stretch = cap.static_stretch(n_s)
    (t_c, vs_c), (t_s, vs_s) = reading(n_c, 1.0, gamma), reading(n_s, stretch, gamma)
    span = [reading(n_c, 1.0, g)[1] for g in (2, 8)]
    kept = chain_acceptance(t_c, gamma)
    setup = (f"Qwen3-1.7B devices, Qwen3-32B on {DEVICES[device].name} (device assumed), gamma {gamma} assumed, "
             "drafting hidden by its pipelining")  # fmt: skip
    missing = (f"not predicted: its user count, acceptance and batching law are not in the abstract. Its two "
               f"numbers give batching alone {vs_ar / vs_greedy:.2f}x over one-at-a-time AR, which the roofline "
               f"reaches at N = {n_c} users if greedy batching puts every user in every round ({vs_greedy:.2f}x "
               f"then needs {t_c:.2f} tokens a round, a draft kept with {kept:.2f}; {vs_c:.2f}x continuous AR at "
               f"its capacity point, the vs_continuous_ar column; {span[0]:.2f}x at gamma 2, {span[1]:.2f}x at 8), "
               f"at N = {n_s} if its batches run to their longest request (static batching alone then costs "
               f"{stretch:.2f}x per-round batching, so {t_s:.2f} tokens a round suffice; {vs_s:.2f}x continuous AR "
               f"at its capacity point)")  # fmt: skip
    claims = (("throughput over AR", "autoregressive decoding, one request at a time", vs_ar),
              ("throughput over AR with greedy batching", "AR, greedy batching", vs_greedy))
    return [Row("DiP-SD", c, base, setup, value, float("nan"), vs_c, missing, DIP_SD) for c, base, value in claims]


def unpriced() -> list[Row]:
    """Anchors whose setup the text reachable here does not give (abstracts only): the headline, and why."""
    nan = float("nan")
    missing = ("the model pair, draft length, acceptance and baseline are not in the abstract; the paper's body "
               "is not reachable from this machine (arXiv, its HTML, reviews, WISP's and DiP-SD's abstracts, code "
               "search tried)")  # fmt: skip
    return [
        Row("SLED", "system throughput", "not stated in the abstract", "Jetson Orin Nano, Raspberry Pi 4B/5, a "
            "server of 4 A100s (v3 abstract; v1: an RTX 6000)", 2.2, nan, nan, missing, "arXiv 2506.09397"),
        Row("SLED", "system capacity", "not stated in the abstract", "as above", 2.8, nan, nan, "as above",
            "arXiv 2506.09397"),
    ]  # fmt: skip


def anchors_table(dssd_grid: list[dict]) -> list[dict]:
    """Every anchor's rows (:class:`Row` as dicts, with the error and whether it is within 25 %); ``dssd_grid``:
    DSSD's CSV rows."""
    return [r.to_dict() for r in (*specedge(), *early_exits(), *spec_bench(), *dssd(dssd_grid), *dip_sd(), *unpriced())]

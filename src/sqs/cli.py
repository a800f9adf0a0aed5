"""Command line: the library's jobs without the workflow (simulate, bits, decode, distill, sweep, headroom)."""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import fields
from pathlib import Path

from sqs.models.backend import DTYPES
from sqs.protocol.verify import RULES
from sqs.steps.io import write_table
from sqs.study.simulate import SimulationConfig, simulate


def _simulate(args: argparse.Namespace) -> int:
    cfg = SimulationConfig(**{f.name: getattr(args, f.name) for f in fields(SimulationConfig)})
    rows = simulate(cfg, progress=not args.quiet)
    if args.out:
        write_table(rows, Path(args.out))
        print(f"wrote {args.out}", file=sys.stderr)
    cols = [
        ("scheme", "{:<6}"),
        ("resampling_rate", "{:>9.3f}"),
        ("mean_accept_len", "{:>9.2f}"),
        ("draft_accept_rate", "{:>9.3f}"),
        ("mean_draft_len", "{:>9.2f}"),
        ("uplink_bits_per_token", "{:>11.1f}"),
        ("dropped_mass", "{:>9.4f}"),
        ("expected_rejections", "{:>9.2f}"),
        ("bound_theorem1", "{:>9.2f}"),
    ]
    heads = ["scheme", "resample", "acc.len", "acc.rate", "draft.L", "bits/token", "dropped", "E[rej]", "Thm1 bnd"]
    if args.json:
        for r in rows:
            print(json.dumps(r))
        return 0
    print(" ".join(f"{h:>9}" if i else f"{h:<6}" for i, h in enumerate(heads)))
    for r in rows:
        print(" ".join(fmt.format(r[k]) for k, fmt in cols))
    return 0


def _bits(args: argparse.Namespace) -> int:
    from sqs.protocol.schemes import SCHEMES

    v, ell = args.vocab_size, args.ell
    sized = [sp for sp in SCHEMES.values() if sp.lattice and sp.layout.names_subset]  # support size K varies
    print(f"V={v} ell={ell}: bits per draft token (excluding the draft token's position)")
    heads = [sp.name for sp in sized] + [f"{sp.name} (paper)" for sp in sized if sp.in_paper]
    print(f"{'K':>7} " + " ".join(f"{h:>14}" for h in heads))
    for k in args.k:
        exact = [sp.layout.side_bits(v, k, ell) for sp in sized]
        paper = [sp.layout.paper_bits(v, k, ell) for sp in sized if sp.in_paper]
        print(f"{k:>7} " + " ".join(f"{x:>14}" for x in exact) + " " + " ".join(f"{x:>14.0f}" for x in paper))
    for sp in SCHEMES.values():  # supports that are the whole vocabulary
        if sp.lattice and not sp.layout.names_subset:
            print(f"{sp.name:>7} {sp.layout.side_bits(v, v, ell):>14}")
        if sp.layout is not None and sp.layout.id_record:  # no q_hat: the id, with q_hat(x) or a parent field
            what = {"tokens": "the draft's id alone", "split": "the draft's id and q_hat(x) in float64",
                    "tree": "a node's id, + ceil(log2(i + 1)) for node i's parent"}[sp.layout.family]  # fmt: skip
            print(f"{sp.name:>7} {sp.layout.token_bits(v, 0, 0, 1):>14}  ({what})")
    return 0


def scheme_options(p: argparse.ArgumentParser, defaults) -> None:
    """One option per scheme parameter (sqs.protocol.schemes.registry), its default read off ``defaults`` by name."""
    from sqs.protocol.schemes.registry import all_param_fields

    for f in all_param_fields():
        default = getattr(defaults, f.name)
        p.add_argument(f"--{f.name.replace('_', '-')}", type=type(default), default=default,
                       choices=f.metadata.get("choices"),
                       help=f"{f.metadata['help']} (default: %(default)s)")  # fmt: skip


def sweep_options(p: argparse.ArgumentParser) -> None:
    """One list option per swept scheme parameter of the registry (``--k``, ``--beta``, ``--eta``, ``--top-p``,
    ...), its default values declared there; a scheme one of whose lists is empty is left out."""
    from sqs.protocol.schemes.registry import all_param_fields

    for f in all_param_fields():
        if f.metadata.get("column"):
            kind = int if f.type in (int, "int") else float
            p.add_argument(f"--{f.name.replace('_', '-')}", type=kind, nargs="*", default=list(f.metadata["sweep"]),
                           help=f"{f.metadata['help']}: values swept (default: %(default)s)")  # fmt: skip


def _check(args: argparse.Namespace) -> int:
    """The lossless check on a scheme: exit 0 when its law fits the LLM's and both outcomes were exercised."""
    import importlib

    from sqs.lossless import check_scheme
    from sqs.protocol.schemes.registry import get

    for module in args.imports:  # a user's module that registers its own scheme (registry.register)
        importlib.import_module(module)
    spec = get(args.scheme)
    names = sorted(f.name for f in spec.param_fields())
    given = {}
    for item in args.param:
        name, sep, value = item.partition("=")
        name = name.strip().replace("-", "_")
        if not sep or name not in names:
            raise ValueError(f"--param {item!r}: expected NAME=VALUE with NAME one of {names or 'none'} "
                             f"(scheme {spec.name!r})")  # fmt: skip
        given[name] = value
    params = spec.params_from({}, given)  # the rest at their defaults, every value cast as declared
    res = check_scheme(spec.make(**params), sessions=args.sessions, vocab_size=args.vocab_size, tokens=args.tokens,
                       temperature=args.temperature, closeness=args.closeness, draft_len=args.draft_len,
                       seed=args.seed, alpha=args.alpha, progress=not args.quiet, rule=args.verify)  # fmt: skip
    row = {"scheme": spec.name, **params, "verify": args.verify, **res.row()}
    if args.json:
        print(json.dumps(row))
    else:
        width = max(map(len, row))
        for k, v in row.items():
            print(f"{k:<{width}}  {v:.4g}" if isinstance(v, float) else f"{k:<{width}}  {v}")
    if not res.tested:
        print(f"sqs check: not tested: {res.accepted} drafts accepted, {res.resampled} rejections resampled "
              "(both must happen; raise --draft-len or change --closeness)", file=sys.stderr)  # fmt: skip
        return 1
    verdict = "differs from" if res.gof.rejects() else "is consistent with"
    print(f"sqs check: the emitted law {verdict} the LLM's (p = {res.gof.pvalue:.3g}, alpha = {args.alpha}; "
          f"a binned TV >= {res.gof.detectable_tv:.3g} would be caught with power 0.9)", file=sys.stderr)
    return 1 if res.gof.rejects() else 0


def _table(args: argparse.Namespace) -> int:
    import csv

    with open(args.csv, newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows:
        print(f"{args.csv}: no rows")
        return 0
    cols = [c for c in args.columns or rows[0].keys() if c in rows[0]]

    def fmt(v: str) -> str:
        try:
            x = float(v)
        except ValueError:
            return v
        return f"{x:.4g}"

    cells = [[fmt(r.get(c, "")) for c in cols] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(cols)]
    print("  ".join(c.rjust(w) for c, w in zip(cols, widths, strict=True)))
    for row in cells:
        print("  ".join(v.rjust(w) for v, w in zip(row, widths, strict=True)))
    return 0


DEFAULT_TOKEN_FILE = os.environ.get("SQS_TOKEN_FILE", str(Path.home() / ".config/sqs/token"))


def _prompts(args: argparse.Namespace) -> list[str]:
    if args.prompts_file:
        lines = Path(args.prompts_file).read_text().splitlines()
        prompts = [ln for ln in lines if ln.strip()]
    else:
        prompts = list(args.prompt or [])
    if not prompts:
        raise ValueError("give --prompt TEXT (repeatable) or --prompts-file FILE (one prompt a line)")
    return prompts


def _decode_config(args: argparse.Namespace):
    from sqs.models.interface import with_backend
    from sqs.study.decode import DecodeConfig
    from sqs.system.channel import ChannelConfig
    from sqs.system.compute import load_profile

    names = [f.name for f in fields(DecodeConfig) if f.name not in ("link", "channel", "ells", "compute", "slm")]
    compute = load_profile(args.compute or "measured", args.slm, args.llm, args.calibration)
    return DecodeConfig(**{n: getattr(args, n) for n in names}, slm=with_backend(args.slm, args.slm_backend),
                        link=link_from(args),
                        channel=ChannelConfig(args.channel, rates_csv=args.rates_csv), ells=tuple(args.ells),
                        compute=compute)  # fmt: skip


def _decode_all(pair, cfg, prompts: list[str]) -> int:
    from tqdm import tqdm

    from sqs.study.decode import decode_prompt

    # one policy and one stateful scheme for every prompt: what an adaptive policy learned and C-SQS's threshold
    policy, scheme = cfg.make_policy(), cfg.run_scheme()
    for i, text in enumerate(tqdm(prompts, desc=f"decode {cfg.scheme}", unit="prompt", file=sys.stderr)):
        record = decode_prompt(pair, cfg, text, i, policy=policy, scheme=scheme)
        print(json.dumps(record), flush=True)
        if "error" in record:  # the cloud went away: the record keeps the tokens so far
            e = record["error"]
            print(f"sqs: error: prompt {i}, batch {e['batch']}: {e['message']}", file=sys.stderr)
            return 1
    return 0


def _decode(args: argparse.Namespace) -> int:
    import logging

    from sqs.study.decode import ModelPair

    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, stream=sys.stderr)
    prompts = _prompts(args)
    cfg = _decode_config(args)
    return _decode_all(ModelPair(cfg.slm, cfg.llm, cfg.dtype, cfg.device), cfg, prompts)


def _edge(args: argparse.Namespace) -> int:
    import logging

    from sqs.net.client import RemotePair
    from sqs.net.frames import read_token
    from sqs.net.identity import load_side
    from sqs.net.tls import client_context

    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, stream=sys.stderr)
    prompts = _prompts(args)
    token = read_token(args.token_file)
    cfg = _decode_config(args)
    side = load_side(cfg.slm, "edge", cfg.dtype, cfg.device)
    tls = client_context(args.tls_ca) if args.tls_ca or args.tls_server_name else None
    pair = RemotePair(side, args.cloud, token, cfg.llm, args.seed_policy, args.timeout, tls, args.tls_server_name)
    return _decode_all(pair, cfg, prompts)


SERVER_HELP = {
    "host": "address to bind (a non-loopback one exposes the model to that network)",
    "port": "TCP port (0: any free one)",
    "max_frame_bytes": "frames longer than this are refused unread",
    "max_sessions": "concurrent sessions; more are answered BUSY",
    "idle_timeout_s": "a session silent this long is closed",
    "hello_timeout_s": "seconds a new connection has to open its session",
    "max_context": "prompt plus generated tokens per session",
    "max_drafts": "drafts per uplink message",
    "max_ell": "largest lattice resolution accepted",
    "max_support": "largest support size K accepted (default: V)",
    "max_work": "decoding work one uplink may cost (sqs.protocol.wire.draft_work units)",
    "max_temperature": "largest temperature a session may ask for",
    "batch_verify": "verify uplinks that wait together in one batched LLM forward (SLED-style; off by default)",
    "max_batch": "most sessions in one batched forward",
    "seed_policies": "who may seed the cloud's sampling",
    "tls_cert": "PEM certificate (chain): serve TLS 1.2+, the token's HMAC kept on top (docs/network.md)",
    "tls_key": "the certificate's PEM private key",
}


def server_options(p: argparse.ArgumentParser) -> None:
    """One option per ServerConfig field (sqs.net.server), with its default."""
    from sqs.net.server import SEED_POLICIES, ServerConfig

    dataclass_options(p, ServerConfig, SERVER_HELP, {"seed_policies": SEED_POLICIES})


def _serve(args: argparse.Namespace) -> int:
    import logging

    from sqs.net.frames import read_token
    from sqs.net.identity import load_side
    from sqs.net.server import ServerConfig, serve

    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(name)s %(message)s")
    names = [f.name for f in fields(ServerConfig)]
    values = {n: getattr(args, n) for n in names}
    cfg = ServerConfig(**{n: tuple(v) if isinstance(v, list) else v for n, v in values.items()})
    token = read_token(args.token_file, create=True)
    model = load_side(args.llm, "cloud", args.dtype, args.device)

    def announce(port: int) -> None:
        info = {"listening": f"{cfg.host}:{port}", "model": model.name, "vocab_size": model.vocab_size}
        print(json.dumps(info), flush=True)

    serve(model, token, cfg, announce=announce)
    return 0


def _distill(args: argparse.Namespace) -> int:
    import logging

    from sqs.models.backend import ensure_embedded_checkpoint
    from sqs.models.distill import DistillConfig, config_key, distill, ensure_distilled_draft

    logging.basicConfig(level=logging.INFO, stream=sys.stderr)
    cfg = DistillConfig(**{f.name: getattr(args, f.name) for f in fields(DistillConfig)})
    if args.out:
        out = Path(args.out)
        if out.exists():
            raise ValueError(f"{out} exists; choose a new directory (nothing is overwritten)")
        distill(ensure_embedded_checkpoint(), out, cfg)
    else:
        out = ensure_distilled_draft(cfg)
    report = json.loads((out / "distill_report.json").read_text())
    print(json.dumps({"path": str(out), "key": config_key(cfg), **report}))
    return 0


LINK_HELP = {
    "uplink_bps": "uplink rate (bits/s)",
    "downlink_bps": "downlink rate (bits/s)",
    "propagation_s": "propagation per batch, both ways (s)",
    "edge_time_scale": "multiply edge compute (4 = an edge 4x slower than this machine)",
    "cloud_time_scale": "multiply cloud compute",
}


def dataclass_options(p: argparse.ArgumentParser, cls, helps: dict, choices: dict | None = None) -> None:
    """One option per field of a config dataclass, typed by its default (None: an integer), with its help."""
    inst = cls()
    for f in fields(cls):
        default = getattr(inst, f.name)
        flag, text = f"--{f.name.replace('_', '-')}", f"{helps[f.name]} (default: %(default)s)"
        if isinstance(default, bool):
            p.add_argument(flag, action="store_true", help=helps[f.name])
        elif isinstance(default, tuple):
            p.add_argument(flag, nargs="+", default=list(default), choices=(choices or {}).get(f.name), help=text)
        else:
            kind = (str if "str" in str(f.type) else int) if default is None else type(default)
            p.add_argument(flag, type=kind, default=default, help=text)


def link_options(p: argparse.ArgumentParser) -> None:
    """One option per LinkConfig field (sqs.system.latency), with its default, and the named presets."""
    from sqs.system.latency import LINK_PRESETS, LinkConfig

    dataclass_options(p, LinkConfig, LINK_HELP)
    p.add_argument("--link-preset", choices=list(LINK_PRESETS),
                   help="a named link instead of the options above (paper: 2 Mb/s up, no propagation, no downlink: "
                   "the paper's latency)")  # fmt: skip


def draft_cap(text: str) -> int | None:
    """``--max-draft-len``: a positive count, or ``none`` (no cap: the budget B alone sets the draft length)."""
    if text.lower() in ("none", "null"):
        return None
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"--max-draft-len must be >= 1 or 'none', got {text!r}")
    return value


def compute_options(p: argparse.ArgumentParser) -> None:
    from sqs.system.compute import PROFILES

    p.add_argument("--compute", choices=PROFILES, help="price compute with this profile (docs/compute-profiles.md)")
    p.add_argument("--calibration", help="this machine's calibration JSON (results/models/compute_calibration.json)")


def link_from(args: argparse.Namespace):
    from sqs.system.latency import LINK_PRESETS, LinkConfig

    if getattr(args, "link_preset", None):
        return LINK_PRESETS[args.link_preset]
    return LinkConfig(**{f.name: getattr(args, f.name) for f in fields(LinkConfig)})


def _trace_parser(sub, name: str, help: str, description: str, temperatures: list[float], ell: int,
                  max_draft_help: str) -> argparse.ArgumentParser:  # fmt: skip
    """A trace command (sweep, headroom) with the options they share: the cache, T, ell, budget, link, compute."""
    p = sub.add_parser(name, help=help, description=description)
    p.add_argument("--cache", required=True, help="a logits cache directory (results/cache/logits-<hash>)")
    p.add_argument("--temperatures", type=float, nargs="+", default=temperatures, help="T values")
    p.add_argument("--ell", type=int, default=ell, help="lattice resolution")
    p.add_argument("--budget-bits", type=int, default=5000, help="uplink payload budget B per batch")
    p.add_argument("--max-draft-len", type=draft_cap, default=8, help=max_draft_help + "; none: no cap")
    p.add_argument("--out", help="write the CSV here instead of stdout")
    link_options(p)
    compute_options(p)
    p.add_argument("--profile-from", help="fit per-call compute times on a live summary.csv (else the ms options)")
    p.add_argument("--edge-ms-per-draft", type=float, default=40.0, help="edge compute per draft token")
    p.add_argument("--cloud-ms-per-batch", type=float, default=80.0, help="cloud compute per batch")
    p.add_argument("--cloud-ms-per-token", type=float, default=0.0, help="cloud compute per verified token")
    return p


def _trace_inputs(args: argparse.Namespace):
    """The cached logits, their segments, the compute profile and the link of a trace command."""
    from sqs.system.compute import load_profile, per_call
    from sqs.trace.logitcache import load_cache
    from sqs.trace.sweep import profile_from_summary

    cache = load_cache(Path(args.cache))
    slm, llm, segments = cache.slm, cache.llm, cache.segments
    if args.compute:
        profile = load_profile(args.compute, cache.meta["slm"], cache.meta["llm"], args.calibration)
    elif args.profile_from:
        import pandas as pd

        profile = profile_from_summary(pd.read_csv(args.profile_from).to_dict("records"))
    else:
        profile = per_call(args.edge_ms_per_draft / 1e3, args.cloud_ms_per_batch / 1e3, args.cloud_ms_per_token / 1e3)
    return slm, llm, segments, profile, link_from(args)


def _headroom(args: argparse.Namespace) -> int:
    from sqs.trace.headroom import HEADROOM_COLUMNS, policy_headroom

    slm, llm, segments, profile, link = _trace_inputs(args)
    rows = policy_headroom(slm, llm, segments, args.temperatures, profile, link, ell=args.ell,
                           budget_bits=args.budget_bits, max_len=args.max_draft_len)  # fmt: skip
    write_table(rows, args.out or sys.stdout, HEADROOM_COLUMNS)
    return 0


def _sweep(args: argparse.Namespace) -> int:
    import time

    from tqdm import tqdm

    from sqs.trace.logitcache import load_cache
    from sqs.trace.sweep import SWEEP_AXES, grid_cells, sweep

    slm, llm, segments, profile, link = _trace_inputs(args)
    common = dict(alpha=args.alpha, ell=args.ell, budget_bits=args.budget_bits, max_draft_len=args.max_draft_len,
                  link=link, accounting=args.accounting, scheme_state=args.scheme_state,
                  verify=args.verify)  # fmt: skip
    axes = {column: getattr(args, name) for column, name in SWEEP_AXES.items()}
    cells = grid_cells(args.temperatures, axes, with_dense=args.qs, **common)
    t0 = time.perf_counter()
    rows = sweep(
        slm, llm, segments, cells, profile, workers=args.workers, contexts=load_cache(Path(args.cache)).contexts,
        n_boot=args.n_boot,
        progress=lambda xs, total: tqdm(xs, total=total, desc="sweep", unit="task", file=sys.stderr),
    )  # fmt: skip
    dt = time.perf_counter() - t0
    rate = len(cells) / dt * 60 * slm.shape[0] / 1000
    print(f"{len(cells)} cells x {slm.shape[0]} positions in {dt:.1f} s ({rate:.0f} cells/min per 1000 positions)",
          file=sys.stderr)  # fmt: skip
    write_table(rows, args.out or sys.stdout)
    return 0


LLM_HELP = "cloud model id (paper: EleutherAI/gpt-neo-1.3B)"


def decode_options(dd: argparse.ArgumentParser, llm_help: str = LLM_HELP) -> None:
    """``sqs decode``'s options, shared by ``sqs edge``."""
    from sqs.study.decode import DECODE_SCHEMES, DecodeConfig

    dc = DecodeConfig()
    dd.add_argument("--scheme", choices=DECODE_SCHEMES, default=dc.scheme, help="ar = cloud-only baseline")
    dd.add_argument("--prompt", action="append", help="a prompt (repeat for several)")
    dd.add_argument("--prompts-file", help="a text file, one prompt a line")
    dd.add_argument("--temperature", type=float, default=dc.temperature, help="T on both sides; 0 = greedy")
    dd.add_argument("--max-new-tokens", type=int, default=dc.max_new_tokens)
    dd.add_argument("--budget-bits", type=int, default=dc.budget_bits, help="uplink payload budget B per batch")
    dd.add_argument("--max-draft-len", type=draft_cap, default=dc.max_draft_len,
                    help="cap on drafts per batch; none: no cap, B alone sets L (the paper)")  # fmt: skip
    dd.add_argument("--scheme-state", choices=["cell", "prompt"], default=dc.scheme_state,
                    help="C-SQS's threshold runs on across the prompts (cell) or restarts at each")  # fmt: skip
    dd.add_argument("--verify", choices=tuple(RULES), default=dc.verify,
                    help="the cloud's verification rule: token by token, or the block as a whole (exact, same bits)")
    scheme_options(dd, dc)
    dd.add_argument("--slm-backend", choices=["transformers", "llama.cpp"], default="transformers",
                    help="the edge's runtime: transformers at --dtype, or llama.cpp on the embedded GGUF as shipped")
    dd.add_argument(
        "--slm", default=dc.slm, help="edge model id: embedded id, local dir or hub id; @exit=N keeps N layers"
    )
    dd.add_argument("--llm", default=dc.llm, help=llm_help)
    dd.add_argument(
        "--dtype",
        choices=DTYPES,
        default=dc.dtype,
        help="model weights; probabilities are always float64",
    )
    dd.add_argument("--device", default=dc.device, help="auto (CUDA if present), cpu or cuda")
    dd.add_argument("--seed", type=int, default=dc.seed)
    dd.add_argument("--policy", choices=["static", "adaptive"], default=dc.policy,
                    help="static: --max-draft-len drafts at --ell; adaptive: the policy picks ell and L")  # fmt: skip
    dd.add_argument("--ells", type=int, nargs="*", default=[], help="the adaptive policy's resolutions")
    dd.add_argument("--channel", choices=["fixed", "gilbert-elliott", "replay"], default="fixed",
                    help="uplink rate per batch: fixed (--uplink-bps), 2/6 Mb/s Markov, or --rates-csv")  # fmt: skip
    dd.add_argument("--rates-csv", help="CSV with an uplink_bps column, one row per batch (--channel replay)")
    dd.add_argument("--verbose", action="store_true", help="log model loading to stderr")


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="sqs", description=__doc__)
    sub = ap.add_subparsers(dest="command", required=True)
    d = SimulationConfig()
    s = sub.add_parser("simulate", help="run every scheme on an exact toy model pair and print a summary table")
    s.add_argument("--vocab-size", type=int, default=d.vocab_size, help="toy vocabulary size V")
    s.add_argument("--n-prompts", type=int, default=d.n_prompts, help="prompts (one start token each)")
    s.add_argument("--max-new-tokens", type=int, default=d.max_new_tokens, help="tokens generated per prompt")
    s.add_argument("--temperature", type=float, default=d.temperature, help="T on both sides; 0 = greedy")
    s.add_argument("--budget-bits", type=int, default=d.budget_bits, help="uplink payload budget B per batch")
    s.add_argument("--max-draft-len", type=int, default=d.max_draft_len, help="cap on drafts per batch")
    scheme_options(s, d)
    s.add_argument("--closeness", type=float, default=d.closeness, help="how much of the LLM the toy SLM shares")
    s.add_argument("--seed", type=int, default=d.seed)
    s.add_argument("--out", help="also write the table as CSV here")
    s.add_argument("--json", action="store_true", help="print JSON lines instead of a table")
    s.add_argument("--quiet", action="store_true", help="no progress bar")
    s.set_defaults(func=_simulate)
    b = sub.add_parser("bits", help="exact wire cost per draft token for K-SQS / C-SQS vs the paper's figure")
    b.add_argument("--vocab-size", type=int, default=50257)
    b.add_argument("--ell", type=int, default=100)
    b.add_argument("--k", type=int, nargs="+", default=[1, 8, 64, 512, 4096])
    b.set_defaults(func=_bits)
    dd = sub.add_parser(
        "decode",
        help="decode prompts edge-to-cloud with real models; JSON Lines on stdout, progress on stderr",
        description="Decode text prompts through an edge SLM and a cloud LLM that exchange only bytes. "
        "With no model options the embedded offline pair is used (converted and cached on first use).",
    )
    decode_options(dd)
    link_options(dd)
    compute_options(dd)
    dd.add_argument("--preemptive", action="store_true", help="the edge drafts on while the cloud verifies")
    dd.set_defaults(func=_decode)
    ed = sub.add_parser(
        "edge",
        help="decode prompts on this machine's SLM against a `sqs serve` cloud; JSON Lines like `sqs decode`",
        description="The edge as its own process: drafts here, verification by a cloud server over TCP "
        "(docs/network.md). Latency is the clock across the real link; the link options only price the "
        "model's prediction recorded beside it.",
    )
    decode_options(ed, llm_help="the cloud model the server must run (its id as the server names it)")
    link_options(ed)
    ed.add_argument("--cloud", required=True, help="the server, HOST:PORT")
    ed.add_argument("--tls-ca", help="connect over TLS, trusting this CA (PEM); the server's certificate must name "
                    "the host of --cloud")  # fmt: skip
    ed.add_argument("--tls-server-name", help="with TLS: the name the server's certificate must carry, where it is "
                    "not the host of --cloud (the system's CAs are trusted where --tls-ca is not given)")  # fmt: skip
    ed.add_argument("--token-file", default=DEFAULT_TOKEN_FILE, help="the shared secret (default: %(default)s; "
                    "or set SQS_TOKEN)")  # fmt: skip
    ed.add_argument("--seed-policy", choices=["client", "server"], default="client",
                    help="client: --seed fixes the cloud's sampling too (reproducible); server: the server "
                    "draws it")  # fmt: skip
    ed.add_argument("--timeout", type=float, default=120.0, help="seconds to wait for the cloud per step")
    ed.set_defaults(func=_edge, preemptive=False, compute=None, calibration=None)
    se = sub.add_parser(
        "serve",
        help="run the cloud: load the LLM once and verify many edge sessions over TCP",
        description="The cloud as a server (sqs.net.server). Binds 127.0.0.1 unless --host says otherwise; "
        "sessions need the shared token (created in --token-file if missing). Prints one JSON line when "
        "listening.",
    )
    from sqs.study.decode import DecodeConfig

    se.add_argument("--llm", default=DecodeConfig().llm, help="cloud model id, or toy:V:seed:closeness")
    se.add_argument("--dtype", choices=DTYPES, default=DecodeConfig().dtype)
    se.add_argument("--device", default="auto", help="auto (CUDA if present), cpu or cuda")
    se.add_argument("--token-file", default=DEFAULT_TOKEN_FILE, help="the shared secret (default: %(default)s)")
    server_options(se)
    se.set_defaults(func=_serve)
    from sqs.models.distill import DistillConfig

    dcfg = DistillConfig()
    di = sub.add_parser(
        "distill",
        help="build the embedded pair's edge draft (LLM layer subset, partly retrained, KL-distilled on LLM text)",
    )
    distill_help = {
        "frozen_layers": "the LLM's first N decoder layers, kept frozen",
        "trained_layers": "LLM layer indices appended after the frozen ones and trained, comma-separated",
        "sequences_per_prompt": "LLM-sampled training sequences per training opener (64 openers)",
        "heldout_per_prompt": "held-out sequences per evaluation opener (64 openers)",
        "seq_len": "tokens per sampled sequence",
        "gen_batch": "sequences sampled in parallel",
        "steps": "optimizer steps",
        "batch_sequences": "sequences per optimizer step",
        "lr": "peak AdamW learning rate (linear warm-up, cosine decay)",
        "warmup_steps": "linear warm-up steps",
        "seed": "seeds the sampled text and the training order",
        "head_tokens": "output layer over only this many tokens, those holding the most LLM mass; "
        "the compute saved pays for layers (0: the full vocabulary)",
    }
    for f in fields(DistillConfig):
        default = getattr(dcfg, f.name)
        di.add_argument(
            f"--{f.name.replace('_', '-')}",
            type=type(default),
            default=default,
            help=f"{distill_help[f.name]} (default: %(default)s)",
        )
    di.add_argument("--out", help="write the checkpoint here instead of the cache (must not exist)")
    di.set_defaults(func=_distill)
    sw = _trace_parser(
        sub, "sweep", "predict a grid of cells from a logits cache (no model run); CSV on stdout",
        "Trace-driven sweep (sqs.trace.sweep): exact per-position rejection probability and bits of each "
        "compressed draft along the cached reference text, then each prompt decoded in expectation (the budget "
        "rule, the cap, acceptance) and its rates with 95 %% intervals over prompts.",
        [0.2, 0.6, 1.0], 100, "cap on drafts per batch",
    )  # fmt: skip
    sweep_options(sw)
    sw.add_argument("--no-qs", dest="qs", action="store_false", help="leave out the dense QS cell")
    sw.add_argument("--alpha", type=float, default=0.0005, help="C-SQS target dropped mass")
    sw.add_argument("--accounting", choices=["exact", "paper"], default="exact",
                    help="C-SQS bits charged against B: the wire's (exact) or the paper's formula (paper)")  # fmt: skip
    sw.add_argument("--scheme-state", choices=["cell", "prompt"], default="cell",
                    help="C-SQS's threshold over all prompts in sequence (cell) or restarted at each")  # fmt: skip
    sw.add_argument("--verify", choices=tuple(RULES), default="token",
                    help="the cloud's rule for drafts sent with a q_hat: token by token, or the block as a whole "
                         "(Sun et al.; sqs.trace.blocks)")  # fmt: skip
    sw.add_argument("--n-boot", type=int, default=2000, help="bootstrap resamples of the prompts (95 %% intervals)")
    sw.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                    help="processes (temperatures are split among them; default: one per core)")  # fmt: skip
    sw.set_defaults(func=_sweep)
    hr = _trace_parser(
        sub, "headroom", "how much any draft-length rule could gain over the best static one, from a logits cache",
        "sqs.trace.headroom: static draft lengths against oracle and causal per-batch rules (dense QS), from the "
        "cached trace; CSV on stdout.",
        [0.4, 1.0], 200, "longest static draft length compared",
    )  # fmt: skip
    hr.set_defaults(func=_headroom)
    ck = sub.add_parser(
        "check", help="the lossless check: a scheme through edge and cloud on an exact toy target, its law tested",
        description="Run sessions of a scheme through a real Edge and Cloud (bytes only) on a random Markov pair "
        "whose LLM law is known, and test the joint law of the first tokens (sqs.lossless: a binned chi-square "
        "calibrated at any V and n). Exit 0: consistent with the LLM's law; 1: it differs, or nothing was tested.",
    )  # fmt: skip
    ck.add_argument("--scheme", required=True, help="a registered scheme name (your own: see --import)")
    ck.add_argument("--param", action="append", default=[], metavar="NAME=VALUE", help="a scheme parameter")
    ck.add_argument("--import", dest="imports", action="append", default=[], metavar="MODULE",
                    help="import this module first (it registers your scheme: sqs.protocol.schemes.registry)")
    ck.add_argument("--sessions", type=int, default=20_000, help="sessions (draws of the joint law)")
    ck.add_argument("--vocab-size", type=int, default=5, help="toy vocabulary size V (cells: V ** tokens)")
    ck.add_argument("--tokens", type=int, default=3, help="tokens a session decodes (their joint law is tested)")
    ck.add_argument("--temperature", type=float, default=0.8, help="T on both sides")
    ck.add_argument("--closeness", type=float, default=0.5, help="how much of the LLM the toy SLM shares")
    ck.add_argument("--draft-len", type=int, default=3, help="cap on drafts per batch")
    ck.add_argument("--verify", choices=tuple(RULES), default="token",
                    help="the cloud's verification rule: token by token, or the block as a whole (Sun et al.)")
    ck.add_argument("--seed", type=int, default=0)
    ck.add_argument("--alpha", type=float, default=0.01, help="level of the test")
    ck.add_argument("--json", action="store_true", help="one JSON line instead of a table")
    ck.add_argument("--quiet", action="store_true", help="no progress bar")
    ck.set_defaults(func=_check)
    t = sub.add_parser("table", help="print a results CSV as an aligned table")
    t.add_argument("csv", help="a CSV written by the workflow, e.g. results/tables/toy_summary.csv")
    t.add_argument("--columns", nargs="+", help="only these columns, in this order")
    t.set_defaults(func=_table)
    return ap


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (ValueError, FileNotFoundError) as exc:
        print(f"sqs: error: {exc}", file=sys.stderr)
        return 2
    except RuntimeError as exc:  # HubUnreachableError and friends: the message says what to do
        print(f"sqs: error: {exc}", file=sys.stderr)
        return 3

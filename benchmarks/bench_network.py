"""make bench-network: the default pair as two processes over a real shaped link, and under load.

1. Two network namespaces joined by a veth pair (tests/net/netlink.sh): tbf 2 Mb/s edge->cloud and 10 Mb/s
   cloud->edge; a relay (python -m sqs.net.delay) adds 10 ms each way (netem is not in this kernel).
   `sqs serve` runs Qwen2.5-Coder-1.5B in the cloud namespace, the edge runs Qwen2.5-Coder-0.5B in the
   other; dense QS, K-SQS (K = 16) and C-SQS (beta0 = 0.001) decode news openers. Per batch, the latency
   model's price (the link's rates applied to the bytes the messages occupy on it beyond tbf's bucket, the
   propagation, the software's own seconds a round trip measured first over the same relay on loopback, both
   sides' measured compute) beside the measured round trip; what the edge interface carried per uplink.
2. Load on loopback: 1, 2, 4 and 8 concurrent C-SQS sessions against one server, without and with batched
   verification (`--batch-verify`); throughput, per-session latency, and each session's tokens against the
   same session alone.
3. Many edges, one cloud (sqs.system.capacity): 1, 2, 4, 8 and 16 edge processes (llama.cpp, one thread each)
   against one batched server, on loopback and over the shaped link; the clock's system throughput and
   per-token latency beside the capacity model's, with the error per N (net_capacity.csv, fig_net_capacity).
   `--pin` pins the cloud to the first half of the CPUs and the edges (and the delay relay) to the rest, as
   if on two machines, and times the cloud's rounds beside a drafting edge too (on this 2-vCPU machine the
   two interfere: docs/capacity.md).

Tables and figures in results/network/ (net_link.csv, net_link_batches.csv, fig_net_link, net_load.csv,
fig_net_load; batched/net_load.csv). Needs root; says why and exits 3 otherwise.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from contextlib import ExitStack
from pathlib import Path

from sqs.net.launch import announced
from sqs.study.prompts import openers

ROOT = Path(__file__).resolve().parents[1]
NETLINK = ROOT / "tests/net/netlink.sh"
BIN = Path(sys.executable).parent


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--slm", default="embedded:qwen2.5-coder-0.5b-instruct")
    ap.add_argument("--llm", default="embedded:qwen2.5-coder-1.5b-instruct")
    ap.add_argument("--prompts", type=int, default=4, help="news openers per scheme (link study)")
    ap.add_argument("--tokens", type=int, default=24)
    ap.add_argument("--load-tokens", type=int, default=16)
    ap.add_argument("--temperature", type=float, default=1.0)
    ap.add_argument("--out-dir", default=str(ROOT / "results/network"))
    ap.add_argument("--edges", nargs="+", default=["1", "2", "4", "8", "16"], help="capacity: edge processes")
    ap.add_argument("--skip", nargs="*", default=[], choices=["link", "load", "capacity"], help="parts not to run")
    ap.add_argument("--pin", action="store_true", help="capacity: cloud and edges on CPUs apart")
    args = ap.parse_args(argv)
    cpus = sorted(os.sched_getaffinity(0))
    half = max(1, len(cpus) // 2)
    cloud_cpus, edge_cpus = ",".join(map(str, cpus[:half])), ",".join(map(str, cpus[half:]))
    pinned = args.pin and len(cpus) > 1
    on_cloud = ["taskset", "-c", cloud_cpus] if pinned else []
    on_edges = ["taskset", "-c", edge_cpus] if pinned else []
    pins = ["--cloud-cores", *map(str, cpus[:half]), "--edge-cores", *map(str, cpus[half:])] if pinned else []
    check = subprocess.run([str(NETLINK), "check"], capture_output=True, text=True)
    if check.returncode != 0:
        print(f"bench_network: skipped: {check.stderr.strip()}", file=sys.stderr)
        return 3
    out = Path(args.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    token = out / "token"
    texts = openers("news", "eval")
    study = [sys.executable, "-m", "sqs.net.study"]
    common = ["--token-file", str(token), "--slm", args.slm, "--llm", args.llm, "--temperature", str(args.temperature)]
    serve = [str(BIN / "sqs"), "serve", "--llm", args.llm, "--token-file", str(token)]
    t0 = time.perf_counter()
    capacity = [*study, "capacity", *common, "--slm", f"llama.cpp:{args.slm}", "--schemes", "c-sqs", "--prompts",
                *texts[:4], "--max-new-tokens", str(args.load_tokens), "--edges", *args.edges, *pins]  # fmt: skip
    relay = [sys.executable, "-m", "sqs.net.delay", "--one-way-ms", "10"]
    if {"link", "capacity"} - set(args.skip):
        subprocess.run([str(NETLINK), "up"], check=True)
        try:
            with ExitStack() as stack:
                if "link" not in args.skip:
                    stack.enter_context(announced(["ip", "netns", "exec", "sqs-cloud", *serve, "--port", "7433"],
                                                  out / "serve_link.log", "the cloud server"))  # fmt: skip
                    for listen, log in (("10.99.0.1:7434", "relay.log"), ("127.0.0.1:7437", "relay_loopback.log")):
                        stack.enter_context(announced(["ip", "netns", "exec", "sqs-cloud", *relay, "--listen", listen,
                                                       "--to", "127.0.0.1:7433"], out / log, "the delay relay"))
                    # the software's own seconds a round trip: the same relay and server on loopback, no shaper
                    unshaped = out / "unshaped"
                    subprocess.run(["ip", "netns", "exec", "sqs-cloud", *study, "link", "--cloud", "127.0.0.1:7437",
                                    *common, "--schemes", "k-sqs", "--prompts", *texts[:2], "--max-new-tokens",
                                    str(args.tokens), "--uplink-bps", "1e12", "--downlink-bps", "1e12", "--out-dir",
                                    str(unshaped)], check=True)  # fmt: skip
                    subprocess.run(["ip", "netns", "exec", "sqs-edge", *study, "link", "--cloud", "10.99.0.1:7434",
                                    *common, "--schemes", "qs", "k-sqs", "c-sqs", "--prompts", *texts[: args.prompts],
                                    "--max-new-tokens", str(args.tokens), "--interface", "veth-edge",
                                    "--burst-bytes", "1600", "--host-s-from", str(unshaped / "net_link_batches.csv"),
                                    "--out-dir", str(out)], check=True)  # fmt: skip
                    print(f"link study done in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
                if "capacity" not in args.skip:  # the edges share the shaped link's 2 Mb/s uplink
                    stack.enter_context(announced(["ip", "netns", "exec", "sqs-cloud", *on_cloud, *serve, "--port",
                                                   "7435", "--batch-verify", "--max-batch", "16"],
                                                  out / "serve_capacity_link.log", "the batched server"))  # fmt: skip
                    stack.enter_context(announced(["ip", "netns", "exec", "sqs-cloud", *on_edges, *relay, "--listen",
                                                   "10.99.0.1:7436", "--to", "127.0.0.1:7435"],
                                                  out / "relay_capacity.log", "the delay relay"))  # fmt: skip
                    shaped = ["--cloud", "10.99.0.1:7436", "--propagation-s", "0.02", "--out-dir", str(out / "shaped")]
                    subprocess.run(["ip", "netns", "exec", "sqs-edge", *capacity, *shaped], check=True)
        finally:
            subprocess.run([str(NETLINK), "down"], check=False)
    if "load" not in args.skip:
        for extra, where in (([], out), (["--batch-verify"], out / "batched")):
            with announced([*serve, "--port", "0", *extra], out / f"serve_load{'_batched' if extra else ''}.log",
                           "the loopback server") as (_, info):  # fmt: skip
                subprocess.run([*study, "load", "--cloud", info["listening"], *common, "--schemes", "c-sqs",
                                "--prompts", *texts[:8], "--max-new-tokens", str(args.load_tokens), "--sessions",
                                "1", "2", "4", "8", "--out-dir", str(where)], check=True)  # fmt: skip
        import pandas as pd

        from sqs.outputs.figures import fig_net_load

        fig_net_load(pd.read_csv(out / "net_load.csv"), out / "fig_net_load", "c-sqs",
                     pd.read_csv(out / "batched/net_load.csv"))  # fmt: skip
    if "capacity" not in args.skip:  # loopback: the study starts its own batched server
        subprocess.run([*capacity, "--propagation-s", "0", "--out-dir", str(out)], check=True)
    print(f"bench_network: done in {time.perf_counter() - t0:.0f} s; tables and figures in {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

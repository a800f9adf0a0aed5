"""Run many two-token sessions against a `sqs serve` toy cloud; print the joint counts of the first two tokens.

Run inside the edge network namespace by tests/test_netlink.py, so the client is its own process on the
far side of the shaped link:  python tests/net/exactness_client.py --cloud 10.99.0.1:7434 --token-file F
"""

import argparse
import json
import threading
from pathlib import Path

import numpy as np

from sqs.net.identity import load_side
from sqs.net.study import Session, run_remote
from sqs.system.latency import LinkConfig

ap = argparse.ArgumentParser()
ap.add_argument("--cloud", required=True)
ap.add_argument("--token-file", required=True)
ap.add_argument("--model", default="toy:5:3:0.5")
ap.add_argument("--scheme", default="c-sqs")
ap.add_argument("--params", default='{"beta": 0.1, "ell": 6, "alpha": 0.05, "eta": 0.05}')
ap.add_argument("--temperature", type=float, default=0.8)
ap.add_argument("--trials", type=int, default=20000)
ap.add_argument("--threads", type=int, default=16)
args = ap.parse_args()
token = Path(args.token_file).read_text().strip().encode()
side = load_side(args.model, "edge")
params = json.loads(args.params)
v = side.vocab_size
joint = np.zeros((v, v), dtype=np.int64)
lock = threading.Lock()
failures = []


def worker(w: int) -> None:
    local = np.zeros_like(joint)
    for trial in range(w, args.trials, args.threads):
        try:
            res = run_remote(side.session_model(), side, args.cloud, token, args.model,
                             Session(args.scheme, params, (0,), trial), 3, args.temperature, LinkConfig(),
                             budget_bits=10**6, max_draft_len=3)  # fmt: skip
            local[res.tokens[0], res.tokens[1]] += 1
        except Exception as exc:  # reported, and the test fails on any
            failures.append(f"trial {trial}: {exc}")
    with lock:
        joint[:] += local


threads = [threading.Thread(target=worker, args=(w,)) for w in range(args.threads)]
for t in threads:
    t.start()
for t in threads:
    t.join()
print(json.dumps({"joint": joint.tolist(), "failures": failures[:20], "n_failures": len(failures)}))

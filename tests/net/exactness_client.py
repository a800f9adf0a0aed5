"""Run many two-token sessions against a `sqs serve` toy cloud; print the joint counts of the first two tokens.

Run inside the edge network namespace by tests/test_netlink.py, so the client is its own process on the
far side of the shaped link:  python tests/net/exactness_client.py --cloud 10.99.0.1:7434 --token-file F
"""

import argparse
import json
import threading
from pathlib import Path

import numpy as np

import sqs
from sqs.net.client import RemoteCloud
from sqs.net.identity import load_side
from sqs.system.edge import Edge
from sqs.system.session import run_session

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
        edge = Edge(side.weights, sqs.make_scheme(args.scheme, **params), args.temperature, 10**6, 3,
                    np.random.default_rng([trial, 0]))  # fmt: skip
        cloud = RemoteCloud(args.cloud, token, side, args.model, args.temperature, edge.scheme.code, (trial, 1), 30)
        try:
            res = run_session(edge, cloud, [0], 2)
            local[res.tokens[0], res.tokens[1]] += 1
        except Exception as exc:
            failures.append(f"trial {trial}: {exc}")
        finally:
            cloud.close()
    with lock:
        joint[:] += local


threads = [threading.Thread(target=worker, args=(w,)) for w in range(args.threads)]
for t in threads:
    t.start()
for t in threads:
    t.join()
print(json.dumps({"joint": joint.tolist(), "failures": failures[:20], "n_failures": len(failures)}))

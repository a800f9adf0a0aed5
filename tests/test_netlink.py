"""The edge and the cloud as separate processes in two network namespaces over a shaped veth link
(tests/net/netlink.sh: tbf 2 Mb/s up, 10 Mb/s down; a relay adds 10 ms each way): exactness, and the
latency model against the measured round trip. Needs root; skipped with the reason elsewhere."""

import json
import os
import subprocess
import sys
from contextlib import ExitStack
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from tests.conftest import LAW_ALPHA

from net_helpers import NETLINK, ROOT, sqs_server
from sqs.lossless import gof_test
from sqs.lossless.faults import FAULTS
from sqs.lossless.harness import fault_power
from sqs.models.toy import toy_pair
from sqs.net.launch import announced
from sqs.protocol.probs import softmax_temperature
from sqs.protocol.schemes import make_scheme

EXACT = "toy:5:3:0.5"  # the in-process exactness test's pair (tests/test_session.py)
STUDY = "toy:1024:0:0.7"


def relay(listen_port: int, to_port: int, log: Path, host: str = "10.99.0.1", one_way_ms: str = "10"):
    cmd = ["ip", "netns", "exec", "sqs-cloud", sys.executable, "-m", "sqs.net.delay", "--listen",
           f"{host}:{listen_port}", "--to", f"127.0.0.1:{to_port}", "--one-way-ms", one_way_ms]  # fmt: skip
    return announced(cmd, log, "the delay relay")


@pytest.fixture(scope="module")
def shaped(tmp_path_factory):
    check = subprocess.run([str(NETLINK), "check"], capture_output=True, text=True)
    if check.returncode != 0:
        pytest.skip(f"no shaped link on this machine: {check.stderr.strip()}")
    subprocess.run([str(NETLINK), "up"], check=True, capture_output=True)
    tmp = tmp_path_factory.mktemp("netlink")
    try:
        with ExitStack() as stack:
            for name, model, port in (("exact", EXACT, 7433), ("study", STUDY, 7435)):
                stack.enter_context(sqs_server(tmp / f"{name}.token", model=model, netns="sqs-cloud", port=port))
                stack.enter_context(relay(port + 1, port, tmp / f"{name}.relay.log"))
            # the same relay on loopback inside the cloud's namespace: a path with no shaper, for the software's
            # own seconds a round trip
            stack.enter_context(relay(7437, 7435, tmp / "calibrate.relay.log", "127.0.0.1"))
            yield tmp
    finally:
        subprocess.run([str(NETLINK), "down"], capture_output=True)


def in_edge(*args, timeout=900, netns="sqs-edge"):
    env = {**os.environ, "PYTHONPATH": f"{ROOT / 'src'}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    out = subprocess.run(["ip", "netns", "exec", netns, sys.executable, *args], capture_output=True, text=True,
                         timeout=timeout, env=env)  # fmt: skip
    assert out.returncode == 0, out.stderr[-3000:]
    return out.stdout


@pytest.mark.slow
def test_first_two_tokens_follow_the_llm_across_the_shaped_link(shaped):
    """12,000 sessions of three tokens (C-SQS), the cloud in its own namespace and process: the first two tokens'
    joint law, a sample that catches each guarded fault (sqs.lossless.faults) with power >= 0.9."""
    out = json.loads(in_edge(str(ROOT / "tests/net/exactness_client.py"), "--cloud", "10.99.0.1:7434", "--token-file",
                             str(shaped / "exact.token"), "--model", EXACT, "--trials", "12000"))  # fmt: skip
    assert out["n_failures"] == 0, out["failures"]
    joint = np.array(out["joint"], dtype=float)
    slm, llm = toy_pair(EXACT)
    p = softmax_temperature(llm.table, 0.8)
    target = np.outer(p[0], np.ones(p.shape[0])) * p  # P(x1) P(x2 | x1) after the context token 0
    assert joint.sum() == 12_000
    res = gof_test(joint.ravel(), target.ravel())
    assert res.impossible == 0 and res.pvalue > LAW_ALPHA
    scheme = make_scheme("c-sqs", beta=0.1, ell=6, alpha=0.05, eta=0.05)  # the client's default
    power = fault_power(scheme, slm, llm, 0.8, 2, 12_000, LAW_ALPHA, wanted=3)
    assert all(power[f] >= 0.9 for f in FAULTS[:4]), power


def test_a_message_on_the_link_is_its_frame_and_a_header_a_segment():
    """39 + 66 bytes around a small message; a float32 draft of V = 1024 (4 kB and its header) spans 3 segments of
    1448 payload bytes; beyond tbf's 1600-byte bucket at 2 Mb/s, plus 20 ms and the software's seconds."""
    from sqs.net.study import carried_bytes, priced_link_s
    from sqs.system.latency import LinkConfig

    assert carried_bytes(93) == 93 + 21 + 66 and carried_bytes(1427) == 1448 + 66 and carried_bytes(1428) == 1449 + 132
    assert carried_bytes(4113) == 4134 + 3 * 66
    link = LinkConfig(2e6, 10e6, 0.02)
    assert priced_link_s(link, 93, 40) == pytest.approx(8 * 180 / 2e6 + 0.02 + 8 * 127 / 10e6, rel=1e-12)
    assert priced_link_s(link, 93, 40, 1600, 0.0015) == pytest.approx(0.0215, rel=1e-12)  # both under the bucket
    assert priced_link_s(link, 4113, 40, 1600) == pytest.approx(8 * (4332 - 1600) / 2e6 + 0.02, rel=1e-12)


def test_the_software_seconds_are_the_mean_residual_of_an_unshaped_run(tmp_path):
    from sqs.net.study import host_seconds

    path = tmp_path / "b.csv"
    path.write_text("measured_link_s,predicted_link_s\n0.0220,0.0200\n0.0230,0.0200\n")
    assert host_seconds(path) == pytest.approx(0.0025, rel=1e-12)
    path.write_text("measured_link_s,predicted_link_s\n")
    with pytest.raises(ValueError, match="no batches"):
        host_seconds(path)


def test_the_latency_model_prices_the_real_link_within_a_twentieth_for_the_median_batch(shaped, tmp_path):
    """Per batch, the model (the bytes on the link beyond tbf's bucket / rate + propagation + the software's own
    seconds, measured first over the same relay on loopback + both sides' measured compute) against the clock:
    the median batch within 5 %, the mean over batches within 10 %."""
    study = ["-m", "sqs.net.study", "link", "--token-file", str(shaped / "study.token"), "--slm", STUDY, "--llm", STUDY]
    in_edge(*study, "--cloud", "127.0.0.1:7437", "--schemes", "k-sqs", "--prompts", "0", "1", "--uplink-bps", "1e12",
            "--downlink-bps", "1e12", "--out-dir", str(tmp_path / "unshaped"), netns="sqs-cloud")  # fmt: skip
    in_edge(*study, "--cloud", "10.99.0.1:7436", "--schemes", "qs", "k-sqs", "c-sqs", "sd", "--interface", "veth-edge",
            "--burst-bytes", "1600", "--host-s-from", str(tmp_path / "unshaped/net_link_batches.csv"), "--out-dir",
            str(tmp_path))  # fmt: skip
    summary = pd.read_csv(tmp_path / "net_link.csv").set_index("scheme")
    # the software's own round trip: the relay's passes, frames read and written (0.5-2 ms on this machine)
    assert 0 < summary.host_s.iloc[0] < 0.005 and (summary.burst_bytes == 1600).all()
    # a typical batch within 5 % (measured: 0.6-2.0 % over three runs; 4-10 % before the model priced the bytes on
    # the link, the shaper's bucket and the relay's own seconds); the mean over batches within 10 %, for the few
    # batches in which this 2-core machine descheduled the relay or the server
    errors = summary[["median_abs_rel_error", "mean_abs_rel_error"]]
    assert (summary.median_abs_rel_error < 0.05).all() and (summary.mean_abs_rel_error < 0.10).all(), errors
    # the float32 drafts (8 kB a draft at V = 1024) are where the 2 Mb/s rate shows: ~30 ms more than the others
    assert summary.measured_link_s["sd"] > summary.measured_link_s["qs"] + 0.02
    assert (summary.wire_bytes_per_uplink > summary.uplink_message_bytes).all()
    assert (tmp_path / "fig_net_link.png").stat().st_size > 10_000
    batches = pd.read_csv(tmp_path / "net_link_batches.csv")
    assert set(batches.scheme) == {"qs", "k-sqs", "c-sqs", "sd"} and (batches.measured_link_s > 0.019).all()

#!/usr/bin/env bash
# Two network namespaces joined by a shaped veth pair: an edge and a cloud, for the network tests.
#
#   up     create namespaces sqs-edge (10.99.0.2) and sqs-cloud (10.99.0.1) joined by a veth pair; shape
#          edge->cloud with tbf to SQS_UP_RATE (default 2mbit) and cloud->edge to SQS_DOWN_RATE (10mbit).
#          Idempotent: an existing pair is torn down first.
#   down   remove both namespaces (and the veth pair with them).
#   check  exit 0 if this machine can do it (root, ip netns and the tbf qdisc), else say why and exit 3.
#   stats  the edge side's TX/RX byte and packet counters, as JSON (what the link really carried).
#
# Propagation: this kernel has no netem, so delay is added by a relay process in the cloud namespace
# (python -m sqs.net.delay), not here. tbf's bucket is one MTU-sized burst (SQS_BURST, 1600 bytes):
# a message shorter than the bucket passes at line rate when the bucket is full, as on a real shaper.
set -euo pipefail

EDGE=sqs-edge
CLOUD=sqs-cloud
UP=${SQS_UP_RATE:-2mbit}
DOWN=${SQS_DOWN_RATE:-10mbit}
BURST=${SQS_BURST:-1600}

say() { echo "netlink: $*" >&2; }

check() {
    if [ "$(id -u)" != 0 ]; then say "needs root (network namespaces and qdiscs)"; return 3; fi
    if ! command -v ip >/dev/null || ! command -v tc >/dev/null; then say "needs iproute2 (ip, tc)"; return 3; fi
    local probe=sqs-probe-$$
    if ! ip netns add "$probe" 2>/dev/null; then say "cannot create network namespaces here"; return 3; fi
    local ok=0
    ip netns exec "$probe" ip link add p0 type veth peer name p1 2>/dev/null &&
        ip netns exec "$probe" tc qdisc add dev p0 root tbf rate 1mbit burst 1600 latency 100ms 2>/dev/null || ok=3
    ip netns del "$probe" 2>/dev/null || true
    [ "$ok" = 0 ] || say "veth pairs or the tbf qdisc are not available in this kernel"
    return $ok
}

down() {
    ip netns del "$EDGE" 2>/dev/null || true
    ip netns del "$CLOUD" 2>/dev/null || true
}

up() {
    down
    ip netns add "$EDGE"
    ip netns add "$CLOUD"
    ip link add veth-edge netns "$EDGE" type veth peer name veth-cloud netns "$CLOUD"
    ip -n "$EDGE" addr add 10.99.0.2/24 dev veth-edge
    ip -n "$CLOUD" addr add 10.99.0.1/24 dev veth-cloud
    for ns in "$EDGE" "$CLOUD"; do
        ip -n "$ns" link set lo up
    done
    ip -n "$EDGE" link set veth-edge up
    ip -n "$CLOUD" link set veth-cloud up
    # rate limits on each side's egress: the uplink at the edge, the downlink at the cloud
    ip netns exec "$EDGE" tc qdisc add dev veth-edge root tbf rate "$UP" burst "$BURST" latency 2s
    ip netns exec "$CLOUD" tc qdisc add dev veth-cloud root tbf rate "$DOWN" burst "$BURST" latency 2s
    say "up: $EDGE 10.99.0.2 --[$UP up, $DOWN down]-- $CLOUD 10.99.0.1"
}

stats() {
    ip netns exec "$EDGE" cat /sys/class/net/veth-edge/statistics/{tx_bytes,tx_packets,rx_bytes,rx_packets} |
        paste -sd' ' | awk '{printf "{\"tx_bytes\": %s, \"tx_packets\": %s, \"rx_bytes\": %s, \"rx_packets\": %s}\n", $1, $2, $3, $4}'
}

case "${1:-}" in
    up) check && up ;;
    down) down ;;
    check) check ;;
    stats) stats ;;
    *) echo "usage: $0 up|down|check|stats" >&2; exit 2 ;;
esac

#!/usr/bin/env bash
# A single-node SLURM cluster on loopback, for `make test-cluster`: up | down | status | check.
#
#   up     install slurmctld, slurmd, slurm-client + munge if missing (apt-get), write a minimal slurm.conf, start munged,
#          slurmctld and slurmd, wait until the node is idle. Idempotent: running daemons are reused.
#   down   stop the daemons this script started and remove its config and state.
#   check  exit 0 if this machine can host the cluster (root, and slurmctld present or apt-get usable),
#          else print why not and exit 3.
#
# Settings (found to work with Debian 12's slurm 22.05): SlurmUser=root, proctrack/linuxproc, task/none,
# select/cons_tres, no accounting, MinJobAge=600 so finished jobs stay visible to `squeue` (without
# sacct accounting, Snakemake's SLURM plugin must poll squeue).
set -euo pipefail

STATE=${SQS_SLURM_STATE:-/tmp/sqs-slurm}
CONF=/etc/slurm/slurm.conf
MARK="# sqs-test-cluster"
HOST=$(hostname -s)

say() { echo "slurm_cluster: $*" >&2; }

check() {
    if [ "$(id -u)" != 0 ]; then say "needs root (to run slurmctld/slurmd and write $CONF)"; return 3; fi
    if command -v slurmctld >/dev/null && command -v munged >/dev/null; then return 0; fi
    if ! command -v apt-get >/dev/null; then say "slurm is not installed and apt-get is not available"; return 3; fi
    return 0
}

install() {
    if command -v slurmctld >/dev/null && command -v slurmd >/dev/null && command -v munged >/dev/null; then return; fi
    # the controller, the node daemon, the client commands and munge; no recommended plugins (the slurm-wlm
    # metapackage pulls 42 packages with HDF5, ROCm, IPMI and -dev plugins this cluster never loads)
    say "installing slurmctld, slurmd, slurm-client and munge with apt-get"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null || say "apt-get update failed; trying the install anyway"
    apt-get install -y -qq --no-install-recommends slurmctld slurmd slurm-client munge >/dev/null
}

write_conf() {
    if [ -f "$CONF" ] && ! head -1 "$CONF" | grep -q "$MARK"; then
        say "$CONF exists and was not written by this script; refusing to overwrite it"; exit 2
    fi
    local cpus mem
    cpus=$(nproc)
    mem=$(awk '/MemTotal/ {printf "%d", $2 / 1024 * 0.9}' /proc/meminfo)
    mkdir -p /etc/slurm "$STATE/ctld" "$STATE/d"
    cat > "$CONF" <<CONF
$MARK (written by tests/cluster/slurm_cluster.sh; removed by its 'down')
ClusterName=sqs-test
SlurmctldHost=$HOST(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerType=sched/backfill
ReturnToService=2
MinJobAge=600
StateSaveLocation=$STATE/ctld
SlurmdSpoolDir=$STATE/d
SlurmctldPidFile=$STATE/slurmctld.pid
SlurmdPidFile=$STATE/slurmd.pid
SlurmctldLogFile=$STATE/slurmctld.log
SlurmdLogFile=$STATE/slurmd.log
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
MpiDefault=none
NodeName=$HOST NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=debug Nodes=$HOST Default=YES MaxTime=INFINITE State=UP
CONF
}

start_munge() {
    if pgrep -x munged >/dev/null; then return; fi
    if [ ! -s /etc/munge/munge.key ]; then
        mkdir -p /etc/munge
        dd if=/dev/urandom bs=1 count=1024 of=/etc/munge/munge.key status=none
    fi
    chown -R munge:munge /etc/munge && chmod 400 /etc/munge/munge.key
    mkdir -p /run/munge /var/lib/munge /var/log/munge
    chown munge:munge /run/munge /var/lib/munge /var/log/munge
    runuser -u munge -- /usr/sbin/munged
}

up() {
    check
    install
    write_conf
    start_munge
    pgrep -x slurmctld >/dev/null || slurmctld
    pgrep -x slurmd >/dev/null || slurmd
    for _ in $(seq 60); do
        state=$(sinfo -h -n "$HOST" -o %T 2>/dev/null | head -1 || true)
        case "$state" in
            idle*|mixed*|allocated*) say "node $HOST is $state"; return 0 ;;
            down*|drain*) scontrol update nodename="$HOST" state=resume 2>/dev/null || true ;;
        esac
        sleep 1
    done
    say "the node did not come up; see $STATE/slurmctld.log and $STATE/slurmd.log"
    exit 1
}

down() {
    pkill -x slurmd 2>/dev/null || true
    pkill -x slurmctld 2>/dev/null || true
    pkill -x munged 2>/dev/null || true
    if [ -f "$CONF" ] && head -1 "$CONF" | grep -q "$MARK"; then rm -f "$CONF"; fi
    rm -rf "$STATE"
    say "stopped"
}

case "${1:-}" in
    up) up ;;
    down) down ;;
    status) sinfo; squeue ;;
    check) check ;;
    *) echo "usage: $0 up|down|status|check" >&2; exit 64 ;;
esac

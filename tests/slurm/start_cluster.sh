#!/usr/bin/env bash
# Bring up a single-node SLURM cluster on this machine: munged, slurmctld and slurmd, one partition
# "debug" holding this node. Used by tests/test_slurm.py; also a recipe for trying the slurm profile
# on a workstation. Debian/Ubuntu, run as root. Stop everything again with tests/slurm/stop_cluster.sh.
#
# Idempotent: packages, daemons and config already in place are kept; a changed slurm.conf restarts
# the SLURM daemons. It never overwrites a slurm.conf it did not write (a real cluster's).
#
# Job accounting is off (accounting_storage/none), so `sacct` cannot report jobs: run snakemake's
# SLURM executor with `--slurm-status-command squeue` against this cluster (MinJobAge=300 keeps
# finished jobs visible to squeue for five minutes).
#
# Exit status: 0 when the node is idle and accepts jobs; 77 when this machine cannot run slurmd at
# all (not root, or SLURM not installed and not installable); 1 on any other failure (daemon logs
# are printed).
set -euo pipefail

SLURM_CONF=/etc/slurm/slurm.conf
MARKER="# Written by expertalign tests/slurm/start_cluster.sh"
STATE_DIR=/run/expertalign-slurm          # names of the daemons this script started, for stop_cluster.sh
LOG_DIR=/var/log/slurm
READY_TIMEOUT_S=60

say() { echo "start_cluster: $*" >&2; }
cannot_run() { say "slurmd cannot start on this machine: $*"; exit 77; }
fail() { say "$*"; exit 1; }

# Whether the daemon whose PID file is $1 is running.
running() { [ -s "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

# Remember that this script started daemon $1, so stop_cluster.sh stops it (and nothing else).
record_started() { mkdir -p "$STATE_DIR" && touch "$STATE_DIR/$1"; }

install_packages() {
    if command -v slurmctld >/dev/null && command -v slurmd >/dev/null && command -v munged >/dev/null; then
        return
    fi
    command -v apt-get >/dev/null || cannot_run "slurm-wlm/munge are not installed and apt-get is missing"
    say "installing slurm-wlm and munge with apt-get"
    export DEBIAN_FRONTEND=noninteractive
    { apt-get update -qq && apt-get install -y -qq slurm-wlm munge >/dev/null; } \
        || cannot_run "apt-get install slurm-wlm munge failed"
}

start_munge() {
    local pidfile=/run/munge/munged.pid
    mkdir -p /run/munge && chown munge:munge /run/munge
    if [ ! -s /etc/munge/munge.key ]; then
        runuser -u munge -- mungekey --create --keyfile=/etc/munge/munge.key
    fi
    if ! running "$pidfile"; then
        runuser -u munge -- /usr/sbin/munged --pid-file="$pidfile"
        record_started munged
    fi
    munge -n | unmunge >/dev/null || fail "munge cannot encode/decode a credential"
}

# The slurm.conf for this node on stdout: all CPUs, three quarters of the RAM schedulable.
node_config() {
    local host cpus mem_mb
    host=$(hostname -s)
    cpus=$(nproc)
    mem_mb=$(awk '/^MemTotal:/ {print int($2 / 1024 * 3 / 4 / 1000) * 1000}' /proc/meminfo)
    cat <<EOF
$MARKER
ClusterName=expertalign
SlurmctldHost=$host
SlurmUser=slurm
SlurmdUser=root
AuthType=auth/munge
CryptoType=crypto/munge
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/linux
AccountingStorageType=accounting_storage/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
SchedulerType=sched/backfill
ReturnToService=2
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmctldLogFile=$LOG_DIR/slurmctld.log
SlurmdLogFile=$LOG_DIR/slurmd.log
# Finished jobs stay visible to squeue for 5 minutes (snakemake --slurm-status-command squeue).
MinJobAge=300
# Without a default, every job would take the whole node's memory and jobs would run one at a time.
DefMemPerCPU=1000
NodeName=$host CPUs=$cpus RealMemory=$mem_mb State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
}

stop_daemon() {
    local pidfile=$1 i
    running "$pidfile" || return 0
    kill "$(cat "$pidfile")"
    for i in $(seq 30); do running "$pidfile" || return 0; sleep 1; done
    fail "daemon with PID file $pidfile did not stop within 30 s"
}

# Write slurm.conf when it differs from what is there; restart running daemons on a change.
write_config() {
    local wanted
    wanted=$(node_config)
    if [ -e "$SLURM_CONF" ] && ! grep -qxF "$MARKER" "$SLURM_CONF"; then
        fail "$SLURM_CONF exists and was not written by this script; refusing to overwrite it"
    fi
    if [ -e "$SLURM_CONF" ] && [ "$(cat "$SLURM_CONF")" = "$wanted" ]; then
        return
    fi
    say "writing $SLURM_CONF"
    stop_daemon /run/slurmd.pid
    stop_daemon /run/slurmctld.pid
    mkdir -p "$(dirname "$SLURM_CONF")"
    printf '%s\n' "$wanted" > "$SLURM_CONF.tmp"
    mv "$SLURM_CONF.tmp" "$SLURM_CONF"
}

show_logs_and_fail() {
    say "$1; last lines of the SLURM logs:"
    tail -n 20 "$LOG_DIR/slurmctld.log" "$LOG_DIR/slurmd.log" >&2 || true
    exit 1
}

start_slurm() {
    mkdir -p /var/spool/slurmctld /var/spool/slurmd "$LOG_DIR"
    chown slurm:slurm /var/spool/slurmctld "$LOG_DIR"
    if ! running /run/slurmctld.pid; then
        slurmctld || show_logs_and_fail "slurmctld did not start"
        record_started slurmctld
    fi
    if ! running /run/slurmd.pid; then
        slurmd || show_logs_and_fail "slurmd did not start"
        record_started slurmd
    fi
}

# Wait until sinfo lists this node as idle (or mixed/allocated: already running jobs).
wait_until_ready() {
    local host state i
    host=$(hostname -s)
    for i in $(seq "$READY_TIMEOUT_S"); do
        state=$(sinfo -h -n "$host" -o '%T' 2>/dev/null || true)
        case "$state" in
            idle|mixed|allocated) say "node $host is $state (${i} s)"; return 0 ;;
        esac
        running /run/slurmd.pid || show_logs_and_fail "slurmd exited"
        running /run/slurmctld.pid || show_logs_and_fail "slurmctld exited"
        sleep 1
    done
    show_logs_and_fail "node $host not idle after $READY_TIMEOUT_S s (sinfo state: '${state:-none}')"
}

[ "$(id -u)" = 0 ] || cannot_run "must run as root (it installs packages and starts system daemons)"
install_packages
start_munge
write_config
start_slurm
wait_until_ready

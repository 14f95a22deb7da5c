#!/usr/bin/env bash
# Stop the single-node SLURM cluster brought up by tests/slurm/start_cluster.sh: slurmd, slurmctld
# and munged, each by its PID file, and only those that start_cluster.sh started (a munged or SLURM
# that was already running is left alone), after cancelling the jobs left on it. Idempotent: stopping a stopped cluster does nothing.
set -euo pipefail

STATE_DIR=/run/expertalign-slurm
STOP_TIMEOUT_S=30

say() { echo "stop_cluster: $*" >&2; }

running() { [ -s "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

# Stop daemon $1 (PID file $2) if start_cluster.sh started it; wait until it has exited.
stop_if_started() {
    local name=$1 pidfile=$2 i
    [ -e "$STATE_DIR/$name" ] || return 0
    if running "$pidfile"; then
        kill "$(cat "$pidfile")"
        for i in $(seq "$STOP_TIMEOUT_S"); do
            running "$pidfile" || break
            sleep 1
        done
        if running "$pidfile"; then
            say "$name (PID $(cat "$pidfile")) still running after $STOP_TIMEOUT_S s"
            exit 1
        fi
        say "stopped $name"
    fi
    rm -f "$STATE_DIR/$name"
}

# Jobs still queued or running on a cluster this script is about to stop are cancelled first.
if [ -e "$STATE_DIR/slurmctld" ] && running /run/slurmctld.pid; then
    squeue -h -o %A | xargs -r scancel
fi
stop_if_started slurmd /run/slurmd.pid
stop_if_started slurmctld /run/slurmctld.pid
stop_if_started munged /run/munge/munged.pid

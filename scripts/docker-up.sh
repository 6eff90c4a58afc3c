#!/bin/sh
# Make a Docker engine available on this machine, idempotently, without systemd.
#
# - installs docker.io (and debootstrap + docker-registry, which the builder's end-to-end tests
#   use) through apt when they are missing;
# - starts dockerd in the background when `docker info` fails and none runs, logging to
#   $DOCKERD_LOG, after removing pid files an engine that did not stop cleanly left behind;
# - waits up to $DOCKER_WAIT seconds for the engine, and exits non-zero with the tail of the
#   daemon's log when it never answers. It never stops or restarts an engine that already runs.
set -eu

DOCKERD_LOG=${DOCKERD_LOG:-/var/log/dockerd.log}
DOCKER_WAIT=${DOCKER_WAIT:-60}

die() { echo "docker-up: $*" >&2; exit 1; }

need_apt=""
command -v dockerd >/dev/null 2>&1 || need_apt="$need_apt docker.io"
command -v debootstrap >/dev/null 2>&1 || need_apt="$need_apt debootstrap"
[ -x /usr/bin/docker-registry ] || need_apt="$need_apt docker-registry"
if [ -n "$need_apt" ]; then
    [ "$(id -u)" = 0 ] || die "need root to install:$need_apt"
    echo "docker-up: installing$need_apt"
    apt-get update -q >/dev/null
    # docker-registry's postinst may try to start a service; without systemd that is harmless.
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q $need_apt >/dev/null \
        || die "apt-get install$need_apt failed"
fi
if docker info >/dev/null 2>&1; then
    echo "docker-up: engine already running ($(docker version --format '{{.Server.Version}}'))"
    exit 0
fi

# True while process $1 runs (a zombie has exited), and is named $2 when that is given.
process_runs() {
    info=$(ps -o stat=,comm= -p "$1" 2>/dev/null) || return 1
    case "$info" in Z*) return 1 ;; esac
    [ -z "${2:-}" ] || [ "${info##* }" = "$2" ]
}

# True while a dockerd runs: the one with PID $1, or else any. The one we start is watched by
# PID: until setsid has exec'd dockerd, no process is named dockerd yet.
dockerd_runs() {
    for pid in ${1:-$(pgrep -x dockerd)}; do
        process_runs "$pid" && return 0
    done
    return 1
}

dockerd_pid=""
if ! dockerd_runs; then
    [ "$(id -u)" = 0 ] || die "dockerd is not running and starting it needs root"
    # Pid files left by an engine that did not stop cleanly (a machine started from a snapshot
    # taken while it ran) can name someone else's processes: dockerd then refuses to start (its
    # own file), or waits 15 s for a containerd that is not there and gives up (containerd's).
    rm -f /var/run/docker.pid
    containerd_pidfile=/var/run/docker/containerd/containerd.pid
    if [ -f "$containerd_pidfile" ] && ! process_runs "$(cat "$containerd_pidfile")" containerd; then
        rm -f "$containerd_pidfile"
    fi
    echo "docker-up: starting dockerd (log: $DOCKERD_LOG)"
    # setsid: the daemon must outlive the shell (and CI step) that started it. --wait keeps the
    # PID we hold alive for as long as dockerd runs, should setsid need to fork.
    setsid --wait dockerd >"$DOCKERD_LOG" 2>&1 < /dev/null &
    dockerd_pid=$!
fi

log_tail() {
    echo "docker-up: $1; last daemon log lines:" >&2
    tail -n 20 "$DOCKERD_LOG" >&2 2>/dev/null || true
}

deadline=$(( $(date +%s) + DOCKER_WAIT ))
until docker info >/dev/null 2>&1; do
    if [ "$(date +%s)" -ge "$deadline" ]; then
        log_tail "the Docker engine did not answer within ${DOCKER_WAIT}s"
        die "cannot start the Docker engine"
    fi
    if ! dockerd_runs "$dockerd_pid"; then
        status="unknown"
        [ -n "$dockerd_pid" ] && { wait "$dockerd_pid" && status=0 || status=$?; }
        log_tail "dockerd exited (status $status)"
        die "cannot start the Docker engine"
    fi
    sleep 0.5
done
echo "docker-up: engine ready ($(docker version --format '{{.Server.Version}}'))"

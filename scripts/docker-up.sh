#!/bin/sh
# Make a Docker engine available on this machine, idempotently, without systemd.
#
# - installs docker.io (and debootstrap + docker-registry, which the builder's end-to-end tests
#   use) through apt when they are missing;
# - starts dockerd in the background when `docker info` fails, logging to $DOCKERD_LOG;
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

# The engine's process, by PID: until setsid has exec'd dockerd, no process is named dockerd yet,
# so looking it up by name right after starting it can wrongly report that it exited.
dockerd_pid=""
if ! pgrep -x dockerd >/dev/null 2>&1; then
    [ "$(id -u)" = 0 ] || die "dockerd is not running and starting it needs root"
    # A pid file left by an engine that did not stop cleanly (a machine snapshot taken while it
    # ran) names no running dockerd; dockerd refuses to start while its PID is in use.
    rm -f /var/run/docker.pid
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

# True while dockerd runs: the one we started, by PID (a zombie has exited too), or else any.
dockerd_runs() {
    [ -z "$dockerd_pid" ] && { pgrep -x dockerd >/dev/null 2>&1; return; }
    case "$(ps -o stat= -p "$dockerd_pid" 2>/dev/null)" in
        "" | Z*) return 1 ;;
    esac
}

deadline=$(( $(date +%s) + DOCKER_WAIT ))
until docker info >/dev/null 2>&1; do
    if [ "$(date +%s)" -ge "$deadline" ]; then
        log_tail "the Docker engine did not answer within ${DOCKER_WAIT}s"
        die "cannot start the Docker engine"
    fi
    if ! dockerd_runs; then
        status="unknown"
        [ -n "$dockerd_pid" ] && { wait "$dockerd_pid" && status=0 || status=$?; }
        log_tail "dockerd exited (status $status)"
        die "cannot start the Docker engine"
    fi
    sleep 0.5
done
echo "docker-up: engine ready ($(docker version --format '{{.Server.Version}}'))"

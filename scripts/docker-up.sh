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

if ! pgrep -x dockerd >/dev/null 2>&1; then
    [ "$(id -u)" = 0 ] || die "dockerd is not running and starting it needs root"
    echo "docker-up: starting dockerd (log: $DOCKERD_LOG)"
    # setsid: the daemon must outlive the shell (and CI step) that started it.
    setsid dockerd >"$DOCKERD_LOG" 2>&1 < /dev/null &
fi

deadline=$(( $(date +%s) + DOCKER_WAIT ))
until docker info >/dev/null 2>&1; do
    if [ "$(date +%s)" -ge "$deadline" ]; then
        echo "docker-up: the Docker engine did not answer within ${DOCKER_WAIT}s; last daemon log lines:" >&2
        tail -n 20 "$DOCKERD_LOG" >&2 2>/dev/null || true
        die "cannot start the Docker engine"
    fi
    if ! pgrep -x dockerd >/dev/null 2>&1; then
        echo "docker-up: dockerd exited; last daemon log lines:" >&2
        tail -n 20 "$DOCKERD_LOG" >&2 2>/dev/null || true
        die "cannot start the Docker engine"
    fi
    sleep 0.5
done
echo "docker-up: engine ready ($(docker version --format '{{.Server.Version}}'))"

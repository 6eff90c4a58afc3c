#!/bin/sh
# Build a local stand-in for `python:3.11-slim` when no image registry is reachable.
#
# The builder's CPU images start `FROM python:<version>-slim`. Here that image cannot be pulled,
# so this script makes one with debootstrap from the Debian mirror apt already uses: Debian
# bookworm (minbase) + python3.11, its venv/ensurepip support, tini and CA certificates, with
# `python`/`python3` on PATH as in the official image. It is tagged $BASE_TAG (default
# python:3.11-slim). Idempotent: does nothing when the tag exists (SPROCKET_REBUILD_BASE=1 forces).
#
# Differences from the official image, deliberately small: Python is Debian's 3.11 in /usr/bin
# (symlinked from /usr/local/bin), and tini is preinstalled (the generated Dockerfile installs it
# only when it is missing).
set -eu

BASE_TAG=${BASE_TAG:-python:3.11-slim}
SUITE=${SUITE:-bookworm}
here=$(cd "$(dirname "$0")" && pwd)

die() { echo "base-image: $*" >&2; exit 1; }

"$here/docker-up.sh"

if [ "${SPROCKET_REBUILD_BASE:-0}" != 1 ] && docker image inspect "$BASE_TAG" >/dev/null 2>&1; then
    echo "base-image: $BASE_TAG already present"
    exit 0
fi

mirror=${DEBIAN_MIRROR:-}
if [ -z "$mirror" ]; then
    # The first "URIs:" of deb822 sources, else the first "deb" line of sources.list.
    mirror=$(sed -n 's/^URIs:[[:space:]]*\([^[:space:]]*\).*/\1/p' /etc/apt/sources.list.d/*.sources 2>/dev/null \
             | grep -v security | head -n 1 || true)
    [ -n "$mirror" ] || mirror=$(sed -n 's/^deb[[:space:]]\+\(\[[^]]*\][[:space:]]\+\)\?\([^[:space:]]*\).*/\2/p' \
             /etc/apt/sources.list 2>/dev/null | head -n 1 || true)
    [ -n "$mirror" ] || mirror=http://deb.debian.org/debian
fi

root=$(mktemp -d /tmp/sprocket-base.XXXXXX)
trap 'rm -rf "$root"' EXIT
echo "base-image: debootstrap $SUITE from $mirror into $root"
debootstrap --variant=minbase \
    --include=python3.11,python3.11-venv,python3-venv,python3-pip,tini,ca-certificates,netbase,tzdata \
    "$SUITE" "$root" "$mirror" >"$root.log" 2>&1 \
    || { tail -n 30 "$root.log" >&2; die "debootstrap failed (full log: $root.log)"; }

ln -sf /usr/bin/python3 "$root/usr/local/bin/python"
ln -sf /usr/bin/python3 "$root/usr/local/bin/python3"
ln -sf /usr/bin/pip3 "$root/usr/local/bin/pip"
# The official image's pip installs into the system; Debian's marks it externally managed.
rm -f "$root"/usr/lib/python3.*/EXTERNALLY-MANAGED
# Keep the image small, as the slim image does.
rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin "$root"/var/cache/apt/archives/*.deb \
       "$root"/usr/share/doc/* "$root"/usr/share/man/* "$root"/usr/share/locale/*
# Point apt inside the image at the same mirror the host uses.
echo "deb $mirror $SUITE main" > "$root/etc/apt/sources.list"

echo "base-image: importing as $BASE_TAG"
tar -C "$root" -c . | docker import \
    --change 'ENV PATH=/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV LANG=C.UTF-8' \
    --change 'CMD ["python3"]' \
    - "$BASE_TAG" >/dev/null || die "docker import failed"
docker run --rm "$BASE_TAG" python -c 'import sys, venv, ensurepip; print("base-image: ok, Python", sys.version.split()[0])' \
    || die "the imported image cannot run python"
rm -f "$root.log"

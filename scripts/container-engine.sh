#!/usr/bin/env bash
# Vendored copy of the workplace tool ../shared/tools/container-engine.sh, so
# the compose test also runs from a clone that does not sit beside it.
# tests/compose/run.sh prefers the shared original when it is there.
# Brings up a Docker-compatible container engine on a machine that has no Docker
# daemon and no access to any image registry, but does reach Debian's package
# mirror: podman serves the Docker API on a unix socket, docker-compose (v1, from
# Debian) talks to it, and the base image debian:bookworm-slim is built locally
# with debootstrap instead of being pulled.
#
# Usage:  eval "$(../shared/tools/container-engine.sh)"     # prints: export DOCKER_HOST=...
# Then:   docker-compose build && docker-compose up -d --scale worker=3
#
# Idempotent: a second run reuses the socket, the service and the base image.
# Needs root. Where a real Docker daemon already answers, it prints nothing and
# changes nothing.
set -euo pipefail

if command -v docker >/dev/null 2>&1 && timeout 5 docker info >/dev/null 2>&1; then
  exit 0   # a real engine is here: use it as it is
fi

state=${CONTAINER_ENGINE_DIR:-/var/tmp/container-engine}
sock="$state/podman.sock"
mkdir -p "$state"

need=()
for bin in podman runc docker-compose debootstrap; do
  command -v "$bin" >/dev/null 2>&1 || need+=("$bin")
done
if [ ${#need[@]} -gt 0 ]; then
  pkgs=(podman runc docker-compose debootstrap uidmap slirp4netns)
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${pkgs[@]}") >&2
fi

# This kernel mounts cgroups in hybrid mode and forbids raising rlimits inside
# containers: use runc with the cgroupfs manager and no default ulimits.
mkdir -p /etc/containers
if ! grep -q 'default_ulimits = \[\]' /etc/containers/containers.conf 2>/dev/null; then
  cat >/etc/containers/containers.conf <<'EOF'
[containers]
default_ulimits = []
[engine]
cgroup_manager = "cgroupfs"
runtime = "runc"
EOF
fi

if ! curl -s --unix-socket "$sock" http://d/_ping 2>/dev/null | grep -q OK; then
  rm -f "$sock"
  setsid podman system service --time=0 "unix://$sock" >"$state/service.log" 2>&1 < /dev/null &
  for _ in $(seq 1 50); do
    curl -s --unix-socket "$sock" http://d/_ping 2>/dev/null | grep -q OK && break
    sleep 0.2
  done
fi

if ! podman image exists docker.io/library/debian:bookworm-slim; then
  root="$state/rootfs"
  rm -rf "$root"
  debootstrap --variant=minbase bookworm "$root" >"$state/debootstrap.log" 2>&1
  rm -rf "$root"/var/cache/apt/archives/*.deb
  tar -C "$root" -c . | podman import - docker.io/library/debian:bookworm-slim >&2
  rm -rf "$root"
fi

echo "export DOCKER_HOST=unix://$sock"

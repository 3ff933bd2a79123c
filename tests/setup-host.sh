#!/usr/bin/env bash
# Prepares a Debian 12 host (as root, no sudo needed; another user is taken to root through sudo;
# safe to re-run) for the tests, benchmarks and CI: installs ansible-core, ansible-lint (make lint),
# nginx, docker-registry, skopeo, podman, sudo and the usual tools from Debian's archive, then the
# Ansible lanes the tests run on (tests/lib/ansible-lane.sh:
# ansible-core 2.14 is Debian's, 2.17 and 2.18 come from ../shared/vendor, 2.19 is Debian trixie's
# .deb, fetched with apt-get download and unpacked; all cached in
# Without ../shared/vendor (a clone outside this repository's CI) lanes 2.17 and 2.18 are skipped
# with a message: the demo runs on Debian's ansible-core and the other lanes stay usable;
# ${AIRGAP_CACHE:-/var/cache/airgap-kubespray}/ansible/). Go is expected at /usr/local/go (scripts
# add /usr/local/go/bin to PATH themselves).
#
# The system nginx and docker-registry services are stopped and disabled: tests start their own
# throw-away servers on 127.0.0.1 through tests/lib/nginx.sh and tests/lib/registry.sh.
#
#   AIRGAP_SKIP_APT=1 tests/setup-host.sh   # skip apt-get when every package is already installed
set -euo pipefail

packages=(ansible ansible-lint nginx-light sudo wget curl file python3 python3-yaml git ca-certificates make zstd
  docker-registry skopeo podman containerd openssl apache2-utils
  debootstrap dpkg-dev apt-utils debian-archive-keyring gpg gpg-agent rpm createrepo-c dnf python3-pip python3-pip-whl
  python3-setuptools-whl python3-wheel-whl
  pylint pycodestyle yamllint python3-voluptuous shellcheck python3-venv)  # the last line: make sanity

here=$(cd "$(dirname "$0")" && pwd)

if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then
    exec sudo ${AIRGAP_SKIP_APT:+AIRGAP_SKIP_APT="$AIRGAP_SKIP_APT"} ${AIRGAP_CACHE:+AIRGAP_CACHE="$AIRGAP_CACHE"} \
      ${AIRGAP_VENDOR:+AIRGAP_VENDOR="$AIRGAP_VENDOR"} "$here/setup-host.sh" "$@"
  fi
  echo "setup-host.sh: run as root (sudo is not installed)" >&2
  exit 1
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$'; then
    missing+=("$p")
  fi
done

if [ "${AIRGAP_SKIP_APT:-0}" = 1 ] && [ ${#missing[@]} -eq 0 ]; then
  echo "setup-host.sh: all packages present, skipping apt (AIRGAP_SKIP_APT=1)"
else
  export DEBIAN_FRONTEND=noninteractive
  # policy-rc.d exit 101 keeps the packages from starting their services while installing.
  policy=/usr/sbin/policy-rc.d
  created_policy=0
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy"
    chmod 755 "$policy"
    created_policy=1
  fi
  trap 'if [ "$created_policy" = 1 ]; then rm -f "$policy"; fi' EXIT
  apt-get update
  apt-get install -y --no-install-recommends "${packages[@]}"
fi

# Whatever the packages did, the system nginx and docker-registry must not run or start at boot:
# tests start their own on 127.0.0.1 (tests/lib/nginx.sh, tests/lib/registry.sh).
for svc in nginx docker-registry; do
  if command -v service >/dev/null 2>&1; then
    service "$svc" stop >/dev/null 2>&1 || true
  fi
  if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
    systemctl disable --now "$svc" >/dev/null 2>&1 || true
  fi
  if command -v update-rc.d >/dev/null 2>&1 && [ -e "/etc/init.d/$svc" ]; then
    update-rc.d "$svc" disable >/dev/null 2>&1 || true
  fi
done

export PATH=/usr/local/go/bin:$PATH
if command -v go >/dev/null 2>&1; then
  echo "setup-host.sh: $(go version)"
else
  echo "setup-host.sh: warning: go not found at /usr/local/go/bin (needed for make build)" >&2
fi
for lane in $("$here/lib/ansible-lane.sh" list); do
  if ! from=$("$here/lib/ansible-lane.sh" source "$lane"); then
    echo "setup-host.sh: lane $lane skipped: no $from (its tarball comes with ../shared/vendor, present in" \
      "this repository's CI; the demo and the other lanes do not need it)"
    continue
  fi
  bin=$("$here/lib/ansible-lane.sh" install "$lane")
  echo "setup-host.sh: lane $lane: $("$bin/ansible" --version 2>/dev/null | sed -n 1p)"
done
echo "setup-host.sh: ready"

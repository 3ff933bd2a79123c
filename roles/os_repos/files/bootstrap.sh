#!/bin/sh
# airgap.kubespray bootstrap: an offline admin node with nothing but this bundle gets Python, a
# venv with Ansible (from the bundle's PyPI mirror) and then runs the mirror playbook. It needs
# no network and no Ansible: offline_repo_config (bin/, CLI mode) points the OS package manager
# at the bundle's own repository through a file: URL, before any web server exists.
#
#   sudo ./bootstrap.sh            # from the bundle folder, or: sudo /path/to/bundle/bootstrap.sh
#   AIRGAP_VENV=/opt/ansible sudo -E ./bootstrap.sh
#
# Idempotent: a second run changes nothing and says so. Undo the repository configuration with
#   bin/offline_repo_config_linux_<arch> --state absent
set -eu

bundle=$(cd "$(dirname "$0")" && pwd)
venv=${AIRGAP_VENV:-/opt/airgap-kubespray/venv}
changes=0

say() { printf 'bootstrap: %s\n' "$*"; }
summary() { if [ "$changes" -gt 0 ]; then say "done: $changes change(s)"; else say "done: nothing to change"; fi; }
die() { printf 'bootstrap: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "run as root (sudo $0)"

case $(uname -m) in
  x86_64 | amd64) arch=amd64 ;;
  aarch64 | arm64) arch=arm64 ;;
  *) die "unsupported machine $(uname -m) (amd64 and arm64 only)" ;;
esac

[ -r /etc/os-release ] || die "/etc/os-release is missing: cannot tell the distribution"
# shellcheck disable=SC1090,SC1091
. /etc/os-release
case ${ID:-} in
  ubuntu | debian) family=deb flag=--${ID}-repo ;;
  rocky | almalinux | rhel | centos | ol | oraclelinux | fedora) family=rpm flag=--yum-repo ;;
  *) die "unsupported distribution ${ID:-unknown} (see the README: Debian, Ubuntu, RHEL-compatible)" ;;
esac
# The repository built for this release: <id>-<version> (ubuntu-24.04, rocky-9.4), else <id>-<major>.
id=$ID
[ "$id" = ol ] && id=oraclelinux
for target in "$id-$VERSION_ID" "$id-${VERSION_ID%%.*}"; do
  repo=$bundle/files/${family}s/$target
  [ -d "$repo" ] && break
done
if [ ! -d "$repo" ]; then
  have=$(cd "$bundle/files" 2>/dev/null && find debs rpms -mindepth 1 -maxdepth 1 -type d 2>/dev/null | sort | tr '\n' ' ')
  die "the bundle has no repository for $id $VERSION_ID (it has: ${have:-none}); rebuild it with airgap_os_targets including $id-$VERSION_ID"
fi
tool=$bundle/bin/offline_repo_config_linux_$arch
[ -x "$tool" ] || die "$tool is missing from the bundle"

# 1. The OS package manager (and pip) -> the bundle, through file: URLs.
set -- "$flag" "file://$repo/"
[ -d "$bundle/files/pypi/simple" ] && set -- "$@" --pypi-url "file://$bundle/files/pypi/simple/"
if [ -s "$bundle/files/airgap-kubespray-repo.asc" ]; then
  set -- "$@" --gpg-key "$bundle/files/airgap-kubespray-repo.asc"
else
  say "the bundle's repository is not signed: packages are installed without signature checks"
fi
result=$("$tool" "$@") || die "offline_repo_config failed: $result"
case $result in
  *'"changed":true'* | *'"changed": true'*) say "pointed the package manager at $repo"; changes=$((changes + 1)) ;;
  *) say "package manager already points at $repo" ;;
esac

# 2. Python and venv from that repository.
if [ "$family" = deb ]; then
  pkgs=${AIRGAP_PYTHON_PACKAGES:-python3 python3-venv}
  missing=
  for p in $pkgs; do
    dpkg-query -W -f "\${Status}" "$p" 2>/dev/null | grep -q 'install ok installed' || missing="$missing $p"
  done
  if [ -n "$missing" ]; then
    say "installing$missing from the bundle"
    env DEBIAN_FRONTEND=noninteractive apt-get -q update >/dev/null
    # shellcheck disable=SC2086
    env DEBIAN_FRONTEND=noninteractive apt-get -q -y install $missing
    changes=$((changes + 1))
  else
    say "$pkgs already installed"
  fi
  python=/usr/bin/python3
else
  # Kubespray's Ansible needs Python 3.11+: EL 8/9 have it as python3.12 (the bundle carries it).
  if ls "$repo"/python3.12-3.12*.rpm >/dev/null 2>&1; then default_py="python3.12 python3.12-pip"; else default_py="python3 python3-pip"; fi
  pkgs=${AIRGAP_PYTHON_PACKAGES:-$default_py}
  missing=
  for p in $pkgs; do rpm -q "$p" >/dev/null 2>&1 || missing="$missing $p"; done
  if [ -n "$missing" ]; then
    say "installing$missing from the bundle"
    # shellcheck disable=SC2086
    dnf -y install $missing
    changes=$((changes + 1))
  else
    say "$pkgs already installed"
  fi
  python=/usr/bin/$(echo "$pkgs" | awk '{print $1}')
fi

# 3. A venv with Ansible and Kubespray's requirements, from the bundle's wheels only.
req=$bundle/requirements.txt
if [ ! -s "$req" ] && [ -s "$bundle/kubespray.tar.gz" ]; then
  tar xzf "$bundle/kubespray.tar.gz" -C "$bundle" ./requirements.txt 2>/dev/null || tar xzf "$bundle/kubespray.tar.gz" -C "$bundle" requirements.txt 2>/dev/null || true
fi
if [ ! -d "$bundle/files/pypi/packages" ]; then
  say "the bundle has no PyPI mirror (files/pypi): stopping after Python; install Ansible yourself"
  summary
  exit 0
fi
if [ ! -x "$venv/bin/python" ]; then
  "$python" -m venv "$venv"
  say "created the venv $venv"
  changes=$((changes + 1))
fi
set -- --no-index --find-links "$bundle/files/pypi/packages" --disable-pip-version-check -q
if [ -s "$req" ]; then set -- "$@" -r "$req"; else set -- "$@" ansible; fi
stamp=$venv/.airgap-kubespray-requirements
want=$( (sha256sum <"$req" 2>/dev/null || echo none) | cut -d' ' -f1)
if [ -x "$venv/bin/ansible" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
  say "Ansible already in $venv"
else
  "$venv/bin/pip" install "$@"
  echo "$want" >"$stamp"
  say "installed Ansible and Kubespray's requirements into $venv"
  changes=$((changes + 1))
fi
"$venv/bin/ansible" --version | head -1

summary
cat <<NEXT

Next:
  . $venv/bin/activate
  mkdir -p kubespray && tar xzf $bundle/kubespray.tar.gz -C kubespray && cd kubespray
  ansible-galaxy collection install $bundle/airgap-kubespray-collection.tar.gz
  ansible-playbook -i inventory/mycluster/hosts.yaml airgap.kubespray.mirror -e airgap_bundle_dir=$bundle
NEXT

#!/usr/bin/env bash
# OS package repositories, the PyPI mirror and the offline bootstrap, with real package managers
# and Debian's own mirror as the online side; everything offline happens on 127.0.0.1 only.
#
#   make test-os-repos          (needs root, `make collection` and tests/setup-host.sh's packages)
#
# 1. airgap.kubespray.os_repos from the installed collection, for debian-12 with Kubespray
#    2.31.0's sample inventory: Kubespray's package list, a flat apt repository of its whole
#    dependency closure built from this (Debian 12) host's apt sources, signed; a PEP 503 index of
#    the wheels Debian ships; the bootstrap kit. A rerun and a --check run change nothing.
# 2. A debootstrapped Debian 12 root with no network sources installs that whole list from the
#    repository, served by nginx on 127.0.0.1, with apt's signature checks on.
# 3. pip installs from the index into a venv.
# 4. rpm: os_repo_build's createrepo_c metadata for a tiny RPM, signed (its results: --check
#    writes nothing, a rerun changes nothing), read by Debian's dnf (--installroot, repo_gpgcheck
#    on); tampered metadata is refused.
# 5. bootstrap.sh in a fresh Debian 12 root holding only the bundle: the OS pointed at the
#    bundle's repository through a file: URL (signed), python3 and venv installed from it; then
#    with the PyPI mirror, a venv and `pip --no-index` from the bundle's wheels ending with
#    `ansible --version`; a rerun changes nothing. PyPI is out of reach here, so ansible-core is a
#    stand-in wheel (standin_wheel.py); with real wheels the same steps install the real one.
#
# Caches in ${AIRGAP_CACHE:-/var/cache/airgap-kubespray-tests}: the debootstrapped root and apt's
# downloads (os-repos/), so later runs fetch nothing again.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
nginx_sh=$repo/tests/lib/nginx.sh
releases=${AIRGAP_KUBESPRAY_RELEASES:-$repo/../shared/kubespray}
release=$releases/v2.31.0
cache=${AIRGAP_CACHE:-/var/cache/airgap-kubespray-tests}
export PATH=/usr/local/go/bin:$PATH

[ "$(id -u)" -eq 0 ] || { echo "run.sh: needs root (chroot, apt in a root)" >&2; exit 1; }
for cmd in ansible-playbook debootstrap dpkg-scanpackages apt-ftparchive gpg gpgv rpmbuild createrepo_c dnf chroot; do
  command -v "$cmd" >/dev/null || { echo "run.sh: $cmd not found (run tests/setup-host.sh)" >&2; exit 1; }
done
[ -d "$release/roles/system_packages" ] || { echo "run.sh: no Kubespray 2.31.0 at $release" >&2; exit 1; }
tarballs=("$repo"/build/airgap-kubespray-*.tar.gz)
tarball=${tarballs[0]}
[ -f "$tarball" ] || { echo "run.sh: run make collection first" >&2; exit 1; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/airgap-os-repos.XXXXXX")
chmod 755 "$tmp" # nginx workers run unprivileged
cleanup() {
  "$nginx_sh" stop "$tmp/nginx" >/dev/null 2>&1 || true
  for home in "$tmp"/gnupg-*; do
    if [ -d "$home" ]; then gpgconf --homedir "$home" --kill gpg-agent 2>/dev/null || true; fi
  done
  if [ "${AIRGAP_KEEP_TMP:-0}" = 1 ]; then echo "kept $tmp"; else rm -rf "$tmp"; fi
}
trap cleanup EXIT
mkdir -p "$tmp/logs"
# shellcheck source=../lib/checks.sh
. "$repo/tests/lib/checks.sh"

export ANSIBLE_COLLECTIONS_PATH=$tmp/collections ANSIBLE_NOCOLOR=1
export ANSIBLE_LOCALHOST_WARNING=false ANSIBLE_INVENTORY_UNPARSED_WARNING=false
step "install the collection" ansible-galaxy collection install --force -p "$tmp/collections" "$tarball"
orc=$tmp/collections/ansible_collections/airgap/kubespray/plugins/modules/offline_repo_config_linux_amd64

inv=$tmp/inventory
mkdir -p "$inv"
cp -r "$release/inventory/sample/group_vars" "$inv/"
cp "$releases/hosts.yaml" "$inv/hosts.yaml"
bundle=$tmp/bundle
shopt -s nullglob
wheels=(/usr/share/python-wheels/*.whl)
shopt -u nullglob
/usr/bin/python3 - "$tmp/vars.json" "$release" "$bundle" "$tmp/gnupg-repo" "$cache/os-repos" "${wheels[@]}" <<'PY'
import json, sys
out, release, bundle, gnupg, work = sys.argv[1:6]
json.dump({'airgap_kubespray_dir': release, 'airgap_os_targets': ['debian-12'], 'airgap_bundle_dir': bundle,
           'airgap_os_repos_gnupg_home': gnupg, 'airgap_os_repos_work_dir': work,
           # PyPI is out of reach here: the index is built from the wheels Debian ships.
           'airgap_pypi_requirements': [], 'airgap_pypi_packages': [], 'airgap_pypi_wheels': sys.argv[6:]},
          open(out, 'w'))
PY
build() { # build LOG [ARGS...]
  local log=$tmp/logs/$1.playbook.log
  shift
  ansible-playbook -i "$inv/hosts.yaml" airgap.kubespray.os_repos -e "@$tmp/vars.json" "$@" >"$log" 2>&1 || { tail -n 60 "$log"; return 1; }
  grep -E '^localhost +: ' "$log"
}
debian_packages() { /usr/bin/python3 -c 'import sys, yaml; print("\n".join(yaml.safe_load(open(sys.argv[1]))["targets"]["debian-12"]["packages"]))' "$bundle/packages.yaml"; }
snap() { (cd "$bundle" && find . -type f -printf '%P %s %T@\n' | sort); }

build_repo() {
  build build
  local r=$bundle/files/debs/debian-12
  for f in Packages Packages.gz Release InRelease Release.gpg; do [ -s "$r/$f" ] || fail "no $f"; done
  [ -s "$bundle/files/airgap-kubespray-repo.asc" ] || fail "no public key in the bundle"
  ! find "$bundle" -name '*.key' -o -name 'secring*' -o -name 'private-keys*' | grep -q . || fail "a private key is in the bundle"
  gpg --dearmor <"$bundle/files/airgap-kubespray-repo.asc" >"$tmp/repo-key.gpg"
  gpgv --keyring "$tmp/repo-key.gpg" "$r/InRelease"
  gpgv --keyring "$tmp/repo-key.gpg" "$r/Release.gpg" "$r/Release"
  # Every package of Kubespray's list (and the extras) is in the repository.
  local p missing=()
  for p in $(debian_packages); do grep -q "^Package: $p\$" "$r/Packages" || missing+=("$p"); done
  [ ${#missing[@]} -eq 0 ] || fail "not in the repository: ${missing[*]}"
  echo "$(debian_packages | wc -l) packages listed, $(grep -c '^Package: ' "$r/Packages") in the closure"
  debian_packages >"$tmp/packages.txt" # (grep -q on a pipe would cut it: SIGPIPE under pipefail)
  for p in conntrack socat ebtables ipvsadm; do grep -qx "$p" "$tmp/packages.txt" || fail "$p is not in Kubespray's list"; done
  [ -s "$bundle/files/pypi/simple/index.html" ] || fail "no PyPI index"
  for f in bootstrap.sh bin/offline_repo_config_linux_amd64 bin/offline_repo_config_linux_arm64; do
    [ -x "$bundle/$f" ] || fail "$f is not in the bundle"
  done
}

rerun_and_check() {
  local before
  before=$(snap)
  build rerun | tee "$tmp/rerun.recap"
  grep -q 'changed=0 ' "$tmp/rerun.recap" || fail "a rerun changed something"
  build check --check --diff | tee "$tmp/check.recap"
  grep -q 'changed=0 ' "$tmp/check.recap" || fail "--check reports changes on an up-to-date bundle"
  [ "$(snap)" = "$before" ] || fail "the rerun or --check rewrote files"
}

# in_root ROOT CMD...: CMD chrooted into ROOT with a clean environment and no service starts.
in_root() {
  local root=$1
  shift
  chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root DEBIAN_FRONTEND=noninteractive "$@"
}
new_root() {
  "$repo/tests/repos/debian-root.sh" extract "$1" >/dev/null
  printf '#!/bin/sh\nexit 101\n' >"$1/usr/sbin/policy-rc.d"
  chmod 755 "$1/usr/sbin/policy-rc.d"
}

install_in_root() {
  local r=$tmp/root-install
  new_root "$r"
  "$orc" --root "$r" --debian-repo "$base/debs/debian-12/" --gpg-key "$bundle/files/airgap-kubespray-repo.asc" >"$tmp/orc.json"
  cat "$tmp/orc.json"
  [ ! -e "$r/etc/apt/sources.list" ] || fail "sources.list is still in place"
  grep -rhoE '(https?|file|ftp)://[^ ]+' "$r/etc/apt/sources.list.d" | sort -u | tee "$tmp/uris"
  ! grep -v "^$base/" "$tmp/uris" | grep -q . || fail "the root still has network sources"
  in_root "$r" apt-get -q -o Dpkg::Use-Pty=0 update | tee "$tmp/update.log"
  grep -q "$base/debs/debian-12 ./ InRelease" "$tmp/update.log" || fail "no signed InRelease fetched"
  ! grep -qiE 'NO_PUBKEY|not signed|insecure|^W:' "$tmp/update.log" || fail "apt warned about the signature"
  # shellcheck disable=SC2046
  in_root "$r" apt-get -q -y -o Dpkg::Use-Pty=0 install $(debian_packages) >"$tmp/install.log" 2>&1 ||
    { tail -n 40 "$tmp/install.log"; return 1; }
  tail -n 3 "$tmp/install.log"
  local p missing=()
  for p in $(debian_packages); do
    # shellcheck disable=SC2016 # dpkg-query's own ${Status} field
    in_root "$r" dpkg-query -W -f '${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] || fail "not installed: ${missing[*]}"
  in_root "$r" conntrack --version
  in_root "$r" socat -V | head -1
}

pip_from_index() {
  /usr/bin/python3 -m venv "$tmp/venv"
  "$tmp/venv/bin/pip" install --no-cache-dir --disable-pip-version-check --index-url "$base/pypi/simple/" wheel | tail -2
  "$tmp/venv/bin/python" -c 'import wheel; print("wheel", wheel.__version__)'
  grep -q 'GET /pypi/packages/wheel-' "$tmp/nginx/logs/access.log" || fail "the wheel did not come from the index"
}

rpm_metadata() {
  local r=$bundle/files/rpms/rocky-9 root=$tmp/rocky key=$bundle/files/airgap-kubespray-repo.asc
  "$repo/tests/repos/fixtures.sh" rpms "$tmp/rpm-src" "$tmp/rpmbuild" >/dev/null
  # The module's own results: check mode, build, rerun, sign, errors (one playbook run).
  /usr/bin/python3 -c 'import json, sys; print(json.dumps(dict(zip(["rpm", "dest", "work", "gnupg_home", "scratch"], sys.argv[1:]))))' \
    "$(ls "$tmp"/rpm-src/rpms/*.rpm)" "$r" "$tmp/rpm-work" "$tmp/gnupg-repo" "$tmp" >"$tmp/rpm-vars.json"
  ansible-playbook "$here/os_repo_build.yml" -e "@$tmp/rpm-vars.json" >"$tmp/logs/os_repo_build.playbook.log" 2>&1 ||
    { tail -n 60 "$tmp/logs/os_repo_build.playbook.log"; return 1; }
  "$repo/tests/repos/fixtures.sh" rocky-root "$root" >/dev/null
  "$orc" --root "$root" --yum-repo "$base/rpms/rocky-9/" --gpg-key "$key" >/dev/null
  grep -q '^repo_gpgcheck=1$' "$root/etc/yum.repos.d/airgap-kubespray.repo"
  # Under --installroot dnf reads file:// keys from the host: point it at the root's copy. The
  # test rpm itself is unsigned (vendor packages carry their own signatures): gpgcheck off, the
  # metadata signature (repo_gpgcheck) on.
  local dnf=(dnf -y -q --installroot "$root" --releasever 9 --setopt=reposdir="$root/etc/yum.repos.d"
    --setopt="airgap-kubespray.gpgkey=file://$root/etc/pki/rpm-gpg/RPM-GPG-KEY-airgap-kubespray"
    --setopt=airgap-kubespray.gpgcheck=0)
  "${dnf[@]}" install airgap-test
  test -f "$root/usr/share/airgap-test/hello.txt"
  # Tampered metadata: dnf refuses the repository.
  cp "$r/repodata/repomd.xml" "$tmp/repomd.xml"
  echo '<!-- tampered -->' >>"$r/repodata/repomd.xml"
  local rc=0
  "${dnf[@]}" --setopt=skip_if_unavailable=False --refresh makecache >"$tmp/tampered.log" 2>&1 || rc=$?
  cp "$tmp/repomd.xml" "$r/repodata/repomd.xml"
  cat "$tmp/tampered.log"
  [ $rc -ne 0 ] || fail "dnf accepted tampered metadata"
  grep -q 'repomd.xml GPG signature verification error' "$tmp/tampered.log" || fail "no signature error"
}

bootstrap() {
  local r=$tmp/root-bootstrap
  new_root "$r"
  mkdir -p "$r/srv"
  cp -al "$bundle" "$r/srv/bundle"
  # First without a PyPI mirror: the repository and Python only.
  mv "$r/srv/bundle/files/pypi" "$r/srv/pypi.away"
  in_root "$r" /srv/bundle/bootstrap.sh | tee "$tmp/bootstrap1.log"
  grep -q 'pointed the package manager at /srv/bundle/files/debs/debian-12' "$tmp/bootstrap1.log"
  grep -q 'installing python3 python3-venv from the bundle' "$tmp/bootstrap1.log"
  grep -q 'no PyPI mirror' "$tmp/bootstrap1.log"
  grep -rhoE '(https?|file|ftp):[^ ]+' "$r/etc/apt/sources.list.d" | sort -u | tee "$tmp/bootstrap-uris"
  [ "$(cat "$tmp/bootstrap-uris")" = "file:///srv/bundle/files/debs/debian-12/" ] || fail "sources other than the bundle"
  grep -q '^Signed-By: ' "$r/etc/apt/sources.list.d/airgap-kubespray.sources" || fail "the bundle's repository is not signature-checked"
  in_root "$r" python3 -c 'import venv, sys; print(sys.version)'
  # Then with the PyPI mirror: PyPI is out of reach here, so ansible-core is a stand-in wheel
  # (tests/os_repos/standin_wheel.py) beside Debian's wheels, and requirements.txt names it.
  mv "$r/srv/pypi.away" "$r/srv/bundle/files/pypi"
  rm -rf "$r/srv/bundle/files/pypi/packages" "$r/srv/bundle/files/pypi/simple" # hard links: never write through them
  mkdir -p "$r/srv/bundle/files/pypi/packages"
  cp "${wheels[@]}" "$r/srv/bundle/files/pypi/packages/"
  /usr/bin/python3 "$here/standin_wheel.py" "$r/srv/bundle/files/pypi/packages" 2.18.99 >/dev/null
  echo "ansible-core" >"$r/srv/bundle/requirements.txt"
  in_root "$r" /srv/bundle/bootstrap.sh | tee "$tmp/bootstrap2.log"
  grep -q 'already points at' "$tmp/bootstrap2.log" || fail "the second run changed the repository configuration"
  grep -q 'created the venv /opt/airgap-kubespray/venv' "$tmp/bootstrap2.log" || fail "no venv"
  grep -q 'installed Ansible' "$tmp/bootstrap2.log" || fail "nothing installed from the bundle's wheels"
  grep -q 'ansible \[core 2.18.99\]' "$tmp/bootstrap2.log" || fail "no ansible --version from the venv"
  grep -q 'airgap.kubespray.mirror -e airgap_bundle_dir=/srv/bundle' "$tmp/bootstrap2.log" || fail "no next command"
  in_root "$r" /srv/bundle/bootstrap.sh | tee "$tmp/bootstrap3.log"
  grep -q 'already installed' "$tmp/bootstrap3.log" || fail "the rerun installed packages"
  grep -q 'Ansible already in /opt/airgap-kubespray/venv' "$tmp/bootstrap3.log" || fail "the rerun reinstalled Ansible"
  grep -q 'done: nothing to change' "$tmp/bootstrap3.log" || fail "the rerun reports changes"
}

check "os_repos: debian-12 from Kubespray's list, signed; PyPI index; bootstrap kit" build_repo
check "os_repos: rerun and --check change nothing" rerun_and_check
port=$("$nginx_sh" free-port)
step "nginx on 127.0.0.1:$port" "$nginx_sh" start "$tmp/nginx" "$bundle/files" "$port"
base=http://127.0.0.1:$port
check "debian12 root: installs Kubespray's whole list from the signed repo" install_in_root
check "pip: installs from the bundle's index" pip_from_index
check "rpm: signed createrepo_c metadata read by dnf, tampering refused" rpm_metadata
check "bootstrap.sh: bundle only: file: repo, python3, venv, pip --no-index; reruns idempotent" bootstrap

echo
# shellcheck disable=SC2154 # passed, failed: set by tests/lib/checks.sh
echo "PASS: ${#passed[@]}  FAIL: ${#failed[@]}"
for name in "${failed[@]}"; do echo "  FAIL: $name"; done
[ ${#failed[@]} -eq 0 ]

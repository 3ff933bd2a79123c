#!/usr/bin/env bash
# A Debian 12 (bookworm) minbase root for the repository tests, made once by debootstrap from the
# mirror this machine's apt uses and cached as a tarball; every run unpacks a fresh copy.
#
#   tests/repos/debian-root.sh extract DEST   # (creates the cache if needed,) unpacks into DEST
#   tests/repos/debian-root.sh create         # (re)creates the cache
#   tests/repos/debian-root.sh mirror         # prints the mirror used
#
# The cache is ${AIRGAP_CACHE:-/var/cache/airgap-kubespray-tests}/debian12-root.tar (outside the
# repository and /tmp, so a CI machine that keeps /var/cache reuses it). The mirror is read from
# /etc/apt (tests/repos/apt_mirror.py); AIRGAP_DEBIAN_MIRROR overrides it. The root's own
# etc/apt/sources.list is left as debootstrap writes it ("deb <mirror> bookworm main"); only
# var/cache/apt/archives is emptied (apt-get clean) to keep the tarball small, and each copy loses
# the etc/resolv.conf debootstrap copied from the host (no DNS in the root).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cache=${AIRGAP_CACHE:-/var/cache/airgap-kubespray-tests}
tarball=$cache/debian12-root.tar

mirror() {
  if [ -n "${AIRGAP_DEBIAN_MIRROR:-}" ]; then
    echo "${AIRGAP_DEBIAN_MIRROR%/}"
  else
    /usr/bin/python3 "$here/apt_mirror.py" bookworm
  fi
}

create() {
  command -v debootstrap >/dev/null || { echo "debian-root.sh: debootstrap is not installed (run tests/setup-host.sh)" >&2; exit 1; }
  local url build start end
  url=$(mirror)
  mkdir -p "$cache"
  build=$(mktemp -d "$cache/debian12-root.build.XXXXXX")
  # shellcheck disable=SC2064
  trap "rm -rf '$build'" EXIT
  echo "debian-root.sh: debootstrap --variant=minbase bookworm from $url (log: $cache/debootstrap.log)" >&2
  start=$(date +%s.%N)
  if ! debootstrap --variant=minbase bookworm "$build/root" "$url" >"$cache/debootstrap.log" 2>&1; then
    tail -n 30 "$cache/debootstrap.log" >&2
    exit 1
  fi
  end=$(date +%s.%N)
  env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin chroot "$build/root" apt-get clean
  tar --numeric-owner -C "$build/root" -cf "$build/root.tar" .
  mv -f "$build/root.tar" "$tarball"
  printf '%s\n%.1f\n' "$url" "$(/usr/bin/python3 -c "print($end - $start)")" >"$tarball.info"
  echo "debian-root.sh: debootstrap took $(sed -n 2p "$tarball.info") s; cached $tarball ($(du -h "$tarball" | cut -f1))" >&2
}

extract() {
  local dest=$1
  [ -s "$tarball" ] || create
  mkdir -p "$dest"
  tar --numeric-owner -C "$dest" -xf "$tarball"
  # debootstrap copies the host's resolv.conf; without it the root resolves no names, so a source
  # the module failed to disable cannot quietly reach the internet (127.0.0.1 needs no DNS).
  rm -f "$dest/etc/resolv.conf"
}

case "${1:-}" in
  extract) shift; [ $# -eq 1 ] || { echo "usage: $0 extract DEST" >&2; exit 2; }; extract "$1" ;;
  create) create ;;
  mirror) mirror ;;
  *) echo "usage: $0 extract DEST | create | mirror" >&2; exit 2 ;;
esac

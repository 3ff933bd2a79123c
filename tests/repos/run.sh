#!/usr/bin/env bash
# End-to-end tests of offline_repo_config against real package managers, all offline but for the
# one-time fixtures:
#
#   1. a Debian 12 minbase root (debootstrap, cached as a tarball by tests/repos/debian-root.sh;
#      its sources.list points at this machine's Debian mirror, as debootstrap leaves it);
#   2. a flat apt repository (dpkg-scanpackages), a PEP 503 pip index (Debian's wheels) and a
#      createrepo_c RPM repository, all behind one throw-away nginx on 127.0.0.1
#      (tests/lib/nginx.sh, tests/repos/fixtures.sh);
#   3. the module (the node-side binary modules/airgap_node, named offline_repo_config) run with --root on copies of the
#      Debian root and on a minimal Rocky 9 root; then apt-get inside the Debian root (chroot),
#      pip on the host with the pip.conf the module wrote, and dnf --installroot on the Rocky
#      root must install from 127.0.0.1 and from nothing else;
#   4. --check --diff writes nothing, a second run changes nothing, state=absent puts every file
#      back byte for byte (mode, owner, mtime) and the host's own /etc is never touched.
#
#   tests/repos/run.sh
#   AIRGAP_KEEP_TMP=1 tests/repos/run.sh                      # keep the scratch folder
#   AIRGAP_REPO_CONFIG_BIN=/path/to/binary tests/repos/run.sh # test that binary, do not build
#   AIRGAP_CACHE=/some/dir tests/repos/run.sh                 # where the root tarball is cached
#
# Needs root, the packages from tests/setup-host.sh (debootstrap, dpkg-dev, rpm, createrepo-c,
# dnf, python3-pip, python3-pip-whl, nginx) and Go in /usr/local/go. The first run needs the
# Debian mirror for debootstrap (~30-40 s) and apt-get download; later runs need no network.
# Exits non-zero if any check failed.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
nginx_sh=$repo/tests/lib/nginx.sh
export PATH=/usr/local/go/bin:$PATH
run_start=$(date +%s.%N)

if [ "$(id -u)" -ne 0 ]; then
  echo "run.sh: needs root (chroot, debootstrap, dnf --installroot)" >&2
  exit 1
fi
for cmd in debootstrap dpkg-scanpackages rpmbuild createrepo_c dnf chroot unshare; do
  command -v "$cmd" >/dev/null || { echo "run.sh: $cmd not found (run tests/setup-host.sh)" >&2; exit 1; }
done
/usr/bin/python3 -m pip --version >/dev/null 2>&1 || { echo "run.sh: /usr/bin/python3 -m pip missing (python3-pip)" >&2; exit 1; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/airgap-repos.XXXXXX")
chmod 755 "$tmp" # nginx workers run unprivileged and must read $tmp/www
cleanup() {
  "$nginx_sh" stop "$tmp/nginx" || true
  local home
  for home in "$tmp"/gnupg-*; do # the gpg-agent each signing key started
    if [ -d "$home" ]; then GNUPGHOME=$home gpgconf --kill gpg-agent 2>/dev/null || true; fi
  done
  if [ "${AIRGAP_KEEP_TMP:-0}" = 1 ]; then
    echo "kept $tmp"
  else
    rm -rf "$tmp"
  fi
}
trap cleanup EXIT
mkdir -p "$tmp/logs" "$tmp/out"

# check NAME CMD..., step MSG CMD..., fail MSG: tests/lib/checks.sh
# shellcheck source=../lib/checks.sh
. "$repo/tests/lib/checks.sh"

# --- host: nothing outside the roots may change ------------------------------------------------
host_paths=(etc/apt etc/pip.conf etc/yum.repos.d etc/dnf var/lib/airgap-kubespray)
/usr/bin/python3 "$here/tree.py" snapshot / "$tmp/host-before.json" "${host_paths[@]}"

# --- module binary -------------------------------------------------------------------------------
bin=${AIRGAP_REPO_CONFIG_BIN:-}
if [ -z "$bin" ]; then
  bin=$tmp/offline_repo_config
  # The node-side multi-call binary runs the module it is named after.
  if ! (cd "$repo" && CGO_ENABLED=0 go build -o "$bin" ./modules/airgap_node) >"$tmp/logs/go-build.log" 2>&1; then
    echo "run.sh: go build ./modules/airgap_node failed; the module checks will fail:" >&2
    tail -n 20 "$tmp/logs/go-build.log" >&2
    bin=$tmp/offline_repo_config-missing
  fi
fi

# The module runs in a private mount namespace where the host's /etc and /var/lib are read-only:
# with --root it must not write there, and if it tried, this fails loudly instead of breaking
# the host. (Falls back to a plain run where mount namespaces are not allowed.)
protect=0
if unshare -m sh -c 'mount --bind /etc /etc && mount -o remount,bind,ro /etc' 2>/dev/null; then
  case "$tmp/" in /etc/* | /var/lib/*) ;; *) protect=1 ;; esac
fi
# module OUT ARGS...: runs the module, its JSON result into $tmp/out/OUT.json; prints it.
module() {
  local out=$tmp/out/$1.json rc=0
  shift
  echo "\$ offline_repo_config $*"
  if [ "$protect" = 1 ]; then
    unshare -m sh -c 'mount --bind /etc /etc && mount -o remount,bind,ro /etc &&
      mount --bind /var/lib /var/lib && mount -o remount,bind,ro /var/lib && exec "$@"' \
      sh "$bin" "$@" >"$out" 2>"$out.stderr" || rc=$?
  else
    "$bin" "$@" >"$out" 2>"$out.stderr" || rc=$?
  fi
  echo "exit $rc"
  if [ -s "$out.stderr" ]; then
    echo "stderr:"
    cat "$out.stderr"
  fi
  return $rc
}
expect() { /usr/bin/python3 "$here/expect.py" "$tmp/out/$1.json" "${@:2}"; }

# --- roots and repositories ----------------------------------------------------------------------
mirror=$("$here/debian-root.sh" mirror)
mirror_host=$(/usr/bin/python3 -c 'import sys, urllib.parse; print(urllib.parse.urlsplit(sys.argv[1]).hostname)' "$mirror")
[ -s "${AIRGAP_CACHE:-/var/cache/airgap-kubespray-tests}/debian12-root.tar" ] && debootstrap_cached=1 || debootstrap_cached=0
step "Debian 12 root (cached debootstrap)" "$here/debian-root.sh" extract "$tmp/deb-a"
untar_start=$(date +%s.%N)
# Besides debootstrap's sources.list, a deb822 file in sources.list.d as the Debian 12 installer
# writes one, with an unusual mode, so moving and restoring sources.list.d/* is covered too.
security=$(/usr/bin/python3 "$here/apt_mirror.py" bookworm-security 2>/dev/null || echo "${mirror%/debian}/debian-security")
printf 'Types: deb\nURIs: %s\nSuites: bookworm-security\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
  "$security" >"$tmp/deb-a/etc/apt/sources.list.d/debian-security.sources"
chmod 640 "$tmp/deb-a/etc/apt/sources.list.d/debian-security.sources"
touch -d '2024-06-01 12:00:00' "$tmp/deb-a/etc/apt/sources.list.d/debian-security.sources"
step "Debian 12 root copy for check mode and the full-tree revert" "$here/debian-root.sh" extract "$tmp/deb-b"
untar_took=$(/usr/bin/python3 -c "print('%.1f' % ($(date +%s.%N) - $untar_start))")
www=$tmp/www
step "apt repository" "$here/fixtures.sh" debs "$www" "$tmp/deb-a"
step "signed apt repository" "$here/fixtures.sh" signed-debs "$www" debs-signed "$tmp/gnupg-mirror"
step "another signing key" "$here/fixtures.sh" gpg-key "$tmp/gnupg-other"
step "pip index" "$here/fixtures.sh" pypi "$www"
step "rpm repository" "$here/fixtures.sh" rpms "$www" "$tmp/rpmbuild"
step "signed rpm repository" "$here/fixtures.sh" signed-rpms "$www" rpms-signed "$tmp/gnupg-mirror"
step "Rocky 9 root" "$here/fixtures.sh" rocky-root "$tmp/rocky"
port=$("$nginx_sh" free-port)
step "nginx on 127.0.0.1:$port" "$nginx_sh" start "$tmp/nginx" "$www" "$port"
base=http://127.0.0.1:$port
access_log=$tmp/nginx/logs/access.log
echo "mirror: $mirror; repositories: $base/debs/ $base/simple/ $base/rpms/"

# in_root ROOT CMD...: runs CMD chrooted into ROOT with a clean environment (no APT_CONFIG or
# other host settings; the root has its own etc/apt). No /proc, /dev/pts or DNS is needed.
in_root() {
  local root=$1
  shift
  env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LC_ALL=C DEBIAN_FRONTEND=noninteractive \
    chroot "$root" "$@"
}
apt_root() { in_root "$1" apt-get -q -o Dpkg::Use-Pty=0 "${@:2}"; }
# uris FILE: every URL apt printed (quoted or not), one per line.
uris() { grep -oE "[a-z]+://[^ ']+" "$1" | sort -u; }
# only_local FILE: every URL in FILE is on our nginx, and there is at least one.
only_local() {
  local all others
  all=$(uris "$1")
  [ -n "$all" ] || fail "no URL in $1"
  others=$(echo "$all" | grep -v "^$base/" || true)
  [ -z "$others" ] || fail "URLs not on $base: $others"
}

# log_mark / served_since MARK ERE: whether nginx logged a request matching ERE (e.g.
# 'GET /debs/hello_') with status 200 after log_mark printed MARK (the baselines fetch the same
# files, so older lines do not count).
log_mark() { wc -l <"$access_log"; }
served_since() {
  tail -n "+$(($1 + 1))" "$access_log" | grep -E "\"$2[^\"]* HTTP/1\.[01]\" 200 " >/dev/null
}

# dnf_root ROOT ARGS...: dnf on an installroot, with its repositories read from ROOT only and a
# strict main config (gpgcheck on unless a repository turns it off, unreachable repos fatal).
printf '[main]\ngpgcheck=1\nrepo_gpgcheck=0\nskip_if_unavailable=False\ninstall_weak_deps=False\nretries=1\ntimeout=10\nreposdir=/nonexistent\n' >"$tmp/dnf.conf"
dnf_root() {
  dnf -y --config="$tmp/dnf.conf" --noplugins --installroot="$1" --setopt=reposdir="$1/etc/yum.repos.d" \
    --releasever=9 "${@:2}"
}

# --- baselines: the fixtures work with hand-written configuration ------------------------------
# If these fail the fixtures are wrong, not the module.
baseline_apt() {
  local root=$tmp/deb-baseline
  "$here/debian-root.sh" extract "$root"
  rm -f "$root/etc/apt/sources.list"
  printf 'deb [trusted=yes] %s/debs/ ./\n' "$base" >"$root/etc/apt/sources.list.d/baseline.list"
  apt_root "$root" update | tee "$tmp/baseline-update.log"
  only_local "$tmp/baseline-update.log"
  apt_root "$root" install -y hello
  in_root "$root" hello
  rm -rf "$root"
}
baseline_pip() {
  printf '[global]\nindex-url = %s/simple/\ntrusted-host = 127.0.0.1\n' "$base" >"$tmp/baseline-pip.conf"
  env -i PATH=/usr/bin:/bin HOME="$tmp/home" PIP_CONFIG_FILE="$tmp/baseline-pip.conf" \
    /usr/bin/python3 -m pip download --no-deps --no-cache-dir -d "$tmp/baseline-pip" wheel
  ls "$tmp"/baseline-pip/wheel-*.whl
}
baseline_dnf() {
  local root=$tmp/rocky-baseline
  "$here/fixtures.sh" rocky-root "$root"
  rm "$root"/etc/yum.repos.d/*.repo
  printf '[baseline]\nname=baseline\nbaseurl=%s/rpms/\ngpgcheck=0\n' "$base" >"$root/etc/yum.repos.d/baseline.repo"
  dnf_root "$root" install airgap-test
  test -f "$root/usr/share/airgap-test/hello.txt"
  rm -rf "$root"
}
check "baseline: hand-written apt source installs hello from 127.0.0.1" baseline_apt
check "baseline: hand-written pip.conf downloads a wheel from 127.0.0.1" baseline_pip
check "baseline: hand-written .repo lets dnf install from 127.0.0.1" baseline_dnf

# --- Debian 12 -----------------------------------------------------------------------------------
deb=$tmp/deb-a
# Where the module keeps what it moved aside; may remain after state=absent (only there).
backup_rel=var/lib/airgap-kubespray

debian_control() {
  cat "$deb/etc/apt/sources.list" "$deb/etc/apt/sources.list.d/debian-security.sources"
  apt_root "$deb" --print-uris update | tee "$tmp/control-uris.log"
  grep -q "://$mirror_host/" "$tmp/control-uris.log" || fail "the untouched root does not use $mirror_host"
  # The chroot's apt reads the root's etc/apt, not the host's (which has bookworm-updates).
  ! grep -q 'bookworm-updates' "$tmp/control-uris.log" || fail "apt in the chroot reads the host's sources"
}

debian_check_mode() {
  local b=$tmp/deb-b
  /usr/bin/python3 "$here/tree.py" snapshot "$b" "$tmp/deb-b-before.json" --dir-mtime
  module deb-check --root "$b" --debian-repo "$base/debs/" --pypi-url "$base/simple/" --check --diff || return 1
  expect deb-check 'r["changed"] is True' 'not r.get("failed")' \
    'has("etc/apt/sources.list.d/airgap-kubespray.sources")' 'has("etc/apt/sources.list")' 'has("etc/pip.conf")' \
    '"airgap-kubespray.sources" in diff_text' '"pip.conf" in diff_text' '"'"$base"'/debs/" in diff_text' || return 1
  /usr/bin/python3 "$here/tree.py" snapshot "$b" "$tmp/deb-b-after-check.json" --dir-mtime
  /usr/bin/python3 "$here/tree.py" compare "$tmp/deb-b-before.json" "$tmp/deb-b-after-check.json"
}

debian_present() {
  /usr/bin/python3 "$here/tree.py" snapshot "$deb" "$tmp/deb-a-before.json" etc/apt etc/pip.conf "$backup_rel"
  module deb-present --root "$deb" --debian-repo "$base/debs/" --pypi-url "$base/simple/" || return 1
  expect deb-present 'r["changed"] is True' 'not r.get("failed")' \
    'r["os"]["id"] == "debian"' 'str(r["os"]["version_id"]) == "12"' \
    'has("etc/apt/sources.list.d/airgap-kubespray.sources", "created")' \
    'has("etc/apt/sources.list", "moved")' 'has("etc/apt/sources.list.d/debian-security.sources", "moved")' \
    'has("etc/pip.conf", "created")' || return 1
  local src=$deb/etc/apt/sources.list.d/airgap-kubespray.sources
  echo "--- $src"
  cat "$src" || return 1
  grep -qx 'Types: deb' "$src" || fail "no 'Types: deb'"
  grep -qx "URIs: $base/debs/\?" "$src" || fail "no 'URIs: $base/debs/'"
  grep -qx 'Suites: \./' "$src" || fail "no 'Suites: ./'"
  grep -qx 'Trusted: yes' "$src" || fail "no 'Trusted: yes' (no gpg key given)"
  ! grep -q '^Components:' "$src" || fail "a flat repository takes no Components"
  [ ! -e "$deb/etc/apt/sources.list" ] || fail "etc/apt/sources.list still there"
  local others
  others=$(find "$deb/etc/apt/sources.list.d" -mindepth 1 -maxdepth 1 ! -name airgap-kubespray.sources -printf '%f\n')
  [ -z "$others" ] || fail "other files left in sources.list.d: $others"
  echo "--- $deb/etc/pip.conf"
  cat "$deb/etc/pip.conf" || return 1
  grep -Eq "^index-url *= *$base/simple/?\$" "$deb/etc/pip.conf" || fail "pip.conf: no index-url = $base/simple/"
  grep -Eq '^trusted-host *= *127\.0\.0\.1' "$deb/etc/pip.conf" || fail "pip.conf: no trusted-host = 127.0.0.1"
  echo "--- $deb/$backup_rel"
  find "$deb/$backup_rel" -printf '%M %P\n'
  [ -n "$(find "$deb/$backup_rel" -name 'journal*')" ] || fail "no journal in $backup_rel"
}

debian_idempotent() {
  module deb-present2 --root "$deb" --debian-repo "$base/debs/" --pypi-url "$base/simple/" || return 1
  expect deb-present2 'r["changed"] is False' 'not r.get("failed")'
}

debian_apt_update() {
  apt_root "$deb" --print-uris update | tee "$tmp/deb-uris.log"
  only_local "$tmp/deb-uris.log" || return 1
  apt_root "$deb" update | tee "$tmp/deb-update.log" || return 1
  only_local "$tmp/deb-update.log" || return 1
  ! grep -q "$mirror_host" "$tmp/deb-update.log" || fail "apt-get update mentions $mirror_host"
  in_root "$deb" apt-cache policy | tee "$tmp/deb-policy.log"
  only_local "$tmp/deb-policy.log" || return 1
  # Only the status file and our repository: no index from anywhere else.
  local lists
  lists=$(find "$deb/var/lib/apt/lists" -mindepth 1 -maxdepth 1 ! -name lock ! -name partial ! -name auxfiles -printf '%f\n')
  echo "lists: $lists"
  grep -q '^127\.0\.0\.1' <<<"$lists" || fail "no list from 127.0.0.1"
  ! grep -v '^127\.0\.0\.1' <<<"$lists" || fail "lists from elsewhere"
}

debian_apt_install() {
  local mark
  mark=$(log_mark)
  apt_root "$deb" install -y hello sl | tee "$tmp/deb-install.log" || return 1
  only_local "$tmp/deb-install.log" || return 1
  grep -q "Get:.*$base/debs.* hello " "$tmp/deb-install.log" || fail "hello not fetched from $base/debs"
  grep -q "Get:.*$base/debs.* libncurses6 " "$tmp/deb-install.log" || fail "the dependency libncurses6 not fetched from $base/debs"
  [ "$(in_root "$deb" hello)" = 'Hello, world!' ] || fail "hello does not run"
  in_root "$deb" apt-cache policy hello | tee "$tmp/deb-policy-hello.log"
  grep -q "$base/debs" "$tmp/deb-policy-hello.log" || fail "hello's version table lacks $base/debs"
  served_since "$mark" 'GET /debs/(\./)?hello_[^ ]*\.deb' || fail "nginx served no hello .deb"
}

debian_apt_missing() {
  local rc=0
  # curl is neither in the minbase root nor in the local repository.
  apt_root "$deb" install -y curl >"$tmp/deb-curl.log" 2>&1 || rc=$?
  cat "$tmp/deb-curl.log"
  [ $rc -ne 0 ] || fail "installing curl succeeded"
  grep -q 'Unable to locate package curl' "$tmp/deb-curl.log" || fail "no 'Unable to locate package curl'"
}

pip_from_root_conf() {
  local out=$tmp/pip-out log=$tmp/pip.log mark
  mark=$(log_mark)
  # Only PIP_CONFIG_FILE: no PIP_* from this environment (e.g. PIP_FIND_LINKS, PIP_INDEX_URL), no
  # user config (pip skips it when PIP_CONFIG_FILE exists), no index flags.
  env -i PATH=/usr/bin:/bin HOME="$tmp/home" PIP_CONFIG_FILE="$deb/etc/pip.conf" \
    /usr/bin/python3 -m pip download --no-deps --no-cache-dir -d "$out" wheel 2>&1 | tee "$log"
  [ "${PIPESTATUS[0]}" -eq 0 ] || return 1
  grep -qx "Looking in indexes: $base/simple/\?" "$log" || fail "pip looked elsewhere than $base/simple/"
  ls "$out"/wheel-*.whl || fail "no wheel downloaded"
  cmp "$out"/wheel-*.whl "$www"/packages/wheel-*.whl || fail "downloaded wheel differs from the served one"
  served_since "$mark" 'GET /simple/wheel/' || fail "nginx served no /simple/wheel/"
  served_since "$mark" 'GET /packages/wheel-[^ ]*\.whl' || fail "nginx served no wheel"
  # A project that is not on the index is not found anywhere else either.
  local rc=0
  env -i PATH=/usr/bin:/bin HOME="$tmp/home" PIP_CONFIG_FILE="$deb/etc/pip.conf" \
    /usr/bin/python3 -m pip download --no-deps --no-cache-dir -d "$out" six >"$tmp/pip-six.log" 2>&1 || rc=$?
  cat "$tmp/pip-six.log"
  [ $rc -ne 0 ] || fail "pip download six succeeded"
  grep -q 'No matching distribution found for six' "$tmp/pip-six.log" || fail "no 'No matching distribution found for six'"
}

debian_absent() {
  module deb-absent --root "$deb" --state absent || return 1
  expect deb-absent 'r["changed"] is True' 'not r.get("failed")' \
    'has("etc/apt/sources.list", "restored")' 'has("etc/apt/sources.list.d/debian-security.sources", "restored")' \
    'has("etc/apt/sources.list.d/airgap-kubespray.sources", "removed")' \
    'has("etc/pip.conf", "removed")' || return 1
  /usr/bin/python3 "$here/tree.py" snapshot "$deb" "$tmp/deb-a-after.json" etc/apt etc/pip.conf "$backup_rel"
  /usr/bin/python3 "$here/tree.py" compare "$tmp/deb-a-before.json" "$tmp/deb-a-after.json" --ignore "$backup_rel" || return 1
  module deb-absent2 --root "$deb" --state absent || return 1
  expect deb-absent2 'r["changed"] is False' 'not r.get("failed")' || return 1
  # And the root reads the mirror again.
  apt_root "$deb" --print-uris update | tee "$tmp/deb-uris-after.log"
  grep -q "://$mirror_host/" "$tmp/deb-uris-after.log" || fail "after absent, apt no longer reads $mirror_host"
}

debian_full_revert() {
  local b=$tmp/deb-b
  /usr/bin/python3 "$here/tree.py" snapshot "$b" "$tmp/deb-b-before2.json"
  module deb-b-present --root "$b" --debian-repo "$base/debs/" --pypi-url "$base/simple/" || return 1
  expect deb-b-present 'r["changed"] is True' || return 1
  module deb-b-absent --root "$b" --state absent || return 1
  expect deb-b-absent 'r["changed"] is True' || return 1
  /usr/bin/python3 "$here/tree.py" snapshot "$b" "$tmp/deb-b-after2.json"
  /usr/bin/python3 "$here/tree.py" compare "$tmp/deb-b-before2.json" "$tmp/deb-b-after2.json" --ignore "$backup_rel"
}

# On deb-b again (back to debootstrap's state): a signed repository with --gpg-key.
debian_gpg() {
  local b=$tmp/deb-b key=$tmp/gnupg-mirror/key.asc src
  /usr/bin/python3 "$here/tree.py" snapshot "$b" "$tmp/deb-b-gpg-before.json" etc/apt etc/pip.conf "$backup_rel"
  module deb-gpg --root "$b" --debian-repo "$base/debs-signed/" --gpg-key "$key" || return 1
  expect deb-gpg 'r["changed"] is True' 'not r.get("failed")' 'not any("trusted" in w for w in r.get("warnings", []))' || return 1
  src=$b/etc/apt/sources.list.d/airgap-kubespray.sources
  cat "$src" || return 1
  ! grep -q '^Trusted:' "$src" || fail "Trusted: with a gpg key"
  local signed_by
  signed_by=$(sed -n 's/^Signed-By: *//p' "$src")
  [ -n "$signed_by" ] || fail "no Signed-By"
  case $signed_by in /*) ;; *) fail "Signed-By is not a path in the root: $signed_by" ;; esac
  cmp "$key" "$b$signed_by" || fail "$signed_by in the root is not the given key"
  apt_root "$b" update | tee "$tmp/deb-gpg-update.log"
  [ "${PIPESTATUS[0]}" -eq 0 ] || return 1
  grep -q "Get:.*$base/debs-signed ./ InRelease" "$tmp/deb-gpg-update.log" || fail "no signed InRelease fetched"
  ! grep -qiE 'NO_PUBKEY|not signed|insecure|^W:' "$tmp/deb-gpg-update.log" || fail "apt warned about the signature"
  apt_root "$b" install -y figlet || return 1
  # The wrong key: apt must refuse the repository.
  module deb-gpg-other --root "$b" --debian-repo "$base/debs-signed/" --gpg-key "$tmp/gnupg-other/key.asc" || return 1
  expect deb-gpg-other 'r["changed"] is True' || return 1
  # Without the indexes fetched above, apt-get update warns about (or fails on) the signature and
  # keeps no index: nothing from the repository can be installed.
  find "$b/var/lib/apt/lists" -maxdepth 1 -name '127.0.0.1*' -delete
  apt_root "$b" update >"$tmp/deb-gpg-other.log" 2>&1 || true
  cat "$tmp/deb-gpg-other.log"
  grep -qE 'NO_PUBKEY|signatures couldn.t be verified|is not signed' "$tmp/deb-gpg-other.log" || fail "no signature error"
  local rc=0
  apt_root "$b" install -y sl >"$tmp/deb-gpg-other-install.log" 2>&1 || rc=$?
  cat "$tmp/deb-gpg-other-install.log"
  [ $rc -ne 0 ] || fail "installed from a repository signed by another key"
  grep -q 'Unable to locate package sl' "$tmp/deb-gpg-other-install.log" || fail "no 'Unable to locate package sl'"
  module deb-gpg-absent --root "$b" --state absent || return 1
  expect deb-gpg-absent 'r["changed"] is True' "has('${signed_by#/}', 'removed')" || return 1
  /usr/bin/python3 "$here/tree.py" snapshot "$b" "$tmp/deb-b-gpg-after.json" etc/apt etc/pip.conf "$backup_rel"
  /usr/bin/python3 "$here/tree.py" compare "$tmp/deb-b-gpg-before.json" "$tmp/deb-b-gpg-after.json" --ignore "$backup_rel"
}

# On deb-b again, claiming to be Debian 11: a one-line .list source, which apt must read too.
debian11_list() {
  local b=$tmp/deb-b osr list
  osr=$(readlink -f "$b/etc/os-release")
  case $osr in "$b"/*) ;; *) osr=$b/usr/lib/os-release ;; esac
  cp -a "$osr" "$tmp/os-release.12"
  sed -i -e 's/^VERSION_ID=.*/VERSION_ID="11"/' -e 's/^VERSION_CODENAME=.*/VERSION_CODENAME=bullseye/' \
    -e 's/^VERSION=.*/VERSION="11 (bullseye)"/' -e 's/^PRETTY_NAME=.*/PRETTY_NAME="Debian GNU\/Linux 11 (bullseye)"/' "$osr"
  cat "$osr"
  /usr/bin/python3 "$here/tree.py" snapshot "$b" "$tmp/deb-b-11-before.json" etc/apt etc/pip.conf "$backup_rel"
  local rc=0
  {
    module deb11 --root "$b" --debian-repo "$base/debs/" &&
      expect deb11 'r["changed"] is True' 'str(r["os"]["version_id"]) == "11"' 'not r["os"].get("deb822", False)' \
        'has("etc/apt/sources.list.d/airgap-kubespray.list", "created")' 'has("etc/apt/sources.list", "moved")' &&
      list=$b/etc/apt/sources.list.d/airgap-kubespray.list &&
      cat "$list" &&
      grep -Eqx "deb \[trusted=yes\] $base/debs/? \./" "$list" &&
      [ ! -e "$b/etc/apt/sources.list.d/airgap-kubespray.sources" ] &&
      apt_root "$b" update | tee "$tmp/deb11-update.log" &&
      only_local "$tmp/deb11-update.log" &&
      apt_root "$b" install -y sl &&
      module deb11-absent --root "$b" --state absent &&
      expect deb11-absent 'r["changed"] is True' 'has("etc/apt/sources.list.d/airgap-kubespray.list", "removed")' &&
      /usr/bin/python3 "$here/tree.py" snapshot "$b" "$tmp/deb-b-11-after.json" etc/apt etc/pip.conf "$backup_rel" &&
      /usr/bin/python3 "$here/tree.py" compare "$tmp/deb-b-11-before.json" "$tmp/deb-b-11-after.json" --ignore "$backup_rel"
  } || rc=$?
  cp -a "$tmp/os-release.12" "$osr"
  return $rc
}

check "debian12: untouched root's sources.list reads $mirror_host" debian_control
check "debian12: --check --diff reports the changes, writes nothing" debian_check_mode
check "debian12: present writes the deb822 source and pip.conf" debian_present
check "debian12: a second present run reports changed=false" debian_idempotent
check "debian12: apt-get update (chroot) reads 127.0.0.1 only" debian_apt_update
check "debian12: apt-get install hello sl from 127.0.0.1" debian_apt_install
check "debian12: a package not in the local repo is not found" debian_apt_missing
check "pip: the root's pip.conf downloads from 127.0.0.1 only" pip_from_root_conf
check "debian12: absent restores etc/apt, pip.conf byte for byte" debian_absent
check "debian12: present+absent leaves the whole tree as it was" debian_full_revert
check "debian12: --gpg-key: apt verifies the signed repo (Signed-By)" debian_gpg
check "debian11 (os-release): one-line .list source works, reverts" debian11_list

# --- Rocky 9 (dnf --installroot) -----------------------------------------------------------------
rocky=$tmp/rocky

rocky_control() {
  local rc=0
  dnf_root "$rocky" makecache >"$tmp/rocky-control.log" 2>&1 || rc=$?
  cat "$tmp/rocky-control.log"
  [ $rc -ne 0 ] || fail "dnf makecache succeeded with the upstream repos"
  grep -q '127.0.0.1:1' "$tmp/rocky-control.log" || fail "dnf did not try the (refusing) upstream 127.0.0.1:1"
}

rocky_present() {
  /usr/bin/python3 "$here/tree.py" snapshot "$rocky" "$tmp/rocky-before.json" etc/yum.repos.d etc/os-release etc/pip.conf "$backup_rel"
  module rocky-check --root "$rocky" --yum-repo "$base/rpms/" --check --diff || return 1
  expect rocky-check 'r["changed"] is True' 'has("etc/yum.repos.d/airgap-kubespray.repo")' '"airgap-kubespray.repo" in diff_text' || return 1
  /usr/bin/python3 "$here/tree.py" snapshot "$rocky" "$tmp/rocky-after-check.json" etc/yum.repos.d etc/os-release etc/pip.conf "$backup_rel"
  /usr/bin/python3 "$here/tree.py" compare "$tmp/rocky-before.json" "$tmp/rocky-after-check.json" || fail "check mode wrote"
  module rocky-present --root "$rocky" --yum-repo "$base/rpms/" || return 1
  expect rocky-present 'r["changed"] is True' 'not r.get("failed")' \
    'r["os"]["id"] == "rocky"' 'str(r["os"]["version_id"]).startswith("9")' \
    'has("etc/yum.repos.d/airgap-kubespray.repo", "created")' \
    'has("etc/yum.repos.d/rocky.repo", "moved")' 'has("etc/yum.repos.d/epel.repo", "moved")' || return 1
  local f=$rocky/etc/yum.repos.d/airgap-kubespray.repo
  echo "--- $f"
  cat "$f" || return 1
  grep -Eq "^baseurl *= *$base/rpms/?\$" "$f" || fail "no baseurl = $base/rpms/"
  grep -Eq '^gpgcheck *= *(0|False|no)$' "$f" || fail "no gpgcheck=0 (no gpg key given)"
  local others
  others=$(find "$rocky/etc/yum.repos.d" -mindepth 1 -maxdepth 1 ! -name airgap-kubespray.repo -printf '%f\n')
  [ -z "$others" ] || fail "other files left in yum.repos.d: $others"
  module rocky-present2 --root "$rocky" --yum-repo "$base/rpms/" || return 1
  expect rocky-present2 'r["changed"] is False'
}

rocky_dnf_install() {
  dnf_root "$rocky" repolist 2>&1 | tee "$tmp/rocky-repolist.log"
  [ "${PIPESTATUS[0]}" -eq 0 ] || return 1
  grep -q '^airgap-kubespray ' "$tmp/rocky-repolist.log" || fail "airgap-kubespray not in repolist"
  ! grep -Eq '^(baseos|appstream|epel) ' "$tmp/rocky-repolist.log" || fail "an upstream repo is still enabled"
  rm -f "$rocky"/var/log/dnf*.log # the control run logged its 127.0.0.1:1 errors there
  local mark
  mark=$(log_mark)
  dnf_root "$rocky" install airgap-test 2>&1 | tee "$tmp/rocky-install.log"
  [ "${PIPESTATUS[0]}" -eq 0 ] || return 1
  grep -Eq '^ airgap-test +noarch +1\.0-1 +airgap-kubespray ' "$tmp/rocky-install.log" || fail "not installed from airgap-kubespray"
  cat "$rocky/usr/share/airgap-test/hello.txt" || return 1
  served_since "$mark" 'GET /rpms/airgap-test-1\.0-1\.noarch\.rpm' || fail "nginx served no airgap-test rpm"
  ! grep -q '127\.0\.0\.1:1/' "$rocky"/var/log/dnf*.log || fail "dnf's logs mention the upstream 127.0.0.1:1"
}

rocky_absent() {
  module rocky-absent --root "$rocky" --state absent || return 1
  expect rocky-absent 'r["changed"] is True' 'not r.get("failed")' \
    'has("etc/yum.repos.d/rocky.repo", "restored")' 'has("etc/yum.repos.d/epel.repo", "restored")' \
    'has("etc/yum.repos.d/airgap-kubespray.repo", "removed")' || return 1
  /usr/bin/python3 "$here/tree.py" snapshot "$rocky" "$tmp/rocky-after.json" etc/yum.repos.d etc/os-release etc/pip.conf "$backup_rel"
  /usr/bin/python3 "$here/tree.py" compare "$tmp/rocky-before.json" "$tmp/rocky-after.json" --ignore "$backup_rel"
}

# A second Rocky root: --gpg-key. The key goes into the root (etc/pki/rpm-gpg) and the .repo turns
# gpgcheck on. dnf --installroot reads gpgkey=file:// paths on the HOST (dnf(8), --installroot),
# so dnf is pointed at the root's copy of the key with --setopt; gpgcheck=1 is the module's.
rocky_gpg() {
  local r=$tmp/rocky-gpg key=$tmp/gnupg-mirror/key.asc f
  "$here/fixtures.sh" rocky-root "$r"
  /usr/bin/python3 "$here/tree.py" snapshot "$r" "$tmp/rocky-gpg-before.json" etc "$backup_rel"
  # The unsigned repository first: dnf must refuse its package.
  module rocky-gpg-unsigned --root "$r" --yum-repo "$base/rpms/" --gpg-key "$key"
  expect rocky-gpg-unsigned 'r["changed"] is True' 'has("etc/yum.repos.d/airgap-kubespray.repo", "created")'
  f=$r/etc/yum.repos.d/airgap-kubespray.repo
  cat "$f"
  grep -Eq '^gpgcheck *= *(1|True|yes)$' "$f" || fail "no gpgcheck=1"
  grep -Eq '^repo_gpgcheck *= *1$' "$f" || fail "no repo_gpgcheck=1"
  grep -q 'file:///etc/pki/rpm-gpg/RPM-GPG-KEY-Rocky-9' "$f" || fail "the root's own Rocky key is not listed for the vendor-signed packages"
  local gpgkey
  gpgkey=$(sed -n 's/^gpgkey *= *\([^ ]*\).*/\1/p' "$f")  # the mirror's key comes first
  case $gpgkey in file:///*) ;; *) fail "gpgkey is not a file:// path: $gpgkey" ;; esac
  cmp "$key" "$r${gpgkey#file://}" || fail "${gpgkey#file://} in the root is not the given key"
  local with_key=(--setopt="airgap-kubespray.gpgkey=file://$r${gpgkey#file://}")
  local rc=0
  dnf_root "$r" "${with_key[@]}" install airgap-test >"$tmp/rocky-gpg-unsigned.log" 2>&1 || rc=$?
  cat "$tmp/rocky-gpg-unsigned.log"
  [ $rc -ne 0 ] || fail "dnf installed from an unsigned repository with gpgcheck on"
  # Unsigned metadata (repo_gpgcheck) or an unsigned package: either way dnf says so.
  grep -Eqi 'is not signed|signature.*(not available|verification)|GPG.*(not available|verification)' "$tmp/rocky-gpg-unsigned.log" ||
    fail "no signature error"
  # The signed one: the key is imported into the root's rpmdb, the package installs.
  module rocky-gpg-signed --root "$r" --yum-repo "$base/rpms-signed/" --gpg-key "$key"
  expect rocky-gpg-signed 'r["changed"] is True' 'has("etc/yum.repos.d/airgap-kubespray.repo", "updated")'
  dnf_root "$r" "${with_key[@]}" install airgap-test 2>&1 | tee "$tmp/rocky-gpg-signed.log"
  grep -q 'Key imported successfully' "$tmp/rocky-gpg-signed.log" || fail "dnf imported no key"
  test -f "$r/usr/share/airgap-test/hello.txt"
  module rocky-gpg-absent --root "$r" --state absent
  expect rocky-gpg-absent 'r["changed"] is True' "has('${gpgkey#file:///}', 'removed')"
  /usr/bin/python3 "$here/tree.py" snapshot "$r" "$tmp/rocky-gpg-after.json" etc "$backup_rel"
  # dnf itself creates etc/dnf in the installroot.
  /usr/bin/python3 "$here/tree.py" compare "$tmp/rocky-gpg-before.json" "$tmp/rocky-gpg-after.json" --ignore "$backup_rel" --ignore etc/dnf
}

check "rocky9: untouched repos are live (dnf tries 127.0.0.1:1)" rocky_control
check "rocky9: check mode, present, second run changed=false" rocky_present
check "rocky9: dnf --installroot installs airgap-test from 127.0.0.1" rocky_dnf_install
check "rocky9: absent restores yum.repos.d byte for byte" rocky_absent
check "rocky9: --gpg-key: dnf refuses unsigned, installs signed rpm" rocky_gpg

# --- host ----------------------------------------------------------------------------------------
host_untouched() {
  /usr/bin/python3 "$here/tree.py" snapshot / "$tmp/host-after.json" "${host_paths[@]}"
  /usr/bin/python3 "$here/tree.py" compare "$tmp/host-before.json" "$tmp/host-after.json"
}
check "host: /etc/apt, /etc/pip.conf, /etc/yum.repos.d untouched" host_untouched

# --- summary -------------------------------------------------------------------------------------
echo
info=${AIRGAP_CACHE:-/var/cache/airgap-kubespray-tests}/debian12-root.tar.info
if [ "$debootstrap_cached" = 1 ]; then
  echo "debian12 root: cached tarball (debootstrap took $(sed -n 2p "$info" 2>/dev/null || echo '?') s when made), untar ${untar_took} s"
else
  echo "debian12 root: debootstrap took $(sed -n 2p "$info" 2>/dev/null || echo '?') s (now cached), untar ${untar_took} s"
fi
[ "$protect" = 1 ] && echo "module runs: host /etc and /var/lib read-only (private mount namespace)" ||
  echo "module runs: NOT in a read-only namespace (unshare -m not allowed here)"
echo "total: $(/usr/bin/python3 -c "print('%.0f' % ($(date +%s.%N) - $run_start))") s"
# shellcheck disable=SC2154 # passed, failed: set by tests/lib/checks.sh
echo "PASS: ${#passed[@]}  FAIL: ${#failed[@]}"
for name in "${failed[@]}"; do
  echo "  FAIL: $name"
done
[ ${#failed[@]} -eq 0 ]

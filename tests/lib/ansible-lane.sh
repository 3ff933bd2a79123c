#!/usr/bin/env bash
# Ansible lanes: the ansible-core versions the tests run on, side by side on one Debian 12 host.
#
#   tests/lib/ansible-lane.sh install LANE       install LANE (idempotent) and print its bin folder
#   tests/lib/ansible-lane.sh run LANE CMD...    run CMD with LANE's ansible-* first on PATH
#   tests/lib/ansible-lane.sh each "LANES" CMD...  run CMD on each lane in turn (all of them, even
#                                                after a failure), then a line per lane: PASS/FAIL,
#                                                wall and CPU minutes; fails if any lane failed.
#                                                AIRGAP_LANE_JOBS=2: two lanes at once
#   tests/lib/ansible-lane.sh list               the lanes, one a line
#   tests/lib/ansible-lane.sh unpack-trixie DIR PKG...  Debian trixie's PKGs unpacked into DIR/root
#                                                (how lane 2.19 is made; tests/sanity/run.sh's pylint)
#   tests/lib/ansible-lane.sh source LANE        where LANE comes from; exits 1 when that is absent
#                                                (2.17 and 2.18 without ../shared/vendor)
#
# Lanes (Kubespray's own pins, playbooks/ansible_version.yml):
#   2.14  Debian 12's ansible-core (the `ansible` package tests/setup-host.sh installs); the oldest
#         version the collection supports
#   2.17  ../shared/vendor/ansible-core-2.17.5.tar.gz   (Kubespray 2.29, 2.30)
#   2.18  ../shared/vendor/ansible-core-2.18.0rc1.tar.gz (Kubespray 2.31, master)
#   2.19  Debian trixie's ansible-core .deb, downloaded with apt from Debian's archive (signature
#         checked with the archive keyring) and unpacked; nothing is installed on the host
#
# Every lane runs on Debian 12's /usr/bin/python3 with Debian's python3-jinja2, -yaml,
# -cryptography, -packaging and -resolvelib (pulled in by the `ansible` package). Lanes live in
# $AIRGAP_CACHE/ansible/<lane> (default /var/cache/airgap-kubespray), reused between runs.
# AIRGAP_VENDOR overrides where the 2.17/2.18 source tarballs are.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
cache=${AIRGAP_CACHE:-/var/cache/airgap-kubespray}
vendor=${AIRGAP_VENDOR:-$repo/../shared/vendor}
commands=(ansible ansible-config ansible-doc ansible-galaxy ansible-inventory ansible-playbook ansible-pull ansible-test ansible-vault)
lanes=(2.14 2.17 2.18 2.19)

die() { echo "ansible-lane: $*" >&2; exit 1; }

# wrappers DIR FINAL LIB SCRIPTS: DIR/bin/<cmd> runs SCRIPTS/<cmd> on Debian's python with LIB first
# on the path; LIB and SCRIPTS are relative to FINAL, where DIR is moved once complete.
wrappers() {
  local dir=$1 final=$2 lib=$3 scripts=$4 cmd
  mkdir -p "$dir/bin.tmp"
  for cmd in "${commands[@]}"; do
    [ -e "$dir/$scripts/$cmd" ] || continue
    # shellcheck disable=SC2016 # ${PYTHONPATH...} and $@ are the wrapper's, expanded when it runs
    printf '#!/bin/sh\nPYTHONPATH="%s${PYTHONPATH:+:$PYTHONPATH}" exec /usr/bin/python3 "%s" "$@"\n' \
      "$final/$lib" "$final/$scripts/$cmd" >"$dir/bin.tmp/$cmd"
    chmod 755 "$dir/bin.tmp/$cmd"
  done
  rm -rf "${dir:?}/bin"
  mv "$dir/bin.tmp" "$dir/bin"
}

# lane_lib LANE: where LANE's ansible Python package is ("" for 2.14: Debian's own, on the path)
lane_lib() {
  case $1 in
    2.14) echo "" ;;
    2.19) echo "$cache/ansible/2.19/root/usr/lib/python3/dist-packages" ;;
    *) echo "$cache/ansible/$1/src/lib" ;;
  esac
}

install_vendor() {  # LANE TARBALL
  local lane=$1 tarball=$2 dir=$cache/ansible/$1 stamp
  [ -f "$tarball" ] || die "lane $lane needs $tarball (see ../shared/vendor/README.md)"
  stamp=$(sha256sum "$tarball" | cut -c1-64)
  if [ "$(cat "$dir/.stamp" 2>/dev/null)" != "$stamp" ]; then
    rm -rf "$dir"
    mkdir -p "$dir.tmp"
    tar xzf "$tarball" -C "$dir.tmp"
    local tree
    tree=$(find "$dir.tmp" -mindepth 1 -maxdepth 1 -type d | head -1)
    mv "$tree" "$dir.tmp/src"
    wrappers "$dir.tmp" "$dir" src/lib src/bin
    echo "$stamp" >"$dir.tmp/.stamp"
    rm -rf "$dir"
    mv "$dir.tmp" "$dir"
  fi
}

# unpack_trixie DIR PACKAGE...: Debian trixie's PACKAGEs (no dependencies) downloaded with apt-get
# (signatures checked with the archive keyring) and unpacked into DIR/root; nothing is installed.
unpack_trixie() {
  local work=$1
  shift
  mkdir -p "$work/apt/lists/partial" "$work/apt/cache/archives/partial" "$work/deb"
  : >"$work/apt/status"
  echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] ${AIRGAP_DEBIAN_MIRROR:-http://deb.debian.org/debian} trixie main" \
    >"$work/apt/sources.list"
  local opts=(-q -o Dir::Etc::sourcelist="$work/apt/sources.list" -o Dir::Etc::sourceparts=/dev/null
    -o Dir::State::Lists="$work/apt/lists" -o Dir::State::status="$work/apt/status"
    -o Dir::Cache="$work/apt/cache" -o Debug::NoLocking=1 -o APT::Sandbox::User=root)
  apt-get "${opts[@]}" update >/dev/null
  (cd "$work/deb" && apt-get "${opts[@]}" download "$@" >/dev/null)
  local deb
  for deb in "$work"/deb/*.deb; do dpkg-deb -x "$deb" "$work/root"; done
  rm -rf "$work/apt" "$work/deb"
}

install_trixie() {  # LANE PACKAGE
  local lane=$1 pkg=$2 dir=$cache/ansible/$1
  [ -x "$dir/bin/ansible-playbook" ] && return 0
  local work=$dir.tmp
  rm -rf "$work"
  unpack_trixie "$work" "$pkg"
  wrappers "$work" "$dir" root/usr/lib/python3/dist-packages root/usr/bin
  rm -rf "$dir"
  mv "$work" "$dir"
}

# vendor_tarball LANE: the source tarball a vendored lane is unpacked from (empty for the others)
vendor_tarball() {
  case $1 in
    2.17) echo "$vendor/ansible-core-2.17.5.tar.gz" ;;
    2.18) echo "$vendor/ansible-core-2.18.0rc1.tar.gz" ;;
  esac
}

source_of() {  # LANE: prints where LANE comes from; 1 when a vendored lane's tarball is absent
  local tarball
  case $1 in
    2.14) echo "Debian 12's ansible-core (/usr/bin)" ;;
    2.17 | 2.18)
      tarball=$(vendor_tarball "$1")
      echo "$tarball"
      [ -f "$tarball" ] ;;
    2.19) echo "Debian trixie's ansible-core .deb" ;;
    *) die "unknown lane $1 (lanes: ${lanes[*]})" ;;
  esac
}

install() {
  case $1 in
    2.14)
      case $(/usr/bin/ansible-playbook --version 2>/dev/null | head -1) in
        *'core 2.14.'*) ;;
        *) die "lane 2.14 is Debian 12's ansible-core: run tests/setup-host.sh" ;;
      esac
      mkdir -p "$cache/ansible/2.14/bin"
      local cmd
      for cmd in "${commands[@]}"; do
        [ -x "/usr/bin/$cmd" ] && ln -sfn "/usr/bin/$cmd" "$cache/ansible/2.14/bin/$cmd"
      done
      ;;
    2.17 | 2.18) install_vendor "$1" "$(vendor_tarball "$1")" ;;
    2.19) install_trixie 2.19 ansible-core ;;
    *) die "unknown lane $1 (lanes: ${lanes[*]})" ;;
  esac
  local got
  got=$("$cache/ansible/$1/bin/ansible-playbook" --version | sed -n 's/.*\[core \([0-9.a-z]*\)\].*/\1/p')
  case $got in "$1".*) ;; *) die "lane $1 runs ansible-core $got" ;; esac
}

case ${1:-} in
  install) [ $# -eq 2 ] || die "usage: $0 install LANE"; install "$2" >&2; echo "$cache/ansible/$2/bin" ;;
  run)
    [ $# -ge 3 ] || die "usage: $0 run LANE CMD..."
    lane=$2; shift 2
    install "$lane" >&2
    # Modules on localhost run on that same python too: interpreter discovery would take the
    # first python3.N of the lane's own list on PATH, which on a machine with pyenv is a shim
    # (2.19 asks for python3.13 first, and pyenv's shim for it exits 127).
    # AIRGAP_LANE_PYTHONPATH: what python needs first on PYTHONPATH to import the lane's ansible
    # (make test-unit imports the collection's plugins on each lane's ansible-core).
    PATH="$cache/ansible/$lane/bin:$PATH" AIRGAP_ANSIBLE_LANE=$lane AIRGAP_LANE_PYTHONPATH=$(lane_lib "$lane") \
      ANSIBLE_PYTHON_INTERPRETER=${ANSIBLE_PYTHON_INTERPRETER:-/usr/bin/python3} exec "$@"
    ;;
  each)
    [ $# -ge 3 ] || die "usage: $0 each \"LANES\" CMD..."
    read -r -a each <<<"$2"
    shift 2
    # AIRGAP_LANE_JOBS=N: up to N lanes at once (each lane's output is held and printed whole, in
    # lane order). Only for suites whose runs share nothing (scratch folders, free ports).
    jobs=${AIRGAP_LANE_JOBS:-1}
    for lane in "${each[@]}"; do install "$lane" >&2; done
    work=$(mktemp -d)
    mmss() { printf '%d:%02d' $(($1 / 60)) $(($1 % 60)); }
    one() { # one LANE: runs CMD on LANE, output to $work/LANE.out, "rc wall user sys" to $work/LANE.time
      local lane=$1 rc=0 times=$work/$1.time
      shift
      # Wall and CPU seconds (user + system, children included: on a shared machine the CPU time
      # is what to budget with).
      TIMEFORMAT='%0R %0U %0S'
      { time "$0" run "$lane" "$@" >"$work/$lane.out" 2>&1 || rc=$?; } 2>"$times.t"
      echo "$rc $(cat "$times.t")" >"$times"
    }
    show() { # show LANE: its output, once it has finished
      echo "=== ansible-core $1: ${cmd[*]}"
      cat "$work/$1.out"
    }
    cmd=("$@")
    if [ "$jobs" -le 1 ]; then
      for lane in "${each[@]}"; do
        echo "=== ansible-core $lane: $*"
        rc=0
        TIMEFORMAT='%0R %0U %0S'
        exec 3>&2
        { time "$0" run "$lane" "$@" 2>&3 || rc=$?; } 2>"$work/$lane.t"
        exec 3>&-
        echo "$rc $(cat "$work/$lane.t")" >"$work/$lane.time"
      done
    else
      running=()
      for lane in "${each[@]}"; do
        while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do wait -n || true; done
        one "$lane" "$@" &
        running+=($!)
      done
      for i in "${!each[@]}"; do
        wait "${running[$i]}" || true
        show "${each[$i]}"
      done
    fi
    summary=() bad=0
    for lane in "${each[@]}"; do
      read -r rc wall user sys <"$work/$lane.time"
      result=PASS
      [ "$rc" -eq 0 ] || { result="FAIL (exit $rc)"; bad=1; }
      summary+=("ansible-core $lane: $result in $(mmss "$wall") (cpu $(mmss $((user + sys))))")
    done
    rm -rf "$work"
    echo "=== $*"
    [ "$jobs" -le 1 ] || echo "    ($jobs lanes at a time)"
    printf '    %s\n' "${summary[@]}"
    # AIRGAP_LANE_SUMMARY=FILE: the same lines appended there too (.ci/run prints them at the end).
    if [ -n "${AIRGAP_LANE_SUMMARY:-}" ]; then
      for line in "${summary[@]}"; do echo "$*: $line"; done >>"$AIRGAP_LANE_SUMMARY"
    fi
    exit $bad
    ;;
  list) printf '%s\n' "${lanes[@]}" ;;
  unpack-trixie)
    [ $# -ge 3 ] || die "usage: $0 unpack-trixie DIR PACKAGE..."
    shift
    unpack_trixie "$@"
    ;;
  source) [ $# -eq 2 ] || die "usage: $0 source LANE"; source_of "$2" ;;
  *) die "usage: $0 install LANE | run LANE CMD... | each \"LANES\" CMD... | list | source LANE | unpack-trixie DIR PKG..." ;;
esac

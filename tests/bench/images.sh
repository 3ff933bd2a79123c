#!/usr/bin/env bash
# Benchmark: offline_image_push from an OCI layout against the usual ways of filling a private
# registry from an image bundle, on a synthetic Kubespray-like image set (tests/tools/imageset:
# about 20 images, 1.2 GB, shared base layers).
#
#   tests/bench/images.sh            (what `make bench-images` runs)
#
# Every tool pushes the same images under the same names (upstream host stripped, as Kubespray's
# *_image_repo variables expect: registry.k8s.io/pause:3.10 -> 127.0.0.1:PORT/pause:3.10) into a
# registry of its own (Debian's docker-registry on 127.0.0.1 with an empty data folder, via
# tests/lib/registry.sh), so none profits from blobs another one pushed:
#
#   offline_image_push  airgap offline_image_push --src LAYOUT --registry 127.0.0.1:PORT --insecure-registries 127.0.0.1:PORT
#                       (LAYOUT made once beforehand by offline_image_pull from an upstream registry
#                       on loopback; not timed)
#   skopeo loop         one `skopeo copy SRC docker://127.0.0.1:PORT/TARGET` per image; SRC is
#                       oci:LAYOUT:REF if skopeo 1.9 can read the layout (only OCI media types in
#                       index.json), else (a layout keeping Docker schema 2 manifests) the per-image
#                       tar.gz gunzipped to a temporary file, as docker-archive:FILE
#   nerdctl             kubespray-offline's load-push-all-images.sh: `nerdctl load -i` of every
#                       images/*.tar.gz, then `nerdctl tag` + `nerdctl push` per image (nerdctl
#                       v1.7.7 built from the Go module proxy, Debian's containerd 1.6)
#   podman              the same with podman 4.3 (`gunzip -c | podman load`: podman 4.3 does not
#                       read a gzipped docker-save file given with -i), vfs storage
#
# then the rerun of each into the same registry (everything already there; the nerdctl and podman
# reruns keep their image store, as a second run of the script on the same host would). One run of
# each (they are long). Then the bundle sizes: the OCI layout vs kubespray-offline's per-image
# tar.gz files vs contrib/offline's one container-images.tar.gz. It prints times, ratios, sizes and
# the acceptance checks, and exits 1 if any fails:
#
#   offline_image_push <= 0.15x nerdctl load/tag/push (podman's if nerdctl is not measured)
#   offline_image_push <= 0.5x  the skopeo loop
#   offline_image_push rerun < 1 s
#   OCI layout         <= 0.9x  the per-image tar.gz files
#
# Confinement: containerd runs as an instance of its own (config, root, state, sockets under
# BENCH_DIR, CRI plugin off); nerdctl gets its own data root, hosts dir and config; podman its own
# root, runroot, tmpdir, containers.conf (CNI backend, config dir under BENCH_DIR, no events) and
# storage.conf; podman and skopeo run in a private mount namespace where /var/lib is a folder of
# BENCH_DIR, so their blob-info cache (/var/lib/containers/cache for root) is not the host's.
# Nothing listens beyond 127.0.0.1; no container runs; the host network config is not touched.
#
# Environment:
#   BENCH_DIR      work folder; the image set, the layout and built binaries are cached here
#                  (/tmp/airgap-bench-images); needs about 20 GB free during a run, 5 GB after
#   BENCH_SETTLE   seconds to let the disk settle after (re)writing the set or the layout  (20)
#   BENCH_TOOLS    what to measure, among: push skopeo nerdctl podman   (all four)
#   PUSH_ARGS      extra arguments for offline_image_push, e.g. "-j 8"  (none)
#   PULL_ARGS      extra arguments for offline_image_pull               (none)
#   AIRGAP_BIN     a prebuilt airgap multi-call binary for this host; if unset it is built from
#                  ./modules/airgap into BENCH_DIR/bin
#   NERDCTL_BIN    a prebuilt nerdctl; if unset nerdctl v1.7.7 is built once into BENCH_DIR/bin
#   IMAGESET_ARGS  extra arguments for the image set generator (tests/tools/imageset)
#   SKOPEO_SOURCE  oci, archive or auto (see the skopeo loop above)      (auto)
#   BENCH_SNAPSHOTTER  containerd snapshotter       (overlayfs if it mounts here, else native)
#   BENCH_KEEP     1: keep the registries and image stores of the run under BENCH_DIR/run
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
SELF=$REPO/tests/bench/images.sh
REGISTRY_SH=$REPO/tests/lib/registry.sh
HELPER=$REPO/tests/bench/lib/images.py

export PATH=$PATH:/usr/local/go/bin:/usr/sbin:/sbin
BENCH_DIR=$(realpath -m "${BENCH_DIR:-/tmp/airgap-bench-images}")
BENCH_TOOLS=${BENCH_TOOLS:-push skopeo nerdctl podman}
PUSH_ARGS=${PUSH_ARGS:-}
PULL_ARGS=${PULL_ARGS:-}
IMAGESET_ARGS=${IMAGESET_ARGS:-}
SKOPEO_SOURCE=${SKOPEO_SOURCE:-auto}
NERDCTL_VERSION=v1.7.7

WROTE_DATA=0
SET=$BENCH_DIR/set             # generated image set: bundles, images.list, imageset.json
UPSTREAM=$BENCH_DIR/upstream   # the upstream registry the set was pushed to (data kept)
LAYOUT=$BENCH_DIR/layout       # the OCI layout offline_image_pull made from the upstream registry
RUN=$BENCH_DIR/run             # per-run registries, image stores, logs
VARLIB=$BENCH_DIR/varlib       # /var/lib as podman and skopeo see it (private mount namespace)

log() { printf '==> %s\n' "$*" >&2; }
die() { printf 'bench-images: %s\n' "$*" >&2; exit 1; }
has_tool() { case " $BENCH_TOOLS " in *" $1 "*) return 0 ;; *) return 1 ;; esac; }
helper() { python3 "$HELPER" "$@"; }

# --- binaries ------------------------------------------------------------------------------------

build_airgap() {
  if [ -n "${AIRGAP_BIN:-}" ]; then
    [ -x "$AIRGAP_BIN" ] || die "AIRGAP_BIN=$AIRGAP_BIN is not an executable"
  else
    AIRGAP_BIN=$BENCH_DIR/bin/airgap
    log "building airgap (offline_image_pull, offline_image_push)"
    mkdir -p "$BENCH_DIR/bin"
    (cd "$REPO" && CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o "$AIRGAP_BIN" ./modules/airgap)
  fi
  local m
  for m in offline_image_pull offline_image_push; do
    "$AIRGAP_BIN" "$m" --help >/dev/null 2>&1 || die "$AIRGAP_BIN does not run $m (\`$AIRGAP_BIN $m --help\` fails)"
  done
}

# nerdctl v1.7.7 (kubespray-offline's tool), built once in a scratch module: `go install
# pkg@version` fails here, as it also asks the module proxy for nerdctl's version list (for the
# deprecation check), which the proxy this runs against refuses (403).
build_nerdctl() {
  if [ -n "${NERDCTL_BIN:-}" ]; then
    [ -x "$NERDCTL_BIN" ] || die "NERDCTL_BIN=$NERDCTL_BIN is not an executable"
    return
  fi
  NERDCTL_BIN=$BENCH_DIR/bin/nerdctl
  if [ -x "$NERDCTL_BIN" ] && "$NERDCTL_BIN" --version 2>/dev/null | grep -q "version ${NERDCTL_VERSION#v}"; then
    return
  fi
  log "building nerdctl $NERDCTL_VERSION from the Go module proxy (once; cached in $BENCH_DIR/bin)"
  local src=$BENCH_DIR/nerdctl-src try
  for try in 1 2; do
    rm -rf "$src"
    mkdir -p "$src" "$BENCH_DIR/bin"
    if (cd "$src" && go mod init scratch && go get "github.com/containerd/nerdctl/cmd/nerdctl@$NERDCTL_VERSION" &&
      CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o "$NERDCTL_BIN.tmp" github.com/containerd/nerdctl/cmd/nerdctl) \
      >"$BENCH_DIR/nerdctl-build.log" 2>&1; then
      mv "$NERDCTL_BIN.tmp" "$NERDCTL_BIN"
      return
    fi
    log "nerdctl build attempt $try failed: $(tail -n 3 "$BENCH_DIR/nerdctl-build.log" | tr '\n' ' ')"
  done
  die "building nerdctl $NERDCTL_VERSION failed; see $BENCH_DIR/nerdctl-build.log"
}

# --- the image set and the layout ----------------------------------------------------------------

# Runs the generator (tests/tools/imageset) once; it writes the bundles and pushes the images to
# an upstream registry on loopback whose data folder is kept and reused (repositories are named
# <upstream host>/<path>, so the data does not depend on the port).
prepare_set() {
  local up_port
  up_port=$("$REGISTRY_SH" free-port)
  "$REGISTRY_SH" start "$UPSTREAM" "$up_port" >/dev/null
  UPSTREAM_ADDR=127.0.0.1:$up_port
  if [ -f "$SET/.done" ] && [ "$(cat "$SET/.done")" = "$(set_stamp)" ] && [ -d "$UPSTREAM/data/docker" ]; then
    log "reusing the image set in $SET"
    return
  fi
  [ -d "$REPO/tests/tools/imageset" ] || die "tests/tools/imageset (the image set generator) is missing"
  log "generating the image set into $SET (about 1.2 GB at --scale 1; pushed to the upstream registry $UPSTREAM_ADDR)"
  rm -rf "$SET" "$LAYOUT"
  "$REGISTRY_SH" stop "$UPSTREAM"
  rm -rf "$UPSTREAM/data"
  "$REGISTRY_SH" start "$UPSTREAM" "$up_port" >/dev/null
  mkdir -p "$SET"
  # shellcheck disable=SC2086 # IMAGESET_ARGS is a list of words on purpose
  (cd "$REPO" && CGO_ENABLED=0 go build -o "$BENCH_DIR/bin/imageset" ./tests/tools/imageset) || die "building tests/tools/imageset failed"
  # shellcheck disable=SC2086 # IMAGESET_ARGS: several arguments, split on purpose
  "$BENCH_DIR/bin/imageset" --out "$SET" --registry "$UPSTREAM_ADDR" $IMAGESET_ARGS >"$BENCH_DIR/imageset.log" 2>&1 ||
    { tail -n 20 "$BENCH_DIR/imageset.log" >&2; die "the image set generator failed"; }
  sed 's/^/    /' "$BENCH_DIR/imageset.log" >&2
  set_stamp >"$SET/.done"
  WROTE_DATA=1
}

set_stamp() {
  (cd "$REPO" && find tests/tools/imageset -name '*.go' ! -name '*_test.go' | sort | xargs cat; echo "$IMAGESET_ARGS") |
    sha256sum | cut -d' ' -f1
}

# The files of the generated set (tests/tools/imageset/internal/imageset/bundle.go).
locate_set() {
  SET_LIST=$SET/images.list
  SET_PERIMAGE=$SET/kubespray-offline/images
  SET_CONTRIB=$SET/contrib-offline/container-images.tar.gz
  local f
  for f in "$SET_LIST" "$SET_CONTRIB" "$SET/imageset.json"; do
    [ -f "$f" ] || die "the image set in $SET has no $f"
  done
  N_IMAGES=$(helper targets "$SET_LIST" | wc -l)
  local n_tgz
  n_tgz=$(find "$SET_PERIMAGE" -maxdepth 1 -name '*.tar.gz' | wc -l)
  [ "$n_tgz" -eq "$N_IMAGES" ] || die "$N_IMAGES images in $SET_LIST but $n_tgz tar.gz files in $SET_PERIMAGE"
}

# The OCI layout of the set, made once by offline_image_pull from the upstream registry (the
# images keep their upstream names; a mirror rule per upstream host sends the pulls to loopback).
prepare_layout() {
  if ! has_tool push && [ -f "$LAYOUT/index.json" ]; then
    log "reusing the OCI layout in $LAYOUT (offline_image_push not measured)"
    return
  fi
  local stamp
  stamp=$( (cat "$SET/.done"; sha256sum <"$AIRGAP_BIN"; echo "$PULL_ARGS") | sha256sum | cut -d' ' -f1)
  if [ -f "$LAYOUT.done" ] && [ "$(cat "$LAYOUT.done")" = "$stamp" ] && [ -f "$LAYOUT/index.json" ]; then
    log "reusing the OCI layout in $LAYOUT"
    return
  fi
  log "making the OCI layout with offline_image_pull (not timed)"
  rm -rf "$LAYOUT" "$LAYOUT.done"
  local hosts mirrors="" h
  hosts=$(helper targets "$SET_LIST" | cut -f2 | cut -d/ -f1 | sort -u)  # upstream hosts
  for h in $hosts; do
    mirrors+="${mirrors:+, }{prefix: $h, replace: $UPSTREAM_ADDR/$h}"
  done
  # shellcheck disable=SC2086 # PULL_ARGS is a list of words on purpose
  "$AIRGAP_BIN" offline_image_pull --list "$SET_LIST" --dest "$LAYOUT" --registry-mirrors "[$mirrors]" \
    --insecure-registries "$UPSTREAM_ADDR" $PULL_ARGS >"$BENCH_DIR/pull.json" 2>"$BENCH_DIR/pull.log" ||
    die "offline_image_pull failed: $(head -c 2000 "$BENCH_DIR/pull.json") $(tail -n 5 "$BENCH_DIR/pull.log")"
  echo "$stamp" >"$LAYOUT.done"
  WROTE_DATA=1
}

# --- registries ----------------------------------------------------------------------------------

# fresh_registry NAME: an empty registry of its own for one tool; sets REG (host:port).
fresh_registry() {
  local work=$RUN/reg-$1 port
  "$REGISTRY_SH" stop "$work"
  rm -rf "$work"
  port=$("$REGISTRY_SH" free-port)
  "$REGISTRY_SH" start "$work" "$port" >/dev/null
  REG=127.0.0.1:$port
}

# check_registry NAME: every image of the set is in the tool's registry under its target name.
check_registry() {
  helper check-registry "http://$REG" "$SET_LIST" >/dev/null || die "$1 left images missing in its registry"
}

registry_bytes() { helper registry-bytes "$RUN/reg-$1/data"; }

# --- the tools under test ------------------------------------------------------------------------

run_push() {
  # shellcheck disable=SC2086 # PUSH_ARGS is a list of words on purpose
  "$AIRGAP_BIN" offline_image_push --src "$LAYOUT" --registry "$REG" --insecure-registries "$REG" $PUSH_ARGS \
    >"$RUN/push.json" 2>"$RUN/run_push.log"
}

# One skopeo copy per image, from the OCI layout when skopeo can read it (SKOPEO_SOURCE=oci),
# else from kubespray-offline's per-image tar.gz (SKOPEO_SOURCE=archive): skopeo 1.9's oci:
# transport only finds index.json entries with OCI media types (a layout that keeps Docker
# schema 2 manifests as pulled has none), and its docker-archive: transport does not read a
# gzipped tarball, so each one is gunzipped to a temporary file first.
run_skopeo() {
  local ref tgt mode all f
  if [ "$SKOPEO_SOURCE" = oci ]; then
    while IFS=$'\t' read -r ref tgt mode _; do
      all=()
      [ "$mode" = all ] && all=(--all)
      skopeo_ copy -q "${all[@]}" --dest-tls-verify=false "oci:$LAYOUT:$ref" "docker://$REG/$tgt" \
        >>"$RUN/run_skopeo.log" 2>&1 || return 1
    done <"$RUN/layout-refs"
  else
    while IFS=$'\t' read -r f ref tgt; do
      gunzip -c "$f" >"$RUN/skopeo-image.tar" || return 1
      skopeo_ copy -q --dest-tls-verify=false "docker-archive:$RUN/skopeo-image.tar" "docker://$REG/$tgt" \
        >>"$RUN/run_skopeo.log" 2>&1 || return 1
      rm -f "$RUN/skopeo-image.tar"
    done <"$RUN/archives"
  fi
}

skopeo_() { skopeo --policy "$RUN/policy.json" --registries.d "$RUN/registries.d" "$@"; }

nerdctl_() {
  NERDCTL_TOML=$RUN/nerdctl.toml "$NERDCTL_BIN" --address "$RUN/containerd/containerd.sock" \
    --namespace bench --data-root "$RUN/nerdctl" --hosts-dir "$RUN/certs.d" \
    --snapshotter "$SNAPSHOTTER" "$@"
}

# kubespray-offline's load-push-all-images.sh: load every bundle, then tag and push every image.
run_nerdctl() {
  local f src norm tgt
  for f in "$SET_PERIMAGE"/*.tar.gz; do
    nerdctl_ load -i "$f" >>"$RUN/run_nerdctl.log" 2>&1 || return 1
  done
  while IFS=$'\t' read -r src norm tgt; do
    nerdctl_ tag "$norm" "$REG/$tgt" >>"$RUN/run_nerdctl.log" 2>&1 || return 1
    nerdctl_ push --insecure-registry "$REG/$tgt" >>"$RUN/run_nerdctl.log" 2>&1 || return 1
  done <"$RUN/targets"
}

podman_() {
  podman --root "$RUN/podman/root" --runroot "$RUN/podman/run" --storage-driver vfs \
    --tmpdir "$RUN/podman/tmp" --events-backend none --network-config-dir "$RUN/podman/net" "$@"
}

run_podman() {
  local f src norm tgt
  for f in "$SET_PERIMAGE"/*.tar.gz; do
    gunzip -c "$f" | podman_ load -q >>"$RUN/run_podman.log" 2>&1 || return 1
  done
  while IFS=$'\t' read -r src norm tgt; do
    podman_ tag "$norm" "$REG/$tgt" >>"$RUN/run_podman.log" 2>&1 || return 1
    podman_ push -q --tls-verify=false "$REG/$tgt" >>"$RUN/run_podman.log" 2>&1 || return 1
  done <"$RUN/targets"
}

# --- confinement ---------------------------------------------------------------------------------

write_configs() {
  mkdir -p "$RUN/registries.d" "$RUN/certs.d" "$RUN/podman" "$VARLIB" "$RUN/tmp"
  echo '{"default": [{"type": "insecureAcceptAnything"}]}' >"$RUN/policy.json"
  : >"$RUN/nerdctl.toml"
  : >"$RUN/registries.conf"
  cat >"$RUN/podman/containers.conf" <<EOF
[engine]
events_logger = "none"
tmp_dir = "$RUN/podman/tmp"
[network]
network_backend = "cni"
network_config_dir = "$RUN/podman/net"
EOF
  cat >"$RUN/podman/storage.conf" <<EOF
[storage]
driver = "vfs"
graphroot = "$RUN/podman/root"
runroot = "$RUN/podman/run"
EOF
  # for podman and skopeo: no host registries.conf / containers.conf / storage.conf, temp files here
  export CONTAINERS_CONF=$RUN/podman/containers.conf CONTAINERS_STORAGE_CONF=$RUN/podman/storage.conf
  export CONTAINERS_REGISTRIES_CONF=$RUN/registries.conf TMPDIR=$RUN/tmp
}

# ns_timed FUNC: runs `timed FUNC` in a private mount namespace where /var/lib is VARLIB, so
# containers/image's blob-info cache (/var/lib/containers/cache for root) stays in BENCH_DIR.
ns_timed() {
  export BENCH_NS_VARLIB=$VARLIB BENCH_DIR SET_PERIMAGE REG SKOPEO_SOURCE
  unshare --mount --propagation private "$SELF" __ns_timed "$1"
}

ns_entry() {
  mount --bind "$BENCH_NS_VARLIB" /var/lib
  timed "$1"
}

containerd_start() {
  local w=$RUN/containerd
  containerd_stop
  rm -rf "$w"
  mkdir -p "$w"
  cat >"$w/config.toml" <<EOF
version = 2
root = "$w/root"
state = "$w/state"
disabled_plugins = ["io.containerd.grpc.v1.cri", "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper",
  "io.containerd.snapshotter.v1.aufs", "io.containerd.tracing.processor.v1.otlp"]
[grpc]
  address = "$w/containerd.sock"
[ttrpc]
  address = "$w/containerd.sock.ttrpc"
[debug]
  address = "$w/debug.sock"
[metrics]
  address = ""
[plugins."io.containerd.internal.v1.opt"]
  path = "$w/opt"
EOF
  setsid containerd --config "$w/config.toml" >"$w/containerd.log" 2>&1 </dev/null &
  echo $! >"$w/containerd.pid"
  local _
  for _ in $(seq 1 100); do
    [ -S "$w/containerd.sock" ] && "$NERDCTL_BIN" --address "$w/containerd.sock" --namespace bench \
      --data-root "$RUN/nerdctl" images >/dev/null 2>&1 && return 0
    kill -0 "$(cat "$w/containerd.pid")" 2>/dev/null || break
    sleep 0.1
  done
  tail -n 20 "$w/containerd.log" >&2
  die "containerd did not start (config $w/config.toml)"
}

containerd_stop() {
  local pidf=$RUN/containerd/containerd.pid pid
  [ -f "$pidf" ] || return 0
  pid=$(cat "$pidf")
  if kill -0 "$pid" 2>/dev/null && grep -qa containerd "/proc/$pid/cmdline" 2>/dev/null; then
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -9 "$pid" 2>/dev/null || true
  fi
  rm -f "$pidf"
}

# overlayfs when the kernel lets containerd mount it here, else native (full copies).
pick_snapshotter() {
  SNAPSHOTTER=${BENCH_SNAPSHOTTER:-}
  [ -n "$SNAPSHOTTER" ] && return
  SNAPSHOTTER=native
  local t=$RUN/ovl-test
  mkdir -p "$t/l" "$t/u" "$t/w" "$t/m"
  if mount -t overlay overlay -o "lowerdir=$t/l,upperdir=$t/u,workdir=$t/w" "$t/m" 2>/dev/null; then
    umount "$t/m"
    SNAPSHOTTER=overlayfs
  fi
  rm -rf "$t"
}

cleanup() {
  containerd_stop || true
  local w
  for w in "$RUN"/reg-*; do
    [ -d "$w" ] && "$REGISTRY_SH" stop "$w"
  done
  "$REGISTRY_SH" stop "$UPSTREAM" || true
  if [ "${BENCH_KEEP:-0}" != 1 ]; then
    rm -rf "$RUN"
  fi
}

# --- measuring -----------------------------------------------------------------------------------

# timed FUNC: runs FUNC and prints its wall-clock seconds on stdout.
timed() {
  local t0 t1 rc=0
  t0=$EPOCHREALTIME
  "$1" || rc=$?
  t1=$EPOCHREALTIME
  if [ "$rc" -ne 0 ]; then
    [ -s "$RUN/$1.log" ] && tail -n 20 "$RUN/$1.log" >&2
    [ "$1" = run_push ] && head -c 2000 "$RUN/push.json" >&2
    die "$1 failed (exit $rc)"
  fi
  awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f\n", b - a }'
}

declare -A FIRST=() RERUN=() REGBYTES=()

measure() { # measure TOOL
  local tool=$1
  fresh_registry "$tool"
  case $tool in
    nerdctl) containerd_start ;;
    podman) rm -rf "$RUN/podman/root" "$RUN/podman/run" "$RUN/podman/tmp" "$RUN/podman/net"; mkdir -p "$RUN/podman/tmp" ;;
  esac
  rm -rf "${VARLIB:?}/containers" # no blob-info cache from an earlier tool or run
  sync
  log "$tool: first push into an empty registry ($REG)"
  case $tool in
    push | nerdctl) FIRST[$tool]=$(timed "run_$tool") ;;
    skopeo | podman) FIRST[$tool]=$(ns_timed "run_$tool") ;;
  esac
  check_registry "$tool"
  REGBYTES[$tool]=$(registry_bytes "$tool")
  if [ "$tool" = push ]; then
    helper json-check "$RUN/push.json" changed true ||
      die "unexpected offline_image_push result: $(head -c 2000 "$RUN/push.json")"
    cp "$RUN/push.json" "$RUN/push-first.json"
  fi
  sync
  log "$tool: ${FIRST[$tool]} s; rerun into the same registry"
  case $tool in
    push | nerdctl) RERUN[$tool]=$(timed "run_$tool") ;;
    skopeo | podman) RERUN[$tool]=$(ns_timed "run_$tool") ;;
  esac
  check_registry "$tool"
  if [ "$tool" = push ]; then
    helper json-check "$RUN/push.json" changed false ||
      die "unexpected offline_image_push rerun result: $(head -c 2000 "$RUN/push.json")"
  fi
  log "$tool: rerun ${RERUN[$tool]} s"
  # Stop the tool's servers but delete nothing until the end: deleting gigabytes (ext4 with
  # discard) slows the disk down for the next tool.
  [ "$tool" = nerdctl ] && containerd_stop
  "$REGISTRY_SH" stop "$RUN/reg-$tool"
}

# settle: after writing gigabytes (a new image set or layout), flush them and give the disk a
# moment; a push measured right after ran up to 2x slower here.
settle() {
  [ "$WROTE_DATA" = 1 ] || return 0
  log "flushing the new data and letting the disk settle for ${BENCH_SETTLE:-20} s"
  sync
  sleep "${BENCH_SETTLE:-20}"
}

# --- report --------------------------------------------------------------------------------------

ratio() { awk -v a="$1" -v b="$2" -v d="${3:-2}" 'BEGIN { if (b == 0) print "-"; else printf "%.*f", d, a / b }'; }
le() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a <= b) }'; }
lt() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a < b) }'; }
mb() { awk -v b="$1" 'BEGIN { printf "%.1f", b / 1e6 }'; }

report() {
  local set_bytes
  set_bytes=$(du -sb "$UPSTREAM/data" | cut -f1)
  echo
  echo "bench-images: $N_IMAGES images, $(mb "$set_bytes") MB in the upstream registry, $(nproc) cores;"
  echo "registries: docker-registry $(dpkg-query -W -f '${Version}' docker-registry 2>/dev/null) on 127.0.0.1, one empty registry per tool;"
  echo "one run of each (no repetitions); containerd snapshotter: $SNAPSHOTTER, podman storage: vfs"
  echo
  local -A label=(
    [push]="offline_image_push${PUSH_ARGS:+ $PUSH_ARGS}"
    [skopeo]="skopeo copy loop ($([ "$SKOPEO_SOURCE" = oci ] && echo "oci: layout" || echo "per-image tar.gz"))"
    [nerdctl]="nerdctl $NERDCTL_VERSION load+tag+push"
    [podman]="podman $(podman --version 2>/dev/null | awk '{print $3}') load+tag+push"
  )
  printf '%-36s %9s %9s %10s %10s %10s %11s\n' tool "first s" "rerun s" "/nerdctl" "/podman" "/skopeo" "pushed MB"
  printf '%-36s %9s %9s %10s %10s %10s %11s\n' ------------------------------------ --------- --------- ---------- ---------- ---------- -----------
  local t
  for t in push skopeo nerdctl podman; do
    has_tool "$t" || continue
    local rn=- rp=- rs=-
    [ -n "${FIRST[nerdctl]:-}" ] && rn=$(ratio "${FIRST[$t]}" "${FIRST[nerdctl]}")x
    [ -n "${FIRST[podman]:-}" ] && rp=$(ratio "${FIRST[$t]}" "${FIRST[podman]}")x
    [ -n "${FIRST[skopeo]:-}" ] && rs=$(ratio "${FIRST[$t]}" "${FIRST[skopeo]}")x
    printf '%-36s %9.2f %9.2f %10s %10s %10s %11s\n' "${label[$t]}" "${FIRST[$t]}" "${RERUN[$t]}" "$rn" "$rp" "$rs" "$(mb "${REGBYTES[$t]}")"
  done
  echo "(ratios: first-push time over the column tool's first-push time; pushed MB: blob bytes the"
  echo " tool's registry holds afterwards: more than the upstream blobs when a tool recompresses layers)"
  [ "${SKOPEO_SOURCE:-}" = archive ] && has_tool skopeo &&
    echo "(skopeo 1.9 cannot read this layout: its oci: transport finds only OCI media types in index.json)"

  local s_layout s_perimage s_contrib
  s_layout=$(du -sb "$LAYOUT" | cut -f1)
  s_perimage=$(find "$SET_PERIMAGE" -maxdepth 1 -name '*.tar.gz' -printf '%s\n' | awk '{s += $1} END {print s}')
  s_contrib=$(stat -c %s "$SET_CONTRIB")
  echo
  printf '%-52s %10s %14s\n' bundle MB "vs per-image"
  printf '%-52s %10s %14s\n' ---------------------------------------------------- ---------- --------------
  printf '%-52s %10s %13sx\n' "OCI layout (offline_image_pull; du -sb)" "$(mb "$s_layout")" "$(ratio "$s_layout" "$s_perimage")"
  printf '%-52s %10s %13sx\n' "per-image tar.gz, $N_IMAGES files (kubespray-offline)" "$(mb "$s_perimage")" 1.00
  printf '%-52s %10s %13sx\n' "container-images.tar.gz (contrib/offline)" "$(mb "$s_contrib")" "$(ratio "$s_contrib" "$s_perimage")"
  echo

  local failed=0
  check() { # check LABEL VALUE LIMIT [lt]
    local ok=0
    if [ "${4:-le}" = lt ]; then lt "$2" "$3" && ok=1; else le "$2" "$3" && ok=1; fi
    if [ "$ok" = 1 ]; then
      printf 'PASS  %-52s %s %s %s\n' "$1" "$2" "$([ "${4:-le}" = lt ] && echo '<' || echo '<=')" "$3"
    else
      printf 'FAIL  %-52s %s %s %s\n' "$1" "$2" "$([ "${4:-le}" = lt ] && echo '>=' || echo '>')" "$3"
      failed=1
    fi
  }
  if has_tool push; then
    if [ -n "${FIRST[nerdctl]:-}" ]; then
      check "offline_image_push / nerdctl load+tag+push" "$(ratio "${FIRST[push]}" "${FIRST[nerdctl]}" 3)" 0.15
      [ -n "${FIRST[podman]:-}" ] &&
        printf 'INFO  %-52s %s\n' "offline_image_push / podman load+tag+push" "$(ratio "${FIRST[push]}" "${FIRST[podman]}" 3)"
    elif [ -n "${FIRST[podman]:-}" ]; then
      check "offline_image_push / podman load+tag+push" "$(ratio "${FIRST[push]}" "${FIRST[podman]}" 3)" 0.15
    fi
    [ -n "${FIRST[skopeo]:-}" ] &&
      check "offline_image_push / skopeo copy loop" "$(ratio "${FIRST[push]}" "${FIRST[skopeo]}" 3)" 0.5
    check "offline_image_push rerun (s)" "${RERUN[push]}" 1 lt
  fi
  check "OCI layout / per-image tar.gz size" "$(ratio "$s_layout" "$s_perimage" 3)" 0.9
  return "$failed"
}

# --- main ----------------------------------------------------------------------------------------

main() {
  local c
  for c in python3 curl unshare; do command -v "$c" >/dev/null || die "$c is not installed"; done
  has_tool skopeo && { command -v skopeo >/dev/null || die "skopeo is not installed (run tests/setup-host.sh)"; }
  has_tool podman && { command -v podman >/dev/null || die "podman is not installed (run tests/setup-host.sh)"; }
  has_tool nerdctl && { command -v containerd >/dev/null || die "containerd is not installed (run tests/setup-host.sh)"; }
  [ "$(id -u)" = 0 ] || die "run as root (containerd, podman's vfs store and the mount namespace need it)"
  mkdir -p "$BENCH_DIR"
  local avail_gb
  avail_gb=$(df -P -BG "$BENCH_DIR" | awk 'NR == 2 { sub("G", "", $4); print $4 }')
  [ "$avail_gb" -ge 20 ] || log "warning: $avail_gb GB free in $BENCH_DIR; a first run needs about 20 GB"
  trap cleanup EXIT
  rm -rf "$RUN"
  mkdir -p "$RUN"
  write_configs

  has_tool nerdctl && build_nerdctl
  if has_tool push || [ ! -f "$LAYOUT/index.json" ]; then build_airgap; fi
  prepare_set
  locate_set
  prepare_layout
  helper targets "$SET_LIST" >"$RUN/targets"
  helper layout-refs "$LAYOUT" >"$RUN/layout-refs"
  helper archives "$SET" >"$RUN/archives"
  local n_refs
  n_refs=$(wc -l <"$RUN/layout-refs")
  [ "$n_refs" -eq "$N_IMAGES" ] || die "the layout names $n_refs images, the list $N_IMAGES"
  if [ "$SKOPEO_SOURCE" = auto ]; then
    SKOPEO_SOURCE=oci
    if cut -f4 "$RUN/layout-refs" | grep -qv '^oci$'; then SKOPEO_SOURCE=archive; fi
  fi
  has_tool nerdctl && pick_snapshotter
  SNAPSHOTTER=${SNAPSHOTTER:-native}

  settle
  local t
  for t in push skopeo nerdctl podman; do
    if has_tool "$t"; then measure "$t"; fi
  done
  report
}

if [ "${1:-}" = __ns_timed ]; then
  ns_entry "$2"
else
  main "$@"
fi

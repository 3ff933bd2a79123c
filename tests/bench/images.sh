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
BENCH_NAME=bench-images
RUN_NAME=run
# shellcheck source=tests/bench/lib/imageset.sh
. "$REPO/tests/bench/lib/imageset.sh"

BENCH_TOOLS=${BENCH_TOOLS:-push skopeo nerdctl podman}
NERDCTL_VERSION=v1.7.7

has_tool() { case " $BENCH_TOOLS " in *" $1 "*) return 0 ;; *) return 1 ;; esac; }

# --- binaries ------------------------------------------------------------------------------------

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

# --- the tools under test ------------------------------------------------------------------------

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
  skopeo_configs
  mkdir -p "$RUN/certs.d" "$RUN/podman"
  : >"$RUN/nerdctl.toml"
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
  # for podman and skopeo: no host containers.conf / storage.conf
  export CONTAINERS_CONF=$RUN/podman/containers.conf CONTAINERS_STORAGE_CONF=$RUN/podman/storage.conf
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
  stop_registries
  if [ "${BENCH_KEEP:-0}" != 1 ]; then
    rm -rf "$RUN"
  fi
}

# --- measuring -----------------------------------------------------------------------------------

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

# --- report --------------------------------------------------------------------------------------

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
  return "$CHECK_FAILED"
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
  has_tool push || LAYOUT_REUSE=1
  prepare_layout
  helper targets "$SET_LIST" >"$RUN/targets"
  skopeo_lists
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

# shellcheck shell=bash
# What tests/bench/images.sh and tests/bench/mirror.sh share: the synthetic Kubespray-like image
# set (tests/tools/imageset) pushed to an upstream registry on loopback, its OCI layout made by
# offline_image_pull, throw-away registries, the skopeo loop and its confinement, timing and the
# acceptance-check printer. Sourced, not run. The caller sets, before sourcing:
#
#   REPO        the checkout's root
#   SELF        the calling script (ns_timed runs `SELF __ns_timed FUNC` in a mount namespace)
#   BENCH_NAME  prefix of error messages (bench-images, bench-mirror)
#   RUN_NAME    folder of BENCH_DIR for the run's registries and logs (run)
#
# Environment read here (see tests/bench/README.md): BENCH_DIR, BENCH_SETTLE, PUSH_ARGS,
# PULL_ARGS, IMAGESET_ARGS, SKOPEO_SOURCE, AIRGAP_BIN.

REGISTRY_SH=$REPO/tests/lib/registry.sh
HELPER=$REPO/tests/bench/lib/images.py

export PATH=$PATH:/usr/local/go/bin:/usr/sbin:/sbin
BENCH_DIR=$(realpath -m "${BENCH_DIR:-/tmp/airgap-bench-images}")
PUSH_ARGS=${PUSH_ARGS:-}
PULL_ARGS=${PULL_ARGS:-}
IMAGESET_ARGS=${IMAGESET_ARGS:-}
SKOPEO_SOURCE=${SKOPEO_SOURCE:-auto}

WROTE_DATA=0
SET=$BENCH_DIR/set             # generated image set: bundles, images.list, imageset.json
UPSTREAM=$BENCH_DIR/upstream   # the upstream registry the set was pushed to (data kept)
LAYOUT=$BENCH_DIR/layout       # the OCI layout offline_image_pull made from the upstream registry
RUN=$BENCH_DIR/${RUN_NAME:-run} # per-run registries, image stores, logs
VARLIB=$BENCH_DIR/varlib       # /var/lib as podman and skopeo see it (private mount namespace)

log() { printf '==> %s\n' "$*" >&2; }
die() { printf '%s: %s\n' "$BENCH_NAME" "$*" >&2; exit 1; }
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
# It is made again when the set, PULL_ARGS or the airgap binary changed, unless LAYOUT_REUSE=1
# (the caller measures no airgap module) and a layout exists.
prepare_layout() {
  if [ "${LAYOUT_REUSE:-0}" = 1 ] && [ -f "$LAYOUT/index.json" ]; then
    log "reusing the OCI layout in $LAYOUT (no airgap module measured)"
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

# stop_registries: every registry of the run, and the upstream one.
stop_registries() {
  local w
  for w in "$RUN"/reg-*; do
    [ -d "$w" ] && "$REGISTRY_SH" stop "$w"
  done
  "$REGISTRY_SH" stop "$UPSTREAM" || true
}

# --- offline_image_push over HTTP and the skopeo loop ---------------------------------------------

run_push() {
  # shellcheck disable=SC2086 # PUSH_ARGS is a list of words on purpose
  "$AIRGAP_BIN" offline_image_push --src "$LAYOUT" --registry "$REG" --insecure-registries "$REG" $PUSH_ARGS \
    >"$RUN/push.json" 2>"$RUN/run_push.log"
}

# One skopeo copy per image, from the OCI layout when skopeo can read it (SKOPEO_SOURCE=oci),
# else from kubespray-offline's per-image tar.gz (SKOPEO_SOURCE=archive): skopeo 1.9's oci:
# transport only finds index.json entries with OCI media types (a layout that keeps Docker
# schema 2 manifests as pulled has none), and its docker-archive: transport does not read a
# gzipped tarball, so each one is gunzipped to a temporary file first (and skopeo compresses its
# layers again). SKOPEO_SOURCE=registry copies from the upstream registry the layout was pulled
# from instead (the same manifests and blobs, nothing converted, digests kept). Reads
# RUN/layout-refs or RUN/archives (skopeo_lists).
run_skopeo() {
  local ref tgt mode opts f
  if [ "$SKOPEO_SOURCE" = oci ] || [ "$SKOPEO_SOURCE" = registry ]; then
    while IFS=$'\t' read -r ref tgt mode _; do
      opts=()
      [ "$mode" = all ] && opts=(--all)
      if [ "$SKOPEO_SOURCE" = oci ]; then
        f=oci:$LAYOUT:$ref
      else
        f=docker://$UPSTREAM_ADDR/$ref
        opts+=(--src-tls-verify=false)
      fi
      skopeo_ copy -q "${opts[@]}" --dest-tls-verify=false "$f" "docker://$REG/$tgt" \
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

# skopeo_lists: RUN/layout-refs and RUN/archives (what run_skopeo reads), and SKOPEO_SOURCE
# settled when it is auto: oci when skopeo can read the layout, else SKOPEO_FALLBACK (archive).
skopeo_lists() {
  helper layout-refs "$LAYOUT" >"$RUN/layout-refs"
  helper archives "$SET" >"$RUN/archives"
  local n_refs
  n_refs=$(wc -l <"$RUN/layout-refs")
  [ "$n_refs" -eq "$N_IMAGES" ] || die "the layout names $n_refs images, the list $N_IMAGES"
  if [ "$SKOPEO_SOURCE" = auto ]; then
    SKOPEO_SOURCE=oci
    if cut -f4 "$RUN/layout-refs" | grep -qv '^oci$'; then SKOPEO_SOURCE=${SKOPEO_FALLBACK:-archive}; fi
  fi
}

# skopeo_configs: skopeo's policy and an empty registries.d; no host registries.conf, temp
# files under RUN (callers that run podman too point CONTAINERS_CONF at podman's config).
skopeo_configs() {
  mkdir -p "$RUN/registries.d" "$VARLIB" "$RUN/tmp"
  echo '{"default": [{"type": "insecureAcceptAnything"}]}' >"$RUN/policy.json"
  : >"$RUN/registries.conf"
  : >"$RUN/containers.conf"
  export CONTAINERS_CONF=$RUN/containers.conf CONTAINERS_REGISTRIES_CONF=$RUN/registries.conf TMPDIR=$RUN/tmp
}

# ns_timed FUNC: runs `timed FUNC` in a private mount namespace where /var/lib is VARLIB, so
# containers/image's blob-info cache (/var/lib/containers/cache for root) stays in BENCH_DIR.
# The caller's script runs ns_entry when its first argument is __ns_timed.
ns_timed() {
  export BENCH_NS_VARLIB=$VARLIB BENCH_DIR SET_PERIMAGE REG SKOPEO_SOURCE UPSTREAM_ADDR
  unshare --mount --propagation private "$SELF" __ns_timed "$1"
}

ns_entry() {
  mount --bind "$BENCH_NS_VARLIB" /var/lib
  timed "$1"
}

# --- measuring -----------------------------------------------------------------------------------

# timed FUNC: runs FUNC and prints its wall-clock seconds on stdout. FUNC logs to RUN/FUNC.log;
# a JSON result it writes to RUN/<FUNC without run_>.json is shown when it fails.
timed() {
  local t0 t1 rc=0
  t0=$EPOCHREALTIME
  "$1" || rc=$?
  t1=$EPOCHREALTIME
  if [ "$rc" -ne 0 ]; then
    [ -s "$RUN/$1.log" ] && tail -n 20 "$RUN/$1.log" >&2
    [ -s "$RUN/${1#run_}.json" ] && head -c 2000 "$RUN/${1#run_}.json" >&2
    die "$1 failed (exit $rc)"
  fi
  awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f\n", b - a }'
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

# check LABEL VALUE LIMIT [lt]: prints PASS or FAIL (VALUE <= LIMIT, or < with lt); a failure
# sets CHECK_FAILED=1.
# shellcheck disable=SC2034 # CHECK_FAILED: the caller returns it
CHECK_FAILED=0
# shellcheck disable=SC2034
check() {
  local ok=0
  if [ "${4:-le}" = lt ]; then lt "$2" "$3" && ok=1; else le "$2" "$3" && ok=1; fi
  if [ "$ok" = 1 ]; then
    printf 'PASS  %-52s %s %s %s\n' "$1" "$2" "$([ "${4:-le}" = lt ] && echo '<' || echo '<=')" "$3"
  else
    printf 'FAIL  %-52s %s %s %s\n' "$1" "$2" "$([ "${4:-le}" = lt ] && echo '>=' || echo '>')" "$3"
    CHECK_FAILED=1
  fi
}

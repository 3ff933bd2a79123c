#!/usr/bin/env bash
# Benchmark: filling a registry's filesystem storage straight from the bundle
# (`offline_image_push --storage-dir`) against `cp -r` of the same OCI layout and against the
# HTTP pushes, on the synthetic Kubespray-like image set of tests/bench/images.sh (same cache,
# same layout, built by tests/bench/lib/imageset.sh).
#
#   tests/bench/mirror.sh            (what `make bench-mirror` runs)
#
# One run of each, in one private mount namespace (a tmpfs is mounted there):
#
#   cp -r, same fs        cp -r LAYOUT RUN/cp-same            (RUN on the layout's filesystem)
#   fill, same fs         offline_image_push --src LAYOUT --storage-dir RUN/reg-fill-same/data
#                         (blobs hard-linked), then the same again (nothing new)
#   cp -r, tmpfs          cp -r LAYOUT TMPFS/cp
#   fill, tmpfs           offline_image_push --src LAYOUT --storage-dir TMPFS/reg-fill-tmpfs/data
#                         (blobs copied), then the same again
#   HTTP push             offline_image_push --src LAYOUT --registry 127.0.0.1:PORT into an empty
#                         registry, then the same again
#   crane push            one `crane push DIR 127.0.0.1:PORT/TARGET` per image (crane uploads an
#                         image's blobs concurrently); DIR is a one-image OCI layout whose blobs/
#                         is a symlink to LAYOUT's (made beforehand, untimed): crane pushes only
#                         a layout of one entry (or all of it as one index with --index)
#   skopeo loop           one `skopeo copy SRC docker://127.0.0.1:PORT/TARGET` per image; SRC is
#                         oci:LAYOUT:REF when skopeo 1.9 can read the layout (OCI media types in
#                         index.json), else (a layout keeping Docker schema 2 manifests, as now)
#                         docker://UPSTREAM/REF, the upstream loopback registry the layout was
#                         pulled from: the same manifests and blobs, nothing converted
#                         (SKOPEO_FALLBACK=archive: the per-image tar.gz, as images.sh does, which
#                         also gunzips and recompresses every layer)
#
# After each fill a registry (Debian's docker-registry via tests/lib/registry.sh, rootdirectory =
# the filled storage) serves every image back: the manifest fetched by its target name hashes to
# index.json's digest, and every blob it names is served (tests/bench/lib/images.py
# verify-registry); the HTTP, crane and skopeo pushes are checked the same way (skopeo's only by
# name when it copies from the tar.gz files: it recompresses, so the digests differ). Before timing, the layout
# is read once (warm page cache, as for `cp -r`) and filled once, untimed, into a scratch folder
# of the tmpfs: that makes the layout's digest records valid again where an earlier run's removed
# hard links moved blobs' change times, so each run starts from a layout as offline_image_pull
# leaves it. Then the SHA256SUMS rerun (tests/bench/sums.sh). It prints a table of seconds and
# ratios, then the acceptance checks, and exits 1 if any fails:
#
#   fill, same fs      <= 0.2x  cp -r to the same filesystem
#   fill, tmpfs        <= 1.5x  cp -r to the same tmpfs
#   both fills         a registry on the storage serves every image with index.json's digest
#   fill rerun (same storage, nothing new)                        < 0.5 s
#   extra disk of the same-fs fill (du of layout + storage, hard links counted once, minus the
#   layout's)                                                     < 1% of the layout
#   SHA256SUMS rerun on an unchanged 1 GB bundle (tests/bench/sums.sh) < 0.5 s
#
# Environment (and those of tests/bench/images.sh that make the set and the layout: BENCH_DIR,
# BENCH_SETTLE, PULL_ARGS, IMAGESET_ARGS, AIRGAP_BIN, PUSH_ARGS, SKOPEO_SOURCE):
#   BENCH_PARTS   what to measure, among: fill push crane skopeo sums        (all five)
#   FILL_ARGS     extra arguments for offline_image_push --storage-dir       (none)
#   CRANE_BIN     a crane binary; if unset, tests/lib/tools.sh crane builds it once
#   SUMS_SH       the SHA256SUMS bench                       (tests/bench/sums.sh)
#   SUMS_BENCH_DIR  its BENCH_DIR: its 1 GB tree is cached there  (/tmp/airgap-bench-sums)
#   SKOPEO_FALLBACK  the skopeo loop's source when skopeo cannot read the layout: registry or
#                 archive                                                    (registry)
#   BENCH_KEEP    1: keep BENCH_DIR/run-mirror (registries' storage, copies) after the run
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
SELF=$REPO/tests/bench/mirror.sh
BENCH_NAME=bench-mirror
RUN_NAME=run-mirror
# shellcheck source=tests/bench/lib/imageset.sh
. "$REPO/tests/bench/lib/imageset.sh"

BENCH_PARTS=${BENCH_PARTS:-fill push crane skopeo sums}
FILL_ARGS=${FILL_ARGS:-}
SUMS_SH=${SUMS_SH:-$REPO/tests/bench/sums.sh}
SUMS_BENCH_DIR=${SUMS_BENCH_DIR:-/tmp/airgap-bench-sums}
SKOPEO_FALLBACK=${SKOPEO_FALLBACK:-registry}
TMPFS=$RUN/tmpfs
# Same-filesystem rounds: cp -r and the fill take a fraction of a second there, where the disk's
# own noise (journal, writeback) shows; each is run ROUNDS times (fresh folders) and the median
# is compared.
ROUNDS=${BENCH_ROUNDS:-3}
ROUND=0

has_part() { case " $BENCH_PARTS " in *" $1 "*) return 0 ;; *) return 1 ;; esac; }

# --- the runs ------------------------------------------------------------------------------------

run_cp_same() { cp -r "$LAYOUT" "$RUN/cp-same"; }
run_cp_tmpfs() { cp -r "$LAYOUT" "$TMPFS/cp"; }

# fill DIR NAME: offline_image_push into the registry storage DIR; result in RUN/NAME.json.
fill() {
  # shellcheck disable=SC2086 # FILL_ARGS is a list of words on purpose
  "$AIRGAP_BIN" offline_image_push --src "$LAYOUT" --storage-dir "$1" $FILL_ARGS >"$RUN/$2.json" 2>"$RUN/run_$2.log"
}
run_fill_same() { fill "$RUN/reg-fill-same/data" fill_same; }
run_fill_round() { fill "$RUN/reg-fill-same-$ROUND/data" "fill_same_$ROUND"; }
run_fill_tmpfs() { fill "$TMPFS/reg-fill-tmpfs/data" fill_tmpfs; }
run_fill_prime() { fill "$TMPFS/prime" fill_prime; }

run_crane() {
  local dir tgt
  while IFS=$'\t' read -r dir tgt; do
    DOCKER_CONFIG=$RUN/docker "$CRANE_BIN" push --insecure "$dir" "$REG/$tgt" >>"$RUN/run_crane.log" 2>&1 || return 1
  done <"$RUN/crane-layouts"
}

# --- measuring -----------------------------------------------------------------------------------

median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

declare -A FIRST=() RERUN=() PULLED=() TOTALS=()

# pull_back NAME WORKDIR: starts a registry on WORKDIR/data (unless REG is given as a third
# argument: it runs already) and pulls every image of the layout back; PULLED[NAME] says how it went.
pull_back() {
  local name=$1 work=$2 reg=${3:-} port n
  if [ -z "$reg" ]; then
    port=$("$REGISTRY_SH" free-port)
    "$REGISTRY_SH" start "$work" "$port" >/dev/null
    reg=127.0.0.1:$port
  fi
  if n=$(helper verify-registry "http://$reg" "$LAYOUT" 2>"$RUN/pull-back-$name.log"); then
    PULLED[$name]="$n/$N_IMAGES ok"
  else
    sed 's/^/    /' "$RUN/pull-back-$name.log" | head -n 20 >&2
    PULLED[$name]=FAILED
  fi
  "$REGISTRY_SH" stop "$work"
}

# fill_twice NAME WORKDIR: times run_NAME (a fill into WORKDIR/data, empty), then again with
# nothing new; checks what their JSON results say.
fill_twice() {
  local name=$1 f=$RUN/$1.json
  log "$name: fill into $2/data"
  mkdir -p "$2/data"
  FIRST[$name]=$(timed "run_$name")
  helper json-check "$f" changed true totals.failed 0 || die "unexpected offline_image_push result: $(head -c 2000 "$f")"
  TOTALS[$name]="$(helper json-get "$f" totals.linked)/$(helper json-get "$f" totals.copied)"
  RERUN[$name]=$(timed "run_$name")
  helper json-check "$f" changed false totals.failed 0 || die "unexpected offline_image_push rerun result: $(head -c 2000 "$f")"
}

measure_fills() {
  local store_tmpfs=$TMPFS/reg-fill-tmpfs store_same=$RUN/reg-fill-same
  log "priming: one untimed fill into a scratch folder of the tmpfs (digest records, page cache)"
  mkdir -p "$TMPFS/prime"
  timed run_fill_prime >/dev/null
  rm -rf "$TMPFS/prime"

  log "tmpfs: cp -r of the layout"
  FIRST[cp_tmpfs]=$(timed run_cp_tmpfs)
  rm -rf "$TMPFS/cp"
  fill_twice fill_tmpfs "$store_tmpfs"
  pull_back fill_tmpfs "$store_tmpfs"
  rm -rf "$store_tmpfs"

  local i cps=() fills=()
  for ((i = 1; i <= ROUNDS; i++)); do
    sync # the dirty pages of what ran before are written now, not during the next run
    log "same filesystem: cp -r of the layout ($i of $ROUNDS)"
    cps+=("$(timed run_cp_same)")
    rm -rf "$RUN/cp-same"
  done
  FIRST[cp_same]=$(median "${cps[@]}")
  # the earlier rounds' storages stay until the end: removing their hard links would move the
  # layout blobs' change times, and so make the next fill hash them again
  for ((i = 1; i < ROUNDS; i++)); do
    sync
    ROUND=$i
    log "same filesystem: fill ($i of $ROUNDS)"
    mkdir -p "$RUN/reg-fill-same-$i/data"
    fills+=("$(timed run_fill_round)")
  done
  sync
  fill_twice fill_same "$store_same"
  FIRST[fill_same]=$(median "${fills[@]}" "${FIRST[fill_same]}")
  # du counts a file with several links once, with the first argument it meets it under
  EXTRA_SAME=$(du -s -B1 "$LAYOUT" "$store_same/data" | awk 'NR == 2 { print $1 }')
  pull_back fill_same "$store_same"
}

measure_push() {
  fresh_registry push
  log "HTTP push: offline_image_push into an empty registry ($REG)"
  FIRST[push]=$(timed run_push)
  helper json-check "$RUN/push.json" changed true || die "unexpected offline_image_push result: $(head -c 2000 "$RUN/push.json")"
  RERUN[push]=$(timed run_push)
  helper json-check "$RUN/push.json" changed false || die "unexpected offline_image_push rerun result: $(head -c 2000 "$RUN/push.json")"
  pull_back push "$RUN/reg-push" "$REG"
}

measure_crane() {
  rm -rf "$RUN/crane"
  mkdir -p "$RUN/crane" "$RUN/docker"
  helper split-layout "$LAYOUT" "$RUN/crane" >"$RUN/crane-layouts"
  fresh_registry crane
  sync
  log "crane push per image into an empty registry ($REG)"
  FIRST[crane]=$(timed run_crane)
  pull_back crane "$RUN/reg-crane" "$REG"
}

measure_skopeo() {
  fresh_registry skopeo
  rm -rf "${VARLIB:?}/containers" # no blob-info cache from an earlier run
  sync
  log "skopeo loop into an empty registry ($REG)"
  FIRST[skopeo]=$(ns_timed run_skopeo)
  check_registry skopeo
  if [ "$SKOPEO_SOURCE" != archive ]; then
    pull_back skopeo "$RUN/reg-skopeo" "$REG"
  else
    PULLED[skopeo]="$N_IMAGES/$N_IMAGES present"
    "$REGISTRY_SH" stop "$RUN/reg-skopeo"
  fi
}

# The SHA256SUMS rerun: tests/bench/sums.sh, `make bench-sums` (its output is shown as it is;
# its exit status is the check: sha256sum -c accepts the file, the first run hashes every file,
# the rerun none, in under 0.5 s).
measure_sums() {
  SUMS_RC=missing
  [ -x "$SUMS_SH" ] || return 0
  log "SHA256SUMS: $SUMS_SH"
  SUMS_RC=0
  BENCH_DIR=$SUMS_BENCH_DIR "$SUMS_SH" >"$RUN/sums.out" 2>"$RUN/sums.log" || SUMS_RC=$?
}

# --- report --------------------------------------------------------------------------------------

verdict() { # verdict LABEL OK DETAIL
  if [ "$2" = 1 ]; then
    printf 'PASS  %-52s %s\n' "$1" "$3"
  else
    printf 'FAIL  %-52s %s\n' "$1" "$3"
    CHECK_FAILED=1
  fi
}

report() {
  local layout_bytes layout_du n_blobs
  layout_bytes=$(du -sb "$LAYOUT" | cut -f1)
  layout_du=$(du -s -B1 "$LAYOUT" | cut -f1)
  n_blobs=$(find "$LAYOUT/blobs" -type f | wc -l)
  echo
  echo "bench-mirror: $N_IMAGES images, $n_blobs blobs, layout $(mb "$layout_bytes") MB (du -sb), $(nproc) cores;"
  echo "registries: docker-registry $(dpkg-query -W -f '${Version}' docker-registry 2>/dev/null) on 127.0.0.1;" \
    "filesystem of the layout: $(stat -f -c %T "$LAYOUT"); one run of each, page cache warm; on the same filesystem cp -r and the fill are the median of $ROUNDS rounds"
  echo
  local -A label=(
    [cp_same]="cp -r LAYOUT, same filesystem"
    [fill_same]="offline_image_push --storage-dir, same fs"
    [cp_tmpfs]="cp -r LAYOUT, to a tmpfs"
    [fill_tmpfs]="offline_image_push --storage-dir, tmpfs"
    [push]="offline_image_push --registry (HTTP)${PUSH_ARGS:+ $PUSH_ARGS}"
    [crane]="crane ${CRANE_BIN:+$("$CRANE_BIN" version 2>/dev/null)} push per image"
    [skopeo]="skopeo $(skopeo --version 2>/dev/null | awk '{print $3}') copy loop, from $(skopeo_source_label)"
  )
  local -A base=([cp_same]=cp_same [fill_same]=cp_same [cp_tmpfs]=cp_tmpfs [fill_tmpfs]=cp_tmpfs
    [push]=cp_same [crane]=cp_same [skopeo]=cp_same)
  local fmt='%-46s %8s %8s %8s %8s %14s %14s\n'
  # shellcheck disable=SC2059 # the format is a variable on purpose
  printf "$fmt" run "first s" "rerun s" "/cp -r" "/HTTP" "linked/copied" "pulled back"
  # shellcheck disable=SC2059
  printf "$fmt" ---------------------------------------------- -------- -------- -------- -------- -------------- --------------
  local t rc rh
  for t in cp_same fill_same cp_tmpfs fill_tmpfs push crane skopeo; do
    [ -n "${FIRST[$t]:-}" ] || continue
    rc=- rh=-
    [ -n "${FIRST[${base[$t]}]:-}" ] && rc=$(ratio "${FIRST[$t]}" "${FIRST[${base[$t]}]}")x
    [ -n "${FIRST[push]:-}" ] && rh=$(ratio "${FIRST[$t]}" "${FIRST[push]}")x
    # shellcheck disable=SC2059
    printf "$fmt" "${label[$t]}" "${FIRST[$t]}" "${RERUN[$t]:--}" "$rc" "$rh" "${TOTALS[$t]:--}" "${PULLED[$t]:--}"
  done
  echo "(/cp -r: over cp -r of the layout to the same filesystem as the run's destination (the"
  echo " registries of the HTTP, crane and skopeo runs keep their data on the layout's filesystem);"
  echo " /HTTP: over offline_image_push's HTTP push; pulled back: images a registry on the result"
  echo " served with index.json's digest and all their blobs)"
  if [ -n "${EXTRA_SAME:-}" ]; then
    echo
    echo "extra disk of the same-fs fill: $(mb "$EXTRA_SAME") MB ($(ratio "$((EXTRA_SAME * 100))" "$layout_du" 3)% of the layout's $(mb "$layout_du") MB on disk)"
  fi
  if [ "${SUMS_RC:-}" != "" ] && [ "$SUMS_RC" != missing ]; then
    echo
    echo "SHA256SUMS ($SUMS_SH):"
    sed 's/^/    /' "$RUN/sums.out"
  fi
  echo

  if [ -n "${FIRST[fill_same]:-}" ]; then
    check "fill same fs / cp -r same fs" "$(ratio "${FIRST[fill_same]}" "${FIRST[cp_same]}" 3)" 0.2
    check "fill tmpfs / cp -r tmpfs" "$(ratio "${FIRST[fill_tmpfs]}" "${FIRST[cp_tmpfs]}" 3)" 1.5
    verdict "fill same fs: registry serves index.json's digests" "$([ "${PULLED[fill_same]}" = FAILED ] && echo 0 || echo 1)" "${PULLED[fill_same]}"
    verdict "fill tmpfs: registry serves index.json's digests" "$([ "${PULLED[fill_tmpfs]}" = FAILED ] && echo 0 || echo 1)" "${PULLED[fill_tmpfs]}"
    check "fill rerun, same storage, nothing new (s)" "${RERUN[fill_same]}" 0.5 lt
    printf 'INFO  %-52s %s\n' "fill rerun, tmpfs storage (s)" "${RERUN[fill_tmpfs]}"
    check "extra disk of the same-fs fill (% of the layout)" "$(ratio "$((EXTRA_SAME * 100))" "$layout_du" 3)" 1 lt
  fi
  local t2
  for t2 in push crane skopeo; do
    [ -n "${PULLED[$t2]:-}" ] || continue
    verdict "$t2: every image in its registry" "$([ "${PULLED[$t2]}" = FAILED ] && echo 0 || echo 1)" "${PULLED[$t2]}"
  done
  if has_part sums; then
    case ${SUMS_RC:-missing} in
      missing) verdict "SHA256SUMS rerun, unchanged 1 GB bundle < 0.5 s" 0 "not measured: $SUMS_SH is missing" ;;
      0) verdict "SHA256SUMS rerun, unchanged 1 GB bundle < 0.5 s" 1 "($SUMS_SH exit 0)" ;;
      *) verdict "SHA256SUMS rerun, unchanged 1 GB bundle < 0.5 s" 0 "($SUMS_SH exit $SUMS_RC; its log: $RUN/sums.log)" ;;
    esac
  fi
  return "$CHECK_FAILED"
}

skopeo_source_label() {
  case $SKOPEO_SOURCE in
    oci) echo "the layout" ;;
    registry) echo "upstream registry" ;;
    *) echo "per-image tar.gz" ;;
  esac
}

# --- main ----------------------------------------------------------------------------------------

cleanup() {
  stop_registries
  "$REGISTRY_SH" stop "$TMPFS/reg-fill-tmpfs" 2>/dev/null || true
  if mountpoint -q "$TMPFS"; then umount "$TMPFS"; fi
  if [ "${BENCH_KEEP:-0}" != 1 ]; then
    rm -rf "$RUN"
  fi
}

main() {
  local c
  for c in python3 curl unshare mountpoint; do command -v "$c" >/dev/null || die "$c is not installed"; done
  has_part skopeo && { command -v skopeo >/dev/null || die "skopeo is not installed (run tests/setup-host.sh)"; }
  mkdir -p "$BENCH_DIR"
  trap cleanup EXIT
  rm -rf "$RUN"
  mkdir -p "$RUN"
  skopeo_configs

  if has_part crane && [ -z "${CRANE_BIN:-}" ]; then
    CRANE_BIN=$("$REPO/tests/lib/tools.sh" crane) || die "no crane: set CRANE_BIN, or tests/lib/tools.sh crane must build it"
  fi
  [ -z "${CRANE_BIN:-}" ] || [ -x "$CRANE_BIN" ] || die "CRANE_BIN=$CRANE_BIN is not an executable"
  if has_part fill || has_part push || [ ! -f "$LAYOUT/index.json" ]; then build_airgap; fi
  if has_part fill; then
    "$AIRGAP_BIN" offline_image_push --help 2>&1 | grep -q -- --storage-dir ||
      die "$AIRGAP_BIN offline_image_push has no --storage-dir (issue 14)"
  fi
  prepare_set
  locate_set
  has_part fill || has_part push || LAYOUT_REUSE=1
  prepare_layout
  skopeo_lists
  [ "$(stat -c %d "$LAYOUT")" = "$(stat -c %d "$RUN")" ] || die "$RUN is not on the filesystem of $LAYOUT"

  if has_part fill; then
    local layout_bytes size need avail
    layout_bytes=$(du -sb "$LAYOUT" | cut -f1)
    size=$((layout_bytes * 3 / 2 + (256 << 20)))
    avail=$(($(awk '/^MemAvailable:/ { print $2 }' /proc/meminfo) * 1024))
    need=$((size + layout_bytes + (1 << 30))) # the tmpfs, the layout in the page cache, slack
    [ "$avail" -ge "$need" ] || die "the tmpfs needs $(mb "$size") MB of memory and the page cache the layout's $(mb "$layout_bytes") MB: $(mb "$avail") MB available"
    mkdir -p "$TMPFS"
    mount -t tmpfs -o "size=$size,mode=0755" bench-mirror "$TMPFS"
  fi

  settle
  log "reading the layout once (warm page cache for every run)"
  find "$LAYOUT" -type f -exec cat {} + >/dev/null

  # (if, not &&: errexit does not apply inside a function called on the left of &&)
  if has_part fill; then measure_fills; fi
  if has_part push; then measure_push; fi
  if has_part crane; then measure_crane; fi
  if has_part skopeo; then measure_skopeo; fi
  if has_part sums; then measure_sums; fi
  report
}

case ${1:-} in
  __ns_timed) ns_entry "$2" ;;
  *)
    # Everything runs in a private mount namespace: the tmpfs mounted there is nobody else's and
    # goes away with the run.
    if [ "${BENCH_MIRROR_NS:-}" != 1 ]; then
      [ "$(id -u)" = 0 ] || die "run as root (the tmpfs, the mount namespaces and the registries' storage need it)"
      BENCH_MIRROR_NS=1 exec unshare --mount --propagation private "$SELF" "$@"
    fi
    main "$@"
    ;;
esac

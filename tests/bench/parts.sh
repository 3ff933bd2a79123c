#!/usr/bin/env bash
# Benchmark: offline_bundle_pack + offline_bundle_unpack against tar + zstd of the same folder.
#
#   tests/bench/parts.sh [FOLDER]      (make bench-delta runs it)
#
# FOLDER (default: a synthetic bundle generated once under BENCH_DIR and reused, about 512 MiB in
# 160 files: random image layers that do not compress, binaries that compress to about 3/4, small
# text files, SHA256SUMS) is timed, warm cache, two ways:
#
#   parts   offline_bundle_pack --part-size PARTS_SIZE, then offline_bundle_unpack into a new folder
#   tar     tar -I 'zstd -T0' -cf of the folder, then tar -I zstd -xf into a new folder
#
# and the two totals and their ratio (parts / tar) are printed, with the bytes each wrote. It checks
# that the unpacked folder holds the same files (`sha256sum -c SHA256SUMS` when the folder has one,
# else a listing of every file's sha256 compared) and that no part is bigger than PARTS_SIZE; it
# exits 1 if a check fails (after printing everything).
#
# Environment:
#   BENCH_DIR     work folder; the synthetic bundle is cached here            (/tmp/airgap-bench-parts)
#   PARTS_SIZE    the part size                                                (128M)
#   PARTS_JOBS    parts written or read at once (concurrency)                  (the CPUs, nproc)
#   AIRGAP_BIN    a prebuilt multi-call binary; if unset it is built from ./modules/airgap
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BENCH_DIR=$(realpath -m "${BENCH_DIR:-/tmp/airgap-bench-parts}")
PARTS_SIZE=${PARTS_SIZE:-128M}
PARTS_JOBS=${PARTS_JOBS:-$(nproc)}
SRC=${1:-}

log() { printf '==> %s\n' "$*" >&2; }
die() { printf 'bench-parts: %s\n' "$*" >&2; exit 1; }

# The synthetic bundle: "<count> <size in KiB> <kind> <path pattern>" (%d: the file's number);
# kind random (incompressible, as image layers) or text (base64 of random bytes: compresses to ~3/4).
SPEC='
60 6144 random images/blobs/sha256/layer-%d
10 8192 text   files/dl.k8s.io/release/v1.35.4/bin/linux/amd64/tool-%d
1  65536 random images/blobs/sha256/big-layer-%d
60 16    text   images/blobs/sha256/config-%d
30 4     text   files/pypi/simple/package-%d/index.html
'

make_tree() {
  local data=$BENCH_DIR/bundle stamp count kib kind pattern i path
  stamp=$(grep -v '^[[:space:]]*$' <<<"$SPEC" | sha256sum | cut -c1-16)
  SRC=$data
  if [ -f "$BENCH_DIR/stamp" ] && [ "$(cat "$BENCH_DIR/stamp")" = "$stamp" ]; then
    log "reusing the synthetic bundle in $data"
    return
  fi
  log "generating the synthetic bundle in $data (once)"
  rm -rf "$data" "$BENCH_DIR/stamp"
  mkdir -p "$data"
  while read -r count kib kind pattern; do
    for ((i = 0; i < count; i++)); do
      # shellcheck disable=SC2059 # the pattern is the spec's
      path=$data/$(printf "$pattern" "$i")
      mkdir -p "$(dirname "$path")"
      case $kind in
        random) head -c "$((kib * 1024))" /dev/urandom >"$path" ;;
        text) head -c "$((kib * 750))" /dev/urandom | base64 -w 76 >"$path" ;; # about kib KiB
      esac
    done
  done < <(grep -v '^[[:space:]]*$' <<<"$SPEC")
  (cd "$data" && find . -type f -printf '%P\0' | sort -z | xargs -0 sha256sum >"$BENCH_DIR/sums" && mv "$BENCH_DIR/sums" SHA256SUMS)
  echo "$stamp" >"$BENCH_DIR/stamp"
}

build_airgap() {
  if [ -n "${AIRGAP_BIN:-}" ]; then
    [ -x "$AIRGAP_BIN" ] || die "AIRGAP_BIN=$AIRGAP_BIN is not an executable"
    return
  fi
  AIRGAP_BIN=$BENCH_DIR/bin/airgap
  log "building the airgap binary (offline_bundle_pack, offline_bundle_unpack)"
  mkdir -p "$BENCH_DIR/bin"
  (cd "$REPO" && PATH=$PATH:/usr/local/go/bin CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o "$AIRGAP_BIN" ./modules/airgap)
}

# seconds CMD...: runs CMD (stdout to $BENCH_DIR/out.json) and prints its wall time in seconds.
seconds() {
  local t0 t1
  t0=$(date +%s.%N)
  "$@" >"$BENCH_DIR/out.json"
  t1=$(date +%s.%N)
  echo "$t1 - $t0" | bc -l | xargs printf '%.3f'
}

# listing DIR: every file but SHA256SUMS and dot folders, with its sha256 (to compare two trees)
listing() { (cd "$1" && find . -path '*/.*' -prune -o -type f -printf '%P\0' | sort -z | xargs -0 sha256sum); }

main() {
  command -v bc >/dev/null || die "bc is needed (apt-get install bc)"
  command -v zstd >/dev/null || die "zstd is needed (apt-get install zstd)"
  if [ -z "$SRC" ]; then make_tree; fi
  [ -d "$SRC" ] || die "$SRC is not a folder"
  build_airgap
  local run=$BENCH_DIR/run bytes files size_limit
  rm -rf "$run" && mkdir -p "$run"
  bytes=$(du -sb --exclude='.*' "$SRC" | cut -f1)
  files=$(find "$SRC" -path '*/.*' -prune -o -type f -print | wc -l)
  size_limit=$(python3 -c 'import sys; s = sys.argv[1].upper().rstrip("B").rstrip("I"); m = {"K": 1, "M": 2, "G": 3, "T": 4}.get(s[-1:], 0); print(int(s[:-1] if m else s) << (10 * m))' "$PARTS_SIZE")
  log "$files files, $bytes bytes; parts of $PARTS_SIZE, $PARTS_JOBS at once"
  cat "$SRC"/* >/dev/null 2>&1 || true # warm the cache for both sides alike

  local t_pack t_unpack t_tar t_untar parts_bytes tar_bytes total ratio
  t_pack=$(seconds "$AIRGAP_BIN" offline_bundle_pack --src "$SRC" --dest "$run/parts" --part-size "$PARTS_SIZE" -j "$PARTS_JOBS")
  t_unpack=$(seconds "$AIRGAP_BIN" offline_bundle_unpack --src "$run/parts" --dest "$run/unpacked" -j "$PARTS_JOBS")
  local complete
  complete=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["complete"])' "$BENCH_DIR/out.json")
  parts_bytes=$(cat "$run"/parts/*.tar.zst | wc -c)
  t_tar=$(seconds tar -C "$SRC" --exclude='./.*' -I 'zstd -T0' -cf "$run/bundle.tar.zst" .)
  mkdir -p "$run/untarred"
  t_untar=$(seconds tar -C "$run/untarred" -I zstd -xf "$run/bundle.tar.zst")
  tar_bytes=$(stat -c %s "$run/bundle.tar.zst")
  total=$(echo "$t_pack + $t_unpack" | bc -l)
  ratio=$(echo "($t_pack + $t_unpack) / ($t_tar + $t_untar)" | bc -l | xargs printf '%.2f')

  printf '\n%-52s %10s %14s\n' "pack + unpack ($files files, $((bytes / 1048576)) MiB)" "seconds" "bytes written"
  printf '%-52s %10s %14s\n' "offline_bundle_pack (parts of $PARTS_SIZE)" "$t_pack" "$parts_bytes"
  printf '%-52s %10s\n' "offline_bundle_unpack" "$t_unpack"
  printf '%-52s %10s\n' "parts: total" "$(printf '%.3f' "$total")"
  printf '%-52s %10s %14s\n' "tar -I 'zstd -T0' -cf" "$t_tar" "$tar_bytes"
  printf '%-52s %10s\n' "tar -I zstd -xf" "$t_untar"
  printf '%-52s %10s\n' "tar: total" "$(echo "$t_tar + $t_untar" | bc -l | xargs printf '%.3f')"
  printf '%-52s %10s\n' "ratio parts / tar" "$ratio"
  echo

  local fail=0 biggest
  result() { if [ "$2" = yes ]; then echo "ok    $1"; else echo "FAIL  $1"; fail=1; fi; }
  result "unpack says complete ($complete)" "$([ "$complete" = True ] && echo yes)"
  if [ -f "$SRC/SHA256SUMS" ]; then
    result "sha256sum -c SHA256SUMS in the unpacked folder" "$( (cd "$run/unpacked" && sha256sum --quiet --strict -c SHA256SUMS >&2) && echo yes)"
  else
    result "the unpacked folder holds the same files" "$([ "$(listing "$SRC")" = "$(listing "$run/unpacked")" ] && echo yes)"
  fi
  biggest=$(stat -c %s "$run"/parts/*.tar.zst | sort -n | tail -n 1)
  result "largest part $biggest bytes <= $size_limit" "$([ "$biggest" -le "$size_limit" ] && echo yes)"
  return $fail
}

main "$@"

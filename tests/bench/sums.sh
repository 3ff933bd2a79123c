#!/usr/bin/env bash
# Benchmark: offline_bundle_sums (SHA256SUMS from the verified-digest records) on a 1 GB bundle.
#
#   tests/bench/sums.sh            (what `make bench-sums` runs)
#
# A bundle-like tree (about 1 GB in 330 files: files/<host>/<path> downloads, images/blobs/sha256
# layers and configs, images/index.json, manifest.yaml, the tarballs, and dot files that are left
# out) is generated once under BENCH_DIR and reused. Then:
#
#   sha256sum      every file read by one sha256sum process, sorted (reading everything, as the former
#                  roles/download/files/sha256sums.py did on every run, in Python)
#   first run      offline_bundle_sums --bundle DIR after every file's record was made stale (touch):
#                  every file hashed, records written
#   rerun          offline_bundle_sums again, nothing changed: no file read, SHA256SUMS not written
#
# It checks that `sha256sum -c SHA256SUMS` accepts the result, that the results say what happened
# (first: hashed = files; rerun: hashed 0, changed false), and that the rerun takes under 0.5 s;
# it exits 1 if any check fails (after printing everything).
#
# Environment:
#   BENCH_DIR    work folder; the tree is cached here and reused       (/tmp/airgap-bench-sums)
#   SUMS_BIN     a prebuilt offline_bundle_sums for this host; if unset it is built from
#                ./modules/airgap (the multi-call binary, named offline_bundle_sums) into BENCH_DIR/bin
#   SUMS_MAX_RERUN  the rerun's limit in seconds                        (0.5)
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BENCH_DIR=$(realpath -m "${BENCH_DIR:-/tmp/airgap-bench-sums}")
SUMS_MAX_RERUN=${SUMS_MAX_RERUN:-0.5}
DATA=$BENCH_DIR/bundle
META=$BENCH_DIR/meta

log() { printf '==> %s\n' "$*" >&2; }
die() { printf 'bench-sums: %s\n' "$*" >&2; exit 1; }

# The tree: "<count> <size in KiB> <path pattern>" (%d: the file's number). 1,003 MiB in all.
SPEC='
20  30720 files/dl.k8s.io/release/v1.35.4/bin/linux/amd64/tool-%d
60   5120 files/github.com/example/project-%d/releases/download/v1.0.0/project-linux-amd64.tar.gz
120   768 images/blobs/sha256/layer-%d
100    16 images/blobs/sha256/config-%d
25      4 files/pypi/simple/package-%d/index.html
1    8192 kubespray.tar.gz
1    2048 airgap-kubespray-collection.tar.gz
1      64 manifest.yaml
1       1 images/index.json
1       1 images/oci-layout
2    1024 files/.partial-%d
'

spec() { grep -v '^[[:space:]]*$' <<<"$SPEC"; }

make_tree() {
  local stamp
  stamp=$(spec | sha256sum | cut -c1-16)
  if [ -f "$META/stamp" ] && [ "$(cat "$META/stamp")" = "$stamp" ]; then
    log "reusing the tree in $DATA"
    return
  fi
  log "generating the tree in $DATA (about 1 GB, once)"
  rm -rf "$DATA" "$META"
  mkdir -p "$DATA" "$META"
  local count kib pattern i path
  while read -r count kib pattern; do
    for ((i = 0; i < count; i++)); do
      # shellcheck disable=SC2059 # the pattern is the spec's
      path=$DATA/$(printf "$pattern" "$i")
      mkdir -p "$(dirname "$path")"
      head -c "$((kib * 1024))" /dev/urandom >"$path"
    done
  done < <(spec)
  mkdir -p "$DATA/.git" && echo left-out >"$DATA/.git/config"
  sync
  echo "$stamp" >"$META/stamp"
}

build_sums() {
  if [ -n "${SUMS_BIN:-}" ]; then
    [ -x "$SUMS_BIN" ] || die "SUMS_BIN=$SUMS_BIN is not an executable"
    return
  fi
  SUMS_BIN=$BENCH_DIR/bin/offline_bundle_sums
  log "building offline_bundle_sums"
  mkdir -p "$BENCH_DIR/bin"
  (cd "$REPO" && PATH=$PATH:/usr/local/go/bin CGO_ENABLED=0 \
    go build -trimpath -ldflags='-s -w' -o "$SUMS_BIN" ./modules/airgap)
}

# seconds CMD...: runs CMD (stdout to $BENCH_DIR/out.json) and prints its wall time in seconds.
seconds() {
  local t0 t1
  t0=$(date +%s.%N)
  "$@" >"$BENCH_DIR/out.json"
  t1=$(date +%s.%N)
  echo "$t1 - $t0" | bc -l | xargs printf '%.3f'
}

# field NAME: the value of NAME in the last result.
field() { python3 -c 'import json, sys; print(json.dumps(json.load(open(sys.argv[1]))[sys.argv[2]]))' "$BENCH_DIR/out.json" "$1"; }

old_way() { (cd "$DATA" && find . -path '*/.*' -prune -o -type f ! -path ./SHA256SUMS -print0 | sort -z |
  xargs -0 sha256sum); }

main() {
  command -v bc >/dev/null || die "bc is needed (apt-get install bc)"
  make_tree
  build_sums
  local files bytes fail=0
  files=$(find "$DATA" -path '*/.*' -prune -o -type f ! -path "$DATA/SHA256SUMS" -print | wc -l)
  bytes=$(du -sb --exclude='.*' --exclude=SHA256SUMS "$DATA" | cut -f1)
  log "$files files, $bytes bytes (dot files left out)"

  rm -f "$DATA/SHA256SUMS"
  local t_old t_first t_rerun
  t_old=$(seconds old_way)
  # every record stale: the first run hashes everything, as on a bundle no module wrote
  find "$DATA" -type f -exec touch {} +
  sync
  t_first=$(seconds "$SUMS_BIN" --bundle "$DATA")
  local first_hashed first_files first_changed
  first_hashed=$(field hashed) first_files=$(field files) first_changed=$(field changed)
  t_rerun=$(seconds "$SUMS_BIN" --bundle "$DATA")
  local re_hashed re_changed re_cached
  re_hashed=$(field hashed) re_changed=$(field changed) re_cached=$(field cached)

  printf '\n%-44s %10s\n' "run ($files files, $((bytes / 1048576)) MiB)" "seconds"
  printf '%-44s %10s\n' "sha256sum of every file, one process" "$t_old"
  printf '%-44s %10s\n' "offline_bundle_sums, first run" "$t_first"
  printf '%-44s %10s\n' "offline_bundle_sums, rerun (nothing new)" "$t_rerun"
  echo

  # result NAME yes|no
  result() { if [ "$2" = yes ]; then echo "ok    $1"; else echo "FAIL  $1"; fail=1; fi; }
  result "sha256sum -c accepts SHA256SUMS" "$( (cd "$DATA" && sha256sum --quiet --strict -c SHA256SUMS >&2) && echo yes)"
  result "first run: files $first_files = $files, hashed $first_hashed = files, changed $first_changed" \
    "$([ "$first_files" = "$files" ] && [ "$first_hashed" = "$files" ] && [ "$first_changed" = true ] && echo yes)"
  result "rerun: hashed $re_hashed = 0, cached $re_cached = $files, changed $re_changed = false" \
    "$([ "$re_hashed" = 0 ] && [ "$re_cached" = "$files" ] && [ "$re_changed" = false ] && echo yes)"
  result "rerun $t_rerun s < $SUMS_MAX_RERUN s" "$([ "$(echo "$t_rerun < $SUMS_MAX_RERUN" | bc -l)" = 1 ] && echo yes)"
  return $fail
}

main "$@"

#!/usr/bin/env bash
# Benchmark: offline_file_fetch against the two usual ways of mirroring Kubespray's files.
#
#   tests/bench/files.sh            (what `make bench-files` runs)
#
# A private nginx on 127.0.0.1 serves 20 files of 1 to 100 MiB (about 800 MB in all, laid out like
# Kubespray's default file set: dl.k8s.io/..., github.com/.../releases/download/..., ...). Each tool
# downloads all of them into a fresh, empty folder:
#
#   wget -x loop   wget -x -P DEST -i files.list    (kubespray contrib/offline/manage-offline-files.sh)
#   curl loop      curl -fsSL --create-dirs -o ...  one process per file (kubespray-offline)
#   offline_file_fetch --list items.yaml --dest DEST  (default concurrency, sha256 verified)
#   no-op rerun    offline_file_fetch again into the same DEST (everything already there)
#
# Unthrottled, each measurement runs BENCH_REPS times (default 3) and the median counts. Then nginx
# restarts with `limit_rate 20m` per connection (real download hosts cap each connection) and the
# three downloads run once more. The script prints a table of wall times and ratios to the wget -x
# loop, then checks the acceptance thresholds and exits 1 if any fails:
#
#   offline_file_fetch <= 1.0x  the wget -x loop, unthrottled
#   offline_file_fetch <= 0.35x the wget -x loop, limit_rate 20m
#   no-op rerun        <= 10%   of the (median) first run
#
# Environment:
#   BENCH_DIR    work folder; generated data is cached here and reused  (/tmp/airgap-bench-files)
#   BENCH_REPS   unthrottled repetitions, median taken                  (3)
#   BENCH_RATE   nginx limit_rate for the throttled pass                 (20m)
#   FETCH_BIN    a prebuilt offline_file_fetch for this host; if unset it is built from
#                ./modules/airgap (the multi-call binary, named offline_file_fetch) into BENCH_DIR/bin
#   FETCH_ARGS   extra arguments for offline_file_fetch, e.g. "-j 8"    (none)
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
NGINX_SH=$REPO/tests/lib/nginx.sh

BENCH_DIR=$(realpath -m "${BENCH_DIR:-/tmp/airgap-bench-files}")
BENCH_REPS=${BENCH_REPS:-3}
BENCH_RATE=${BENCH_RATE:-20m}
FETCH_ARGS=${FETCH_ARGS:-}

DATA=$BENCH_DIR/root        # nginx document root (the generated files)
META=$BENCH_DIR/meta        # spec stamp and checksums of the generated files
RUN=$BENCH_DIR/run          # per-run destination folders and lists
NGINX_WORK=$BENCH_DIR/nginx
PORT=

# The data set: "size in MiB  path under the document root". Paths mimic the hosts and paths of
# Kubespray's default downloads (amd64); sizes are close to the real ones, capped at 100 MiB
# (kata-containers is much bigger upstream) and tuned so the total is about 800 MB (763 MiB).
DATASET='
80  dl.k8s.io/release/v1.35.4/bin/linux/amd64/kubelet
72  dl.k8s.io/release/v1.35.4/bin/linux/amd64/kubeadm
60  dl.k8s.io/release/v1.35.4/bin/linux/amd64/kubectl
24  github.com/etcd-io/etcd/releases/download/v3.5.21/etcd-v3.5.21-linux-amd64.tar.gz
52  github.com/containernetworking/plugins/releases/download/v1.8.0/cni-plugins-linux-amd64-v1.8.0.tgz
66  github.com/projectcalico/calico/releases/download/v3.30.3/calicoctl-linux-amd64
1   github.com/projectcalico/calico/archive/v3.30.3.tar.gz
34  github.com/containerd/containerd/releases/download/v2.1.4/containerd-2.1.4-linux-amd64.tar.gz
20  github.com/kubernetes-sigs/cri-tools/releases/download/v1.34.0/crictl-v1.34.0-linux-amd64.tar.gz
12  github.com/opencontainers/runc/releases/download/v1.3.2/runc.amd64
11  github.com/containerd/nerdctl/releases/download/v2.1.4/nerdctl-2.1.4-linux-amd64.tar.gz
62  github.com/cilium/cilium-cli/releases/download/v0.18.7/cilium-linux-amd64.tar.gz
17  get.helm.sh/helm-v3.18.6-linux-amd64.tar.gz
4   github.com/containers/crun/releases/download/1.24/crun-1.24-linux-amd64
6   github.com/youki-dev/youki/releases/download/v0.5.5/youki-0.5.5-x86_64-gnu.tar.gz
100 github.com/kata-containers/kata-containers/releases/download/3.7.0/kata-static-3.7.0-amd64.tar.xz
62  storage.googleapis.com/gvisor/releases/release/20250820/x86_64/runsc
31  storage.googleapis.com/gvisor/releases/release/20250820/x86_64/containerd-shim-runsc-v1
13  github.com/Mirantis/cri-dockerd/releases/download/v0.3.20/cri-dockerd-0.3.20.amd64.tgz
36  github.com/lework/skopeo-binary/releases/download/v1.20.0/skopeo-linux-amd64
'

log() { printf '==> %s\n' "$*" >&2; }
die() { printf 'bench-files: %s\n' "$*" >&2; exit 1; }

dataset() { grep -v '^[[:space:]]*$' <<<"$DATASET"; }

# --- setup ---------------------------------------------------------------------------------------

cleanup() {
  "$NGINX_SH" stop "$NGINX_WORK" || true
  rm -rf "$RUN/dest"
}

# Generates the data set once (random content) and its sha256 sums; reuses them when the spec
# stamp matches and every file has the expected size.
prepare_data() {
  local spec_sum
  spec_sum=$(dataset | sha256sum | cut -d' ' -f1)
  if [ -f "$META/spec" ] && [ "$(cat "$META/spec")" = "$spec_sum" ] && [ -f "$META/sha256sums" ] && data_sizes_ok; then
    log "reusing the data set in $DATA"
    return
  fi
  log "generating the data set in $DATA (random content, about 800 MB)"
  rm -rf "$DATA" "$META"
  mkdir -p "$DATA" "$META"
  local mib path
  while read -r mib path; do
    mkdir -p "$DATA/$(dirname "$path")"
    head -c "$((mib * 1024 * 1024))" /dev/urandom >"$DATA/$path"
  done < <(dataset)
  log "computing sha256 sums"
  (cd "$DATA" && dataset | awk '{print $2}' | xargs -P "$(nproc)" -n 5 sha256sum) >"$META/sha256sums.tmp"
  # back into data set order, so every tool downloads the files in the same, fixed order
  awk 'NR == FNR { sum[$2] = $1; next } { print sum[$2] "  " $2 }' "$META/sha256sums.tmp" <(dataset) >"$META/sha256sums"
  rm "$META/sha256sums.tmp"
  echo "$spec_sum" >"$META/spec"
}

data_sizes_ok() {
  local mib path
  while read -r mib path; do
    [ -f "$DATA/$path" ] && [ "$(stat -c %s "$DATA/$path")" -eq "$((mib * 1024 * 1024))" ] || return 1
  done < <(dataset)
}

# Writes the lists for the current port: files.list (plain URLs, for wget and curl) and items.yaml
# (url + sha256 checksum, for offline_file_fetch, which verifies every file as users run it).
write_lists() {
  local base=http://127.0.0.1:$PORT
  mkdir -p "$RUN"
  # no comments in files.list: `wget -i` would take them for URLs
  awk -v base="$base" '{print base "/" $2}' "$META/sha256sums" >"$RUN/files.list"
  awk -v base="$base" '{printf "- url: %s/%s\n  checksum: sha256:%s\n", base, $2, $1}' \
    "$META/sha256sums" >"$RUN/items.yaml"
}

build_fetch() {
  if [ -n "${FETCH_BIN:-}" ]; then
    [ -x "$FETCH_BIN" ] || die "FETCH_BIN=$FETCH_BIN is not an executable"
    return
  fi
  FETCH_BIN=$BENCH_DIR/bin/offline_file_fetch
  log "building offline_file_fetch"
  mkdir -p "$BENCH_DIR/bin"
  (cd "$REPO" && PATH=$PATH:/usr/local/go/bin CGO_ENABLED=0 \
    go build -trimpath -ldflags='-s -w' -o "$FETCH_BIN" ./modules/airgap)
}

start_nginx() {
  "$NGINX_SH" stop "$NGINX_WORK"
  PORT=$("$NGINX_SH" free-port)
  "$NGINX_SH" start "$NGINX_WORK" "$DATA" "$PORT" "$@"
  write_lists
}

# --- the tools under test ------------------------------------------------------------------------

# kubespray contrib/offline/manage-offline-files.sh: one wget reading the list, serial.
run_wget() { wget -x -q -P "$1" -i "$RUN/files.list"; }

# kubespray-offline download-kubespray-files.sh: a shell loop, one curl per file.
run_curl() {
  local dest=$1 url rel
  while read -r url; do
    case $url in '' | '#'*) continue ;; esac
    rel=${url#http://}
    curl -fsSL --create-dirs -o "$dest/$rel" "$url"
  done <"$RUN/files.list"
}

# offline_file_fetch with its default concurrency; keeps its JSON result for the checks.
run_fetch() {
  # shellcheck disable=SC2086 # FETCH_ARGS is a list of words on purpose
  "$FETCH_BIN" --list "$RUN/items.yaml" --dest "$1" $FETCH_ARGS >"$RUN/fetch.json"
}

# --- measuring -----------------------------------------------------------------------------------

fresh_dest() {
  rm -rf "$RUN/dest"
  mkdir -p "$RUN/dest"
  sync # flush the previous run's writes so they do not slow the next one down
}

# timed FUNC DEST: runs FUNC DEST and prints its wall-clock seconds on stdout.
timed() {
  local t0 t1
  t0=$EPOCHREALTIME
  "$@" || die "$1 failed (exit $?)"
  t1=$EPOCHREALTIME
  awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f\n", b - a }'
}

median() { printf '%s\n' "$@" | sort -g | awk '{v[NR] = $1} END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# verify_dest DEST: all files present at DEST/127.0.0.1:PORT/<path> with the right sha256.
verify_dest() {
  (cd "$1/127.0.0.1:$PORT" && sha256sum --quiet -c "$META/sha256sums") ||
    die "offline_file_fetch left missing or corrupt files in $1 (result: $(head -c 2000 "$RUN/fetch.json"))"
}

# check_result KEY VALUE...: asserts fields of the last offline_file_fetch JSON result.
check_result() {
  python3 - "$RUN/fetch.json" "$@" <<'EOF' || die "unexpected offline_file_fetch result: $(head -c 2000 "$RUN/fetch.json")"
import json, sys
res = json.load(open(sys.argv[1]))
pairs = sys.argv[2:]
for key, want in zip(pairs[::2], pairs[1::2]):
    node = res
    for part in key.split("."):
        node = node[part]
    if str(node).lower() != want.lower():
        sys.exit(f"{key} = {node!r}, expected {want}")
EOF
}

# --- main ----------------------------------------------------------------------------------------

main() {
  command -v wget >/dev/null || die "wget is not installed"
  command -v curl >/dev/null || die "curl is not installed"
  mkdir -p "$BENCH_DIR"
  trap cleanup EXIT
  local n_files
  n_files=$(dataset | wc -l)

  build_fetch
  prepare_data

  # Unthrottled pass, BENCH_REPS rounds; the tools alternate inside a round so drift hits all.
  start_nginx
  log "unthrottled: $BENCH_REPS rounds of wget -x loop, curl loop, offline_file_fetch, no-op rerun"
  local -a t_wget=() t_curl=() t_fetch=() t_noop=()
  local i
  for ((i = 1; i <= BENCH_REPS; i++)); do
    fresh_dest; t_wget+=("$(timed run_wget "$RUN/dest")")
    fresh_dest; t_curl+=("$(timed run_curl "$RUN/dest")")
    fresh_dest; t_fetch+=("$(timed run_fetch "$RUN/dest")")
    check_result totals.failed 0 totals.items "$n_files" totals.fetched "$n_files"
    verify_dest "$RUN/dest"
    sync
    t_noop+=("$(timed run_fetch "$RUN/dest")")
    check_result changed false totals.failed 0 totals.skipped "$n_files" totals.fetched 0
    log "round $i: wget ${t_wget[-1]}s  curl ${t_curl[-1]}s  offline_file_fetch ${t_fetch[-1]}s  no-op ${t_noop[-1]}s"
  done
  local u_wget u_curl u_fetch u_noop
  u_wget=$(median "${t_wget[@]}")
  u_curl=$(median "${t_curl[@]}")
  u_fetch=$(median "${t_fetch[@]}")
  u_noop=$(median "${t_noop[@]}")

  # Throttled pass: every connection capped at BENCH_RATE, once each.
  start_nginx "$BENCH_RATE"
  log "limit_rate $BENCH_RATE: wget -x loop, curl loop, offline_file_fetch (about 40 s each for the serial tools)"
  local r_wget r_curl r_fetch
  fresh_dest; r_wget=$(timed run_wget "$RUN/dest")
  log "wget -x loop ${r_wget}s"
  fresh_dest; r_curl=$(timed run_curl "$RUN/dest")
  log "curl loop ${r_curl}s"
  fresh_dest; r_fetch=$(timed run_fetch "$RUN/dest")
  log "offline_file_fetch ${r_fetch}s"
  check_result totals.failed 0 totals.fetched "$n_files"
  verify_dest "$RUN/dest"

  report "$u_wget" "$u_curl" "$u_fetch" "$u_noop" "$r_wget" "$r_curl" "$r_fetch"
}

# ratio A B [DECIMALS]: A / B, printed with 2 decimals unless told.
ratio() { awk -v a="$1" -v b="$2" -v d="${3:-2}" 'BEGIN { printf "%.*f", d, a / b }'; }

# le A B: true when A <= B (floats).
le() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a <= b) }'; }

report() {
  local u_wget=$1 u_curl=$2 u_fetch=$3 u_noop=$4 r_wget=$5 r_curl=$6 r_fetch=$7
  local bytes total_mb fetch_desc
  bytes=$(dataset | awk '{s += $1} END {print s * 1024 * 1024}')
  total_mb=$(awk -v b="$bytes" 'BEGIN { printf "%.0f", b / 1e6 }')
  fetch_desc="offline_file_fetch${FETCH_ARGS:+ $FETCH_ARGS}"
  echo
  echo "bench-files: $(dataset | wc -l) files, $total_mb MB, nginx on 127.0.0.1, $(nproc) cores"
  echo "unthrottled: median of $BENCH_REPS runs; limit_rate $BENCH_RATE per connection: 1 run"
  echo
  printf '%-44s %12s %14s\n' "run" "wall seconds" "vs wget -x loop"
  printf '%-44s %12s %14s\n' "--------------------------------------------" "------------" "--------------"
  row() { printf '%-44s %12.2f %13sx\n' "$1" "$2" "$(ratio "$2" "$3")"; }
  row "wget -x loop (contrib/offline)" "$u_wget" "$u_wget"
  row "curl loop (kubespray-offline)" "$u_curl" "$u_wget"
  row "$fetch_desc" "$u_fetch" "$u_wget"
  row "wget -x loop, limit_rate $BENCH_RATE" "$r_wget" "$r_wget"
  row "curl loop, limit_rate $BENCH_RATE" "$r_curl" "$r_wget"
  row "$fetch_desc, limit_rate $BENCH_RATE" "$r_fetch" "$r_wget"
  echo
  printf 'no-op rerun: %.3f s = %s%% of the first run (%.2f s)\n' "$u_noop" \
    "$(awk -v a="$u_noop" -v b="$u_fetch" 'BEGIN { printf "%.1f", 100 * a / b }')" "$u_fetch"
  echo

  local failed=0
  check() { # check LABEL VALUE LIMIT
    if le "$2" "$3"; then
      printf 'PASS  %-52s %s <= %s\n' "$1" "$2" "$3"
    else
      printf 'FAIL  %-52s %s >  %s\n' "$1" "$2" "$3"
      failed=1
    fi
  }
  check "unthrottled: offline_file_fetch / wget -x loop" "$(ratio "$u_fetch" "$u_wget" 3)" 1.0
  check "limit_rate $BENCH_RATE: offline_file_fetch / wget -x loop" "$(ratio "$r_fetch" "$r_wget" 3)" 0.35
  check "no-op rerun / first run" "$(ratio "$u_noop" "$u_fetch" 3)" 0.10
  return "$failed"
}

main "$@"

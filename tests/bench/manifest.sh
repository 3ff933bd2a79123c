#!/usr/bin/env bash
# Benchmark: the airgap.kubespray.manifest playbook on Kubespray's sample inventory with
# shared/kubespray/hosts.yaml, one arch and two, against the 15 s budget (issue 3).
#
#   tests/bench/manifest.sh            (make bench-manifest; needs `make collection` first)
#   KUBESPRAY=../shared/kubespray/v2.31.0 BENCH_REPS=3 tests/bench/manifest.sh
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
kubespray=$(realpath "${KUBESPRAY:-$repo/../shared/kubespray/v2.31.0}")
reps=${BENCH_REPS:-3}
work=$(mktemp -d "${TMPDIR:-/tmp}/airgap-bench-manifest.XXXXXX")
trap 'rm -rf "$work"' EXIT

export ANSIBLE_COLLECTIONS_PATH=$work/collections
ansible-galaxy collection install --force -p "$work/collections" "$repo"/build/airgap-kubespray-*.tar.gz >/dev/null
mkdir -p "$work/inventory"
cp -r "$kubespray/inventory/sample/group_vars" "$work/inventory/"
chmod -R u+w "$work/inventory"
cp "$kubespray/../hosts.yaml" "$work/inventory/hosts.yaml"

median_of_runs() { # ARGS...: prints the median wall seconds of $reps runs
  local times=()
  for _ in $(seq "$reps"); do
    local start end
    start=$(date +%s.%N)
    ansible-playbook -i "$work/inventory/hosts.yaml" airgap.kubespray.manifest \
      -e "airgap_kubespray_dir=$kubespray" -e "airgap_manifest_dir=$work/out" "$@" >"$work/log" 2>&1 ||
      { cat "$work/log"; exit 1; }
    end=$(date +%s.%N)
    times+=("$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.3f", b - a }')")
  done
  printf '%s\n' "${times[@]}" | sort -n | sed -n "$(((reps + 1) / 2))p"
}

one=$(median_of_runs)
two=$(median_of_runs -e '{"airgap_arches": ["amd64", "arm64"]}')
echo "bench-manifest: Kubespray $(basename "$kubespray"), 3 hosts, median of $reps runs"
printf '  one arch (amd64):         %6.2f s  (%.2fx the 15 s budget)\n' "$one" "$(awk -v t="$one" 'BEGIN { print t / 15 }')"
printf '  two arches (amd64+arm64): %6.2f s\n' "$two"
if awk -v t="$one" 'BEGIN { exit !(t < 15) }'; then echo "PASS  one arch under 15 s"; else echo "FAIL  one arch under 15 s"; exit 1; fi

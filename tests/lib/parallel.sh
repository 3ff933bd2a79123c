#!/usr/bin/env bash
# Run command chains side by side, each chain's output held in a log and printed whole when it
# ends (so that two suites' lines never interleave), and fail when any chain failed.
#
#   tests/lib/parallel.sh 'make test-demo-run && make test-clients-run' 'make test-os-repos-run'
#
# Each argument is one chain, run by bash -c; its exit status is the chain's. Used by `make test`
# for the suites that run on one ansible-core lane and use about one core each (test-os-repos,
# test-demo then test-clients, test-daytwo): two at a time on a two-core machine.
set -uo pipefail
[ $# -gt 0 ] || { echo "usage: $0 CHAIN..." >&2; exit 2; }
logs=$(mktemp -d "${TMPDIR:-/tmp}/airgap-parallel.XXXXXX")
trap 'rm -rf "$logs"' EXIT
pids=()
for i in $(seq 1 $#); do
  bash -c "${!i}" >"$logs/$i.log" 2>&1 &
  pids+=($!)
done
rc=0
# print each chain's log as soon as it ends, in the order they end
left=$#
declare -A done_=()
while [ "$left" -gt 0 ]; do
  wait -n "${pids[@]}" 2>/dev/null || true
  for i in $(seq 1 $#); do
    [ -z "${done_[$i]:-}" ] || continue
    pid=${pids[$((i - 1))]}
    if ! kill -0 "$pid" 2>/dev/null; then
      wait "$pid"; status=$?
      done_[$i]=1; left=$((left - 1))
      echo "=== chain $i (exit $status): ${!i}"
      cat "$logs/$i.log"
      [ "$status" -eq 0 ] || rc=1
    fi
  done
done
exit $rc

# shellcheck shell=bash
# Shared by the shell test suites (tests/repos/run.sh, tests/os_repos/run.sh); needs $tmp.
#   check NAME CMD...   runs CMD (errexit on) with its output in $tmp/logs/NAME.log; PASS/FAIL
#   step MSG CMD...     a setup step: its output in $tmp/logs/setup-MSG.log; exits on failure
#   fail MSG            prints MSG and returns 1
# passed and failed hold the names of the checks.
passed=()
failed=()
# check NAME COMMAND...: runs one check, logs to $tmp/logs/<slug of NAME>.log, records PASS/FAIL.
# COMMAND runs with errexit and pipefail: its first failing command fails the check.
check() {
  local name=$1 log start rc=0
  # shellcheck disable=SC2154 # tmp: the sourcing suite's scratch folder
  log=$tmp/logs/$(echo "$1" | tr -cs 'a-zA-Z0-9' '-' | sed 's/-$//').log
  shift
  printf '%-66s ' "$name"
  start=$(date +%s.%N)
  # In a subshell with errexit really on: any failing command (e.g. `grep -q X || fail "..."`)
  # fails the check. (Run as `f || rc=$?`, bash would ignore errexit inside f.)
  set +e
  (set -e; "$@") >"$log" 2>&1
  rc=$?
  set -e
  local took
  took=$(/usr/bin/python3 -c "print('%.1f' % ($(date +%s.%N) - $start))")
  if [ $rc -eq 0 ]; then
    echo "PASS (${took} s)"
    passed+=("$name")
  else
    echo "FAIL (${took} s)"
    failed+=("$name")
    echo "----- $log (last 80 lines)"
    tail -n 80 "$log" | sed 's/^/  | /'
    echo "-----"
  fi
}
# step MESSAGE COMMAND...: setup that the checks need; stops the run if it fails.
step() {
  local msg=$1 log
  log=$tmp/logs/setup-$(echo "$1" | tr -cs 'a-zA-Z0-9' '-' | sed 's/-$//').log
  shift
  if ! "$@" >"$log" 2>&1; then
    echo "run.sh: setup failed: $msg" >&2
    tail -n 40 "$log" >&2
    exit 1
  fi
}
fail() { echo "$*"; return 1; }

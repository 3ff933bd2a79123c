#!/usr/bin/env bash
# The manifest suite on the current Ansible lane (tests/lib/ansible-lane.sh sets
# AIRGAP_ANSIBLE_LANE): the whole suite on the lanes in MANIFEST_FULL_LANES (default 2.18, the line
# Kubespray 2.31 and master pin), elsewhere the tests named in MANIFEST_LANE_TESTS: those that
# depend on the ansible-core line.
#
#   tests/lib/ansible-lane.sh run 2.19 tests/manifest/run.sh
set -euo pipefail
cd "$(dirname "$0")"
full=" ${MANIFEST_FULL_LANES:-2.18} "
if [ -z "${AIRGAP_ANSIBLE_LANE:-}" ] || [[ $full == *" $AIRGAP_ANSIBLE_LANE "* ]] || [ -z "${MANIFEST_LANE_TESTS:-}" ]; then
  exec /usr/bin/python3 -m unittest discover -v
fi
read -r -a tests <<<"$MANIFEST_LANE_TESTS"
# the steps of those tests that exercise Go modules more than the Ansible line (a delta download, a
# tampered bundle) run on the full lane only: AIRGAP_MANIFEST_FULL=0 here

AIRGAP_MANIFEST_FULL=0 exec /usr/bin/python3 -m unittest -v "${tests[@]}"

#!/usr/bin/env bash
# ansible-test sanity on the collection as it ships, on the lane first on PATH
# (tests/lib/ansible-lane.sh run LANE tests/sanity/run.sh; `make sanity` runs the lanes that have it).
#
# The built tarball (build/airgap-kubespray-*.tar.gz, `make collection`) is installed into a scratch
# ansible_collections/airgap/kubespray, the tracked tests/ copied beside it (ignore files, shell
# scripts), and ansible-test sanity runs there with --local on Debian's /usr/bin/python3 (3.11).
# The tools it needs are Debian's packages (tests/setup-host.sh): pylint, pycodestyle, yamllint,
# voluptuous and the shellcheck tool; ansible-test's per-test virtual environments, which would pip-install pinned tools
# from PyPI (not reachable here), are one environment with Debian's packages
# (tests/sanity/ansible_test_offline.py).
#
# Tests skipped, per lane (all others run):
#   2.19  validate-modules needs antsibull-docs-parser, which only PyPI has; validate-modules runs
#                          on the 2.14 lane
#   both  changelog        needs antsibull-changelog, which only PyPI has; `make lint` checks the
#                          fragments (tests/lib/changelog_lint.py)
# On 2.19, pylint is Debian trixie's (pylint 3.3 and astroid 3.3, the versions ansible-test 2.19's
# pylint plugins need; Debian 12 has 2.16): their .debs are fetched with apt-get download (signature
# checked with the archive keyring), unpacked into $AIRGAP_CACHE/sanity-pylint and put first on the
# path of that lane's sanity environment; their own dependencies are Debian 12's.
# Lanes 2.17 and 2.18 (../shared/vendor) hold ansible-core's lib/ and bin/ without ansible_test.
#
#   AIRGAP_KEEP_TMP=1 tests/sanity/run.sh    keep the scratch folder (tests/output has the details)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
lane=${AIRGAP_ANSIBLE_LANE:?run through tests/lib/ansible-lane.sh run LANE}
cache=${AIRGAP_CACHE:-/var/cache/airgap-kubespray}

case $lane in
  2.14) skip=(changelog) ;;
  2.19) skip=(changelog validate-modules) ;;
  *) echo "sanity: lane $lane has no ansible-test (see tests/sanity/run.sh)" >&2; exit 1 ;;
esac

shopt -s nullglob
tarballs=("$repo"/build/airgap-kubespray-*.tar.gz)
shopt -u nullglob
[ ${#tarballs[@]} -eq 1 ] || { echo "sanity: expected one build/airgap-kubespray-*.tar.gz (make collection)" >&2; exit 1; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/airgap-sanity.XXXXXX")
cleanup() { if [ "${AIRGAP_KEEP_TMP:-0}" = 1 ]; then echo "kept $tmp"; else rm -rf "$tmp"; fi; }
trap cleanup EXIT

ansible-galaxy collection install -p "$tmp" "${tarballs[0]}" >"$tmp/install.log" 2>&1 ||
  { cat "$tmp/install.log" >&2; exit 1; }
coll=$tmp/ansible_collections/airgap/kubespray
(cd "$repo" && git ls-files -z tests | tar -cf - --null -T -) | tar -xf - -C "$coll"

# trixie_pylint: Debian trixie's pylint and astroid unpacked once into $cache/sanity-pylint (idempotent)
trixie_pylint() {
  local dir=$cache/sanity-pylint
  [ -d "$dir/root/usr/lib/python3/dist-packages/pylint" ] && return 0
  rm -rf "$dir.tmp"
  "$repo/tests/lib/ansible-lane.sh" unpack-trixie "$dir.tmp" pylint python3-astroid
  rm -rf "$dir"
  mv "$dir.tmp" "$dir"
}
if [ "$lane" = 2.19 ]; then
  trixie_pylint
  export AIRGAP_SANITY_PATH_FIRST=$cache/sanity-pylint/root/usr/lib/python3/dist-packages
fi

args=(sanity --local --python 3.11 --color no)
for t in "${skip[@]}"; do args+=(--skip-test "$t"); done
echo "ansible-test ${args[*]} (ansible-core $lane)"
cd "$coll"
/usr/bin/python3 "$here/ansible_test_offline.py" "$cache/sanity-venv/$lane" "${args[@]}"

#!/usr/bin/env bash
# Integration tests for the airgap.kubespray collection, run against the INSTALLED tarball:
#
#   1. builds the collection (`make collection`), checks the tarball (size, binaries, no sources)
#      and installs it into a scratch collections path;
#   2. serves upstream-like files (dl.k8s.io/..., github.com/...) from a throw-away nginx on
#      127.0.0.1 (tests/lib/nginx.sh) and points the module's `url_mirrors` at it;
#   3. checks ansible-doc, then runs the playbooks in this folder from a scratch copy, so only
#      the installed collection can be picked up.
#
#   tests/integration/run.sh
#   AIRGAP_SKIP_BUILD=1 tests/integration/run.sh   # reuse build/airgap-kubespray-*.tar.gz
#   AIRGAP_KEEP_TMP=1   tests/integration/run.sh   # keep the scratch folder for inspection
#   AIRGAP_CHECKS="mirror_containers repos_playbook" tests/integration/run.sh   # only these checks
#
# Needs the packages from tests/setup-host.sh and Go in /usr/local/go. Exits non-zero if any
# check failed.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
nginx_sh=$repo/tests/lib/nginx.sh
export PATH=/usr/local/go/bin:$PATH
max_bytes=20000000 # Galaxy rejects uploads over 20 MB (same limit as the Makefile)

tmp=$(mktemp -d "${TMPDIR:-/tmp}/airgap-it.XXXXXX")
chmod 755 "$tmp" # nginx workers run unprivileged and must read $tmp/www
cleanup() {
  "$nginx_sh" stop "$tmp/nginx" || true
  if [ "${AIRGAP_KEEP_TMP:-0}" = 1 ]; then
    echo "kept $tmp"
  else
    rm -rf "$tmp"
  fi
}
trap cleanup EXIT

passed=()
failed=()
# check NAME COMMAND...: runs one check, logs to $tmp/logs/<slug of NAME>.log, records PASS/FAIL.
check() {
  local name=$1 log
  # AIRGAP_CHECKS="fn1 fn2": run only those checks.
  if [ -n "${AIRGAP_CHECKS:-}" ] && [[ " $AIRGAP_CHECKS " != *" ${!#} "* ]]; then return 0; fi
  log=$tmp/logs/$(echo "$1" | tr -cs 'a-zA-Z0-9' '-' | sed 's/-$//').log
  shift
  mkdir -p "$tmp/logs"
  printf '%-52s ' "$name"
  local t0=$SECONDS
  if "$@" >"$log" 2>&1; then
    echo "PASS ($((SECONDS - t0)) s)"
    passed+=("$name")
  else
    echo "FAIL ($((SECONDS - t0)) s)"
    failed+=("$name")
    echo "----- $log (last 80 lines)"
    tail -n 80 "$log" | sed 's/^/  | /'
    echo "-----"
  fi
}

# --- build ---------------------------------------------------------------------------------------
cd "$repo"
if [ "${AIRGAP_SKIP_BUILD:-0}" != 1 ]; then
  make collection
fi
shopt -s nullglob
tarballs=(build/airgap-kubespray-*.tar.gz)
shopt -u nullglob
if [ ${#tarballs[@]} -ne 1 ]; then
  echo "run.sh: expected exactly one build/airgap-kubespray-*.tar.gz, found ${#tarballs[@]}" >&2
  exit 1
fi
tarball=$repo/${tarballs[0]}
echo "collection: $tarball ($(stat -c %s "$tarball") bytes)"

tarball_is_small() {
  local size
  size=$(stat -c %s "$tarball")
  echo "size $size bytes, limit $max_bytes"
  [ "$size" -lt "$max_bytes" ]
}

tarball_contents() {
  local list=$tmp/tarball.list
  tar -tvzf "$tarball" >"$list"
  cat "$list"
  local ok=0 arch
  for arch in amd64 arm64; do
    # One multi-call binary per arch, packed with its exec bit, and each module a link to it:
    # "-rwxr-xr-x ... plugins/bin/airgap_linux_amd64",
    # "lrw-r--r-- ... plugins/modules/offline_file_fetch_linux_amd64 -> ../bin/airgap_linux_amd64".
    grep -Eq "^-..x.* plugins/bin/airgap_linux_${arch}\$" "$list" ||
      { echo "missing or not executable: plugins/bin/airgap_linux_${arch}"; ok=1; }
    grep -Eq "^l.* plugins/modules/offline_file_fetch_linux_${arch} -> \.\./bin/airgap_linux_${arch}\$" "$list" ||
      { echo "missing link: plugins/modules/offline_file_fetch_linux_${arch}"; ok=1; }
    # The modules that run on every node: links to the small node-side binary, not the big one.
    grep -Eq "^-..x.* plugins/bin/airgap_node_linux_${arch}\$" "$list" ||
      { echo "missing or not executable: plugins/bin/airgap_node_linux_${arch}"; ok=1; }
    local node
    for node in offline_repo_config offline_probe; do
      grep -Eq "^l.* plugins/modules/${node}_linux_${arch} -> \.\./bin/airgap_node_linux_${arch}\$" "$list" ||
        { echo "missing link: plugins/modules/${node}_linux_${arch}"; ok=1; }
    done
  done
  local want
  for want in plugins/modules/offline_file_fetch.py plugins/action/offline_file_fetch.py \
    plugins/plugin_utils/binary_module.py meta/runtime.yml MANIFEST.json FILES.json README.md LICENSE \
    CHANGELOG.rst changelogs/changelog.yaml; do
    grep -Eq " ${want}\$" "$list" || { echo "missing: $want"; ok=1; }
  done
  local bad
  bad=$(awk '{print $NF}' "$list" | grep -E '(^|/)(modules/|tests/|build/|\.ci/|\.cache/|\.git)|\.go$|(^|/)go\.(mod|sum)$|(^|/)Makefile$' |
    grep -v '^plugins/' || true)
  if [ -n "$bad" ]; then
    echo "dev-only files packed:"
    echo "$bad"
    ok=1
  fi
  return $ok
}

check "tarball is under 20 MB" tarball_is_small
check "tarball packs binaries and no sources" tarball_contents

ansible-galaxy collection install --force -p "$tmp/collections" "$tarball" >"$tmp/install.log" 2>&1 ||
  { cat "$tmp/install.log" >&2; exit 1; }
installed=$tmp/collections/ansible_collections/airgap/kubespray

# --- environment: the installed collection only ----------------------------------------------------
: >"$tmp/ansible.cfg" # an empty config: no ansible.cfg from the cwd, $HOME or /etc applies
export ANSIBLE_CONFIG=$tmp/ansible.cfg
export ANSIBLE_COLLECTIONS_PATH=$tmp/collections
export ANSIBLE_ROLES_PATH=$tmp/integration/targets
export ANSIBLE_LOCAL_TEMP=$tmp/ansible-local
export ANSIBLE_REMOTE_TEMP=$tmp/ansible-remote
export ANSIBLE_PYTHON_INTERPRETER=/usr/bin/python3
export ANSIBLE_RETRY_FILES_ENABLED=false
export ANSIBLE_NOCOLOR=1
export ANSIBLE_FORCE_COLOR=0
export ANSIBLE_DEPRECATION_WARNINGS=false
export ANSIBLE_BECOME_ALLOW_SAME_USER=true # we are root: make `become: true` really go through sudo
cp -a "$here" "$tmp/integration" # playbooks run from here, away from the source tree

# --- fixtures: upstream-like files behind a local nginx --------------------------------------------
www=$tmp/www
make_file() { # make_file RELPATH KIB
  mkdir -p "$(dirname "$www/$1")"
  head -c "$(($2 * 1024))" /dev/urandom >"$www/$1"
}
make_file dl.k8s.io/release/v1.0.0/bin/linux/amd64/kubelet 4096
make_file dl.k8s.io/release/v1.0.0/bin/linux/amd64/kubectl 2048
make_file github.com/containernetworking/plugins/releases/download/v1.0.0/cni-plugins-linux-amd64-v1.0.0.tgz 1024
make_file github.com/etcd-io/etcd/releases/download/v3.0.0/etcd-v3.0.0-linux-amd64.tar.gz 512
make_file github.com/kubernetes-sigs/cri-tools/releases/download/v1.0.0/crictl-v1.0.0-linux-amd64.tar.gz 300
make_file github.com/opencontainers/runc/releases/download/v1.0.0/runc.amd64 700

port=$("$nginx_sh" free-port)
"$nginx_sh" start "$tmp/nginx" "$www" "$port"
echo "nginx: http://127.0.0.1:$port/ serving $www"
served=$(curl -fsS "http://127.0.0.1:$port/dl.k8s.io/release/v1.0.0/bin/linux/amd64/kubectl" | sha256sum)
if [ "${served%% *}" != "$(sha256sum <"$www/dl.k8s.io/release/v1.0.0/bin/linux/amd64/kubectl" | cut -d' ' -f1)" ]; then
  echo "run.sh: nginx does not serve the fixtures (see $tmp/nginx/logs/error.log)" >&2
  exit 1
fi

mkdir -p "$tmp/work"
/usr/bin/python3 - "$www" "$port" "$tmp/work" >"$tmp/vars.json" <<'EOF'
import hashlib, json, os, sys

www, port, work = sys.argv[1], sys.argv[2], sys.argv[3]

def upstream(rel):
    with open(os.path.join(www, rel), 'rb') as f:
        data = f.read()
    return {'url': 'https://' + rel, 'path': rel, 'sha256': hashlib.sha256(data).hexdigest(),
            'size': len(data)}

files = [upstream(rel) for rel in (
    'dl.k8s.io/release/v1.0.0/bin/linux/amd64/kubelet',
    'dl.k8s.io/release/v1.0.0/bin/linux/amd64/kubectl',
    'github.com/containernetworking/plugins/releases/download/v1.0.0/cni-plugins-linux-amd64-v1.0.0.tgz',
    'github.com/etcd-io/etcd/releases/download/v3.0.0/etcd-v3.0.0-linux-amd64.tar.gz',
)]
files[3]['path'] = 'custom/etcd.tar.gz'  # an explicit `path` instead of <host>/<url path>
items = [{'url': f['url'], 'checksum': 'sha256:' + f['sha256']} for f in files]
items[3]['path'] = files[3]['path']

bad = upstream('github.com/opencontainers/runc/releases/download/v1.0.0/runc.amd64')
bad['checksum'] = 'sha256:' + '0' * 64

json.dump({
    'fft_work': work,
    'fft_mirrors': [
        {'prefix': 'https://dl.k8s.io', 'replace': 'http://127.0.0.1:%s/dl.k8s.io' % port},
        {'prefix': 'https://github.com', 'replace': 'http://127.0.0.1:%s/github.com' % port},
    ],
    'fft_items': items,
    'fft_expect': files,
    'fft_plain': upstream('github.com/kubernetes-sigs/cri-tools/releases/download/v1.0.0/crictl-v1.0.0-linux-amd64.tar.gz'),
    'fft_bad': bad,
}, sys.stdout, indent=2)
EOF

# --- documentation -------------------------------------------------------------------------------
options=(items url checksum path dest concurrency retries timeout validate_certs ca_path
  url_username url_password headers url_mirrors prefix replace mode force)

doc_names_every_option() {
  local out=$tmp/ansible-doc.txt rc=0 opt
  ansible-doc airgap.kubespray.offline_file_fetch >"$out" 2>&1 || rc=$?
  cat "$out"
  [ "$rc" -eq 0 ] || { echo "ansible-doc exited $rc"; return 1; }
  # The page must come from the installed collection, not from a source checkout.
  grep -qF "$installed/plugins/modules/offline_file_fetch.py" "$out" ||
    { echo "page not read from $installed"; return 1; }
  for opt in "${options[@]}"; do
    # Option headings look like "- url_password" (2.14) or "url_password" on its own line.
    grep -Eq "^[[:space:]]*(- |[=-] ?)?${opt}\b" "$out" || { echo "option not documented: $opt"; rc=1; }
  done
  return $rc
}

doc_list_has_module() {
  local out=$tmp/ansible-doc-l.txt rc=0 name
  ansible-doc -l airgap.kubespray >"$out" 2>&1 || { cat "$out"; return 1; }
  cat "$out"
  # Every module documented and listed once; the binaries beside the stubs in plugins/modules
  # (links to plugins/bin) are neither listed nor warned about, on every ansible-core lane.
  for name in $(cd "$installed/plugins/modules" && ls -- *.py); do
    name=${name%.py}
    [ "$(grep -Ec "^airgap\.kubespray\.${name}[[:space:]]" "$out")" -eq 1 ] || { echo "not listed once: $name"; rc=1; }
  done
  if grep -Ev '^airgap\.kubespray\.[a-z0-9_]+[[:space:]]+[^[:space:]]' "$out"; then
    echo "ansible-doc -l printed more than the modules (above)"
    rc=1
  fi
  return $rc
}

check "ansible-doc names every option" doc_names_every_option
check "ansible-doc -l lists every module, no warning" doc_list_has_module

# --- playbooks -----------------------------------------------------------------------------------
cd "$tmp/integration"
playbook() { # playbook LOG_NAME ARGS...: ansible-playbook -vvv with the fixture vars
  local log=$tmp/logs/$1.vvv.log
  shift
  ansible-playbook -vvv -e "@$tmp/vars.json" "$@" >"$log" 2>&1
  local rc=$?
  # Task headers and statuses; the full result of failed tasks (up to 40 lines each).
  awk '/^(fatal|failed):/ { n = 40 }
       n > 0 { print; if ($0 == "}") n = 0; else n--; next }
       /^(PLAY|TASK|ok:|changed:|skipping:|\.\.\.ignoring)/ || /^[a-z0-9-]+ +: ok=/' "$log"
  return $rc
}

facts_gathered() {
  playbook site -i localhost, -c local site.yml || return 1
  # With facts the platform comes from them: no `uname -sm` round-trip.
  if grep -q "uname -sm" "$tmp/logs/site.vvv.log"; then
    echo "uname -sm ran although facts were gathered"
    return 1
  fi
  # `become: true` ran the binary through sudo.
  grep -Eq "EXEC /bin/sh -c 'sudo .*-u root .*AnsiballZ_offline_file_fetch_linux_" "$tmp/logs/site.vvv.log" ||
    { echo "no sudo-wrapped run of the binary in the log"; return 1; }
}

dispatch() {
  playbook dispatch -i inventory.ini dispatch.yml || return 1
  # node1 gathered no facts: the platform must have come from uname over the connection.
  grep -q "uname -sm" "$tmp/logs/dispatch.vvv.log" || { echo "uname -sm never ran"; return 1; }
}

missing_binary() {
  rm -rf "$tmp/collections-noarm"
  cp -a "$tmp/collections" "$tmp/collections-noarm"
  rm "$tmp/collections-noarm/ansible_collections/airgap/kubespray/plugins/modules/offline_file_fetch_linux_arm64"
  ANSIBLE_COLLECTIONS_PATH=$tmp/collections-noarm \
    playbook missing_binary -i inventory.ini missing_binary.yml
}

# The collection's playbook, by FQCN, fed a contrib/offline files.list (comments, blank lines).
fetch_files_playbook() {
  local dir=$tmp/work/playbook-files list=$tmp/work/files.list recap
  /usr/bin/python3 - "$tmp/vars.json" "$list" "$tmp/work/playbook-vars.json" "$dir" <<'PY' || return 1
import json, sys
v = json.load(open(sys.argv[1]))
with open(sys.argv[2], 'w') as f:
    f.write('# generated by contrib/offline/generate_list.sh\n\n')
    for it in v['fft_expect'][:3]:
        f.write(it['url'] + '\n')
json.dump({'airgap_files_list': sys.argv[2], 'airgap_files_dir': sys.argv[4],
           'airgap_file_mirrors': v['fft_mirrors']}, open(sys.argv[3], 'w'))
PY
  for run in first second; do
    ansible-playbook airgap.kubespray.fetch_files -e "@$tmp/work/playbook-vars.json" >"$tmp/logs/playbook-$run.log" 2>&1 ||
      { cat "$tmp/logs/playbook-$run.log"; return 1; }
    recap=$(grep -E '^localhost +: ' "$tmp/logs/playbook-$run.log")
    echo "$run run: $recap"
    case $run in
      first) [[ $recap == *"changed=1 "* ]] || { echo "first run should change"; return 1; } ;;
      second) [[ $recap == *"changed=0 "* ]] || { echo "second run should change nothing"; return 1; } ;;
    esac
  done
  /usr/bin/python3 - "$tmp/vars.json" "$dir" <<'PY'
import hashlib, json, os, sys
v = json.load(open(sys.argv[1]))
for it in v['fft_expect'][:3]:
    p = os.path.join(sys.argv[2], it['path'])
    got = hashlib.sha256(open(p, 'rb').read()).hexdigest()
    assert got == it['sha256'], (p, got)
    print('ok', it['path'])
PY
  # The role validates its variables against meta/argument_specs.yml.
  if ansible-playbook airgap.kubespray.fetch_files -e airgap_files_concurrency=many >"$tmp/logs/playbook-bad.log" 2>&1; then
    echo "a non-integer airgap_files_concurrency was accepted"
    return 1
  fi
  grep -q "airgap_files_concurrency" "$tmp/logs/playbook-bad.log" || { cat "$tmp/logs/playbook-bad.log"; return 1; }
}

# Image modules against real registries: a plain upstream with synthetic images, and a TLS
# registry with htpasswd auth to push to.
images_target() {
  local reg_sh=$repo/tests/lib/registry.sh up target names=$tmp/work/image-names.list
  up=$("$reg_sh" free-port) && target=$("$reg_sh" free-port) || return 1
  "$reg_sh" start "$tmp/reg-up" "$up" >/dev/null || return 1
  "$reg_sh" start "$tmp/reg-target" "$target" --tls --htpasswd "admin:it-Pa55word" >/dev/null || return 1
  printf '%s\n' registry.k8s.io/pause:3.10.1 registry.k8s.io/kube-proxy:v1.35.4 quay.io/calico/node:v3.31.5 \
    docker.io/library/nginx:1.28.2-alpine >"$names"
  (cd "$repo" && go run ./tests/tools/imageset --registry "127.0.0.1:$up" --names "$names" --scale 0.001) >/dev/null 2>&1 ||
    { echo "generating the synthetic images failed"; return 1; }
  /usr/bin/python3 - "$names" "$tmp/work" "$up" "$target" "$tmp/reg-target/tls/ca.pem" >"$tmp/images-vars.json" <<'PY'
import json, sys
names, work, up, target, ca = sys.argv[1:]
print(json.dumps({'oi_work': work, 'oi_upstream': '127.0.0.1:' + up, 'oi_target': '127.0.0.1:' + target,
                  'oi_ca': ca, 'oi_user': 'admin', 'oi_password': 'it-Pa55word',
                  'oi_images': [{'source': l.strip()} for l in open(names) if l.strip()]}))
PY
  local rc=0
  ANSIBLE_ROLES_PATH=$tmp/integration/targets playbook images -i localhost, -c local -e "@$tmp/images-vars.json" images.yml || rc=1
  "$reg_sh" stop "$tmp/reg-up"
  "$reg_sh" stop "$tmp/reg-target"
  return $rc
}

# The repos playbook, by FQCN, on a Debian 12 tree (airgap_repos_root), then reverted.
repos_playbook() {
  local root=$tmp/work/repos-root rc=0
  mkdir -p "$root/etc/apt/sources.list.d" "$root/usr/local/share/ca-certificates"
  printf 'ID=debian\nVERSION_ID="12"\nVERSION_CODENAME=bookworm\n' >"$root/etc/os-release"
  echo "deb http://deb.debian.org/debian bookworm main" >"$root/etc/apt/sources.list"
  printf '[global]\ntimeout = 60\n' >"$root/etc/pip.conf"
  snap() { (cd "$root" && find etc usr -type f -exec sha256sum {} + | sort); }
  printf '{"airgap_mirror_ca_pem": "-----BEGIN CERTIFICATE-----\\nMIIBtest\\n-----END CERTIFICATE-----\\n"}\n' >"$tmp/work/repos-ca.json"
  local before; before=$(snap)
  local args=(-i 'localhost,' -c local -e airgap_repos_become=false -e "airgap_repos_root=$root"
    -e debian_repo=http://127.0.0.1:1/debs/ -e files_repo=http://127.0.0.1:1 -e "@$tmp/work/repos-ca.json")
  ansible-playbook airgap.kubespray.repos "${args[@]}" --check --diff >"$tmp/logs/repos-check.log" 2>&1 || { cat "$tmp/logs/repos-check.log"; return 1; }
  grep -q "airgap-kubespray.sources" "$tmp/logs/repos-check.log" || { echo "--check --diff shows no file"; rc=1; }
  [ "$(snap)" = "$before" ] || { echo "--check wrote files"; rc=1; }
  ansible-playbook airgap.kubespray.repos "${args[@]}" >"$tmp/logs/repos-1.log" 2>&1 || { cat "$tmp/logs/repos-1.log"; return 1; }
  grep -Eq '^localhost +: .*changed=[1-9]' "$tmp/logs/repos-1.log" || { echo "first run did not change"; rc=1; }
  grep -q "URIs: http://127.0.0.1:1/debs/" "$root/etc/apt/sources.list.d/airgap-kubespray.sources" || { echo "no mirror source"; rc=1; }
  grep -q "index-url = http://127.0.0.1:1/pypi/simple/" "$root/etc/pip.conf" || { echo "no pip mirror"; rc=1; }
  [ ! -e "$root/etc/apt/sources.list" ] || { echo "sources.list still in place"; rc=1; }
  for ca in etc/containerd/certs.d/airgap-kubespray-ca.pem usr/local/share/ca-certificates/airgap-kubespray-ca.crt; do
    grep -q MIIBtest "$root/$ca" || { echo "the registry CA is not at $ca"; rc=1; }
  done
  ansible-playbook airgap.kubespray.repos "${args[@]}" >"$tmp/logs/repos-2.log" 2>&1 || { cat "$tmp/logs/repos-2.log"; return 1; }
  grep -Eq '^localhost +: .*changed=0 ' "$tmp/logs/repos-2.log" || { echo "second run changed"; rc=1; }
  ansible-playbook airgap.kubespray.repos "${args[@]}" -e airgap_repos_state=absent >"$tmp/logs/repos-absent.log" 2>&1 ||
    { cat "$tmp/logs/repos-absent.log"; return 1; }
  [ "$(snap)" = "$before" ] || { echo "absent did not restore etc/ byte for byte"; diff <(echo "$before") <(snap); rc=1; }
  return $rc
}

# The files_server and registry roles on 127.0.0.1 (airgap_service_manager=none): up, up again
# (changed=0), changed settings (restart/reload), --check on fresh state folders (nothing written),
# systemd units (content, verify), absent.
ms_handler_changed() { # ms_handler_changed NAME: the handler ran and reported changed in the `change` run
  awk -v h="$1" '/^RUNNING HANDLER/ && index($0, h) {f=1; next} f && /^(changed|ok|skipping|fatal):/ {print $1; exit}' \
    "$tmp/logs/mirror-services-change.vvv.log" | grep -q '^changed:'
}
mirror_services() {
  local ms_vars=$tmp/mirror-services-vars.json recap rc=0 phase
  mkdir -p "$tmp/work/mirror-services"
  printf '{"ms_work": "%s", "ms_files_port": %s, "ms_registry_port": %s, "ms_push_port": %s}\n' "$tmp/work/mirror-services" \
    "$("$nginx_sh" free-port)" "$("$nginx_sh" free-port)" "$("$nginx_sh" free-port)" >"$ms_vars"
  for phase in up again change check systemd absent; do
    local args=(-i 'localhost,' -c local -e "@$ms_vars" -e "ms_phase=${phase/again/up}")
    [ "$phase" = check ] && args+=(--check --diff)
    playbook "mirror-services-$phase" "${args[@]}" mirror_services.yml || { rc=1; break; }
    recap=$(grep -E '^localhost +: ' "$tmp/logs/mirror-services-$phase.vvv.log")
    echo "$phase: $recap"
    case $phase in
      up) [[ $recap == *"changed=0 "* ]] && { echo "first run changed nothing"; rc=1; } ;;
      again) [[ $recap == *"changed=0 "* ]] || { echo "second run changed something"; rc=1; } ;;
      change)
        if ! ms_handler_changed 'Registry | Start the registry again' || ! ms_handler_changed 'Files server | Reload nginx'; then
          echo "a changed configuration did not restart the registry or reload nginx"
          rc=1
        fi
        ;;
    esac
  done
  if [ $rc -ne 0 ]; then # never leave the servers running
    ansible-playbook -i localhost, -c local -e "@$ms_vars" -e ms_phase=absent mirror_services.yml >/dev/null 2>&1 || true
  fi
  return $rc
}

# The same roles with airgap_service_manager=podman, from the bundle's images (files/podman-shim).
mirror_containers() {
  local reg_sh=$repo/tests/lib/registry.sh up names=$tmp/work/ctr-names.list shim=$tmp/work/shim vars=$tmp/ctr-vars.json rc=0 phase recap
  command -v podman >/dev/null || { echo "podman is not installed (tests/setup-host.sh)"; return 1; }
  mkdir -p "$shim/bin" "$tmp/work/containers"
  cp "$repo/tests/integration/files/podman-shim" "$shim/bin/podman"
  up=$("$reg_sh" free-port) || return 1
  "$reg_sh" start "$tmp/reg-ctr-up" "$up" >/dev/null || return 1
  printf '%s\n' docker.io/library/nginx:1.28.2-alpine docker.io/library/registry:2.8.1 >"$names"
  (cd "$repo" && go run ./tests/tools/imageset --registry "127.0.0.1:$up" --names "$names" --scale 0.001 \
    --platforms linux/amd64,linux/arm64) >/dev/null 2>&1 || { echo "generating the synthetic images failed"; return 1; }
  # A 4 MiB filesystem for the mirror's images step to fail on, before writing anything (root only).
  local small=$tmp/work/small-disk
  mkdir -p "$small"
  mount -t tmpfs -o size=4m tmpfs "$small" 2>/dev/null ||
    { echo "cannot mount a tmpfs (not root?): the full-storage case is not checked"; small=""; }
  printf '{"mc_work": "%s", "mc_upstream": "127.0.0.1:%s", "mc_files_port": %s, "mc_registry_port": %s, "mc_push_port": %s, "mc_small_disk": "%s"}\n' \
    "$tmp/work/containers" "$up" "$("$nginx_sh" free-port)" "$("$nginx_sh" free-port)" "$("$nginx_sh" free-port)" "$small" >"$vars"
  for phase in up again change absent; do
    SHIM_DIR=$shim PATH=$shim/bin:$PATH playbook "containers-$phase" -i localhost, -c local -e "@$vars" \
      -e "mc_phase=${phase/again/up}" mirror_containers.yml || { rc=1; break; }
    recap=$(grep -E '^localhost +: ' "$tmp/logs/containers-$phase.vvv.log")
    echo "$phase: $recap"
    case $phase in
      again) [[ $recap == *"changed=0 "* ]] || { echo "second run changed something"; rc=1; } ;;
      change) awk '/^TASK .*Container \| Replace a container of another specification/ {f=1; next}
                   f && /^(changed|ok|skipping|fatal):/ {print $1; exit}' "$tmp/logs/containers-change.vvv.log" |
        grep -q '^changed:' || { echo "a changed nginx configuration did not recreate its container"; rc=1; } ;;
    esac
  done
  [ $rc -eq 0 ] || SHIM_DIR=$shim PATH=$shim/bin:$PATH ansible-playbook -i localhost, -c local -e "@$vars" \
    -e mc_phase=absent mirror_containers.yml >/dev/null 2>&1
  "$reg_sh" stop "$tmp/reg-ctr-up"
  [ -z "$small" ] || umount "$small"
  return $rc
}

# The two mirror checks run the mirror roles through every phase (about 4 and 3 minutes per lane):
# not on every lane. mirror_services: on 2.14 (the oldest), 2.18 (Kubespray 2.31's and master's)
# and 2.19 (its new templating); 2.17 shares 2.18's templating, and test-manifest's download ->
# mirror -> verify chain runs the mirror role on 2.17 too. mirror_containers (the container path
# and the storage fill, Go): on 2.18 and 2.19. AIRGAP_MIRROR_LANES / AIRGAP_CONTAINER_LANES
# ("all") override; with no lane (a run outside tests/lib/ansible-lane.sh) both run.
on_lanes() { # on_lanes "LANES": is this run's lane (AIRGAP_ANSIBLE_LANE) one of them?
  [ -z "${AIRGAP_ANSIBLE_LANE:-}" ] || [ "$1" = all ] || [[ " $1 " == *" $AIRGAP_ANSIBLE_LANE "* ]]
}
lane_skip() { # lane_skip NAME: say that a check does not run on this lane
  printf '%-52s SKIP (not on ansible-core %s)\n' "$1" "$AIRGAP_ANSIBLE_LANE"
}

# The pack and unpack playbooks by FQCN: a bundle whose largest file spans 64 KiB parts; the
# parts but the last unpacked first, the first of them damaged (the run fails naming it, the
# others are unpacked, the damaged and the missing part named as still to carry), then the good
# first part and the last (the bundle complete, `sha256sum -c SHA256SUMS` passes, the mirror's
# signature check announced).
parts_playbooks() {
  local b=$tmp/work/parts-bundle p=$tmp/work/parts carried=$tmp/work/parts-carried site=$tmp/work/parts-site first last
  rm -rf "$b" "$p" "$carried" "$site"
  mkdir -p "$b/files" "$b/images" "$carried"
  head -c 200000 /dev/urandom >"$b/images/blob"
  echo kubelet >"$b/files/kubelet"
  (cd "$b" && sha256sum files/kubelet images/blob >SHA256SUMS)
  ansible-playbook airgap.kubespray.pack -e airgap_part_size=64K -e "airgap_bundle_dir=$b" -e "airgap_parts_dir=$p" \
    >"$tmp/logs/parts-pack.log" 2>&1 || { cat "$tmp/logs/parts-pack.log"; return 1; }
  (cd "$p" && sha256sum -c PARTS.SHA256SUMS) || return 1
  local all=("$p"/*.tar.zst) # the glob sorts: part 0001 first
  first=${all[0]} last=${all[-1]}
  for f in "${all[@]}"; do [ "$f" = "$last" ] || cp "$f" "$f.sha256" "$carried/"; done
  printf 'X' | dd of="$carried/$(basename "$first")" bs=1 seek=100 conv=notrunc 2>/dev/null
  if ansible-playbook airgap.kubespray.unpack -e "airgap_parts_dir=$carried" -e "airgap_bundle_dir=$site" \
    >"$tmp/logs/parts-unpack-1.log" 2>&1; then
    cat "$tmp/logs/parts-unpack-1.log"; echo "a damaged part did not fail the playbook"; return 1
  fi
  if ! { grep -q "Not complete yet: carry $(basename "$last"), $(basename "$first")" "$tmp/logs/parts-unpack-1.log" &&
    grep -q "$(basename "$first"): damaged: sha256" "$tmp/logs/parts-unpack-1.log" &&
    grep -Eq "localhost +: ok=[0-9]+ +changed=1 .*failed=1" "$tmp/logs/parts-unpack-1.log"; }; then
    cat "$tmp/logs/parts-unpack-1.log"; echo "the damaged and the missing part are not named"; return 1
  fi
  cp "$first" "$first.sha256" "$last" "$last.sha256" "$carried/"
  ansible-playbook airgap.kubespray.unpack -e "airgap_parts_dir=$carried" -e "airgap_bundle_dir=$site" \
    >"$tmp/logs/parts-unpack-2.log" 2>&1 || { cat "$tmp/logs/parts-unpack-2.log"; return 1; }
  grep -q "is complete. The mirror playbook checks its signature" "$tmp/logs/parts-unpack-2.log" ||
    { cat "$tmp/logs/parts-unpack-2.log"; return 1; }
  (cd "$site" && sha256sum --strict -c SHA256SUMS)
}

check "offline_file_fetch target (facts gathered)" facts_gathered
if on_lanes "${AIRGAP_MIRROR_LANES:-2.14 2.18 2.19}"; then
  check "files_server and registry roles (no service manager)" mirror_services
else
  lane_skip "files_server and registry roles (no service manager)"
fi
if on_lanes "${AIRGAP_CONTAINER_LANES:-2.18 2.19}"; then
  check "files_server and registry roles as podman containers from the bundle" mirror_containers
else
  lane_skip "files_server and registry roles as podman containers from the bundle"
fi
check "playbook airgap.kubespray.repos, then absent" repos_playbook
check "offline_image_pull/push targets (real registries)" images_target
check "playbook airgap.kubespray.fetch_files with files.list" fetch_files_playbook
check "dispatch: uname, unsupported, delegate_to" dispatch
check "dispatch: missing per-arch binary" missing_binary
# (tests/daytwo packs and unpacks a real bundle on 2.18: here the playbooks on the other lines)
if on_lanes "${AIRGAP_PARTS_LANES:-2.14 2.19}"; then
  check "playbooks airgap.kubespray.pack and unpack" parts_playbooks
else
  lane_skip "playbooks airgap.kubespray.pack and unpack"
fi

# --- summary -------------------------------------------------------------------------------------
echo
echo "ansible-core: $(ansible --version 2>/dev/null | sed -n 1p)"
echo "PASS: ${#passed[@]}  FAIL: ${#failed[@]}"
for name in "${failed[@]}"; do
  echo "  FAIL: $name"
done
[ ${#failed[@]} -eq 0 ]

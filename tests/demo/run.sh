#!/usr/bin/env bash
# A local demo on loopback: a stand-in "internet" (nginx on 127.0.0.1 holding files under
# dl.k8s.io/, github.com/, get.helm.sh/ ...), the built collection installed into a private
# collections path, and a playbook that fetches Kubespray-like files through
# airgap.kubespray.offline_file_fetch into a bundle, then serves the bundle as files_repo.
#
#   tests/demo/run.sh            (make demo builds the collection first)
# Work lives in .cache/demo; nothing outside the repository is touched.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
work=$root/.cache/demo
rm -rf "$work"
mkdir -p "$work/upstream" "$work/collections"

cleanup() {
  tests/lib/nginx.sh stop "$work/nginx-upstream" || true
  tests/lib/nginx.sh stop "$work/nginx-files-repo" || true
}
trap cleanup EXIT

echo "== 1. a stand-in upstream on 127.0.0.1 (what the internet would serve)"
files=(
  "dl.k8s.io/release/v1.35.4/bin/linux/amd64/kubelet 6"
  "dl.k8s.io/release/v1.35.4/bin/linux/amd64/kubeadm 4"
  "dl.k8s.io/release/v1.35.4/bin/linux/amd64/kubectl 4"
  "github.com/etcd-io/etcd/releases/download/v3.5.21/etcd-v3.5.21-linux-amd64.tar.gz 3"
  "github.com/containerd/containerd/releases/download/v2.1.4/containerd-2.1.4-linux-amd64.tar.gz 3"
  "github.com/opencontainers/runc/releases/download/v1.3.0/runc.amd64 2"
  "github.com/containernetworking/plugins/releases/download/v1.8.0/cni-plugins-linux-amd64-v1.8.0.tgz 3"
  "get.helm.sh/helm-v3.18.4-linux-amd64.tar.gz 2"
)
items=$work/items.yml
echo "demo_items:" >"$items"
for f in "${files[@]}"; do
  set -- $f
  mkdir -p "$work/upstream/$(dirname "$1")"
  head -c "$(($2 * 1024 * 1024))" /dev/urandom >"$work/upstream/$1"
  sum=$(sha256sum "$work/upstream/$1" | cut -d' ' -f1)
  printf '  - url: https://%s\n    checksum: "sha256:%s"\n' "$1" "$sum" >>"$items"
done
up_port=$(tests/lib/nginx.sh free-port)
tests/lib/nginx.sh start "$work/nginx-upstream" "$work/upstream" "$up_port"
echo "   upstream: http://127.0.0.1:$up_port/ (${#files[@]} files)"

echo "== 2. install the collection tarball"
export ANSIBLE_COLLECTIONS_PATH=$work/collections ANSIBLE_COLLECTIONS_PATHS=$work/collections
export ANSIBLE_LOCALHOST_WARNING=false ANSIBLE_INVENTORY_UNPARSED_WARNING=false
tarball=$(ls build/airgap-kubespray-*.tar.gz)
ansible-galaxy collection install --force -p "$work/collections" "$tarball" >/dev/null

files_port=$(tests/lib/nginx.sh free-port)
echo "== 3. fetch into the bundle (twice: the second run must change nothing), serve it, read it back"
ansible-playbook -i localhost, -c local tests/demo/demo.yml \
  -e "@$items" -e "demo_upstream=http://127.0.0.1:$up_port" -e "demo_bundle=$work/bundle" \
  -e "demo_files_port=$files_port" -e "demo_work=$work" -e "demo_root=$root"

echo "== demo done: bundle in $work/bundle"

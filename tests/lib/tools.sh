#!/usr/bin/env bash
# Tools the tests build from the Go module proxy, cached between runs.
#
#   tests/lib/tools.sh helm       build helm (helm.sh/helm/v3/cmd/helm) once; print its path
#   tests/lib/tools.sh helm-tgz   helm packed as a release tarball (linux-<arch>/helm), as get.helm.sh
#                                 serves it; print its path
#   tests/lib/tools.sh registry   the CNCF distribution registry v3 (cmd/registry), for the tests that
#                                 check a storage against both 2.8 (Debian's) and 3.x; print its path
#   tests/lib/tools.sh crane      go-containerregistry's crane (cmd/crane); print its path
#
# Binaries live in $AIRGAP_CACHE/tools/<name>-<version>/ (default /var/cache/airgap-kubespray),
# written to a temporary name and renamed, so a killed build never leaves a half binary and two
# runs at once do not corrupt each other. AIRGAP_HELM_VERSION, AIRGAP_REGISTRY_VERSION and
# AIRGAP_CRANE_VERSION override the versions.
set -euo pipefail

cache=${AIRGAP_CACHE:-/var/cache/airgap-kubespray}
export PATH=/usr/local/go/bin:$PATH
helm_version=${AIRGAP_HELM_VERSION:-v3.22.0}
registry_version=${AIRGAP_REGISTRY_VERSION:-v3.1.2}
crane_version=${AIRGAP_CRANE_VERSION:-v0.22.1}
arch=$(go env GOARCH)

die() { echo "tools.sh: $*" >&2; exit 1; }

# build NAME VERSION PACKAGE: go install PACKAGE@VERSION into the cache (CGO off); prints the path
build() {
  local name=$1 version=$2 pkg=$3 dir=$cache/tools/$1-$2
  if [ ! -x "$dir/$name" ]; then
    mkdir -p "$dir"
    local tmp
    tmp=$(mktemp -d "$dir/.build.XXXXXX")
    # shellcheck disable=SC2064
    trap "rm -rf '$tmp'" EXIT
    echo "tools.sh: building $pkg@$version (cached in $dir)" >&2
    GOBIN=$tmp CGO_ENABLED=0 go install -trimpath -ldflags='-s -w' "$pkg@$version" >&2
    mv -f "$tmp/$(basename "$pkg")" "$dir/$name"
    rm -rf "$tmp"
    trap - EXIT
  fi
  echo "$dir/$name"
}

case ${1:-} in
  helm) build helm "$helm_version" helm.sh/helm/v3/cmd/helm ;;
  helm-tgz)
    bin=$(build helm "$helm_version" helm.sh/helm/v3/cmd/helm)
    out=$(dirname "$bin")/helm-$helm_version-linux-$arch.tar.gz
    if [ ! -s "$out" ]; then
      tmp=$(mktemp -d)
      mkdir "$tmp/linux-$arch"
      cp "$bin" "$tmp/linux-$arch/helm"
      # reproducible: fixed owner, mode and time, so the checksum is stable across runs
      tar --owner=0 --group=0 --numeric-owner --mtime=@0 --sort=name -C "$tmp" -czf "$out.tmp" "linux-$arch"
      mv -f "$out.tmp" "$out"
      rm -rf "$tmp"
    fi
    echo "$out"
    ;;
  registry) build registry "$registry_version" github.com/distribution/distribution/v3/cmd/registry ;;
  crane) build crane "$crane_version" github.com/google/go-containerregistry/cmd/crane ;;
  *) die "usage: $0 helm | helm-tgz | registry | crane" ;;
esac

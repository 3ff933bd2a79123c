#!/usr/bin/env bash
# Local package repositories and roots for tests/repos/run.sh. Everything is served later by a
# throw-away nginx on 127.0.0.1 (tests/lib/nginx.sh); nothing here needs the network except the
# first `debs`, which `apt-get download`s a few packages from the mirror this machine's apt uses
# and keeps them in ${AIRGAP_CACHE:-/var/cache/airgap-kubespray-tests}/debs.
#
#   tests/repos/fixtures.sh debs WWW DEBIAN_ROOT  # WWW/debs/: flat apt repo (dpkg-scanpackages)
#   tests/repos/fixtures.sh signed-debs WWW NAME GNUPGHOME
#                                                 # WWW/NAME/: the same .debs, with Release,
#                                                 #   InRelease and Release.gpg signed by GNUPGHOME's key
#   tests/repos/fixtures.sh gpg-key GNUPGHOME     # a signing key (made once), exported as
#                                                 #   GNUPGHOME/key.asc (armored) and key.gpg
#   tests/repos/fixtures.sh pypi WWW              # WWW/simple/, WWW/packages/: PEP 503 index of
#                                                 #   the wheels Debian ships in /usr/share/python-wheels,
#                                                 #   by the collection's builder (module os_repo_build)
#   tests/repos/fixtures.sh rpms WWW SCRATCH      # WWW/rpms/: createrepo_c repo of airgap-test.spec
#   tests/repos/fixtures.sh signed-rpms WWW NAME GNUPGHOME
#                                                 # WWW/NAME/: WWW/rpms' packages signed (rpmsign)
#                                                 #   by GNUPGHOME's key, and their repodata (signed:
#                                                 #   repodata/repomd.xml.asc)
#   tests/repos/fixtures.sh rocky-root DEST       # DEST/etc/os-release (Rocky 9.4),
#                                                 #   etc/yum.repos.d/{rocky,epel}.repo (127.0.0.1:1)
#                                                 #   and etc/pki/rpm-gpg/RPM-GPG-KEY-Rocky-9
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cache=${AIRGAP_CACHE:-/var/cache/airgap-kubespray-tests}

# In the local apt repo; none is in the minbase root. sl pulls libncurses6 (not in minbase either),
# so apt must resolve a dependency from the local repo too.
DEB_PACKAGES=(hello sl figlet libncurses6)

debs() {
  local www=$1 droot=$2 tinfo stamp want
  # libncurses6 must match the root's libtinfo6 (same source package, "=" dependency): pin it to
  # that version, so a newer ncurses in bookworm-updates on the host cannot break the install.
  tinfo=$(dpkg-query --admindir="$droot/var/lib/dpkg" -W -f '${Version}' libtinfo6)
  want="${DEB_PACKAGES[*]} libtinfo6=$tinfo"
  stamp=$cache/debs/.packages
  if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    rm -rf "$cache/debs"
    mkdir -p "$cache/debs.tmp"
    local args=() p
    for p in "${DEB_PACKAGES[@]}"; do
      if [ "$p" = libncurses6 ]; then args+=("libncurses6=$tinfo"); else args+=("$p"); fi
    done
    (cd "$cache/debs.tmp" && apt-get -q -o APT::Sandbox::User=root download "${args[@]}")
    echo "$want" >"$cache/debs.tmp/.packages"
    mv "$cache/debs.tmp" "$cache/debs"
  fi
  mkdir -p "$www/debs"
  cp "$cache"/debs/*.deb "$www/debs/"
  (cd "$www/debs" && dpkg-scanpackages --multiversion . /dev/null 2>/dev/null | gzip -9n >Packages.gz)
  zcat "$www/debs/Packages.gz" | sed -n 's/^Package: //p'
}

gpg_key() {
  local home=$1
  mkdir -p "$home"
  chmod 700 "$home"
  if ! grep -q '^sec' <<<"$(GNUPGHOME=$home gpg --batch --list-secret-keys 2>/dev/null)"; then
    GNUPGHOME=$home gpg --batch --passphrase '' --quick-gen-key \
      "airgap.kubespray test $(basename "$home") <test@airgap.invalid>" ed25519 sign never 2>/dev/null
  fi
  GNUPGHOME=$home gpg --batch --armor --export >"$home/key.asc"
  GNUPGHOME=$home gpg --batch --export >"$home/key.gpg"
}

signed_debs() {
  local www=$1 name=$2 home=$3
  command -v apt-ftparchive >/dev/null || { echo "fixtures.sh: apt-ftparchive missing (package apt-utils)" >&2; exit 1; }
  gpg_key "$home"
  mkdir -p "$www/$name"
  cp "$www"/debs/*.deb "$www/$name/"
  (
    cd "$www/$name"
    dpkg-scanpackages --multiversion . /dev/null 2>/dev/null >Packages
    gzip -9nk Packages
    apt-ftparchive -o APT::FTPArchive::Release::Origin=airgap-test -o APT::FTPArchive::Release::Label=airgap-test \
      release . >Release.tmp
    mv Release.tmp Release
    export GNUPGHOME=$home
    gpg --batch --yes --pinentry-mode loopback --passphrase '' --clearsign -o InRelease Release
    gpg --batch --yes --pinentry-mode loopback --passphrase '' --armor --detach-sign -o Release.gpg Release
  )
  ls "$www/$name"
}

pypi() {
  local www=$1
  shopt -s nullglob
  local wheels=(/usr/share/python-wheels/*.whl)
  shopt -u nullglob
  [ ${#wheels[@]} -gt 0 ] || { echo "fixtures.sh: no wheels in /usr/share/python-wheels (install python3-pip-whl)" >&2; exit 1; }
  # The collection's own index builder (module os_repo_build, as the role os_repos runs it), on
  # local wheels only; run as a module is run by hand (its arguments in a file).
  /usr/bin/python3 - "$www" "${wheels[@]}" >"$www/.pypi-args.json" <<'PY'
import json, sys
print(json.dumps({'ANSIBLE_MODULE_ARGS': {'kind': 'pypi', 'dest': sys.argv[1], 'work': sys.argv[1] + '/.pypi-work',
                                          'wheels': sys.argv[2:]}}))
PY
  /usr/bin/python3 "$here/../../plugins/modules/os_repo_build.py" "$www/.pypi-args.json" | tee "$www/.pypi.json"
  /usr/bin/python3 -c 'import json, sys; r = json.load(open(sys.argv[1])); sys.exit(r.get("failed") or not r["projects"])' "$www/.pypi.json"
}

rpms() {
  local www=$1 scratch=$2
  if ! command -v rpmbuild >/dev/null || ! command -v createrepo_c >/dev/null; then
    echo "fixtures.sh: rpmbuild or createrepo_c missing (packages rpm, createrepo-c)" >&2
    exit 1
  fi
  mkdir -p "$scratch" "$www/rpms"
  rpmbuild --define "_topdir $scratch/rpmbuild" --define "_dbpath $scratch/rpmdb" -bb "$here/airgap-test.spec" \
    >"$scratch/rpmbuild.log" 2>&1 || { tail -n 30 "$scratch/rpmbuild.log" >&2; exit 1; }
  cp "$scratch"/rpmbuild/RPMS/noarch/*.rpm "$www/rpms/"
  createrepo_c -q "$www/rpms" >/dev/null
  ls "$www/rpms"
}

signed_rpms() {
  local www=$1 name=$2 home=$3 fpr
  gpg_key "$home"
  fpr=$(GNUPGHOME=$home gpg --batch --with-colons --list-secret-keys | awk -F: '/^fpr/ { print $10; exit }')
  mkdir -p "$www/$name"
  cp "$www"/rpms/*.rpm "$www/$name/"
  # Debian's rpm calls gpg2 (absent here); the key has no passphrase.
  GNUPGHOME=$home rpmsign --define "__gpg $(command -v gpg)" --define "_gpg_path $home" --define "_gpg_name $fpr" \
    --define '_gpg_sign_cmd_extra_args --pinentry-mode loopback --passphrase ""' --addsign "$www/$name"/*.rpm </dev/null
  createrepo_c -q "$www/$name" >/dev/null
  # The metadata is signed too (offline_repo_config sets repo_gpgcheck=1 with a gpg_key).
  GNUPGHOME=$home gpg --batch --yes --pinentry-mode loopback --passphrase '' --armor --detach-sign \
    -o "$www/$name/repodata/repomd.xml.asc" "$www/$name/repodata/repomd.xml"
  ls "$www/$name"
}

rocky_root() {
  local dest=$1
  mkdir -p "$dest/etc/yum.repos.d"
  cat >"$dest/etc/os-release" <<'EOF'
NAME="Rocky Linux"
VERSION="9.4 (Blue Onyx)"
ID="rocky"
ID_LIKE="rhel centos fedora"
VERSION_ID="9.4"
PLATFORM_ID="platform:el9"
PRETTY_NAME="Rocky Linux 9.4 (Blue Onyx)"
ANSI_COLOR="0;32"
CPE_NAME="cpe:/o:rocky:rocky:9::baseos"
HOME_URL="https://rockylinux.org/"
ROCKY_SUPPORT_PRODUCT="Rocky-Linux-9"
ROCKY_SUPPORT_PRODUCT_VERSION="9.4"
REDHAT_SUPPORT_PRODUCT="Rocky Linux"
REDHAT_SUPPORT_PRODUCT_VERSION="9.4"
EOF
  # Shaped like Rocky's own rocky.repo, but the upstream is 127.0.0.1:1, which refuses at once:
  # if anything still reads this file, dnf fails fast instead of reaching for the internet.
  cat >"$dest/etc/yum.repos.d/rocky.repo" <<'EOF'
# rocky.repo
#
# The mirrorlist system uses the connecting IP address of the client and the
# update status of each mirror to pick current mirrors that are geographically
# close to the client.

[baseos]
name=Rocky Linux $releasever - BaseOS
#mirrorlist=https://mirrors.rockylinux.org/mirrorlist?arch=$basearch&repo=BaseOS-$releasever
baseurl=http://127.0.0.1:1/pub/rocky/$releasever/BaseOS/$basearch/os/
gpgcheck=1
enabled=1
countme=1
metadata_expire=6h
gpgkey=file:///etc/pki/rpm-gpg/RPM-GPG-KEY-Rocky-9

[appstream]
name=Rocky Linux $releasever - AppStream
#mirrorlist=https://mirrors.rockylinux.org/mirrorlist?arch=$basearch&repo=AppStream-$releasever
baseurl=http://127.0.0.1:1/pub/rocky/$releasever/AppStream/$basearch/os/
gpgcheck=1
enabled=1
countme=1
metadata_expire=6h
gpgkey=file:///etc/pki/rpm-gpg/RPM-GPG-KEY-Rocky-9
EOF
  # Rocky ships its keys there (the .repo files name them); a placeholder is enough, as the
  # upstream repositories must never be used.
  mkdir -p "$dest/etc/pki/rpm-gpg"
  printf '%s\n' '-----BEGIN PGP PUBLIC KEY BLOCK-----' '(placeholder for the Rocky 9 key)' \
    '-----END PGP PUBLIC KEY BLOCK-----' >"$dest/etc/pki/rpm-gpg/RPM-GPG-KEY-Rocky-9"
  # A second file with an unusual mode, to see modes restored too.
  cat >"$dest/etc/yum.repos.d/epel.repo" <<'EOF'
[epel]
name=Extra Packages for Enterprise Linux $releasever - $basearch
baseurl=http://127.0.0.1:1/pub/epel/$releasever/Everything/$basearch/
enabled=1
gpgcheck=1
gpgkey=file:///etc/pki/rpm-gpg/RPM-GPG-KEY-EPEL-$releasever
EOF
  chmod 600 "$dest/etc/yum.repos.d/epel.repo"
}

case "${1:-}" in
  debs) shift; debs "$@" ;;
  signed-debs) shift; signed_debs "$@" ;;
  gpg-key) shift; gpg_key "$@" ;;
  pypi) shift; pypi "$@" ;;
  rpms) shift; rpms "$@" ;;
  signed-rpms) shift; signed_rpms "$@" ;;
  rocky-root) shift; rocky_root "$@" ;;
  *) sed -n '2,23p' "$0" >&2; exit 2 ;;
esac

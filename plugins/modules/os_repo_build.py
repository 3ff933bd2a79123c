#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: airgap.kubespray contributors
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
module: os_repo_build
short_description: Build an OS package repository or a PyPI index into a folder, or sign a repository
version_added: 0.1.0
description:
  - Makes I(dest) a package repository of exactly the packages asked for and their whole dependency
    closure, as the bundle's C(files/debs/<target>/), C(files/rpms/<target>/) and C(files/pypi/) are built
    by the C(airgap.kubespray.os_repos) role.
  - C(kind=deb) resolves I(packages) against a clean (empty) dpkg status with this host's own apt sources
    (the host must run the target's release), downloads the closure into I(work), and makes I(dest) a flat
    apt repository of exactly that closure, with C(Packages), C(Packages.gz) and C(Release).
  - C(kind=rpm) resolves I(packages) with dnf into an empty installroot under I(work) with this host's
    repositories and downloads the closure; I(rpms) are added as they are. I(dest) gets exactly those
    C(.rpm) files and C(createrepo_c) metadata.
  - C(kind=pypi) runs C(pip download) (binary wheels for I(python_version) and I(platforms)) of
    I(requirements) and I(packages) into I(work), adds I(wheels), places them in C(dest/packages/) and
    writes a PEP 503 index in C(dest/simple/).
  - C(kind=sign) signs the repository in I(dest) with the key I(key_id) (or the default key) of
    I(gnupg_home), C(InRelease) and C(Release.gpg) over C(Release), or C(repodata/repomd.xml.asc), where
    the signatures there do not verify.
  - Every file lands atomically (written beside its final name and renamed); the metadata is rebuilt only
    when the set of packages changed, so a rerun reports C(changed=false). Files in I(dest) that are not
    in the closure are removed.
  - Fails naming the tool, the package or the file when a package manager, C(gpg) or a file operation
    fails.
requirements:
  - C(kind=deb) - C(apt-get), C(dpkg-scanpackages) and C(apt-ftparchive) (Debian's C(apt) and C(dpkg-dev))
  - C(kind=rpm) - C(createrepo_c), and C(dnf) for I(packages)
  - C(kind=pypi) - pip on the module's Python
  - C(kind=sign) - C(gpg)
author:
  - airgap.kubespray contributors (@airgap-kubespray)
attributes:
  check_mode:
    support: full
    details:
      - Nothing under I(dest) is written. I(work) is the package manager's cache, and resolving needs fresh
        metadata, so C(kind=deb) refreshes apt's lists there (and downloads nothing), while C(kind=rpm) and
        C(kind=pypi) download into it as in a real run.
  diff_mode:
    support: full
    details:
      - The package files of I(dest) before and after, one name a line; for C(kind=sign), the signature files
        that verify before and after.
  platform:
    platforms: posix
    support: full
options:
  kind:
    description:
      - What to build in I(dest).
    type: str
    required: true
    choices: [deb, rpm, pypi, sign]
  dest:
    description:
      - The repository folder. Created when missing.
      - For C(kind=sign), a folder C(kind=deb) or C(kind=rpm) built.
    type: path
    required: true
  work:
    description:
      - Folder for the package manager's state and downloads, kept between runs as a cache.
      - Required for C(kind=deb), C(rpm) and C(pypi).
    type: path
  packages:
    description:
      - C(deb), C(rpm) - the package names to resolve, with every dependency. C(deb) needs at least one.
      - C(pypi) - requirement specifiers to download, beside I(requirements).
    type: list
    elements: str
    default: []
  recommends:
    description: C(deb) - include recommended packages too (what apt installs on the nodes by default).
    type: bool
    default: true
  arch:
    description: C(deb) - the Debian architecture to resolve for; empty is this host's.
    type: str
    default: ""
  origin:
    description: C(deb) - the C(Origin) and C(Label) of the C(Release) file.
    type: str
    default: airgap.kubespray
  suite:
    description: C(deb) - the C(Suite) of the C(Release) file.
    type: str
    default: airgap
  releasever:
    description: C(rpm) - dnf's C(--releasever) (the target's major version, e.g. C(9)); empty is this host's.
    type: str
    default: ""
  rpms:
    description: C(rpm) - C(.rpm) files on this host to add as they are.
    type: list
    elements: path
    default: []
  requirements:
    description: C(pypi) - requirements files to download wheels for.
    type: list
    elements: path
    default: []
  python_version:
    description: C(pypi) - the Python the wheels are for, C(X.Y); empty is the module's Python.
    type: str
    default: ""
  platforms:
    description: C(pypi) - pip platform tags, e.g. C(manylinux2014_x86_64); empty is this host's.
    type: list
    elements: str
    default: []
  wheels:
    description: C(pypi) - wheels (or sdists) on this host added to the index as they are; missing files are skipped.
    type: list
    elements: path
    default: []
  gnupg_home:
    description: C(sign) - the keyring holding the signing key. Required for C(kind=sign).
    type: path
  key_id:
    description: C(sign) - the signing key's id or fingerprint in I(gnupg_home); empty is gpg's default key.
    type: str
    default: ""
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
notes:
  - The C(airgap.kubespray.os_repos) role runs C(deb) and C(rpm) on a prep host running the target's release
    (C(delegate_to)), C(pypi) and C(sign) on the controller, where the signing key stays.
seealso:
  - module: airgap.kubespray.offline_repo_config
'''

EXAMPLES = r'''
- name: Flat apt repository of conntrack and socat with every dependency
  airgap.kubespray.os_repo_build:
    kind: deb
    dest: /srv/bundle/files/debs/debian-12
    work: /var/cache/airgap-kubespray/os-repos/debian-12
    packages: [conntrack, socat]
  delegate_to: prep-bookworm
  register: repo

- name: Sign it with the controller's key
  airgap.kubespray.os_repo_build:
    kind: sign
    dest: /srv/bundle/files/debs/debian-12
    gnupg_home: ~/.airgap-kubespray/gnupg

- name: createrepo_c metadata for local rpms
  airgap.kubespray.os_repo_build:
    kind: rpm
    dest: /srv/bundle/files/rpms/rocky-9
    work: /var/tmp/rpm-work
    rpms: [/tmp/airgap-test-1.0-1.noarch.rpm]

- name: PEP 503 index of Kubespray's requirements for Python 3.12
  airgap.kubespray.os_repo_build:
    kind: pypi
    dest: /srv/bundle/files/pypi
    work: /srv/bundle/.cache/pypi
    requirements: [/path/to/kubespray/requirements.txt]
    python_version: "3.12"
    platforms: [manylinux2014_x86_64, linux_x86_64]
'''

RETURN = r'''
packages:
  description: The package names or requirement specifiers resolved, sorted.
  returned: when I(kind) is C(deb), C(rpm) or C(pypi)
  type: list
  elements: str
  sample: [conntrack, socat]
files:
  description: How many package files (C(.deb), C(.rpm), wheels and sdists) the repository holds.
  returned: when I(kind) is C(deb), C(rpm) or C(pypi)
  type: int
  sample: 12
bytes:
  description: Their total size.
  returned: when I(kind) is C(deb), C(rpm) or C(pypi)
  type: int
  sample: 3145728
added:
  description: The package files (base names) added or replaced in I(dest); in check mode, those that would be.
  returned: when I(kind) is C(deb), C(rpm) or C(pypi)
  type: list
  elements: str
  sample: [socat_1.7.4.4-2_amd64.deb]
removed:
  description: The package files (base names) removed from I(dest), not in the closure any more.
  returned: when I(kind) is C(deb), C(rpm) or C(pypi)
  type: list
  elements: str
  sample: []
metadata:
  description: Whether the repository's metadata (C(Packages), C(Release), C(repodata/), C(simple/)) was (or would be) rewritten.
  returned: when I(kind) is C(deb), C(rpm) or C(pypi)
  type: bool
projects:
  description: The projects of the PEP 503 index (normalized names), sorted.
  returned: when I(kind) is C(pypi)
  type: list
  elements: str
  sample: [pip, setuptools, wheel]
signed:
  description: The signature files (relative to I(dest)) written; in check mode, those that would be.
  returned: when I(kind) is C(sign)
  type: list
  elements: str
  sample: [InRelease, Release.gpg]
msg:
  description: One line summing up what was done.
  returned: always
  type: str
  sample: 2 packages -> 12 files (3.0 MiB), 12 new, 0 removed
'''

import glob
import gzip
import hashlib
import html
import io
import os
import re
import shutil
import sys
import tempfile

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_native

PACKAGE_GLOBS = {'deb': '*.deb', 'rpm': '*.rpm', 'pypi': '*'}
_APT_INST = re.compile(r'^Inst (\S+) (?:\[\S+\] )?\((\S+) .*\[(\S+)\]\)', re.M)


class Failure(Exception):
    """An error the module reports as its msg."""


# -- pure helpers (unit-tested in tests/unit/test_os_repo_build.py) --------------------------------

def apt_closure(simulation):
    """The packages an `apt-get install --simulate` output installs: (name, version, arch) tuples."""
    return _APT_INST.findall(simulation)


def deb_file_name(name, version, arch):
    """The name apt gives the downloaded .deb of name=version (an epoch's colon escaped)."""
    return '%s_%s_%s.deb' % (name, version.replace(':', '%3a'), arch)


def apt_missing(stderr):
    """The package names apt could not locate, sorted."""
    return sorted(set(re.findall(r'Unable to locate package (\S+)', stderr)))


def normalize(name):
    """A project name normalized as PEP 503 says."""
    return re.sub(r'[-_.]+', '-', name).lower()


def project_of(filename):
    """The normalized project name of a wheel or an sdist file name."""
    if filename.endswith('.whl'):
        return normalize(filename.split('-', 1)[0])
    match = re.match(r'^(.+?)-\d', filename)  # sdist: <name>-<version>.tar.gz
    return normalize(match.group(1) if match else filename)


def index_page(title, links):
    """A PEP 503 page: links are (href, text) pairs."""
    body = ''.join('<a href="%s">%s</a><br/>\n' % (html.escape(href), html.escape(text)) for href, text in links)
    return ('<!DOCTYPE html>\n<html><head><meta name="pypi:repository-version" content="1.0"><title>%s</title></head>'
            '<body>\n%s</body></html>\n' % (html.escape(title), body))


def gzip_bytes(data):
    """data gzipped reproducibly (no name, mtime 0)."""
    buf = io.BytesIO()
    with gzip.GzipFile(filename='', mode='wb', fileobj=buf, mtime=0) as f:
        f.write(data)
    return buf.getvalue()


def sha256(path):
    digest = hashlib.sha256()
    with open(path, 'rb') as f:
        for chunk in iter(lambda: f.read(1 << 20), b''):
            digest.update(chunk)
    return digest.hexdigest()


def same_file(a, b):
    return os.path.getsize(a) == os.path.getsize(b) and sha256(a) == sha256(b)


def write_atomic(path, data, mode=0o644):
    """Writes data to path through a temporary file beside it, renamed into place."""
    folder = os.path.dirname(path)
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix='.' + os.path.basename(path) + '.')
    try:
        with os.fdopen(fd, 'wb') as f:
            f.write(data if isinstance(data, bytes) else data.encode('utf-8'))
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def read_text(path):
    if not os.path.exists(path):
        return None
    with open(path, 'rb') as f:
        return f.read().decode('utf-8', 'replace')


class Builder:
    """One run of the module: the kinds share running tools, placing files and the result."""

    def __init__(self, module):
        self.module = module
        self.params = module.params
        self.check = module.check_mode
        self.dest = self.params['dest']

    # -- tools

    def run(self, args, what, cwd=None, env=None):
        """stdout of args (stderr apart: a signature or index must never hold a tool's notices);
        a non-zero exit fails naming what was being done."""
        rc, out, err = self.module.run_command(args, cwd=cwd, environ_update=env, check_rc=False)
        if rc != 0:
            raise Failure('%s: %s failed (exit %d): %s' % (what, args[0], rc, (err + out).strip()[-3000:]))
        return out

    def gpg(self, what, *args):
        home = self.params['gnupg_home']
        return self.run(['gpg', '--homedir', home, '--batch', '--yes', '--pinentry-mode', 'loopback', '--passphrase', '']
                        + list(args), what)

    def verifies(self, sig, data=None):
        args = ['gpg', '--homedir', self.params['gnupg_home'], '--batch', '--verify', sig] + ([data] if data else [])
        return self.module.run_command(args, check_rc=False)[0] == 0

    # -- placing package files

    def place(self, src, dest):
        """Hard-links (or copies) src to dest atomically; True when dest changed (or would).
        In check mode src may be missing (not downloaded): a file of that name in dest is it."""
        if os.path.exists(dest) and (not os.path.exists(src) or same_file(src, dest)):
            return False
        if self.check:
            return True
        tmp = os.path.join(os.path.dirname(dest), '.' + os.path.basename(dest) + '.tmp')
        try:
            if os.path.exists(tmp):
                os.unlink(tmp)
            try:
                os.link(src, tmp)
            except OSError:
                shutil.copyfile(src, tmp)
            os.chmod(tmp, 0o644)
            os.replace(tmp, dest)
        except (IOError, OSError) as e:
            raise Failure('placing %s in %s: %s' % (os.path.basename(src), os.path.dirname(dest), to_native(e)))
        return True

    def sync(self, files, pattern):
        """Makes dest hold exactly files (by base name) among the names matching pattern:
        (added, removed, before) base names."""
        folder = self.dest if pattern != '*' else os.path.join(self.dest, 'packages')
        if not self.check:
            os.makedirs(folder, exist_ok=True)
        before = sorted(os.path.basename(p) for p in glob.glob(os.path.join(folder, pattern)))
        wanted = dict((os.path.basename(f), f) for f in files)
        added = [n for n, f in sorted(wanted.items()) if self.place(f, os.path.join(folder, n))]
        removed = [n for n in before if n not in wanted]
        if not self.check:
            for name in removed:
                os.unlink(os.path.join(folder, name))
        return added, removed, before

    def result(self, kind, packages, files, sizes, synced, metadata, **extra):
        added, removed, before = synced
        size = sum(sizes)
        out = dict(changed=bool(added or removed or metadata), packages=packages, files=len(files),
                   bytes=size, added=added, removed=removed, metadata=bool(metadata),
                   msg='%d packages -> %d files (%.1f MiB), %d new, %d removed' % (
                       len(packages), len(files), size / 1048576.0, len(added), len(removed)))
        out.update(extra)
        if self.module._diff:
            after = sorted(os.path.basename(f) for f in files)
            out['diff'] = dict(before_header='%s (%s)' % (self.dest, kind), after_header='%s (%s)' % (self.dest, kind),
                               before=''.join(n + '\n' for n in before), after=''.join(n + '\n' for n in after))
        return out

    # -- deb

    def apt_options(self, work):
        opts = ['-o', 'Dir::State=%s/state' % work, '-o', 'Dir::State::status=%s/status' % work,
                '-o', 'Dir::Cache=%s/cache' % work, '-o', 'Debug::NoLocking=1', '-o', 'APT::Sandbox::User=root',
                '-o', 'Acquire::Retries=3']
        if self.params['arch']:
            opts += ['-o', 'APT::Architecture=%s' % self.params['arch'], '-o', 'APT::Architectures=%s' % self.params['arch']]
        return opts

    def deb(self):
        work = self.params['work']
        packages = sorted(set(self.params['packages']))
        if not packages:
            raise Failure('kind=deb: no packages to resolve')
        for sub in ('state/lists/partial', 'cache/archives/partial'):
            os.makedirs(os.path.join(work, sub), exist_ok=True)
        with open(os.path.join(work, 'status'), 'a'):
            pass  # an empty dpkg status: a clean system, so every dependency is resolved
        opts = self.apt_options(work)
        self.run(['apt-get', '-q'] + opts + ['update'], 'updating apt lists in %s' % work)
        env = {'DEBIAN_FRONTEND': 'noninteractive', 'LC_ALL': 'C'}  # apt's messages, read below, untranslated
        install = ['apt-get', '-q', '-y'] + opts + ['-o', 'APT::Install-Recommends=%s' % str(self.params['recommends']).lower(),
                                                    'install']
        try:
            # What a node with nothing installed would install: the closure, by name, version, arch.
            sim = self.run(install + ['--simulate'] + packages, 'resolving %s' % ' '.join(packages), env=env)
            if not self.check:
                self.run(install + ['--download-only'] + packages, 'downloading %s' % ' '.join(packages), env=env)
        except Failure as e:
            missing = apt_missing(str(e))
            if missing:
                raise Failure("apt on this host has no package %s: check its sources (the target release's "
                              'main/updates/security) or remove them from the list' % ', '.join(missing))
            raise
        closure = []
        for name, version, arch in apt_closure(sim):
            path = os.path.join(work, 'cache', 'archives', deb_file_name(name, version, arch))
            if not self.check and not os.path.exists(path):
                raise Failure('apt downloaded no %s for %s %s' % (os.path.basename(path), name, version))
            closure.append(path)
        closure.sort()
        synced = self.sync(closure, PACKAGE_GLOBS['deb'])
        meta = [os.path.join(self.dest, n) for n in ('Packages', 'Packages.gz', 'Release')]
        rebuild = synced[0] or synced[1] or not all(os.path.exists(m) for m in meta)
        if rebuild and not self.check:
            packages_txt = self.run(['dpkg-scanpackages', '--multiversion', '.', '/dev/null'], 'indexing %s' % self.dest,
                                    cwd=self.dest)
            write_atomic(meta[0], packages_txt)
            write_atomic(meta[1], gzip_bytes(packages_txt.encode('utf-8')))
            origin = self.params['origin']
            release = self.run(['apt-ftparchive', '-o', 'APT::FTPArchive::Release::Origin=%s' % origin,
                                '-o', 'APT::FTPArchive::Release::Label=%s' % origin,
                                '-o', 'APT::FTPArchive::Release::Suite=%s' % self.params['suite'], 'release', '.'],
                               'writing the Release of %s' % self.dest, cwd=self.dest)
            write_atomic(meta[2], release)
        sizes = [os.path.getsize(p) if os.path.exists(p) else 0 for p in closure]
        return self.result('deb', packages, closure, sizes, synced, rebuild)

    # -- rpm

    def rpm(self):
        work = self.params['work']
        packages = sorted(set(self.params['packages']))
        rpms = list(self.params['rpms'])
        for path in rpms:
            if not os.path.isfile(path):
                raise Failure('kind=rpm: no file %s' % path)
        if packages:
            root, download = os.path.join(work, 'installroot'), os.path.join(work, 'download')
            os.makedirs(root, exist_ok=True)
            os.makedirs(download, exist_ok=True)
            args = ['dnf', '-q', '-y', 'install', '--downloadonly', '--downloaddir', download, '--installroot', root,
                    '--setopt=reposdir=/etc/yum.repos.d', '--setopt=install_weak_deps=True']
            if self.params['releasever']:
                args += ['--releasever', self.params['releasever']]
            self.run(args + packages, 'resolving and downloading %s' % ' '.join(packages))
            rpms += glob.glob(os.path.join(download, '*.rpm'))
        if not rpms:
            raise Failure('kind=rpm: no packages and no rpms to put in the repository')
        synced = self.sync(rpms, PACKAGE_GLOBS['rpm'])
        repomd = os.path.join(self.dest, 'repodata', 'repomd.xml')
        rebuild = synced[0] or synced[1] or not os.path.exists(repomd)
        if rebuild and not self.check:
            update = ['--update'] if os.path.exists(repomd) else []
            self.run(['createrepo_c', '-q'] + update + [self.dest], 'writing the metadata of %s' % self.dest)
        return self.result('rpm', packages, rpms, [os.path.getsize(p) for p in rpms], synced, rebuild)

    # -- pypi

    def pypi(self):
        work, packages_dir = self.params['work'], os.path.join(self.dest, 'packages')
        download = os.path.join(work, 'download')
        os.makedirs(download, exist_ok=True)
        requirements, packages = self.params['requirements'], list(self.params['packages'])
        if requirements or packages:
            args = [sys.executable, '-m', 'pip', 'download',
                    '--disable-pip-version-check', '--dest', download, '--only-binary=:all:']
            if self.params['python_version']:
                args += ['--python-version', self.params['python_version']]
            for tag in self.params['platforms']:
                args += ['--platform', tag]
            for path in requirements:
                args += ['-r', path]
            self.run(args + packages, 'pip download of %s' % ' '.join(requirements + packages))
        files = glob.glob(os.path.join(download, '*.whl')) + glob.glob(os.path.join(download, '*.tar.gz'))
        files += [w for w in self.params['wheels'] if os.path.isfile(w)]
        if not files:
            raise Failure('kind=pypi: nothing to index: no requirements, packages or wheels')
        synced = self.sync(files, PACKAGE_GLOBS['pypi'])
        by_name = dict((os.path.basename(f), f) for f in files)
        projects = {}
        for name in sorted(by_name):
            placed = os.path.join(packages_dir, name)
            path = placed if os.path.exists(placed) and not (self.check and name in synced[0]) else by_name[name]
            projects.setdefault(project_of(name), []).append(('../../packages/%s#sha256=%s' % (name, sha256(path)), name))
        pages = {os.path.join(self.dest, 'simple', 'index.html'): index_page('Simple index', [(p + '/', p) for p in sorted(projects)])}
        for project, links in projects.items():
            pages[os.path.join(self.dest, 'simple', project, 'index.html')] = index_page('Links for ' + project, links)
        rewritten = False
        for path, text in sorted(pages.items()):
            if read_text(path) != text:
                rewritten = True
                if not self.check:
                    write_atomic(path, text)
        return self.result('pypi', sorted(packages), list(by_name.values()), [os.path.getsize(f) for f in by_name.values()],
                           synced, rewritten, projects=sorted(projects))

    # -- sign

    def sign(self):
        """Signs a repository built by deb or rpm: InRelease and Release.gpg over Release, or
        repodata/repomd.xml.asc; only where no valid signature is there."""
        dest = self.dest
        user = ['--local-user', self.params['key_id']] if self.params['key_id'] else []
        release, repomd = os.path.join(dest, 'Release'), os.path.join(dest, 'repodata', 'repomd.xml')
        if os.path.exists(release):
            wanted = {'InRelease': user + ['--clearsign', '-o', '-', release],
                      'Release.gpg': user + ['--armor', '--detach-sign', '-o', '-', release]}
            ok = {'InRelease': lambda p: self.verifies(p) and self.gpg('reading %s' % p, '--decrypt', p).replace('\r', '') == read_text(release),
                  'Release.gpg': lambda p: self.verifies(p, release)}
        elif os.path.exists(repomd):
            wanted = {'repodata/repomd.xml.asc': user + ['--armor', '--detach-sign', '-o', '-', repomd]}
            ok = {'repodata/repomd.xml.asc': lambda p: self.verifies(p, repomd)}
        else:
            raise Failure('%s holds no repository (no Release, no repodata/repomd.xml)' % dest)
        valid, signed = [], []
        for name, args in sorted(wanted.items()):
            path = os.path.join(dest, name)
            if os.path.exists(path) and ok[name](path):
                valid.append(name)
                continue
            signed.append(name)
            if not self.check:
                write_atomic(path, self.gpg('signing %s' % path, *args))
        out = dict(changed=bool(signed), signed=signed,
                   msg='signed %s' % ', '.join(signed) if signed else 'signatures up to date')
        if self.module._diff:
            out['diff'] = dict(before_header='%s (valid signatures)' % dest, after_header='%s (valid signatures)' % dest,
                               before=''.join(n + '\n' for n in valid), after=''.join(n + '\n' for n in sorted(wanted)))
        return out


def main():
    module = AnsibleModule(
        argument_spec=dict(
            kind=dict(type='str', required=True, choices=['deb', 'rpm', 'pypi', 'sign']),
            dest=dict(type='path', required=True),
            work=dict(type='path'),
            packages=dict(type='list', elements='str', default=[]),
            recommends=dict(type='bool', default=True),
            arch=dict(type='str', default=''),
            origin=dict(type='str', default='airgap.kubespray'),
            suite=dict(type='str', default='airgap'),
            releasever=dict(type='str', default=''),
            rpms=dict(type='list', elements='path', default=[]),
            requirements=dict(type='list', elements='path', default=[]),
            python_version=dict(type='str', default=''),
            platforms=dict(type='list', elements='str', default=[]),
            wheels=dict(type='list', elements='path', default=[]),
            gnupg_home=dict(type='path'),
            key_id=dict(type='str', default=''),
        ),
        required_if=[
            ('kind', 'deb', ('work',)),
            ('kind', 'rpm', ('work',)),
            ('kind', 'pypi', ('work',)),
            ('kind', 'sign', ('gnupg_home',)),
        ],
        supports_check_mode=True,
    )
    builder = Builder(module)
    try:
        result = getattr(builder, module.params['kind'])()
    except Failure as e:
        module.fail_json(msg=to_native(e))
    except (IOError, OSError) as e:
        module.fail_json(msg='%s: %s' % (module.params['kind'], to_native(e)))
    module.exit_json(**result)


if __name__ == '__main__':
    main()

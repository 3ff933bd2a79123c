#!/usr/bin/env python3
"""Builds the bundle's OS package repositories and PyPI index (role airgap.kubespray.os_repos).

Reads one JSON request on stdin, prints one JSON result ({"changed", "msg", ...}; "failed" and
"msg" on error) on stdout. --check reads everything and writes nothing under dest.

  airgap_os_repo.py deb   {dest, work, packages, arch, recommends, origin, suite}
      Resolves packages against a clean (empty) dpkg status with this host's own apt sources
      (the prep host runs the target's release), downloads the whole closure into work/, and
      makes dest/ a flat repository of exactly that closure: the .debs, Packages(.gz), Release.
  airgap_os_repo.py rpm   {dest, work, packages, releasever, rpms}
      With packages: dnf resolves them into an empty installroot with this host's repositories
      and downloads the closure; rpms (paths) are added as they are. dest/ gets exactly those
      .rpms and createrepo_c metadata.
  airgap_os_repo.py sign  {dest, gnupg_home, key_id}
      Signs dest's Release (InRelease, Release.gpg) or repodata/repomd.xml (.asc), where the
      signatures there do not verify.
  airgap_os_repo.py pypi  {dest, work, requirements, packages, python_version, platforms, wheels}
      pip download of requirements files and packages (binary wheels for python_version and
      platforms), plus local wheels, into dest/packages/, then a PEP 503 index in dest/simple/.

Everything lands atomically: files are written beside their final name and renamed; metadata is
rebuilt only when the set of packages changed, so a rerun reports changed=false.
"""
import glob
import gzip
import hashlib
import html
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

CHECK = '--check' in sys.argv


class Failure(Exception):
    pass


def run(args, **kw):
    """stdout of args (stderr apart: a signature or index must never hold a tool's notices)."""
    p = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, **kw)
    if p.returncode != 0:
        raise Failure('%s failed (exit %d): %s' % (' '.join(args[:3]), p.returncode, (p.stderr + p.stdout).strip()[-3000:]))
    return p.stdout


def sha256(path):
    h = hashlib.sha256()
    with open(path, 'rb') as f:
        for chunk in iter(lambda: f.read(1 << 20), b''):
            h.update(chunk)
    return h.hexdigest()


def write_atomic(path, data, mode=0o644):
    d = os.path.dirname(path)
    os.makedirs(d, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=d, prefix='.' + os.path.basename(path) + '.')
    try:
        with os.fdopen(fd, 'wb') as f:
            f.write(data if isinstance(data, bytes) else data.encode())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def place(src, dest):
    """Hard-links (or copies) src to dest atomically; True when dest changed."""
    if os.path.exists(dest) and os.path.getsize(dest) == os.path.getsize(src) and sha256(dest) == sha256(src):
        return False
    if CHECK:
        return True
    tmp = os.path.join(os.path.dirname(dest), '.' + os.path.basename(dest) + '.tmp')
    if os.path.exists(tmp):
        os.unlink(tmp)
    try:
        os.link(src, tmp)
    except OSError:
        shutil.copyfile(src, tmp)
    os.chmod(tmp, 0o644)
    os.replace(tmp, dest)
    return True


def sync(files, dest, pattern):
    """Makes dest hold exactly files (by base name) among the names matching pattern."""
    if not CHECK:
        os.makedirs(dest, exist_ok=True)
    wanted = {os.path.basename(f): f for f in files}
    added = [n for n, f in sorted(wanted.items()) if place(f, os.path.join(dest, n))]
    stale = [os.path.basename(p) for p in glob.glob(os.path.join(dest, pattern)) if os.path.basename(p) not in wanted]
    if not CHECK:
        for n in stale:
            os.unlink(os.path.join(dest, n))
    return added, stale


def gpg(home, *args, **kw):
    return run(['gpg', '--homedir', home, '--batch', '--yes', '--pinentry-mode', 'loopback', '--passphrase', ''] + list(args), **kw)


# -- deb ---------------------------------------------------------------------------------------

def apt_options(work, arch):
    opts = ['-o', 'Dir::State=%s/state' % work, '-o', 'Dir::State::status=%s/status' % work,
            '-o', 'Dir::Cache=%s/cache' % work, '-o', 'Debug::NoLocking=1', '-o', 'APT::Sandbox::User=root',
            '-o', 'Acquire::Retries=3']
    if arch:
        opts += ['-o', 'APT::Architecture=%s' % arch, '-o', 'APT::Architectures=%s' % arch]
    return opts


def deb(req):
    dest, work = req['dest'], req['work']
    packages = sorted(set(req['packages']))
    if not packages:
        raise Failure('no packages to resolve')
    for d in ('state/lists/partial', 'cache/archives/partial'):
        os.makedirs(os.path.join(work, d), exist_ok=True)
    open(os.path.join(work, 'status'), 'a').close()  # a clean system: every dependency is resolved
    opts = apt_options(work, req.get('arch'))
    run(['apt-get', '-q'] + opts + ['update'])
    env = dict(os.environ, DEBIAN_FRONTEND='noninteractive')
    rec = 'true' if req.get('recommends', True) else 'false'
    install = ['apt-get', '-q', '-y'] + opts + ['-o', 'APT::Install-Recommends=%s' % rec, 'install']
    try:
        # What a node with nothing installed would install: the closure, by name, version, arch.
        sim = run(install + ['--simulate'] + packages, env=env)
        run(install + ['--download-only'] + packages, env=env)
    except Failure as e:
        missing = re.findall(r'Unable to locate package (\S+)', str(e))
        if missing:
            raise Failure('apt on this prep host has no package %s: check its sources (the target release\'s '
                          'main/updates/security) or remove them from the list' % ', '.join(sorted(set(missing))))
        raise
    closure = []
    for name, version, arch in re.findall(r'^Inst (\S+) (?:\[\S+\] )?\((\S+) .*\[(\S+)\]\)', sim, re.M):
        path = os.path.join(work, 'cache', 'archives', '%s_%s_%s.deb' % (name, version.replace(':', '%3a'), arch))
        if not os.path.exists(path):
            raise Failure('apt downloaded no %s for %s %s' % (os.path.basename(path), name, version))
        closure.append(path)
    closure.sort()
    added, stale = sync(closure, dest, '*.deb')
    meta = [os.path.join(dest, n) for n in ('Packages', 'Packages.gz', 'Release')]
    rebuild = added or stale or not all(os.path.exists(m) for m in meta)
    if rebuild and not CHECK:
        packages_txt = run(['dpkg-scanpackages', '--multiversion', '.', '/dev/null'], cwd=dest)
        write_atomic(os.path.join(dest, 'Packages'), packages_txt)
        write_atomic(os.path.join(dest, 'Packages.gz'), gzip.compress(packages_txt.encode(), mtime=0))
        release = run(['apt-ftparchive', '-o', 'APT::FTPArchive::Release::Origin=%s' % req.get('origin', 'airgap.kubespray'),
                       '-o', 'APT::FTPArchive::Release::Label=%s' % req.get('origin', 'airgap.kubespray'),
                       '-o', 'APT::FTPArchive::Release::Suite=%s' % req.get('suite', 'airgap'),
                       'release', '.'], cwd=dest)
        write_atomic(os.path.join(dest, 'Release'), release)
    size = sum(os.path.getsize(p) for p in closure)
    return {'changed': bool(rebuild), 'packages': packages, 'debs': len(closure), 'bytes': size,
            'added': added, 'removed': stale,
            'msg': '%d packages -> %d .debs (%.1f MiB), %d new, %d removed' % (
                len(packages), len(closure), size / 1048576.0, len(added), len(stale))}


# -- rpm ---------------------------------------------------------------------------------------

def rpm(req):
    dest, work = req['dest'], req['work']
    packages = sorted(set(req.get('packages') or []))
    rpms = list(req.get('rpms') or [])
    if packages:
        root, dl = os.path.join(work, 'installroot'), os.path.join(work, 'download')
        os.makedirs(root, exist_ok=True)
        os.makedirs(dl, exist_ok=True)
        args = ['dnf', '-q', '-y', 'install', '--downloadonly', '--downloaddir', dl, '--installroot', root,
                '--setopt=reposdir=/etc/yum.repos.d', '--setopt=install_weak_deps=True']
        if req.get('releasever'):
            args += ['--releasever', str(req['releasever'])]
        run(args + packages)
        rpms += glob.glob(os.path.join(dl, '*.rpm'))
    if not rpms:
        raise Failure('no packages and no rpms to put in the repository')
    added, stale = sync(rpms, dest, '*.rpm')
    repomd = os.path.join(dest, 'repodata', 'repomd.xml')
    rebuild = added or stale or not os.path.exists(repomd)
    if rebuild and not CHECK:
        run(['createrepo_c', '-q', '--update', dest] if os.path.exists(repomd) else ['createrepo_c', '-q', dest])
    size = sum(os.path.getsize(p) for p in rpms)
    return {'changed': bool(rebuild), 'packages': packages, 'rpms': len(rpms), 'bytes': size, 'added': added,
            'removed': stale,
            'msg': '%d packages -> %d .rpms (%.1f MiB), %d new, %d removed' % (
                len(packages), len(rpms), size / 1048576.0, len(added), len(stale))}


# -- signatures --------------------------------------------------------------------------------

def verifies(home, sig, data=None):
    args = ['gpg', '--homedir', home, '--batch', '--verify', sig] + ([data] if data else [])
    return subprocess.run(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode == 0


def sign(req):
    """Signs a repository built by deb or rpm with gnupg_home's key (key_id): InRelease and
    Release.gpg over Release, or repodata/repomd.xml.asc; only when no valid signature is there."""
    dest, home = req['dest'], req['gnupg_home']
    user = ['--local-user', req['key_id']] if req.get('key_id') else []
    if os.path.exists(os.path.join(dest, 'Release')):
        release = os.path.join(dest, 'Release')
        wanted = {'InRelease': user + ['--clearsign', '-o', '-', release],
                  'Release.gpg': user + ['--armor', '--detach-sign', '-o', '-', release]}
        ok = {'InRelease': lambda p: verifies(home, p) and gpg(home, '--decrypt', p).replace('\r', '') == open(release).read(),
              'Release.gpg': lambda p: verifies(home, p, release)}
    elif os.path.exists(os.path.join(dest, 'repodata', 'repomd.xml')):
        repomd = os.path.join(dest, 'repodata', 'repomd.xml')
        wanted = {'repodata/repomd.xml.asc': user + ['--armor', '--detach-sign', '-o', '-', repomd]}
        ok = {'repodata/repomd.xml.asc': lambda p: verifies(home, p, repomd)}
    else:
        raise Failure('%s holds no repository (no Release, no repodata/repomd.xml)' % dest)
    changed = []
    for name, args in sorted(wanted.items()):
        path = os.path.join(dest, name)
        if os.path.exists(path) and ok[name](path):
            continue
        changed.append(name)
        if not CHECK:
            write_atomic(path, gpg(home, *args))
    return {'changed': bool(changed), 'signed': changed,
            'msg': 'signed %s' % ', '.join(changed) if changed else 'signatures up to date'}


# -- pypi --------------------------------------------------------------------------------------

def normalize(name):
    return re.sub(r'[-_.]+', '-', name).lower()  # PEP 503


def project_of(filename):
    if filename.endswith('.whl'):
        return normalize(filename.split('-', 1)[0])
    m = re.match(r'^(.+?)-\d', filename)  # sdist: <name>-<version>.tar.gz
    return normalize(m.group(1) if m else filename)


def page(title, links):
    body = ''.join('<a href="%s">%s</a><br/>\n' % (html.escape(href), html.escape(text)) for href, text in links)
    return '<!DOCTYPE html>\n<html><head><meta name="pypi:repository-version" content="1.0"><title>%s</title></head>' \
           '<body>\n%s</body></html>\n' % (html.escape(title), body)


def pypi(req):
    dest, work = req['dest'], req['work']
    packages_dir = os.path.join(dest, 'packages')
    dl = os.path.join(work, 'download')
    os.makedirs(dl, exist_ok=True)
    if req.get('requirements') or req.get('packages'):
        args = [sys.executable, '-m', 'pip', 'download', '--disable-pip-version-check', '--dest', dl, '--only-binary=:all:']
        if req.get('python_version'):
            args += ['--python-version', str(req['python_version'])]
        for p in req.get('platforms') or []:
            args += ['--platform', p]
        for r in req.get('requirements') or []:
            args += ['-r', r]
        run(args + list(req.get('packages') or []))
    files = glob.glob(os.path.join(dl, '*.whl')) + glob.glob(os.path.join(dl, '*.tar.gz'))
    files += [w for w in req.get('wheels') or [] if os.path.isfile(w)]
    if not files:
        raise Failure('nothing to index: no requirements, packages or wheels')
    added, _ = sync(files, packages_dir, '*')
    projects = {}
    for name in sorted(os.path.basename(f) for f in files):
        path = os.path.join(packages_dir, name) if not CHECK or os.path.exists(os.path.join(packages_dir, name)) else \
            next(f for f in files if os.path.basename(f) == name)
        projects.setdefault(project_of(name), []).append(('../../packages/%s#sha256=%s' % (name, sha256(path)), name))
    pages = {os.path.join(dest, 'simple', 'index.html'): page('Simple index', [(p + '/', p) for p in sorted(projects)])}
    for project, links in projects.items():
        pages[os.path.join(dest, 'simple', project, 'index.html')] = page('Links for ' + project, links)
    changed = bool(added)
    for path, text in sorted(pages.items()):
        old = None
        if os.path.exists(path):
            with open(path) as f:
                old = f.read()
        if old != text:
            changed = True
            if not CHECK:
                write_atomic(path, text)
    return {'changed': changed, 'projects': sorted(projects), 'files': len(files), 'added': added,
            'msg': '%s: %d projects, %d files, %d new' % (dest, len(projects), len(files), len(added))}


def main():
    cmds = {'deb': deb, 'rpm': rpm, 'pypi': pypi, 'sign': sign}
    cmd = next((a for a in sys.argv[1:] if a in cmds), None)
    if not cmd:
        sys.exit(__doc__)
    try:
        req = json.load(sys.stdin)
        out = cmds[cmd](req)
    except Failure as e:
        out = {'failed': True, 'changed': False, 'msg': str(e)}
    except (KeyError, ValueError) as e:
        out = {'failed': True, 'changed': False, 'msg': 'bad request: %s' % e}
    out.setdefault('failed', False)
    print(json.dumps(out))


if __name__ == '__main__':
    main()

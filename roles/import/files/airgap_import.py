#!/usr/bin/env python3
# Copyright: airgap.kubespray contributors
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
"""Place the outputs of kubespray-offline and Kubespray's contrib/offline in an airgap.kubespray
bundle. Reads a JSON request on stdin, writes one JSON result on stdout (exit status 0 even when
the result says failed, so that the role can show the message).

  airgap_import.py files  [--check] [--copy]    files into <bundle>/files/<host>/<url path>
  airgap_import.py images                       which manifest images the OCI layout holds

files request: {"bundle": DIR, "files": [manifest files {name, path, checksum, url}],
                "kubespray_offline_files": DIR or "", "contrib_files": FILE.tar.gz or DIR or "",
                "repos": [[SRC_DIR, DEST_UNDER_FILES], ...], "max_extract_bytes": N (0: no cap)}
images request: {"layout": DIR, "images": [manifest images {name, source, digest}]}

- A manifest file is placed when some source file has its sha256 (kubespray-offline's paths differ
  from ours), by a hard link when on the same filesystem (else a copy, verified while written),
  always to a temporary name renamed into place. A wrong file is never put at a manifest path.
- contrib/offline's offline-files.tar.gz (wget -x: <host>/<path> under offline-files/) is read
  twice: first every member is checked and hashed, and an archive with any member that would
  leave the files folder (absolute, "..", links pointing out, special files) is refused as a
  whole, naming each such member, before anything is written; so is an archive whose members
  unpack to more than max_extract_bytes (a gzip bomb, huge sparse files), naming the member that
  crosses it; then what is needed is extracted.
- A full disk (ENOSPC, EDQUOT) is reported as such, naming the path being written; the temporary
  file is removed.
- Nothing is written outside <bundle>/files, not even through a symbolic link found there.
"""
import errno
import hashlib
import json
import os
import stat
import sys
import tarfile
import tempfile
import traceback
import zlib

CHUNK = 1 << 20
TMP_PREFIX = '.airgap-import-'
CONTRIB_TOP = 'offline-files'  # manage-offline-files.sh: tar -czvf offline-files.tar.gz offline-files
DEFAULT_MAX_EXTRACT = 32 << 30


class Refused(Exception):
    """An input this script will not use; the message names it."""


def disk_full(e, path):
    """A Refused naming path for a full disk or quota, else None."""
    if isinstance(e, OSError) and e.errno in (errno.ENOSPC, errno.EDQUOT):
        return Refused('disk full: %s while writing %s; free space there (or move the bundle) and run again'
                       % (os.strerror(e.errno), path))
    return None


_HASHES = {}


def sha256_of(path):
    st = os.stat(path)
    key = (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)
    if key not in _HASHES:
        h = hashlib.sha256()
        with open(path, 'rb') as f:
            for chunk in iter(lambda: f.read(CHUNK), b''):
                h.update(chunk)
        _HASHES[key] = h.hexdigest()
    return _HASHES[key]


def clean_rel(name):
    """'./a//b/' -> 'a/b'; None for an absolute path, a '..' component, NUL or backslash."""
    if name is None or name.startswith('/') or '\x00' in name or '\\' in name:
        return None
    parts = [p for p in name.split('/') if p not in ('', '.')]
    if '..' in parts:
        return None
    return '/'.join(parts)


def strip_top(rel):
    if rel == CONTRIB_TOP:
        return ''
    if rel.startswith(CONTRIB_TOP + '/'):
        return rel[len(CONTRIB_TOP) + 1:]
    return rel


def reserved(rel):
    parts = rel.split('/')
    return parts[0] == '.partial' or any(p.startswith(TMP_PREFIX) for p in parts)


def walk_regular(top):
    """(relative path, path) of every regular file under top; symbolic links are not followed."""
    for root, dirs, files in os.walk(top):
        dirs.sort()
        for name in sorted(files):
            path = os.path.join(root, name)
            if stat.S_ISREG(os.lstat(path).st_mode):
                yield os.path.relpath(path, top), path


class Entry(object):
    """A file some source offers at a relative path."""

    def __init__(self, rel, sha, origin, path=None, member=None):
        self.rel, self.sha, self.origin, self.path, self.member = rel, sha, origin, path, member


def scan_tar(archive, max_bytes):
    """Check and hash every member (nothing is written). Returns (entries, skipped)."""
    label = os.path.basename(archive)
    entries, unsafe, links, symlinks, seen = [], [], [], set(), set()
    total = 0
    try:
        with tarfile.open(archive, 'r|*') as tar:
            for m in tar:
                total += m.size if m.isreg() else 0  # a sparse member counts what it unpacks to
                if max_bytes and total > max_bytes:
                    raise Refused('%s: refused, nothing was extracted: with %s (%d bytes) its members unpack to more than '
                                  '%d bytes (airgap_import_max_extract_bytes): a damaged or hostile archive, or raise the cap'
                                  % (archive, m.name, m.size, max_bytes))
                rel = clean_rel(m.name)
                if rel is None:
                    unsafe.append('%s (absolute path or ..)' % m.name)
                    continue
                rel = strip_top(rel)
                if not rel or m.isdir():
                    continue
                if reserved(rel):
                    unsafe.append('%s (reserved name)' % m.name)
                    continue
                below = [s for s in symlinks if rel.startswith(s + '/')]
                if below:
                    unsafe.append('%s (below the symbolic link %s)' % (m.name, below[0]))
                    continue
                if rel in seen:
                    unsafe.append('%s (appears twice)' % m.name)
                    continue
                seen.add(rel)
                if m.isreg():
                    h = hashlib.sha256()
                    f = tar.extractfile(m)
                    for chunk in iter(lambda: f.read(CHUNK), b''):
                        h.update(chunk)
                    entries.append(Entry(rel, h.hexdigest(), label + ':' + m.name, member=rel))
                elif m.issym():
                    symlinks.add(rel)
                    target = os.path.normpath(os.path.join(os.path.dirname(rel), m.linkname))
                    if m.linkname.startswith('/') or target == '..' or target.startswith('../'):
                        unsafe.append('%s (symbolic link to %s, outside the files)' % (m.name, m.linkname))
                    else:
                        links.append((rel, target, m.name))
                elif m.islnk():
                    target = clean_rel(m.linkname)
                    target = strip_top(target) if target is not None else None
                    if not target:
                        unsafe.append('%s (hard link to %s, outside the files)' % (m.name, m.linkname))
                    else:
                        links.append((rel, target, m.name))
                else:
                    unsafe.append('%s (device, fifo or other special file)' % m.name)
    except (tarfile.TarError, EOFError, zlib.error) as e:
        raise Refused('%s: not a readable tar archive (%s)' % (archive, e))
    if unsafe:
        raise Refused('%s: refused, nothing was extracted: %d unsafe member(s): %s'
                      % (archive, len(unsafe), '; '.join(unsafe)))
    # Links become copies of the file they name (the bundle gets no links from an archive).
    by_rel = dict((e.rel, e) for e in entries)
    link_to = dict((rel, target) for rel, target, _ in links)
    skipped = []
    for rel, target, name in links:
        hops = 0
        while target in link_to and hops < 16:
            target, hops = link_to[target], hops + 1
        if target in by_rel:
            entries.append(Entry(rel, by_rel[target].sha, label + ':' + name, member=by_rel[target].member))
        else:
            skipped.append('%s (link to %s, not a file of the archive)' % (name, target))
    return entries, skipped


def scan_dir(top, label):
    return [Entry(rel, sha256_of(path), label + '/' + rel, path=path) for rel, path in walk_regular(top)]


class Files(object):
    """The bundle's files folder: where things go, what is there, atomic placement."""

    def __init__(self, root, check, copy):
        self.root, self.check, self.copy = root, check, copy
        self.real = os.path.realpath(root)

    def path(self, rel):
        dest = os.path.join(self.root, rel)
        parent = os.path.realpath(os.path.dirname(dest))
        if parent != self.real and not parent.startswith(self.real + os.sep):
            raise Refused('%s would leave %s (through the symbolic link to %s)' % (rel, self.root, parent))
        return dest

    def current(self, rel):
        """sha256 of the regular file at rel; None when there is none."""
        try:
            path = self.path(rel)
            if stat.S_ISREG(os.lstat(path).st_mode):
                return sha256_of(path)
        except (FileNotFoundError, NotADirectoryError):
            pass
        return None

    def exists(self, rel):
        return os.path.lexists(self.path(rel))

    def _tmp(self, dest):
        try:
            os.makedirs(os.path.dirname(dest), exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=os.path.dirname(dest), prefix=TMP_PREFIX)
        except OSError as e:
            raise disk_full(e, os.path.dirname(dest)) or e
        return fd, tmp

    def _same_fs(self, src, dest):
        d = os.path.dirname(dest)
        while not os.path.exists(d):
            d = os.path.dirname(d)
        return os.stat(src).st_dev == os.stat(d).st_dev

    def place_file(self, rel, src, sha=None, keep_mtime=False):
        """src (a file) at rel: a hard link when possible (same filesystem, and readable by all, as
        a link cannot change its mode), else a copy checked against sha."""
        dest = self.path(rel)
        link = not self.copy and os.stat(src).st_mode & 0o004
        if self.check:
            return 'link' if link and self._same_fs(src, dest) else 'copy'
        fd, tmp = self._tmp(dest)
        try:
            how = None
            if link:
                os.close(fd)
                fd = None
                os.unlink(tmp)
                try:
                    os.link(src, tmp)
                    how = 'link'
                except OSError as e:
                    if e.errno not in (errno.EXDEV, errno.EPERM, errno.EMLINK, errno.EACCES, errno.ENOTSUP):
                        raise
                    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            if how is None:
                with open(src, 'rb') as f:
                    owned, fd = fd, None
                    got = self._write(owned, f)
                if sha and got != sha:
                    raise Refused('%s changed while it was copied' % src)
                st = os.stat(src)
                if keep_mtime:
                    os.utime(tmp, ns=(st.st_atime_ns, st.st_mtime_ns))
                how = 'copy'
            os.replace(tmp, dest)
            return how
        except BaseException as e:
            if fd is not None:
                os.close(fd)
            if os.path.lexists(tmp):
                os.unlink(tmp)
            raise disk_full(e, dest) or e

    def place_stream(self, rel, fileobj, sha):
        dest = self.path(rel)
        fd, tmp = self._tmp(dest)
        try:
            got = self._write(fd, fileobj)
            if got != sha:
                raise Refused('%s: the archive changed while it was read' % rel)
            os.replace(tmp, dest)
        except BaseException as e:
            if os.path.lexists(tmp):
                os.unlink(tmp)
            raise disk_full(e, dest) or e

    @staticmethod
    def _write(fd, fileobj):
        """fileobj into fd (closed here), returning its sha256."""
        h = hashlib.sha256()
        with os.fdopen(fd, 'wb') as out:
            os.fchmod(out.fileno(), 0o644)  # served by nginx workers running unprivileged
            for chunk in iter(lambda: fileobj.read(CHUNK), b''):
                h.update(chunk)
                out.write(chunk)
        return h.hexdigest()


def extract(archive, wanted, files):
    """Second read of the archive: each wanted member to its destinations."""
    with tarfile.open(archive, 'r|*') as tar:
        for m in tar:
            if not m.isreg():
                continue
            rel = clean_rel(m.name)
            dests = wanted.pop(strip_top(rel), None) if rel is not None else None
            if not dests:
                continue
            first, sha = dests[0]
            files.place_stream(first, tar.extractfile(m), sha)
            for other, _ in dests[1:]:
                files.place_file(other, files.path(first), sha)
    if wanted:
        raise Refused('%s changed while it was read: %s no longer in it' % (archive, ', '.join(sorted(wanted))))


def checksum_hex(f):
    ck = (f.get('checksum') or '').strip()
    if ck.startswith('sha256:'):
        ck = ck[len('sha256:'):]
    return ck.lower()


def files_text(n):
    return '%d file%s' % (n, '' if n == 1 else 's')


def sample(items, n=5):
    items = list(items)
    return ', '.join(items[:n]) + (', and %d more' % (len(items) - n) if len(items) > n else '')


def run_files(req, check, copy):
    bundle = req['bundle']
    files = Files(os.path.join(bundle, 'files'), check, copy)
    manifest = []
    for f in req.get('files') or []:
        if clean_rel(f['path']) != f['path'] or reserved(f['path']):
            raise Refused('manifest file %s has an unsafe path %r' % (f.get('name'), f['path']))
        manifest.append(dict(f, ck=checksum_hex(f)))
    by_path = dict((f['path'], f) for f in manifest)

    # The contrib/offline archive is checked whole before anything is written.
    contrib, skipped_links, contrib_src = [], [], req.get('contrib_files') or ''
    if contrib_src:
        if os.path.isdir(contrib_src):
            contrib = [e for e in scan_dir(contrib_src, os.path.basename(contrib_src)) if not reserved(e.rel)]
        else:
            cap = req.get('max_extract_bytes')
            contrib, skipped_links = scan_tar(contrib_src, DEFAULT_MAX_EXTRACT if cap is None else int(cap))
    ko_dir = req.get('kubespray_offline_files') or ''
    ko = scan_dir(ko_dir, 'kubespray-offline files') if ko_dir else []

    def in_place(f):
        return files.current(f['path']) == f['ck'] if f['ck'] else files.exists(f['path'])

    already = [f for f in manifest if in_place(f)]
    plans = {}  # dest rel -> (entry, sha, manifest file or None)
    mismatched = []
    for e in contrib:
        f = by_path.get(e.rel)
        if f and f['ck'] and e.sha != f['ck']:
            mismatched.append({'name': f['name'], 'path': e.rel, 'source': e.origin})
            continue
        if files.current(e.rel) != e.sha and not (f and in_place(f)):
            plans[e.rel] = (e, e.sha, f)
    index = {}
    for e in contrib + ko:  # kubespray-offline's files win: a hard link beats an extraction
        index[e.sha] = e
    for f in manifest:
        if f['path'] in plans or not f['ck'] or in_place(f):
            continue
        if f['ck'] in index:
            plans[f['path']] = (index[f['ck']], f['ck'], f)
    wanted_sums = set(f['ck'] for f in manifest if f['ck'])
    unmatched = [e.rel for e in ko if e.sha not in wanted_sums]

    # Package repositories (kubespray-offline's debs/, rpms/, pypi/), mirrored as they are.
    repo_plans = []
    for src_dir, under in req.get('repos') or []:
        if clean_rel(under) != under:
            raise Refused('unsafe destination %r for %s' % (under, src_dir))
        for rel, path in walk_regular(src_dir):
            dest_rel = under + '/' + rel
            if reserved(dest_rel):
                continue
            dest = files.path(dest_rel)
            try:
                st, dst = os.stat(path), os.lstat(dest)
                if os.path.samestat(st, dst) or (stat.S_ISREG(dst.st_mode) and st.st_size == dst.st_size
                                                 and st.st_mtime_ns == dst.st_mtime_ns):
                    continue
            except (FileNotFoundError, NotADirectoryError):
                pass
            repo_plans.append((dest_rel, path, under))

    # Write: files from folders first (links), then one more read of the archive.
    placed, wanted = [], {}
    for rel in sorted(plans):
        e, sha, f = plans[rel]
        if e.path is not None:
            how = files.place_file(rel, e.path, sha)
        else:
            how = 'extract'
            if not check:
                wanted.setdefault(e.member, []).append((rel, sha))
        placed.append({'name': f['name'] if f else None, 'path': rel, 'from': e.origin, 'how': how})
    if wanted:
        extract(contrib_src, wanted, files)
    repos = {}
    for dest_rel, path, under in repo_plans:
        files.place_file(dest_rel, path, keep_mtime=True)
        repos[under] = repos.get(under, 0) + 1

    placed_names = set(p['name'] for p in placed if p['name'])
    found = sorted(f['name'] for f in manifest if f['name'] in placed_names or f in already)
    mismatched = [m for m in mismatched if m['name'] not in found]  # only while it matters
    missing = []
    for f in manifest:
        if f['name'] in found:
            continue
        why = 'not in the sources'
        if not f['ck']:
            why = 'no checksum to match by content'
        elif any(m['path'] == f['path'] for m in mismatched):
            why = 'the archive holds another content at its path'
        missing.append({'name': f['name'], 'path': f['path'], 'url': f.get('url', ''), 'why': why})

    verb = 'would place' if check else 'placed'
    hows = {}
    for p in placed:
        if p['name']:
            hows[p['how']] = hows.get(p['how'], 0) + 1
    how_text = ', '.join('%d %s' % (n, {'link': 'hard-linked', 'copy': 'copied', 'extract': 'from the archive'}[h])
                         for h, n in sorted(hows.items()))
    lines = ['files: %d of %d manifest files in the bundle (%s %d now%s, %d already there)' % (
        len(found), len(manifest), verb, len(placed_names), ': ' + how_text if how_text else '', len(already))]
    if missing:
        lines.append('missing %d: %s; fetch them online with airgap.kubespray.download, which keeps what is here'
                     % (len(missing), '; '.join('%s (%s: %s)' % (m['name'], m['url'] or m['path'], m['why']) for m in missing)))
    if mismatched:
        lines.append('not placed, content differs from Kubespray\'s checksum: %s'
                     % '; '.join('%s (%s)' % (m['source'], m['name']) for m in mismatched))
    others = [p for p in placed if not p['name']]
    if others:
        lines.append('%s: %s %s more' % (os.path.basename(contrib_src), 'would extract' if check else 'extracted', files_text(len(others))))
    if skipped_links:
        lines.append('skipped links: %s' % sample(skipped_links))
    if unmatched:
        lines.append('kubespray-offline files matching no manifest file (other versions, or unused here): %d (%s)'
                     % (len(unmatched), sample(unmatched)))
    if repos:
        lines.append('package repositories: %s %s' % (verb, ', '.join('%s in files/%s' % (files_text(n), u) for u, n in sorted(repos.items()))))
    return {
        'changed': bool(placed or repo_plans), 'failed': False, 'found': found, 'placed': placed,
        'already': sorted(f['name'] for f in already), 'missing': missing, 'mismatched': mismatched,
        'unmatched': unmatched, 'skipped_links': skipped_links, 'repos': repos, 'lines': lines,
    }


def normalize(ref):
    """docker.io short names as the image modules write them in index.json."""
    name, tag = ref, 'latest'
    slash = ref.rfind('/')
    if ref.rfind(':') > slash:
        name, tag = ref[:ref.rfind(':')], ref[ref.rfind(':') + 1:]
    first = name.split('/')[0]
    if '/' not in name or ('.' not in first and ':' not in first and first != 'localhost'):
        name = 'docker.io/' + ('library/' + name if '/' not in name else name)
    if name.startswith('index.docker.io/'):
        name = 'docker.io/' + name[len('index.docker.io/'):]
    return '%s:%s' % (name, tag)


def run_images(req):
    layout = req['layout']
    refs = {}
    try:
        with open(os.path.join(layout, 'index.json')) as f:
            index = json.load(f)
        for m in index.get('manifests') or []:
            ann = m.get('annotations') or {}
            for key in ('io.containerd.image.name', 'org.opencontainers.image.ref.name'):
                if ann.get(key):
                    refs[normalize(ann[key])] = m.get('digest')
    except FileNotFoundError:
        pass
    found, missing = [], []
    for img in req.get('images') or []:
        ref = normalize(img['source'])
        if ref not in refs:
            missing.append('%s (%s)' % (img['name'], img['source']))
        elif img.get('digest') and refs[ref] != img['digest']:
            missing.append('%s (%s: Kubespray pins %s; a docker-save bundle loses registry digests)'
                           % (img['name'], img['source'], img['digest']))
        else:
            found.append(img['name'])
    lines = ['images: %d of %d manifest images in %s' % (len(found), len(found) + len(missing), layout)]
    if missing:
        lines.append('missing images %d: %s; pull them online with airgap.kubespray.download' % (len(missing), '; '.join(missing)))
    return {'changed': False, 'failed': False, 'found': found, 'missing': missing, 'lines': lines}


def main(argv):
    try:
        req = json.load(sys.stdin)
        if argv[:1] == ['files']:
            out = run_files(req, '--check' in argv, '--copy' in argv)
        elif argv[:1] == ['images']:
            out = run_images(req)
        else:
            raise Refused('usage: airgap_import.py files [--check] [--copy] | images  (JSON request on stdin)')
    except Refused as e:
        out = {'failed': True, 'changed': False, 'msg': str(e)}
    except Exception as e:  # report, never a bare traceback the role cannot parse
        out = {'failed': True, 'changed': False, 'msg': '%s: %s' % (type(e).__name__, e), 'traceback': traceback.format_exc()}
    json.dump(out, sys.stdout)
    sys.stdout.write('\n')
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))

#!/usr/bin/env python3
"""Packs an installed collection (COLLECTION_DIR, holding MANIFEST.json and FILES.json) back into a
tarball that `ansible-galaxy collection install` accepts: members named from the collection root
(no "./" prefix), symlinks kept as links, no __pycache__. Written beside OUT, then renamed.

  pack_collection.py COLLECTION_DIR OUT
"""
import os
import sys
import tarfile
import tempfile

src, out = sys.argv[1], sys.argv[2]
if not os.path.isfile(os.path.join(src, 'MANIFEST.json')):
    sys.exit('%s is not an installed collection (no MANIFEST.json)' % src)
fd, tmp = tempfile.mkstemp(dir=os.path.dirname(out) or '.', prefix='.' + os.path.basename(out) + '.')
os.close(fd)
try:
    with tarfile.open(tmp, 'w:gz') as tar:
        for root, dirs, files in os.walk(src):
            dirs[:] = sorted(d for d in dirs if d != '__pycache__')
            rel = os.path.relpath(root, src)
            if rel != '.':
                tar.add(root, arcname=rel, recursive=False)
            for name in sorted(files):
                if name.endswith('.pyc'):
                    continue
                path = os.path.join(root, name)
                tar.add(path, arcname=os.path.normpath(os.path.join(rel, name)), recursive=False)
    os.chmod(tmp, 0o644)
    os.replace(tmp, out)
except BaseException:
    os.unlink(tmp)
    raise

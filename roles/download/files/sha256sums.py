"""Write BUNDLE/SHA256SUMS (sha256sum -c format) over every file of the bundle, atomically.
Prints "changed" when the file's content changed."""
import hashlib
import os
import sys
import tempfile

bundle = sys.argv[1]
lines = []
for root, dirs, files in os.walk(bundle):
    dirs[:] = sorted(d for d in dirs if not d.startswith('.'))
    for name in sorted(files):
        if name.startswith('.') or (root == bundle and name == 'SHA256SUMS'):
            continue
        path = os.path.join(root, name)
        h = hashlib.sha256()
        with open(path, 'rb') as f:
            for chunk in iter(lambda: f.read(1 << 20), b''):
                h.update(chunk)
        lines.append('%s  %s\n' % (h.hexdigest(), os.path.relpath(path, bundle)))
content = ''.join(lines)
target = os.path.join(bundle, 'SHA256SUMS')
old = open(target).read() if os.path.exists(target) else None
if old != content:
    fd, tmp = tempfile.mkstemp(dir=bundle, prefix='.SHA256SUMS.')
    with os.fdopen(fd, 'w') as f:
        f.write(content)
    os.chmod(tmp, 0o644)
    os.replace(tmp, target)
    print('changed')
print('%d files' % len(lines))

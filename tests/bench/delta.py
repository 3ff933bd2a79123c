#!/usr/bin/env python3
"""make bench-delta: how much smaller a day-two delta is than the full bundle, and what parts cost.

Builds the day-two site of tests/daytwo (tests/daytwo/daytwo.py: Kubespray v2.30.0's sample on the
demo's stand-in upstream, synthetic images from tests/tools/imageset at BENCH_SCALE, full download,
mirror, site_state, then v2.31.0's delta against that state), then a full v2.31.0 download beside it
for comparison, and prints:

- the full v2.31.0 bundle's size, the delta's, and delta/full (files/ and images/ counted apart);
- pack + unpack of the delta and of the full bundle against `tar` + `zstd` of the same folder:
  tests/bench/parts.sh FOLDER (written with the pack playbook) times both and prints its own table.

Settings (environment): BENCH_DIR (default /tmp/airgap-bench-delta), BENCH_SCALE (layer size
multiplier of the synthetic images, default 0.05: about 60 MB of layers per version), PARTS_SIZE
(the part size parts.sh packs with, default 16M).
Run on lane 2.18 (make bench-delta does). Exits 1 when a step fails or the delta is not smaller.
"""
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, '..', '..'))
os.environ['AIRGAP_DAYTWO_DIR'] = os.path.abspath(os.environ.get('BENCH_DIR', '/tmp/airgap-bench-delta'))
os.environ['AIRGAP_DAYTWO_SCALE'] = os.environ.get('BENCH_SCALE', '0.05')
sys.path.insert(0, os.path.join(REPO, 'tests', 'daytwo'))
import daytwo  # noqa: E402
from daytwo import NEW, demo  # noqa: E402


def size(path):
    """Bytes of the regular files under path (hard links once), as du -sb --apparent-size counts."""
    total, seen = 0, set()
    for root, _, names in os.walk(path):
        for name in names:
            st = os.lstat(os.path.join(root, name))
            if (st.st_dev, st.st_ino) not in seen:
                seen.add((st.st_dev, st.st_ino))
                total += st.st_size
    return total


def mb(n):
    return '%.1f MB' % (n / 1e6)


def main():
    start = time.monotonic()
    try:
        state = daytwo.build()
        full = os.path.join(daytwo.DIR, 'full-' + NEW)
        with demo.Step(state, 'online: full download of %s (for comparison)' % NEW):
            demo.upstream_up(state)
            daytwo.playbook('download', 'download-full-' + NEW, NEW, daytwo.download_vars(state, NEW, full),
                            '@' + daytwo.checksums(NEW))
            demo.upstream_down()
    finally:
        daytwo.down()
    rows = []
    for part in ('files', 'images', ''):
        f, d = size(os.path.join(full, part)), size(os.path.join(daytwo.DELTA, part))
        rows.append((part + '/' if part else 'whole bundle', f, d))
    print('')
    print('%-14s %14s %14s %8s' % ('', 'full ' + NEW, 'delta', 'ratio'))
    for name, f, d in rows:
        print('%-14s %14s %14s %8.3f' % (name, mb(f), mb(d), d / f if f else 0))
    f_all, d_all = rows[-1][1], rows[-1][2]
    print('delta/full: %.3f (%s of %s; the site already held the rest)' % (d_all / f_all, mb(d_all), mb(f_all)))
    print('(built in %.0f s)' % (time.monotonic() - start))
    rc = 0 if d_all < f_all else 1
    if rc:
        print('FAIL: the delta is not smaller than the full bundle')
    parts = os.path.join(HERE, 'parts.sh')
    if not os.path.exists(parts):
        print('FAIL: %s is missing (pack + unpack against tar + zstd)' % os.path.relpath(parts, REPO))
        return 1
    for folder in (daytwo.DELTA, full):
        print('')
        print('== pack + unpack vs tar + zstd: %s' % folder)
        sys.stdout.flush()
        env = dict(os.environ, BENCH_DIR=os.path.join(daytwo.DIR, 'parts-bench'), PARTS_SIZE=os.environ.get('PARTS_SIZE', '16M'))
        rc |= subprocess.run([parts, folder], env=env).returncode
    return rc


if __name__ == '__main__':
    sys.exit(main())

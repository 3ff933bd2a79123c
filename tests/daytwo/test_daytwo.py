"""Day two (issue 15) end to end: a site at Kubespray v2.30.0 upgraded to v2.31.0 by a delta bundle.

    python3 -m unittest discover -s tests/daytwo -v      (make test-daytwo; needs make collection)

The site is built once (setUpClass, tests/daytwo/daytwo.py): one stand-in upstream serving what
both versions need, a full download of v2.30.0, mirror, site_state, then a download for v2.31.0
with -e airgap_site_state=<that file> (the delta). Then:

1. the delta holds only the files and blobs the site lacked: the expected set is computed here from
   the two manifests (files by path and checksum) and from the upstream registry's own answers for
   v2.31.0's images against the blobs in the site registry's storage; compared with the delta's
   files/ and images/blobs/ on disk;
2. mirror applies it (-e airgap_delta_dir), the registry's storage then holds every blob of v2.31.0,
   the files are served with upstream's bytes, verify passes for v2.31.0 (from its checkout) and
   for v2.30.0's view (-e airgap_verify_view);
3. a second copy of the delta, after an image the site held at its base and the delta relies on
   (v2.31.0 keeps it) lost its tag in the registry's storage, is refused, that image (and only
   it) in the failed task's failed_items;
4. a bundle with one byte changed in a file, or without SHA256SUMS.asc, is refused by mirror and by
   import, the file (and only it) in the failed task's failed_items;
5. pack with a part size smaller than the largest blob gives several parts, each a zstd tar on its
   own (real tar and zstd); unpacking the later parts first (in reverse order) reports the bundle
   incomplete, naming the missing parts, and resumes with the rest to a bundle whose
   `sha256sum -c SHA256SUMS` passes (real sha256sum); one corrupted part is named, alone.

Tests are numbered in the order a site lives them; each puts back what it changes.
AIRGAP_DAYTWO_REUSE=1 reruns them on the site a run left (no build, left running). Outcomes are
read from the task results the runs keep (tests/lib/results.py), files on disk and real tools.
"""
import glob
import os
import shutil
import subprocess
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import daytwo  # noqa: E402
from daytwo import NEW, OLD, demo, results  # noqa: E402


def failed_tasks(path):
    return [r for r in results.load(path) if r['status'] in ('failed', 'unreachable') and not r.get('ignored')]


def flip_byte(path, offset=None):
    """Changes one byte of path in place (the middle one by default); returns how to undo it."""
    size = os.path.getsize(path)
    at = size // 2 if offset is None else offset
    with open(path, 'r+b') as f:
        f.seek(at)
        old = f.read(1)
        f.seek(at)
        f.write(bytes([old[0] ^ 0xff]))

    def undo():
        with open(path, 'r+b') as f:
            f.seek(at)
            f.write(old)
    return undo


class DayTwo(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        os.environ['ANSIBLE_NOCOLOR'] = '1'
        # AIRGAP_DAYTWO_REUSE=1: the site an earlier run built and left up (its servers running), to
        # rerun the tests while working on them; stopped by `tests/daytwo/daytwo.py down`
        cls.reuse = bool(os.environ.get('AIRGAP_DAYTWO_REUSE'))
        cls.state = demo.load_state() if cls.reuse else daytwo.build()
        cls.old = daytwo.load(os.path.join(daytwo.DIR, 'work', 'site-manifest.yaml'))
        cls.new = daytwo.load(daytwo.manifest_path(NEW))
        cls.site_blobs = set(cls.state['site_blobs'])
        cls.new_meta = set(cls.state['new_blobs']['meta'])
        cls.new_layers = set(cls.state['new_blobs']['layers'])

    @classmethod
    def tearDownClass(cls):
        if cls.reuse:
            return
        state = demo.load_state()
        daytwo.down()
        for key in ('mirror', 'upstream'):
            for port in ('files_port', 'registry_port', 'push_port'):
                if state.get(key, {}).get(port):
                    assert not demo.port_open(state[key][port]), '%s %s still answers after down' % (key, port)

    def run_ok(self, name, log, version, *extra):
        code, path = daytwo.run_playbook(name, log, version, *extra)
        if code != 0:
            with open(os.path.join(daytwo.DIR, 'logs', log + '.log')) as f:
                self.fail('%s failed (%d):\n%s' % (name, code, f.read()[-5000:]))
        return path

    def refused(self, name, log, version, *extra):
        """Runs a playbook that must fail in one task: that task's result line."""
        code, path = daytwo.run_playbook(name, log, version, *extra)
        self.assertNotEqual(code, 0, '%s passed: see %s' % (name, os.path.join(daytwo.DIR, 'logs', log + '.log')))
        failed = failed_tasks(path)
        self.assertEqual(len({r['task'] for r in failed}), 1, [(r['task'], r['host']) for r in failed])
        return failed[0]

    def delta(self):
        return daytwo.load(os.path.join(daytwo.DELTA, 'delta.yaml'))

    # -- 1 ------------------------------------------------------------------------------------
    def test_1_delta_holds_only_what_the_site_lacks(self):
        old_files = {f['path']: f.get('checksum') for f in self.old['files']}
        new_files = {f['path']: f.get('checksum') for f in self.new['files']}
        lacked = {p for p, c in new_files.items() if p not in old_files or old_files[p] != c}
        # (Kubespray's samples change every file from v2.30.0 to v2.31.0: new Kubernetes, etcd, CNI...;
        # the images keep some, below)
        self.assertTrue(lacked)
        self.assertEqual(daytwo.bundle_files(daytwo.DELTA), lacked)

        carried = daytwo.layout_blobs(daytwo.DELTA)
        self.assertTrue(self.new_layers & self.site_blobs, 'the two versions share no layer: nothing for a delta to leave out')
        self.assertEqual(carried - self.new_meta, self.new_layers - self.site_blobs,
                         'the layers carried are exactly those of v2.31.0 the site lacks')
        self.assertLessEqual(self.new_meta - self.site_blobs, carried, 'every manifest and config the site lacks is carried')
        self.assertLessEqual(carried, self.new_meta | self.new_layers, 'nothing but v2.31.0 blobs')

        d = self.delta()
        self.assertEqual(d['base']['state_sha256'], daytwo.sha256_file(daytwo.STATE_FILE))
        # the files it relies on: v2.31.0's that the site holds (paths under files/, with or without the prefix)
        self.assertEqual({f['path'][len('files/'):] if f['path'].startswith('files/') else f['path']
                          for f in d['relies_on']['files']}, set(new_files) - lacked)
        # the images whose blobs it left out, with those blobs: exactly v2.31.0's layers the site holds
        relied = d['relies_on']['images']
        self.assertTrue(relied, 'v2.31.0 shares layers with v2.30.0: the delta relies on them')
        self.assertEqual({b for i in relied for b in i['blobs']}, self.new_layers & self.site_blobs)
        with open(os.path.join(daytwo.DELTA, 'SHA256SUMS')) as f:
            summed = {line.split(None, 1)[1].strip().lstrip('*') for line in f if line.strip()}
        self.assertIn('delta.yaml', summed)

    # -- 2 ------------------------------------------------------------------------------------
    def test_2_mirror_applies_the_delta_and_both_views_verify(self):
        ran = self.run_ok('mirror', 'mirror-delta', NEW, daytwo.mirror_vars(self.state, NEW, airgap_delta_dir=daytwo.DELTA))
        applied = results.one(ran, 'offline_bundle_apply')
        self.assertEqual(applied['status'], 'ok')
        self.assertLessEqual(self.new_meta | self.new_layers, daytwo.storage_blobs(),
                             'the registry storage holds every blob of v2.31.0')
        for f in self.new['files']:
            served = os.path.join(daytwo.BUNDLE, 'files', f['path'])
            self.assertEqual(daytwo.sha256_file(served), daytwo.sha256_file(os.path.join(daytwo.DIR, 'upstream', 'files', f['path'])),
                             f['path'])
        # the nodes of both versions read the same offline.yml
        shutil.copy(os.path.join(daytwo.INVENTORY[NEW], 'group_vars', 'all', 'offline.yml'),
                    os.path.join(daytwo.INVENTORY[OLD], 'group_vars', 'all', 'offline.yml'))
        for version, extra in ((NEW, {}), (OLD, {'airgap_verify_view': daytwo.VIEW[OLD]})):
            with self.subTest(verify=version):
                ran = self.run_ok('verify', 'verify-' + version, version, daytwo.verify_vars(version, **extra),
                                  '@' + daytwo.checksums(version))
                checked = results.one(ran, 'offline_verify')['result']
                m = self.new if version == NEW else self.old
                self.assertEqual((checked['totals']['failed'], checked['failed_items']), (0, []))
                self.assertLessEqual({('file', f['name']) for f in m['files']} | {('image', i['name']) for i in m['images']},
                                     {(i['kind'], i['name']) for i in checked['items']})

    # -- 3 ------------------------------------------------------------------------------------
    def test_3_a_delta_whose_base_differs_is_refused_naming_the_item(self):
        # an image the site held at the delta's base (same reference and digest in the site state)
        # and the delta relies on (v2.31.0 keeps it: its blobs left out); its tag removed from the storage
        site = {i['reference']: i['digest'] for i in daytwo.load(daytwo.STATE_FILE)['images']}
        kept = [i for i in self.delta()['relies_on']['images'] if site.get(i['reference']) == i['digest']]
        self.assertTrue(kept, 'v2.31.0 keeps none of the site images: nothing to take away')
        image = kept[0]
        self.assertLessEqual(set(image['blobs']), daytwo.stored_image_blobs(image['digest']))
        repo, _, tag = image['reference'].rpartition(':')
        tag_dir = os.path.join(daytwo.STORAGE, 'repositories', repo, '_manifests', 'tags', tag)
        self.assertTrue(os.path.isdir(tag_dir), tag_dir)
        copy = os.path.join(daytwo.DIR, 'work', 'delta-again')
        shutil.rmtree(copy, ignore_errors=True)
        shutil.copytree(daytwo.DELTA, copy, copy_function=os.link)
        os.rename(tag_dir, tag_dir + '.away')
        try:
            failed = self.refused('mirror', 'mirror-delta-base', NEW, daytwo.mirror_vars(self.state, NEW, airgap_delta_dir=copy))
        finally:
            os.rename(tag_dir + '.away', tag_dir)
        self.assertEqual(failed['action'].rsplit('.', 1)[-1], 'offline_bundle_apply', failed['task'])
        self.assertEqual({m['item'] for m in failed['result']['failed_items']}, {image['reference']}, failed['result'])

    # -- 4 ------------------------------------------------------------------------------------
    def test_4_tampered_or_unsigned_bundles_are_refused_by_mirror_and_import(self):
        bundle = os.path.join(daytwo.DIR, 'work', 'delta-tampered')
        shutil.rmtree(bundle, ignore_errors=True)
        shutil.copytree(daytwo.DELTA, bundle)
        self.assertTrue(os.path.exists(os.path.join(bundle, 'SHA256SUMS.asc')), 'the delta is not signed')
        kubespray_offline = os.path.join(daytwo.DIR, 'work', 'kubespray-offline')
        os.makedirs(os.path.join(kubespray_offline, 'files'), exist_ok=True)
        target = sorted(daytwo.bundle_files(bundle))[0]
        runs = {
            'mirror': lambda log: ('mirror', log, NEW, daytwo.mirror_vars(self.state, NEW, airgap_delta_dir=bundle)),
            'import': lambda log: ('import', log, NEW, {'airgap_kubespray_dir': daytwo.KUBESPRAY[NEW], 'airgap_bundle_dir': bundle,
                                                        'airgap_import_kubespray_offline_dir': kubespray_offline}),
        }
        cases = [('one byte changed', 'files/' + target, lambda: flip_byte(os.path.join(bundle, 'files', target))),
                 ('unsigned', 'SHA256SUMS', lambda: self.unsign(bundle))]
        for case, name, spoil in cases:
            undo = spoil()
            try:
                for playbook, args in runs.items():
                    with self.subTest(case=case, playbook=playbook):
                        failed = self.refused(*args('%s-%s' % (playbook, case.replace(' ', '-'))))
                        self.assertEqual(failed['action'].rsplit('.', 1)[-1], 'offline_bundle_check', failed['task'])
                        self.assertEqual([f['path'] for f in failed['result']['failed_items']], [name], failed['result'])
            finally:
                undo()

    @staticmethod
    def unsign(bundle):
        asc, away = os.path.join(bundle, 'SHA256SUMS.asc'), bundle + '.SHA256SUMS.asc'
        os.rename(asc, away)
        return lambda: os.rename(away, asc)

    # -- 5 ------------------------------------------------------------------------------------
    def test_5_parts_smaller_than_a_blob_any_order_corruption_named(self):
        work = os.path.join(daytwo.DIR, 'work')
        parts_dir = os.path.join(work, 'parts')
        shutil.rmtree(parts_dir, ignore_errors=True)
        largest = max(os.path.getsize(p) for p in glob.glob(os.path.join(daytwo.DELTA, 'images', 'blobs', 'sha256', '*')))
        size_k = max(1, largest // 2 // 1024)
        self.assertLess(size_k * 1024, largest)
        self.run_ok('pack', 'pack', NEW, {'airgap_bundle_dir': daytwo.DELTA, 'airgap_parts_dir': parts_dir,
                                          'airgap_part_size': '%dK' % size_k})
        parts = sorted(glob.glob(os.path.join(parts_dir, '*.tar.zst')))
        self.assertGreater(len(parts), 2, os.listdir(parts_dir))
        for p in parts:  # each a valid archive on its own, each no bigger than the part size
            subprocess.run(['tar', '--zstd', '-tf', p], check=True, stdout=subprocess.DEVNULL)
            self.assertLessEqual(os.path.getsize(p), size_k * 1024, p)
        # beside the parts: each part's .sha256, PARTS.SHA256SUMS
        others = sorted(set(glob.glob(os.path.join(parts_dir, '*'))) - set(parts) - {p + '.sha256' for p in parts})

        def stage(name, chosen):
            d = os.path.join(work, name)
            shutil.rmtree(d, ignore_errors=True)
            os.makedirs(d)
            add(d, chosen + others)
            return d

        def add(d, files):
            for p in files:
                for f in (p, p + '.sha256'):
                    if os.path.exists(f):
                        os.link(f, os.path.join(d, os.path.basename(f)))

        def unpacked(log, src, dest):
            return results.one(self.run_ok('unpack', log, NEW, {'airgap_parts_dir': src, 'airgap_bundle_dir': dest}),
                               'offline_bundle_unpack')['result']

        # the parts arrive last first: the later half alone (not complete, the rest named), then the rest
        dest = os.path.join(work, 'unpacked')
        shutil.rmtree(dest, ignore_errors=True)
        half = len(parts) // 2
        staged = stage('parts-arriving', list(reversed(parts[half:])))
        first = unpacked('unpack-partial', staged, dest)
        self.assertFalse(first['complete'], first)
        self.assertEqual(sorted(first['missing']), sorted(os.path.basename(p) for p in parts[:half]), first)
        add(staged, list(reversed(parts[:half])))
        second = unpacked('unpack', staged, dest)
        self.assertTrue(second['complete'], second)
        self.assertEqual((second['missing'], second['failed_items']), ([], []))
        check = subprocess.run(['sha256sum', '--strict', '-c', 'SHA256SUMS'], cwd=dest, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, universal_newlines=True)
        self.assertEqual(check.returncode, 0, check.stdout[-3000:])
        self.assertEqual(daytwo.bundle_files(dest), daytwo.bundle_files(daytwo.DELTA))
        self.assertEqual(daytwo.layout_blobs(dest), daytwo.layout_blobs(daytwo.DELTA))

        # one part damaged on the way: named, and only it
        bad = stage('parts-damaged', parts)
        victim = os.path.join(bad, os.path.basename(parts[1]))
        os.unlink(victim)
        shutil.copy(parts[1], victim)
        flip_byte(victim)
        dest2 = os.path.join(work, 'unpacked-damaged')
        shutil.rmtree(dest2, ignore_errors=True)
        code, ran = daytwo.run_playbook('unpack', 'unpack-damaged', NEW, {'airgap_parts_dir': bad, 'airgap_bundle_dir': dest2})
        self.assertNotEqual(code, 0, 'unpack passed with a damaged part')
        result = results.one(ran, 'offline_bundle_unpack')['result']
        self.assertEqual([f['part'] for f in result['failed_items']], [os.path.basename(parts[1])], result)
        self.assertFalse(result['complete'])


if __name__ == '__main__':
    unittest.main()

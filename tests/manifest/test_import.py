"""Tests of the airgap.kubespray.import playbook: kubespray-offline's outputs/ and contrib/offline's
offline-files.tar.gz and container-images.tar.gz into a bundle that airgap.kubespray.mirror serves.

A fake kubespray-offline outputs/ holds stand-ins of the manifest's files under its own paths
(kubernetes/v1.35.4/kubelet, ...) and docker-save image bundles made by tests/tools/imageset; a fake
contrib/offline holds offline-files.tar.gz (wget -x layout under offline-files/) and
container-images.tar.gz. The import must place each file at its manifest path by content, report
what is missing by name, import the images, change nothing on a rerun, and refuse an archive with
a member that leaves the files folder. The installed collection's offline_bundle_import module is
also tested on its own (as ansible-core runs it: one JSON args file) against hostile archives; its
library's unit tests are in modules/internal/bundleimport.

    python3 -m unittest tests/manifest/test_import.py -v     (or: discover -s tests/manifest)

Needs build/airgap-kubespray-*.tar.gz (make collection), Go (imageset), nginx and docker-registry
(tests/setup-host.sh) for the mirror + verify step. Only 127.0.0.1 and temporary folders are used.
"""
import glob
import hashlib
import io
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tarfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_manifest as tm  # noqa: E402  (its helpers, and its collection install)


setUpModule, tearDownModule = tm.module_hooks()


def release():
    r = [r for r in tm.RELEASES if os.path.basename(r) == 'v2.31.0'] or tm.RELEASES[-1:]
    return r[0]


def installed(*parts):
    return os.path.join(tm.TMP, 'collections', 'ansible_collections', 'airgap', 'kubespray', *parts)


def sha256(path):
    with open(path, 'rb') as f:
        return hashlib.sha256(f.read()).hexdigest()


def run_import(inv, extra, extra_files=(), args=()):
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.path.join(tm.TMP, 'collections'), ANSIBLE_NOCOLOR='1',
               ANSIBLE_ROLES_PATH=os.path.join(tm.TMP, 'no-roles'), ANSIBLE_CONFIG=os.path.join(tm.TMP, 'ansible.cfg'))
    open(env['ANSIBLE_CONFIG'], 'a').close()
    cmd = ['ansible-playbook', '-v', '-i', os.path.join(inv, 'hosts.yaml'), 'airgap.kubespray.import',
           '-e', 'airgap_kubespray_dir=%s' % release()] + list(args)
    for k, v in extra.items():
        cmd += ['-e', json.dumps({k: v})]
    for f in extra_files:
        cmd += ['-e', '@' + f]
    return subprocess.run(cmd, env=env, cwd=os.path.dirname(inv), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          universal_newlines=True)


def task_result(stdout, task):
    """The result a task returned on localhost, as `ansible-playbook -v` prints it (JSON), with
    `_status`: ok, changed or fatal (the callback leaves `failed` out)."""
    part = stdout.split('TASK [airgap.kubespray.import : %s' % task, 1)[1].split('\nTASK [', 1)[0]
    m = re.search(r'(?m)^(ok|changed|fatal): \[localhost\]: (?:FAILED! )?=> ', part) or \
        re.search(r'(?m)^(ok|changed|fatal): \[localhost\] => ', part)
    assert m, 'no result of %r in:\n%s' % (task, part[:2000])
    return dict(json.JSONDecoder().raw_decode(part[m.end():])[0], _status=m.group(1))


FILES_TASK = 'Import | Files, found by content or in offline-files'


def named(placed):
    return [p for p in placed if p['name']]


def recap(stdout):
    """{host: changed count} from the PLAY RECAP."""
    return {m.group(1): int(m.group(2)) for m in re.finditer(r'(?m)^(\S+)\s+: ok=\d+\s+changed=(\d+)', stdout)}


def ko_path(url):
    """Where kubespray-offline's download-kubespray-files.sh (decide_relative_dir) puts a file."""
    name = url.rsplit('/', 1)[1]
    for pattern, folder in ((r'/(v[0-9.]+)/.*/kube(adm|ctl|let)$', r'kubernetes/\1'), (r'/etcd-[^/]*\.tar\.gz$', 'kubernetes/etcd'),
                            (r'/cni-plugins[^/]*\.tgz$', 'kubernetes/cni'), (r'/crictl-[^/]*\.tar\.gz$', 'kubernetes/cri-tools'),
                            (r'/(v[^/]*)/calicoctl-', r'kubernetes/calico/\1'), (r'/calico/', 'kubernetes/calico')):
        m = re.search(pattern, url)
        if m:
            return m.expand(folder) + '/' + name
    return name


def add_bytes(tar, name, data, **kw):
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = 0o644
    for k, v in kw.items():
        setattr(info, k, v)
    tar.addfile(info, io.BytesIO(data))


def add_special(tar, name, kind, linkname=''):
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, linkname
    tar.addfile(info)


def write_images(names, out):
    with open(out + '.list', 'w') as f:
        f.write(''.join(n + '\n' for n in names))
    subprocess.run(['go', 'run', './tests/tools/imageset', '--out', out, '--names', out + '.list', '--scale', '0.001'],
                   cwd=tm.REPO, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   env=dict(os.environ, PATH='/usr/local/go/bin:' + os.environ.get('PATH', '')))


class ImportFromOldTools(unittest.TestCase):
    """The import playbook on a fake kubespray-offline outputs/ and contrib/offline folder, then
    (a complete bundle) the mirror and the verify playbook."""

    @classmethod
    def setUpClass(cls):
        cls.release = release()
        cls.work = work = os.path.join(tm.TMP, 'import')
        os.makedirs(work, exist_ok=True)
        os.chmod(work, 0o755)
        cls.inv = tm.make_inventory(cls.release, 'import')
        m = tm.run_manifest(cls.release, cls.inv)[0]
        cls.vars_file = os.path.join(work, 'checksums.json')
        standin = os.path.join(work, 'standin')
        tm.stand_in_files(cls.release, [m], standin, cls.vars_file)
        files = [dict(f, sha=sha256(os.path.join(standin, f['path']))) for f in sorted(m['files'], key=lambda f: f['name'])]
        cls.files = {f['name']: f for f in files}
        cls.images = m['images']
        # kubespray-offline: all but the last three files under its own paths; the third from last
        # with the wrong content; plus files no manifest lists and package repositories.
        ko = cls.ko = os.path.join(work, 'kubespray-offline', 'outputs')
        cls.ko_good, (cls.ko_wrong, cls.contrib_good, cls.contrib_bad) = files[:-3], files[-3:]
        for f in files[:-2]:
            dest = os.path.join(ko, 'files', ko_path(f['url']))
            os.makedirs(os.path.dirname(dest), exist_ok=True)
            if f is cls.ko_wrong:
                with open(dest, 'w') as fh:
                    fh.write('not what Kubespray pins')
            else:
                shutil.copy(os.path.join(standin, f['path']), dest)
        with open(os.path.join(ko, 'files', 'files.list'), 'w') as fh:
            fh.write(''.join(f['url'] + '\n' for f in files))
        with open(os.path.join(ko, 'files', 'kubespray-2.31.0.tar.gz'), 'wb') as fh:
            fh.write(os.urandom(2048))
        for rel, text in (('debs/local/Packages', 'Package: foo\n'), ('debs/local/foo_1.0_amd64.deb', 'deb'),
                          ('rpms/local/repodata/repomd.xml', '<repomd/>'), ('pypi/index.html', '<a href="pip/">pip</a>'),
                          ('pypi/pip/index.html', '<a href="../files/pip-24.0-py3-none-any.whl">pip</a>'),
                          ('pypi/files/pip-24.0-py3-none-any.whl', 'wheel')):
            os.makedirs(os.path.dirname(os.path.join(ko, rel)), exist_ok=True)
            with open(os.path.join(ko, rel), 'w') as fh:
                fh.write(text)
        # contrib/offline: offline-files.tar.gz as `tar -czvf offline-files.tar.gz offline-files` makes it.
        contrib = cls.contrib = os.path.join(work, 'kubespray', 'contrib', 'offline')
        os.makedirs(contrib, exist_ok=True)
        with open(os.path.join(standin, cls.contrib_good['path']), 'rb') as fh:
            good = fh.read()
        cls.members = [('offline-files/' + cls.contrib_good['path'], good),
                       ('offline-files/' + cls.contrib_bad['path'], b'an older release of it'),
                       ('offline-files/example.com/extra/readme.txt', b'not in the manifest')]
        with tarfile.open(os.path.join(contrib, 'offline-files.tar.gz'), 'w:gz') as tar:
            for name, data in cls.members:
                add_bytes(tar, name, data)
        # Images: kubespray-offline's images/ holds all but the first, contrib's bundle the first.
        sources = [i['source'] for i in cls.images]
        write_images(sources[1:], os.path.join(work, 'imageset-ko'))
        shutil.copytree(os.path.join(work, 'imageset-ko', 'kubespray-offline', 'images'), os.path.join(ko, 'images'))
        write_images(sources[:1], os.path.join(work, 'imageset-contrib'))
        shutil.copy(os.path.join(work, 'imageset-contrib', 'contrib-offline', 'container-images.tar.gz'), contrib)
        cls.bundle = os.path.join(work, 'bundle')
        cls.extra = {'airgap_bundle_dir': cls.bundle, 'airgap_import_kubespray_offline_dir': ko,
                     'airgap_import_contrib_offline_dir': contrib,
                     # the key the import signs SHA256SUMS with (generated by the first run)
                     'airgap_signing_gnupg_home': os.path.join(work, 'gnupg')}

    @classmethod
    def tearDownClass(cls):
        subprocess.run(['gpgconf', '--homedir', cls.extra['airgap_signing_gnupg_home'], '--kill', 'all'])

    def run_import(self, extra=None, args=(), ok=True):
        p = run_import(self.inv, dict(self.extra, **(extra or {})), [self.vars_file], args)
        if ok:
            self.assertEqual(p.returncode, 0, p.stdout[-5000:])
        return p

    def test_0_refuses_an_archive_leaving_the_files(self):
        contrib = os.path.join(self.work, 'evil-contrib')
        os.makedirs(contrib, exist_ok=True)
        with tarfile.open(os.path.join(contrib, 'offline-files.tar.gz'), 'w:gz') as tar:
            for name, data in self.members:
                add_bytes(tar, name, data)
            add_bytes(tar, 'offline-files/../../evil.txt', b'gotcha')
        bundle = os.path.join(self.work, 'evil-bundle')
        p = self.run_import({'airgap_bundle_dir': bundle, 'airgap_import_contrib_offline_dir': contrib}, ok=False)
        self.assertNotEqual(p.returncode, 0)
        r = task_result(p.stdout, FILES_TASK)
        self.assertEqual(r['_status'], 'fatal')
        self.assertEqual(r['refused'], ['offline-files/../../evil.txt (absolute path or ..)'])
        self.assertFalse(os.path.exists(os.path.join(bundle, 'files')), 'nothing may be written from a refused archive')
        self.assertEqual(glob.glob(os.path.join(self.work, '**', 'evil.txt'), recursive=True), [])

    def test_1_import_rerun_check(self):
        files, bundle = self.files, self.bundle
        # --check on a new bundle: says what it would do, writes nothing.
        p = self.run_import(args=['--check'])
        self.assertGreater(recap(p.stdout)['localhost'], 0, 'check mode must report the changes')
        r = task_result(p.stdout, FILES_TASK)
        self.assertTrue(r['changed'])
        self.assertEqual(sorted(x['name'] for x in named(r['placed'])), sorted(f['name'] for f in self.ko_good + [self.contrib_good]))
        self.assertFalse(os.path.exists(os.path.join(bundle, 'files')), 'check mode wrote files')
        self.assertFalse(os.path.exists(os.path.join(bundle, 'images')), 'check mode wrote images')

        p = self.run_import()
        out = p.stdout
        for f in self.ko_good + [self.contrib_good]:
            path = os.path.join(bundle, 'files', f['path'])
            self.assertTrue(os.path.isfile(path), '%s not placed at %s' % (f['name'], f['path']))
            self.assertEqual(sha256(path), f['sha'], f['name'])
        for f in self.ko_good:  # same filesystem: hard links to kubespray-offline's files
            self.assertTrue(os.path.samefile(os.path.join(bundle, 'files', f['path']),
                                             os.path.join(self.ko, 'files', ko_path(f['url']))), f['name'])
        for f in (self.ko_wrong, self.contrib_bad):
            self.assertFalse(os.path.exists(os.path.join(bundle, 'files', f['path'])), '%s has the wrong content' % f['name'])
        r = task_result(out, FILES_TASK)
        self.assertEqual((r['totals']['files'], r['totals']['found']), (len(files), len(files) - 2))
        self.assertEqual(sorted((m['name'], m['url'], m['why']) for m in r['missing']),
                         sorted([(self.ko_wrong['name'], self.ko_wrong['url'], 'not in the sources'),
                                 (self.contrib_bad['name'], self.contrib_bad['url'], 'the archive holds another content at its path')]))
        self.assertEqual(r['mismatched'], [{'name': self.contrib_bad['name'], 'path': self.contrib_bad['path'],
                                            'source': 'offline-files.tar.gz:offline-files/%s' % self.contrib_bad['path']}])
        with open(os.path.join(bundle, 'files', 'example.com', 'extra', 'readme.txt')) as fh:
            self.assertEqual(fh.read(), 'not in the manifest')
        self.assertEqual([(x['path'], x['how']) for x in r['placed'] if not x['name']], [('example.com/extra/readme.txt', 'extract')])
        self.assertEqual(r['unmatched'], ['files.list', 'kubespray-2.31.0.tar.gz', ko_path(self.ko_wrong['url'])])
        self.assertEqual(r['repos'], {'debs': 2, 'pypi/simple': 3, 'rpms': 1})
        # Package repositories, where the mirror and the repos playbook look (pypi/simple/).
        for rel in ('debs/local/Packages', 'rpms/local/repodata/repomd.xml', 'pypi/simple/pip/index.html',
                    'pypi/simple/files/pip-24.0-py3-none-any.whl'):
            self.assertTrue(os.path.isfile(os.path.join(bundle, 'files', rel)), rel)
        # The summary shows the module's lines.
        self.assertIn('files: %d of %d manifest files in the bundle' % (len(files) - 2, len(files)), out)
        # Images: every manifest image, by its original name, in the OCI layout.
        with open(os.path.join(bundle, 'images', 'index.json')) as fh:
            refs = {d['annotations']['org.opencontainers.image.ref.name'] for d in json.load(fh)['manifests']}
        for img in self.images:
            self.assertIn(img['source'], refs)
        n = len(self.images)
        pulled = task_result(out, 'Import | Images, from the docker-save bundles')['totals']
        self.assertEqual((pulled['pulled'], pulled['imported'], pulled['skipped'], pulled['failed']), (0, n, 0, 0))
        held = task_result(out, 'Import | Which manifest images the layout holds')
        self.assertEqual((held['changed'], sorted(held['images']['found']), held['images']['missing']),
                         (False, sorted(i['name'] for i in self.images), []))
        # manifest.yaml for the download playbook, which then fetches only the two missing files.
        self.assertTrue(os.path.isfile(os.path.join(bundle, 'manifest.yaml')))
        leftovers = [p for p in glob.glob(os.path.join(bundle, '**', '.airgap-import-*'), recursive=True)]
        self.assertEqual(leftovers, [])

        # A rerun, and a rerun in check mode, change nothing.
        for args in ((), ('--check',)):
            p = self.run_import(args=args)
            self.assertEqual(set(recap(p.stdout).values()), {0}, 'a rerun %s changed something:\n%s' % (args, p.stdout[-5000:]))
            r = task_result(p.stdout, FILES_TASK)
            self.assertEqual((r['changed'], r['placed'], r['totals']['already'], r['totals']['missing']),
                             (False, [], len(files) - 2, 2), args)

        # fail_on_missing stops with the names.
        p = self.run_import({'airgap_import_fail_on_missing': True}, ok=False)
        self.assertNotEqual(p.returncode, 0)
        self.assertRegex(p.stdout, r'Still missing: .*%s' % re.escape(self.ko_wrong['name']))

        # The missing two turn up in kubespray-offline's outputs (say, fetched again): placed, copied
        # this time, and the bundle is complete.
        standin = os.path.join(self.work, 'standin')
        for f in (self.ko_wrong, self.contrib_bad):
            dest = os.path.join(self.ko, 'files', 'late', ko_path(f['url']))
            os.makedirs(os.path.dirname(dest), exist_ok=True)
            shutil.copy(os.path.join(standin, f['path']), dest)
        p = self.run_import({'airgap_import_hardlink': False})
        r = task_result(p.stdout, FILES_TASK)
        self.assertEqual(sorted((x['name'], x['how']) for x in named(r['placed'])),
                         sorted((f['name'], 'copy') for f in (self.ko_wrong, self.contrib_bad)))
        self.assertEqual((r['totals']['found'], r['missing'], r['mismatched']), (len(files), [], []))
        for f in (self.ko_wrong, self.contrib_bad):
            path = os.path.join(bundle, 'files', f['path'])
            self.assertEqual(sha256(path), f['sha'])
            self.assertEqual(os.stat(path).st_nlink, 1, 'airgap_import_hardlink=false copies')
            self.assertEqual(os.stat(path).st_mode & 0o777, 0o644)
        # SHA256SUMS, signed; one byte of a bundle file changed: the next import refuses the bundle
        # before writing into it, naming the file.
        check = subprocess.run(['sha256sum', '--quiet', '-c', 'SHA256SUMS'], cwd=bundle, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, universal_newlines=True)
        self.assertEqual(check.returncode, 0, check.stdout[-2000:])
        self.assertTrue(os.path.isfile(os.path.join(bundle, 'SHA256SUMS.asc')))
        rel = 'files/' + self.contrib_good['path']
        with open(os.path.join(bundle, rel), 'r+b') as f:
            first = f.read(1)
            f.seek(0)
            f.write(bytes([first[0] ^ 1]))
        try:
            p = self.run_import(ok=False)
            self.assertNotEqual(p.returncode, 0)
            self.assertIn('%s: content differs' % rel, p.stdout)
            self.assertNotIn('Import | Hand the manifest to the import', p.stdout, 'the check comes before the evaluation')
        finally:
            with open(os.path.join(bundle, rel), 'r+b') as f:
                f.write(first)
        type(self).complete = True

    def test_2_mirror_then_verify(self):
        """The imported bundle, served by airgap.kubespray.mirror, passes airgap.kubespray.verify."""
        if not getattr(self, 'complete', False):
            self.skipTest('needs the complete bundle of test_1')
        tm.DownloadPipeline.mirror_then_verify(self, self.release, self.inv, self.work, self.bundle, self.vars_file)


class ImportModule(unittest.TestCase):
    """The role's module, airgap.kubespray.offline_bundle_import, on its own: hostile archives are
    refused whole, naming the member, with nothing written; links, modes, check mode and contrib's
    offline-files/ folder."""

    def setUp(self):
        self.dir = os.path.join(tm.TMP, 'safe', self.id().rsplit('.', 1)[1])
        shutil.rmtree(self.dir, ignore_errors=True)
        os.makedirs(self.dir)
        self.bundle = os.path.join(self.dir, 'bundle')
        self.data = b'stand-in for https://dl.k8s.io/release/v1.35.4/bin/linux/amd64/kubelet'
        self.manifest = [{'name': 'kubelet', 'path': 'dl.k8s.io/release/v1.35.4/bin/linux/amd64/kubelet',
                          'url': 'https://dl.k8s.io/release/v1.35.4/bin/linux/amd64/kubelet',
                          'checksum': 'sha256:' + hashlib.sha256(self.data).hexdigest()}]

    def run_module(self, archive='', check=False, copy=False, ko='', wrap=(), **more):
        """Runs the module as ansible-core does; (its result, the lines the wrapper printed after it)."""
        args = dict({'bundle': self.bundle, 'files': self.manifest, 'kubespray_offline_files': ko, 'contrib_files': archive,
                     'repos': [], 'hardlink': not copy, '_ansible_module_name': 'offline_bundle_import',
                     '_ansible_check_mode': check}, **more)
        args_file = os.path.join(self.dir, 'args.json')
        with open(args_file, 'w') as f:
            json.dump(args, f)
        arch = {'x86_64': 'amd64', 'aarch64': 'arm64'}[platform.machine()]
        p = subprocess.run(list(wrap) + [installed('plugins', 'bin', 'airgap_linux_' + arch), args_file],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True)
        r = json.loads(p.stdout.splitlines()[0])
        self.assertEqual(p.returncode, 1 if r.get('failed') else 0, p.stderr)
        return r, p.stdout.splitlines()[1:]

    def archive(self, *adders):
        path = os.path.join(self.dir, 'offline-files.tar.gz')
        with tarfile.open(path, 'w:gz') as tar:
            add_bytes(tar, 'offline-files/dl.k8s.io/release/v1.35.4/bin/linux/amd64/kubelet', self.data)
            for add in adders:
                add(tar)
        return path

    def assert_refused(self, member, why, *adders):
        r, _ = self.run_module(self.archive(*adders))
        self.assertTrue(r['failed'], r)
        self.assertEqual(len(r['refused']), 1, r)
        self.assertTrue(r['refused'][0].startswith('%s (%s' % (member, why)), r['refused'])
        self.assertFalse(os.path.exists(os.path.join(self.bundle, 'files')), 'something was written: %s' % r)
        self.assertFalse(os.path.lexists(os.path.join(self.dir, 'outside')))

    def test_dotdot(self):
        self.assert_refused('offline-files/dl.k8s.io/../../../outside', 'absolute path or ..',
                            lambda t: add_bytes(t, 'offline-files/dl.k8s.io/../../../outside', b'x'))

    def test_absolute(self):
        self.assert_refused(self.dir + '/outside', 'absolute path', lambda t: add_bytes(t, self.dir + '/outside', b'x'))

    def test_symlink_out(self):
        self.assert_refused('offline-files/dl.k8s.io/up', 'symbolic link to ../../outside',
                            lambda t: add_special(t, 'offline-files/dl.k8s.io/up', tarfile.SYMTYPE, '../../outside'))

    def test_symlink_absolute(self):
        self.assert_refused('offline-files/passwd', 'symbolic link to /etc/passwd',
                            lambda t: add_special(t, 'offline-files/passwd', tarfile.SYMTYPE, '/etc/passwd'))

    def test_hardlink_out(self):
        self.assert_refused('offline-files/shadow', 'hard link to ../etc/shadow',
                            lambda t: add_special(t, 'offline-files/shadow', tarfile.LNKTYPE, '../etc/shadow'))

    def test_device(self):
        self.assert_refused('offline-files/null', 'device, fifo or other special file',
                            lambda t: add_special(t, 'offline-files/null', tarfile.CHRTYPE))

    def test_below_a_symlink(self):
        self.assert_refused('offline-files/lnk/x', 'below the symbolic link lnk',
                            lambda t: add_special(t, 'offline-files/lnk', tarfile.SYMTYPE, 'dl.k8s.io'),
                            lambda t: add_bytes(t, 'offline-files/lnk/x', b'x'))

    def test_every_unsafe_member_named(self):
        r, _ = self.run_module(self.archive(lambda t: add_bytes(t, '../a', b'x'), lambda t: add_bytes(t, '/b', b'x')))
        self.assertEqual(r['refused'], ['../a (absolute path or ..)', '/b (absolute path or ..)'])
        self.assertIn('2 unsafe member(s)', r['msg'])

    def test_links_inside_become_files(self):
        r, _ = self.run_module(self.archive(
            lambda t: add_special(t, 'offline-files/mirror/kubelet', tarfile.SYMTYPE, '../dl.k8s.io/release/v1.35.4/bin/linux/amd64/kubelet'),
            lambda t: add_special(t, 'offline-files/mirror/kubelet2', tarfile.LNKTYPE, 'offline-files/dl.k8s.io/release/v1.35.4/bin/linux/amd64/kubelet'),
            lambda t: add_special(t, 'offline-files/mirror/dir', tarfile.SYMTYPE, '../dl.k8s.io')))
        self.assertFalse(r.get('failed'), r)
        self.assertEqual(r['found'], ['kubelet'])
        for name in ('kubelet', 'kubelet2'):
            path = os.path.join(self.bundle, 'files', 'mirror', name)
            self.assertFalse(os.path.islink(path))
            with open(path, 'rb') as f:
                self.assertEqual(f.read(), self.data)
        self.assertFalse(os.path.lexists(os.path.join(self.bundle, 'files', 'mirror', 'dir')))
        self.assertIn('offline-files/mirror/dir (link to dl.k8s.io, not a file of the archive)', r['skipped_links'])

    def test_symlink_in_the_bundle_is_not_followed(self):
        outside = os.path.join(self.dir, 'outside')
        os.makedirs(outside)
        os.makedirs(os.path.join(self.bundle, 'files'))
        os.symlink(outside, os.path.join(self.bundle, 'files', 'dl.k8s.io'))
        r, _ = self.run_module(self.archive())
        self.assertTrue(r['failed'], r)
        self.assertIn('would leave', r['msg'])
        self.assertEqual(os.listdir(outside), [])
        os.unlink(os.path.join(self.bundle, 'files', 'dl.k8s.io'))
        os.rmdir(outside)

    def test_check_mode_and_copy(self):
        ko = os.path.join(self.dir, 'ko')
        os.makedirs(os.path.join(ko, 'kubernetes', 'v1.35.4'))
        with open(os.path.join(ko, 'kubernetes', 'v1.35.4', 'kubelet'), 'wb') as f:
            f.write(self.data)
        r, _ = self.run_module(ko=ko, check=True)
        self.assertTrue(r['changed'])
        self.assertEqual(r['placed'][0]['how'], 'link')
        self.assertFalse(os.path.exists(self.bundle))
        r, _ = self.run_module(ko=ko, copy=True)
        self.assertEqual((r['changed'], r['placed'][0]['how'], r['found']), (True, 'copy', ['kubelet']))
        r, _ = self.run_module(ko=ko)
        self.assertEqual((r['changed'], r['placed'], r['already']), (False, [], ['kubelet']))
        self.assertEqual((r['totals']['found'], r['totals']['placed'], r['totals']['already']), (1, 0, 1))

    def test_private_source_is_copied(self):
        ko = os.path.join(self.dir, 'ko')
        os.makedirs(ko)
        with open(os.path.join(ko, 'kubelet'), 'wb') as f:
            f.write(self.data)
        os.chmod(os.path.join(ko, 'kubelet'), 0o600)  # a link would keep it unreadable for nginx's workers
        r, _ = self.run_module(ko=ko)
        self.assertEqual(r['placed'][0]['how'], 'copy')
        self.assertEqual(os.stat(os.path.join(self.bundle, 'files', self.manifest[0]['path'])).st_mode & 0o777, 0o644)

    def test_offline_files_folder(self):
        top = os.path.join(self.dir, 'offline-files')
        for rel, data in ((self.manifest[0]['path'], self.data), ('example.com/a.txt', b'a')):
            os.makedirs(os.path.dirname(os.path.join(top, rel)), exist_ok=True)
            with open(os.path.join(top, rel), 'wb') as f:
                f.write(data)
        os.symlink('/etc/passwd', os.path.join(top, 'example.com', 'passwd'))  # never followed
        r, _ = self.run_module(top)
        self.assertEqual((r['found'], len(r['placed'])), (['kubelet'], 2), r)
        self.assertTrue(os.path.samefile(os.path.join(top, 'example.com', 'a.txt'), os.path.join(self.bundle, 'files', 'example.com', 'a.txt')))
        self.assertFalse(os.path.lexists(os.path.join(self.bundle, 'files', 'example.com', 'passwd')))

    def test_size_cap(self):
        # A gzip bomb in miniature: 3 MB of zeros packs to a few KB; the cap counts what members unpack to.
        path = self.archive(lambda t: add_bytes(t, 'offline-files/a', b'\0' * 1000000), lambda t: add_bytes(t, 'offline-files/bomb', b'\0' * 3000000))
        self.assertLess(os.path.getsize(path), 50000)
        r, _ = self.run_module(path, max_extract_bytes=2000000)
        self.assertTrue(r['failed'], r)
        self.assertEqual(r['refused'], ['offline-files/bomb (3000000 bytes, over the cap of 2000000)'])
        self.assertIn('2000000 bytes', r['msg'])
        self.assertFalse(os.path.exists(os.path.join(self.bundle, 'files')), 'something was written')
        r, _ = self.run_module(path, max_extract_bytes=5000000)
        self.assertFalse(r.get('failed'), r)
        self.assertEqual(r['found'], ['kubelet'])

    def test_disk_full(self):
        # bundle/files on a 64 KiB tmpfs in a private mount namespace: the 200 KB member cannot fit.
        files = os.path.join(self.bundle, 'files')
        os.makedirs(files)
        path = self.archive(lambda t: add_bytes(t, 'offline-files/example.com/big', os.urandom(200000)))
        if subprocess.run(['unshare', '-m', 'true'], stderr=subprocess.DEVNULL).returncode != 0:
            self.skipTest('no mount namespaces here (unshare -m)')
        wrap = ['unshare', '-m', 'sh', '-c', 'mount -t tmpfs -o size=64k tmpfs "$0" || exit 1; "$@"; rc=$?; '
                'find "$0" -name ".airgap-import-*"; exit $rc', files]
        r, left = self.run_module(path, wrap=wrap)
        self.assertTrue(r['failed'], r)
        self.assertIn('disk full', r['msg'])
        self.assertIn(os.path.join(files, 'example.com'), r['msg'])
        self.assertNotIn('not a readable tar archive', r['msg'])
        self.assertNotIn('traceback', r)
        self.assertEqual(left, [], 'temporary files left behind')

    def test_truncated_archive(self):
        path = self.archive(lambda t: add_bytes(t, 'offline-files/big', os.urandom(200000)))
        with open(path, 'rb') as f:
            data = f.read()
        with open(path, 'wb') as f:
            f.write(data[:len(data) // 2])
        r, _ = self.run_module(path)
        self.assertTrue(r['failed'])
        self.assertIn('not a readable tar archive', r['msg'])
        self.assertFalse(os.path.exists(os.path.join(self.bundle, 'files')))


if __name__ == '__main__':
    unittest.main()

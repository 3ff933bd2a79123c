"""Tests of the airgap.kubespray.manifest playbook against Kubespray's real variable files.

For every Kubespray release under shared/kubespray/ (AIRGAP_KUBESPRAY_RELEASES), the playbook runs
from the installed collection with the sample group_vars and shared/kubespray/hosts.yaml, in
several inventory variants. Expected sets come from an independent reading of the release's
download.yml (PyYAML, looking at each entry's `enabled` expression), never from pasted lists.

    python3 -m unittest discover -s tests/manifest -v      (make test-manifest)

Needs build/airgap-kubespray-*.tar.gz (make collection) and tests/setup-host.sh's packages.
"""
import glob
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.error
import urllib.request

import yaml

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'lib'))
from standin import downloads_of, stand_in_files  # noqa: E402
import results  # noqa: E402

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
# The whole suite's lane: tests/manifest/run.sh says 0 on the lanes that run only the tests of what
# differs between ansible-core lines (run by hand, everything runs).
FULL_LANE = os.environ.get('AIRGAP_MANIFEST_FULL', '1') == '1'
SHARED = os.environ.get('AIRGAP_KUBESPRAY_RELEASES', os.path.join(REPO, '..', 'shared', 'kubespray'))
NGINX = os.path.join(REPO, 'tests', 'lib', 'nginx.sh')
TMP = None
NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))
# Kubespray's releases and its master branch (its next release), each a folder of real files.
RELEASES = sorted(d for d in glob.glob(os.path.join(SHARED, 'v*')) + glob.glob(os.path.join(SHARED, 'master-*'))
                  if os.path.isdir(d))


def setUpModule():
    global TMP
    if not RELEASES:
        raise RuntimeError('no Kubespray releases under %s (set AIRGAP_KUBESPRAY_RELEASES)' % SHARED)
    tarballs = glob.glob(os.path.join(REPO, 'build', 'airgap-kubespray-*.tar.gz'))
    if len(tarballs) != 1:
        raise RuntimeError('run `make collection` first: want one build/airgap-kubespray-*.tar.gz')
    TMP = tempfile.mkdtemp(prefix='airgap-manifest.')
    os.chmod(TMP, 0o755)  # nginx workers run unprivileged
    subprocess.run(['ansible-galaxy', 'collection', 'install', '--force', '-p', os.path.join(TMP, 'collections'),
                    tarballs[0]], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def tearDownModule():
    if TMP and not os.environ.get('AIRGAP_KEEP_TMP'):
        shutil.rmtree(TMP, ignore_errors=True)


def module_hooks(*caches):
    """setUpModule and tearDownModule for another test file that uses these helpers (and this
    module's collection install); caches (dicts) are cleared with the TMP they point into."""
    def tear_down():
        global TMP
        tearDownModule()
        TMP = None
        _SAMPLES.clear()
        for c in caches:
            c.clear()
    return setUpModule, tear_down


# -- an independent reading of Kubespray's download.yml ---------------------------------------------

def enabled_expr(entry):
    return str(entry.get('enabled', False))


def keys_where(release, pattern):
    """downloads keys whose `enabled` expression matches pattern (a regex)."""
    return {k for k, v in downloads_of(release).items() if re.search(pattern, enabled_expr(v))}


# -- running the playbook ---------------------------------------------------------------------------

def make_inventory(release, name, changes=()):
    """A copy of the release's sample group_vars with hosts.yaml; changes are (file, var, value)
    set in that group_vars file (replacing the variable's line, or appended)."""
    inv = os.path.join(TMP, os.path.basename(release), name, 'inventory')
    shutil.rmtree(inv, ignore_errors=True)
    shutil.copytree(os.path.join(release, 'inventory', 'sample', 'group_vars'), os.path.join(inv, 'group_vars'))
    for root, dirs, files in os.walk(inv):
        os.chmod(root, 0o755)
        for f in files:
            os.chmod(os.path.join(root, f), 0o644)
    shutil.copy(os.path.join(SHARED, 'hosts.yaml'), os.path.join(inv, 'hosts.yaml'))
    for rel, var, value in changes:
        path = os.path.join(inv, 'group_vars', rel)
        text = '---\n'
        if os.path.exists(path):
            with open(path) as f:
                text = f.read()
        line = '%s: %s' % (var, json.dumps(value))
        text, n = re.subn(r'(?m)^%s:.*$' % re.escape(var), line.replace('\\', '\\\\'), text)
        if not n:
            text = text.rstrip('\n') + '\n' + line + '\n'
        with open(path, 'w') as f:
            f.write(text)
    return inv


def run_manifest(release, inv, extra=None, kubespray_dir=None, check=True, playbook='airgap.kubespray.manifest', extra_files=()):
    out = (extra or {}).get('airgap_manifest_dir') or os.path.join(os.path.dirname(inv), 'out')
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.path.join(TMP, 'collections'),
               ANSIBLE_NOCOLOR='1',
               ANSIBLE_ROLES_PATH=os.path.join(TMP, 'no-roles'), ANSIBLE_CONFIG=os.path.join(TMP, 'ansible.cfg'))
    open(env['ANSIBLE_CONFIG'], 'a').close()
    args = ['ansible-playbook', '-i', os.path.join(inv, 'hosts.yaml'), playbook,
            '-e', 'airgap_kubespray_dir=%s' % (kubespray_dir or release)]
    if playbook == 'airgap.kubespray.manifest':
        args += ['-e', 'airgap_manifest_dir=%s' % out]
    for k, v in (extra or {}).items():
        args += ['-e', json.dumps({k: v})]
    for f in extra_files:
        args += ['-e', '@' + f]
    # the task results, as the modules returned them (tests/lib/results.py): p.results
    task_results = os.path.join(os.path.dirname(inv), 'results.jsonl')
    env.update(results.callback_env(task_results))
    start = time.monotonic()
    p = subprocess.run(args, env=env, cwd=os.path.dirname(inv), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       universal_newlines=True)
    p.results = task_results
    elapsed = time.monotonic() - start
    if check and p.returncode != 0:
        raise AssertionError('%s failed (%s):\n%s' % (playbook, p.returncode, p.stdout[-4000:]))
    if not check or playbook != 'airgap.kubespray.manifest':
        return p
    with open(os.path.join(out, 'manifest.yaml')) as f:
        manifest = yaml.safe_load(f)
    with open(os.path.join(out, 'files.list')) as f:
        files_list = f.read()
    with open(os.path.join(out, 'images.list')) as f:
        images_list = f.read()
    return manifest, files_list, images_list, elapsed, out


_SAMPLES = {}
# The inventory's own view (what the cluster fetches), as the verify playbook evaluates it.
OFFLINE_VIEW = {'airgap_manifest_upstream': False}


def sample_manifest(release):
    """The manifest of the unchanged sample inventory (one run per release)."""
    if release not in _SAMPLES:
        _SAMPLES[release] = run_manifest(release, make_inventory(release, 'sample'))
    return _SAMPLES[release]


def names(items):
    return {i['name'] for i in items}


KUBEADM = {'kube_apiserver', 'kube_controller_manager', 'kube_scheduler', 'kube_proxy'}


class ManifestPerRelease(unittest.TestCase):
    """Each test runs once per release, as a subTest."""

    def each(self):
        for release in RELEASES:
            with self.subTest(release=os.path.basename(release)):
                yield release

    def test_sample_inventory(self):
        for release in self.each():
            m, files_list, images_list, elapsed, _ = sample_manifest(release)
            print('\n  %s sample: %d files, %d images in %.1fs' % (
                os.path.basename(release), len(m['files']), len(m['images']), elapsed), file=sys.stderr)
            self.assertEqual(m['version'], 1)
            self.assertEqual(m['arches'], ['amd64'])
            self.assertEqual(m['hosts'], ['node1', 'node2', 'node3'])
            self.assertRegex(str(m['kube_version']), r'^v?\d+\.\d+\.\d+$')
            for f in m['files']:
                self.assertRegex(f['checksum'], r'^sha256:[0-9a-f]{64}$', f['name'])
                self.assertEqual(f['path'], re.sub(r'^https?://', '', f['url']), f['name'])
                self.assertEqual(f['arches'], ['amd64'])
                self.assertNotIn('arm64', f['url'])
            # The sample: calico, containerd, etcd on the host.
            calico = keys_where(release, r"kube_network_plugin (==|in) \[?'calico'")
            cilium = keys_where(release, r"kube_network_plugin == 'cilium'")
            flannel = keys_where(release, r"kube_network_plugin == 'flannel'")
            present = names(m['files']) | names(m['images'])
            self.assertTrue(calico & present, 'no calico item in the sample manifest')
            self.assertFalse((cilium | flannel) & present, 'a disabled network plugin is listed')
            self.assertFalse(keys_where(release, r"container_manager == 'crio'") & present)
            self.assertIn('containerd', names(m['files']))
            self.assertIn('etcd', names(m['files']), 'etcd_deployment_type: host lists the etcd binary')
            self.assertNotIn('etcd', names(m['images']))
            self.assertTrue(KUBEADM <= names(m['images']), 'the images kubeadm pulls are listed')
            self.assertEqual({i['origin'] for i in m['files'] + m['images']}, {'downloads', 'kubeadm'},
                             'no quirk applies to the sample')
            self.assertEqual(m['quirks'], [])
            self.assertEqual(m['offline_vars'], {})
            # Entries switched by a single boolean variable appear only when it is true.
            for key, entry in downloads_of(release).items():
                single = re.fullmatch(r'\{\{\s*(\w+)\s*\}\}', enabled_expr(entry).strip())
                if single and key in present:
                    self.assertTrue(self.sample_value(release, single.group(1)), '%s is listed but %s is off'
                                    % (key, single.group(1)))
            for img in m['images']:
                self.assertEqual(img['source'], '%s:%s' % (img['repo'], img['tag']))
                self.assertTrue(img['target'] and not img['target'].startswith(('registry.k8s.io', 'quay.io', 'docker.io')),
                                'target of %s: %r' % (img['source'], img['target']))
                self.assertTrue(img['source'].endswith('/' + img['target'] + ':' + img['tag']), img)
            self.assertEqual({m_['name'] for m_ in m['mirror_images']}, {'registry', 'nginx'})
            # contrib/offline formats.
            self.assertEqual(files_list.splitlines(), sorted({f['url'] for f in m['files']}))
            self.assertEqual(images_list.splitlines(), sorted({i['source'] for i in m['images']}))
            if os.path.basename(release) == 'v2.31.0':
                self.assertEqual((len(m['files']), len(m['images'])), (11, 12),
                                 'Kubespray 2.31.0 enables 11 files and 12 images by default')

    def sample_value(self, release, var):
        """A variable's value as the sample inventory sets it, else its role default."""
        for path in sorted(glob.glob(os.path.join(release, 'inventory/sample/group_vars/*/*.yml'))) + \
                sorted(glob.glob(os.path.join(release, 'roles/kubespray_defaults/defaults/main/*.yml'))):
            with open(path) as f:
                data = yaml.safe_load(f) or {}
            if var in data:
                return data[var]
        return None

    def test_cilium_swaps_calico(self):
        for release in self.each():
            sample = sample_manifest(release)[0]
            inv = make_inventory(release, 'cilium', [('k8s_cluster/k8s-cluster.yml', 'kube_network_plugin', 'cilium')])
            m = run_manifest(release, inv)[0]
            present = names(m['files']) | names(m['images'])
            calico = keys_where(release, r"kube_network_plugin (==|in) \[?'calico'")
            cilium = keys_where(release, r"kube_network_plugin == 'cilium'")
            self.assertFalse(calico & present, 'calico items remain: %s' % (calico & present))
            self.assertTrue(cilium <= present, 'missing cilium items: %s' % (cilium - present))
            before = names(sample['files']) | names(sample['images'])
            quirk_files = {f['name']: f for f in m['files'] if f['origin'] == 'quirk'}
            self.assertEqual(set(quirk_files), {'cilium_helm_index', 'cilium_helm_chart'})
            self.assertEqual(quirk_files['cilium_helm_index']['path'], 'helm.cilium.io/index.yaml')
            self.assertEqual(quirk_files['cilium_helm_chart']['scan']['kind'], 'chart')
            # The chart is rendered with Kubespray's helm for this machine: listed for that purpose.
            helm = [f for f in m['files'] if f['name'] == 'helm']
            self.assertEqual([(f['purpose'], f['arches']) for f in helm], [('scan', ['amd64'])])
            self.assertEqual(present - before - set(quirk_files) - {'helm'}, cilium & present)
            self.assertIn('cilium_extra_values', m['offline_vars'])

    def test_flannel_with_helm(self):
        for release in self.each():
            inv = make_inventory(release, 'flannel', [('k8s_cluster/k8s-cluster.yml', 'kube_network_plugin', 'flannel'),
                                                      ('k8s_cluster/addons.yml', 'helm_enabled', True)])
            m = run_manifest(release, inv)[0]
            present = names(m['files']) | names(m['images'])
            self.assertTrue(keys_where(release, r"kube_network_plugin == 'flannel'") <= present)
            self.assertTrue(keys_where(release, r'helm_enabled') & present, 'helm is enabled but not listed')
            self.assertFalse(keys_where(release, r"kube_network_plugin (==|in) \[?'calico'") & present)

    def test_crio(self):
        for release in self.each():
            inv = make_inventory(release, 'crio', [('k8s_cluster/k8s-cluster.yml', 'container_manager', 'crio')])
            m = run_manifest(release, inv)[0]
            present = names(m['files']) | names(m['images'])
            self.assertTrue(keys_where(release, r"container_manager == 'crio'") <= present)
            self.assertFalse(keys_where(release, r"container_manager == 'containerd'") & present)

    def test_etcd_kubeadm(self):
        for release in self.each():
            inv = make_inventory(release, 'etcd-kubeadm', [('all/etcd.yml', 'etcd_deployment_type', 'kubeadm')])
            m = run_manifest(release, inv)[0]
            self.assertIn('etcd', names(m['images']))
            self.assertNotIn('etcd', names(m['files']))

    def test_amd64_and_arm64(self):
        for release in self.each():
            inv = make_inventory(release, 'multiarch')
            m, _, _, elapsed, _ = run_manifest(release, inv, extra={'airgap_arches': ['amd64', 'arm64']})
            single = sample_manifest(release)[0]
            self.assertEqual(m['arches'], ['amd64', 'arm64'])
            per_arch = {}
            for f in m['files']:
                for a in f['arches']:
                    per_arch.setdefault(a, set()).add(f['name'])
                if f['arches'] == ['arm64']:
                    self.assertRegex(f['url'], 'arm64|aarch64', f['name'])
                    self.assertNotIn('amd64', f['url'])
                elif f['arches'] == ['amd64']:
                    self.assertNotRegex(f['url'], 'arm64|aarch64')
                else:  # the same URL for both: an arch-independent file
                    self.assertNotRegex(f['url'], 'amd64|arm64|x86_64|aarch64', f['name'])
            self.assertEqual(per_arch['amd64'], per_arch['arm64'], 'every file is listed for both arches')
            self.assertEqual(per_arch['amd64'], names(single['files']))
            for img in m['images']:
                self.assertEqual(img['arches'], ['amd64', 'arm64'], img['source'])
                self.assertIn(img['origin'], ('downloads', 'kubeadm'))

    def test_scope_all_covers_generate_list(self):
        for release in self.each():
            inv = make_inventory(release, 'all')
            m, files_list, _, _, out = run_manifest(release, inv, extra={'airgap_manifest_scope': 'all'})
            enabled = sample_manifest(release)[0]
            # generate_list.sh lists every download with a url, and every one with a repo, plus kubeadm's images.
            with_url = {k for k, v in downloads_of(release).items() if 'url' in v}
            with_repo = {k for k, v in downloads_of(release).items() if 'repo' in v}
            self.assertTrue(with_url <= names(m['files']), 'missing files: %s' % (with_url - names(m['files'])))
            self.assertTrue(with_repo | KUBEADM <= names(m['images']),
                            'missing images: %s' % ((with_repo | KUBEADM) - names(m['images'])))
            self.assertTrue({f['url'] for f in enabled['files']} <= {f['url'] for f in m['files']})
            self.assertTrue({i['source'] for i in enabled['images']} <= {i['source'] for i in m['images']})
            # The layout rule has one implementation, Go's fetch.PathFor: the manifest's paths come
            # from it (airgap rules), and offline_file_fetch's --check run reports the same paths.
            self.assert_same_paths_as_fetch(m, out)

    def assert_same_paths_as_fetch(self, manifest, out):
        binary = glob.glob(os.path.join(TMP, 'collections/ansible_collections/airgap/kubespray/plugins/modules/'
                                             'offline_file_fetch_linux_amd64'))[0]
        p = subprocess.run([binary, '--list', os.path.join(out, 'files.list'), '--dest', os.path.join(out, 'x'),
                            '--check'], stdout=subprocess.PIPE, universal_newlines=True, check=True)
        fetched = {i['url']: i['path'] for i in json.loads(p.stdout)['items']}
        for f in manifest['files']:
            self.assertEqual(fetched[f['url']], f['path'])


class ManifestErrors(unittest.TestCase):
    release = RELEASES[-1] if RELEASES else None

    def test_kubespray_tasks_never_run(self):
        # A real checkout's kubespray_defaults has tasks (fact gathering on the nodes) and may
        # depend on other roles: loading its variables must run none of them.
        fake = os.path.join(TMP, 'with-tasks')
        shutil.rmtree(fake, ignore_errors=True)
        shutil.copytree(os.path.join(self.release, 'roles'), os.path.join(fake, 'roles'))
        boom = '- name: Must not run\n  ansible.builtin.fail:\n    msg: a Kubespray task ran\n'
        for role in ('kubespray_defaults', 'download'):
            os.makedirs(os.path.join(fake, 'roles', role, 'tasks'), exist_ok=True)
            with open(os.path.join(fake, 'roles', role, 'tasks', 'main.yml'), 'w') as f:
                f.write(boom)
        os.makedirs(os.path.join(fake, 'roles', 'kubespray_defaults', 'meta'), exist_ok=True)
        with open(os.path.join(fake, 'roles', 'kubespray_defaults', 'meta', 'main.yml'), 'w') as f:
            f.write('dependencies:\n  - role: download\n    skip_downloads: true\n')
        m = run_manifest(self.release, make_inventory(self.release, 'with-tasks'), kubespray_dir=fake)[0]
        self.assertEqual(names(m['files']), names(sample_manifest(self.release)[0]['files']))

    def test_kubespray_not_found(self):
        inv = make_inventory(self.release, 'notfound')
        p = run_manifest(self.release, inv, kubespray_dir=os.path.join(TMP, 'nowhere'), check=False)
        self.assertNotEqual(p.returncode, 0)
        msg = results.failure(p.results)
        self.assertIn('kubespray_defaults was not found', msg)
        self.assertIn('airgap_kubespray_dir', msg)

    def test_unknown_layout(self):
        old = os.path.join(TMP, 'old-kubespray', 'roles', 'kubespray_defaults', 'defaults')
        os.makedirs(old, exist_ok=True)
        with open(os.path.join(old, 'main.yml'), 'w') as f:
            f.write('kube_version: v1.20.0\n')
        inv = make_inventory(self.release, 'layout')
        p = run_manifest(self.release, inv, kubespray_dir=os.path.join(TMP, 'old-kubespray'), check=False)
        self.assertNotEqual(p.returncode, 0)
        msg = results.failure(p.results)
        self.assertIn('lays out its variables differently', msg)
        self.assertIn('airgap_kubespray_dir', msg)

    def test_download_that_does_not_render(self):
        inv = make_inventory(self.release, 'badversion', [('k8s_cluster/k8s-cluster.yml', 'kube_version', '1.99.0')])
        p = run_manifest(self.release, inv, check=False)
        self.assertNotEqual(p.returncode, 0)
        msg = results.failure(p.results)
        self.assertRegex(msg, r'downloads\.\w+\.\w+ \(\{\{ \w+ \}\}\) does not render')
        self.assertIn("'1.99'", msg, 'the message names the missing key')
        self.assertIn('kube_version', msg)


class ManifestServesKubespray(unittest.TestCase):
    """The compat files.list, fetched with offline_file_fetch and served by nginx, holds every
    file at the URL Kubespray computes once offline.yml's base-URL overrides point at it."""

    def test_base_url_overrides_resolve(self):
        release = [r for r in RELEASES if os.path.basename(r) == 'v2.31.0'] or RELEASES[-1:]
        release = release[0]
        m, _, _, _, out = run_manifest(release, make_inventory(release, 'serve'))
        work = os.path.join(TMP, 'serve')
        upstream = os.path.join(work, 'upstream')
        for f in m['files']:  # a stand-in internet holding a dummy of each file
            path = os.path.join(upstream, f['path'])
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, 'w') as fh:
                fh.write(f['url'])
        ports = [subprocess.check_output([NGINX, 'free-port'], universal_newlines=True).strip() for _ in range(3)]
        try:
            subprocess.run([NGINX, 'start', os.path.join(work, 'nginx-up'), upstream, ports[0]], check=True)
            binary = glob.glob(os.path.join(TMP, 'collections/ansible_collections/airgap/kubespray/plugins/'
                                                 'modules/offline_file_fetch_linux_amd64'))[0]
            files_dir = os.path.join(work, 'files')
            subprocess.run([binary, '--list', os.path.join(out, 'files.list'), '--dest', files_dir,
                            '--url-mirrors', json.dumps({'prefix': 'https://', 'replace': 'http://127.0.0.1:%s/' % ports[0]})],
                           check=True, stdout=subprocess.DEVNULL)
            os.chmod(work, 0o755)
            subprocess.run([NGINX, 'start', os.path.join(work, 'nginx-files'), files_dir, ports[1]], check=True)
            files_repo = 'http://127.0.0.1:%s' % ports[1]
            inv = make_inventory(release, 'offline', [
                ('all/offline.yml', 'files_repo', files_repo),
                ('all/offline.yml', 'github_url', '{{ files_repo }}/github.com'),
                ('all/offline.yml', 'dl_k8s_io_url', '{{ files_repo }}/dl.k8s.io'),
                ('all/offline.yml', 'storage_googleapis_url', '{{ files_repo }}/storage.googleapis.com'),
                ('all/offline.yml', 'get_helm_url', '{{ files_repo }}/get.helm.sh'),
            ])
            offline = run_manifest(release, inv, extra=OFFLINE_VIEW)[0]
            self.assertEqual(len(offline['files']), len(m['files']))
            for f in offline['files']:
                self.assertTrue(f['url'].startswith(files_repo + '/'), f['url'])
                with NO_PROXY.open(f['url'], timeout=10) as resp:
                    body = resp.read().decode()
                original = {g['name']: g['url'] for g in m['files']}[f['name']]
                self.assertEqual(body, original, '%s serves %s' % (f['url'], original))
        finally:
            for n in ('nginx-up', 'nginx-files'):
                subprocess.run([NGINX, 'stop', os.path.join(work, n)])


class GeneratedOfflineVars(unittest.TestCase):
    """offline.yml written by the offline_vars role, evaluated by Kubespray's own defaults,
    sends every enabled URL to files_repo and every image to registry_host."""

    def write_vars(self, target, extra):
        env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.path.join(TMP, 'collections'),
                   ANSIBLE_NOCOLOR='1',
                   ANSIBLE_LOCALHOST_WARNING='false', ANSIBLE_INVENTORY_UNPARSED_WARNING='false')
        args = ['ansible-playbook', '-i', 'localhost,', '-c', 'local', '--diff',
                os.path.join(REPO, 'tests', 'manifest', 'offline_vars.yml'),
                '-e', json.dumps(dict(extra, airgap_offline_vars_file=target))]
        p = subprocess.run(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True)
        self.assertEqual(p.returncode, 0, p.stdout[-3000:])
        return p.stdout

    def test_offline_yml_redirects_everything(self):
        release = [r for r in RELEASES if os.path.basename(r) == 'v2.31.0'] or RELEASES[-1:]
        release = release[0]
        # The user's own cilium values, beside offline.yml in group_vars/all.
        own = {'hubble': {'relay': {'enabled': True}}, 'image': {'useDigest': True}}
        for plugin in ('calico', 'cilium'):
            with self.subTest(plugin=plugin):
                changes = [('k8s_cluster/k8s-cluster.yml', 'kube_network_plugin', plugin)]
                if plugin == 'cilium':
                    changes.append(('all/cilium-own.yml', 'cilium_extra_values', own))
                inv = make_inventory(release, 'offline-vars-' + plugin, changes)
                up, _, _, _, up_dir = run_manifest(release, inv)  # the upstream view: what download writes in the bundle
                target = os.path.join(inv, 'group_vars', 'all', 'offline.yml')
                settings = {'airgap_offline_registry_host': 'registry.airgap.test:35000', 'airgap_offline_files_repo': 'http://files.airgap.test:8080',
                            'airgap_offline_registry_ca_file': '/etc/containerd/certs.d/airgap-ca.pem',
                            'airgap_offline_debian_repo': 'http://files.airgap.test:8080/debs/bookworm',
                            'test_manifest_path': os.path.join(up_dir, 'manifest.yaml'),
                            'test_inventory_values': {'cilium_extra_values': own} if plugin == 'cilium' else {}}
                out = self.write_vars(target, settings)
                self.assertIn('the previous version is', out, 'the sample offline.yml differs: it must be backed up')
                self.assertIn('+registry_host: "registry.airgap.test:35000"', out, '--diff shows the change')
                backups = [f for f in os.listdir(os.path.dirname(target)) if f.startswith('offline.yml.')]
                self.assertEqual(len(backups), 1, backups)
                again = self.write_vars(target, settings)
                self.assertRegex(again, r'localhost +: ok=\d+ +changed=0 ', 'a rerun with the same settings changed offline.yml')

                m = run_manifest(release, inv, extra=OFFLINE_VIEW)[0]
                self.assertTrue(m['files'] and m['images'])
                for f in m['files']:
                    self.assertTrue(f['url'].startswith('http://files.airgap.test:8080/'), f['url'])
                for img in m['images']:
                    self.assertTrue(img['repo'].startswith('registry.airgap.test:35000/'), img['source'])
                self.assertNotIn('offline_vars_missing', m, 'the quirks\' settings are in effect')
                # The manifest's own (upstream) view of the same inventory names the internet, as
                # the sample inventory without offline.yml does.
                up = run_manifest(release, inv)[0]
                sample = sample_manifest(release)[0] if plugin == 'calico' else None
                for f in up['files']:
                    self.assertTrue(f['url'].startswith('https://') and 'airgap.test' not in f['url'], f['url'])
                for img in up['images']:
                    self.assertNotIn('airgap.test', img['repo'], img['source'])
                if sample:
                    self.assertEqual(names(up['files']), names(sample['files']))
                    self.assertEqual(sorted(f['url'] for f in up['files']), sorted(f['url'] for f in sample['files']))
                    self.assertEqual(sorted(i['source'] for i in up['images']), sorted(i['source'] for i in sample['images']))
                with open(target) as fh:
                    text = fh.read()
                data = yaml.safe_load(text)
                self.assertIn('Generated by airgap.kubespray', text)
                mirror = data['containerd_registries_mirrors'][0]['mirrors'][0]
                self.assertEqual(mirror['ca'], ['/etc/containerd/certs.d/airgap-ca.pem'])
                self.assertEqual(data['debian_repo'], 'http://files.airgap.test:8080/debs/bookworm')
                self.assertEqual('cilium_install_extra_flags' in data, plugin == 'cilium')
                if plugin == 'cilium':
                    self.assert_cilium_values(release, inv, data['cilium_extra_values'])

    def assert_cilium_values(self, release, inv, values):
        """Kubespray's offline guide's cilium_extra_values, merged over the user's own."""
        self.assertIs(values['hubble']['relay']['enabled'], True, "the user's key is kept")
        self.assertIs(values['image']['useDigest'], False, "the guide's value wins where the user's conflicts")
        self.assertEqual(values['operator']['image']['override'],
                         '{{ registry_host }}/cilium/operator-generic:{{ cilium_operator_image_tag }}')
        for component in (values['hubble']['relay'], values['hubble']['ui']['backend'], values['certgen'], values['envoy']):
            self.assertIs(component['image']['useDigest'], False)
        # A value with higher precedence than group_vars/all replaces offline.yml's: the offline
        # view (verify's) names the variable, the keys it lacks and the hosts.
        path = os.path.join(inv, 'group_vars', 'k8s_cluster', 'k8s-net-cilium.yml')
        with open(path, 'a') as fh:
            fh.write('\ncilium_extra_values: {hubble: {relay: {enabled: true}}}\n')
        m = run_manifest(release, inv, extra=OFFLINE_VIEW)[0]
        missing = {(x['var'], x['quirk']): x for x in m['offline_vars_missing']}
        self.assertEqual(set(missing), {('cilium_extra_values', 'cilium-offline-chart')})
        entry = missing[('cilium_extra_values', 'cilium-offline-chart')]
        self.assertEqual(entry['hosts'], ['node1', 'node2', 'node3'])
        self.assertIn('cilium_extra_values.operator.image.override', entry['missing'])
        self.assertIn('cilium_extra_values.image.useDigest', entry['missing'])
        self.assertNotIn('cilium_extra_values.hubble.relay.enabled', entry['missing'])


def kubespray_checkout(release, dest):
    """A git checkout of the release as an operator's looks: a committed .vault_pass (force-added),
    an untracked inventory with Kubespray's generated credentials/ and artifacts/."""
    shutil.rmtree(dest, ignore_errors=True)
    shutil.copytree(release, dest)
    with open(os.path.join(dest, '.vault_pass'), 'w') as f:
        f.write('airgap-test-secret-vault\n')
    git = ['git', '-C', dest, '-c', 'user.name=t', '-c', 'user.email=t@example.invalid']
    for args in (['init', '-q'], ['add', '-A'], ['add', '-f', '.vault_pass'], ['commit', '-qm', 'kubespray']):
        subprocess.run(git + args, check=True, stdout=subprocess.DEVNULL)
    for rel, text in (('inventory/prod/credentials/kubeadm_certificate_key.creds', 'airgap-test-secret-creds'),
                      ('inventory/prod/artifacts/admin.conf', 'airgap-test-secret-admin')):
        os.makedirs(os.path.dirname(os.path.join(dest, rel)), exist_ok=True)
        with open(os.path.join(dest, rel), 'w') as f:
            f.write(text + '\n')
    return dest


def in_checkout(inv, checkout):
    """The inventory inv copied to inventory/prod in the checkout (as operators keep it; Kubespray's
    .gitignore leaves it untracked), beside its credentials/ and artifacts/."""
    dest = os.path.join(checkout, 'inventory', 'prod')
    shutil.rmtree(os.path.join(dest, 'group_vars'), ignore_errors=True)
    shutil.copytree(os.path.join(inv, 'group_vars'), os.path.join(dest, 'group_vars'))
    shutil.copy(os.path.join(inv, 'hosts.yaml'), os.path.join(dest, 'hosts.yaml'))
    return dest


def tar_members(path):
    """{member name: bytes of a regular file, or None}"""
    import tarfile
    with tarfile.open(path) as tar:
        return {m.name: tar.extractfile(m).read() if m.isreg() else None for m in tar}


def pack_task(p, tarball):
    """'changed' or 'ok': what the download role's pack task reported for tarball (its loop item)."""
    found = ['changed' if r.get('changed') else 'ok' for task in results.of(p.results, host='localhost', status='ok')
             for r in task['result'].get('results', [])
             if isinstance(r.get('item'), dict) and r['item'].get('out') == tarball and 'summary' in r]
    if len(found) != 1:
        raise AssertionError('no single pack result for %s in %s: %s' % (tarball, p.results, found))
    return found[0]


def totals(p, action, *keys):
    """The totals the one task running action returned in run p, those keys."""
    got = results.one(p.results, action)['result']['totals']
    return {k: got[k] for k in keys}


def verify_failed(p):
    """offline_verify's failed items in run p: {'<kind> <name>': item}."""
    return {'%s %s' % (i['kind'], i['name']): i for i in results.one(p.results, 'offline_verify')['result']['failed_items']}


class BundlePack(unittest.TestCase):
    """The bundle_pack module on its own (run as ansible-core runs it), on a Kubespray copy that is
    not a git checkout: the walk leaves out the bundle, inventory credentials/artifacts and vault
    files; check mode writes nothing; a rerun packs again only after a change."""

    def test_walk_leaves_secrets_out_and_packs_again_on_change(self):
        release = RELEASES[-1]
        work = os.path.join(TMP, 'pack-walk')
        shutil.rmtree(work, ignore_errors=True)
        src = os.path.join(work, 'kubespray')
        shutil.copytree(release, src)
        for rel in ('inventory/x/credentials/y', 'inventory/x/artifacts/admin.conf', '.vault_pass',
                    'inventory/x/group_vars/all/secrets.vault', 'airgap-bundle/files/big', 'old-bundle/manifest.yaml',
                    'old-bundle/SHA256SUMS'):
            os.makedirs(os.path.dirname(os.path.join(src, rel)), exist_ok=True)
            with open(os.path.join(src, rel), 'w') as f:
                f.write('airgap-test-secret\n')
        out = os.path.join(src, 'airgap-bundle', 'kubespray.tar.gz')
        module = os.path.join(TMP, 'collections/ansible_collections/airgap/kubespray/plugins/modules/bundle_pack.py')

        def pack(*args):
            with open(os.path.join(work, 'args.json'), 'w') as f:
                json.dump({'ANSIBLE_MODULE_ARGS': {'mode': 'kubespray', 'src': src, 'dest': out,
                                                   '_ansible_check_mode': '--check' in args}}, f)
            p = subprocess.run([sys.executable, module, os.path.join(work, 'args.json')], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, universal_newlines=True, check=False)
            r = json.loads(p.stdout)
            self.assertEqual((p.returncode, r.get('failed', False)), (0, False), r.get('msg'))
            return r

        r = pack('--check')
        self.assertEqual((r['changed'], r['source']), (True, 'walk'))
        self.assertFalse(os.path.exists(out), '--check wrote the tarball')
        r = pack()
        self.assertTrue(r['changed'])
        self.assertEqual(set(r['left_out']), {'airgap bundle', 'inventory credentials', 'inventory artifacts', 'secret file'})
        packed = tar_members(out)
        self.assertEqual([n for n in packed if packed[n] and b'airgap-test-secret' in packed[n]], [])
        self.assertFalse([n for n in packed if 'bundle' in n or (n.startswith('inventory/x/') and packed[n] is not None)], sorted(packed))
        self.assertIn('requirements.txt', packed)
        self.assertEqual(sorted(os.listdir(os.path.dirname(out))), ['.kubespray.tar.gz.fingerprint', 'files', 'kubespray.tar.gz'])
        self.assertFalse(pack()['changed'])
        self.assertFalse(pack('--check')['changed'])
        with open(os.path.join(src, 'requirements.txt'), 'a') as f:
            f.write('# changed\n')
        self.assertTrue(pack('--check')['changed'])
        self.assertNotIn(b'# changed', tar_members(out)['requirements.txt'], '--check packed')
        self.assertTrue(pack()['changed'])
        self.assertTrue(tar_members(out)['requirements.txt'].endswith(b'# changed\n'))
        self.assertFalse(pack()['changed'])
        # The tarball replaced behind our back (e.g. by the old role's tar run): packed again.
        with open(out, 'wb') as f:
            f.write(b'not this')
        self.assertTrue(pack()['changed'])
        self.assertIn('requirements.txt', tar_members(out))


class DownloadPipeline(unittest.TestCase):
    """The download playbook: manifest -> files -> images -> bundle, from a stand-in upstream on
    127.0.0.1; a rerun reuses everything; switching calico to cilium fetches only cilium's items.
    Kubespray is a git checkout holding the bundle, inventory credentials and a vault password:
    none of them is packed; kubespray.tar.gz is packed again only when the checkout changed."""

    def test_download_then_switch_to_cilium(self):
        release = [r for r in RELEASES if os.path.basename(r) == 'v2.31.0'] or RELEASES[-1:]
        release = release[0]
        work = os.path.join(TMP, 'pipeline')
        os.makedirs(work, exist_ok=True)
        os.chmod(work, 0o755)
        calico = sample_manifest(release)[0]
        cilium = run_manifest(release, make_inventory(release, 'pipeline-cilium-list',
                                                      [('k8s_cluster/k8s-cluster.yml', 'kube_network_plugin', 'cilium')]))[0]
        registry_sh = os.path.join(REPO, 'tests', 'lib', 'registry.sh')
        vars_file = os.path.join(work, 'checksums.json')
        stand_in_files(release, [calico, cilium], os.path.join(work, 'upstream-files'), vars_file)
        checkout = kubespray_checkout(release, os.path.join(work, 'kubespray'))
        try:
            port = subprocess.check_output([registry_sh, 'free-port'], universal_newlines=True).strip()
            subprocess.run([registry_sh, 'start', os.path.join(work, 'registry'), port], check=True, stdout=subprocess.DEVNULL)
            up = '127.0.0.1:' + port
            names = os.path.join(work, 'names.list')
            with open(names, 'w') as f:
                f.write(''.join(sorted({i['source'] + '\n' for m in (calico, cilium) for i in m['images'] + m['mirror_images']})))
            subprocess.run(['go', 'run', './tests/tools/imageset', '--registry', up, '--names', names, '--scale', '0.001'],
                           cwd=REPO, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                           env=dict(os.environ, PATH='/usr/local/go/bin:' + os.environ.get('PATH', '')))
            fport = subprocess.check_output([NGINX, 'free-port'], universal_newlines=True).strip()
            subprocess.run([NGINX, 'start', os.path.join(work, 'nginx'), os.path.join(work, 'upstream-files'), fport], check=True)
            hosts = sorted({i['source'].split('/')[0] for m in (calico, cilium) for i in m['images'] + m['mirror_images']})
            extra = {
                'airgap_bundle_dir': os.path.join(checkout, 'airgap-bundle'),  # the default: inside the checkout
                'airgap_file_mirrors': [{'prefix': 'https://', 'replace': 'http://127.0.0.1:%s/' % fport}],
                'airgap_image_mirrors': [{'prefix': h, 'replace': '%s/%s' % (up, h)} for h in hosts],
                'airgap_insecure_registries': [up],
                # SHA256SUMS is signed with this keyring's key (generated by the first run)
                'airgap_signing_gnupg_home': os.path.join(work, 'gnupg'),
            }
            inv = in_checkout(make_inventory(release, 'pipeline'), checkout)

            def download():
                p = run_manifest(release, inv, extra=extra, playbook='airgap.kubespray.download', check=False, extra_files=[vars_file],
                                 kubespray_dir=checkout)
                self.assertEqual(p.returncode, 0, p.stdout[-4000:])
                return p

            out = download()
            bundle = extra['airgap_bundle_dir']
            self.assertEqual(totals(out, 'offline_file_fetch', 'fetched', 'skipped', 'failed', 'items'),
                             {'fetched': len(calico['files']), 'skipped': 0, 'failed': 0, 'items': len(calico['files'])})
            self.forecast_bounds(out, bundle)
            n_images = len({(i['source'], i.get('digest') or '') for i in calico['images'] + calico['mirror_images']})
            self.assertEqual(totals(out, 'offline_image_pull', 'pulled', 'imported', 'skipped', 'failed', 'images'),
                             {'pulled': n_images, 'imported': 0, 'skipped': 0, 'failed': 0, 'images': n_images})
            for f in ('manifest.yaml', 'files.list', 'images.list', 'kubespray.tar.gz', 'airgap-kubespray-collection.tar.gz',
                      'SHA256SUMS', 'images/index.json'):
                self.assertTrue(os.path.exists(os.path.join(bundle, f)), f)
            check = subprocess.run(['sha256sum', '--quiet', '-c', 'SHA256SUMS'], cwd=bundle, stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT, universal_newlines=True)
            self.assertEqual(check.returncode, 0, check.stdout[-2000:])
            sums = self.sums(out, bundle)
            self.assertTrue(sums['changed'])
            signature = self.signed(bundle, sums)
            # The files offline_file_fetch wrote are known by their digest records: not read again.
            self.assertGreaterEqual(sums['cached'], len(calico['files']), sums)

            packed = tar_members(os.path.join(bundle, 'kubespray.tar.gz'))
            leaked = sorted(n for n in packed if re.search(r'airgap-bundle|credentials|artifacts|vault|^\.git(/|$)', n))
            self.assertEqual(leaked[:10], [], 'packed into kubespray.tar.gz')
            self.assertEqual([n for n in packed if packed[n] and b'airgap-test-secret' in packed[n]], [])
            self.assertTrue({'requirements.txt', 'roles/kubespray_defaults/defaults/main/main.yml', 'inventory/prod/hosts.yaml',
                             'inventory/prod/group_vars/k8s_cluster/k8s-cluster.yml'} <= set(packed),
                            'members named from the checkout, no ./ prefix: %s' % sorted(packed)[:5])
            self.assertEqual((pack_task(out, 'kubespray.tar.gz'), pack_task(out, 'airgap-kubespray-collection.tar.gz')), ('changed', 'changed'))

            out = download()
            self.assertEqual(totals(out, 'offline_file_fetch', 'fetched', 'skipped', 'failed'),
                             {'fetched': 0, 'skipped': len(calico['files']), 'failed': 0})
            forecast = self.forecast_bounds(out, bundle)
            self.assertEqual((forecast['needed_bytes'], sorted({f['status'] for f in forecast['files']})), (0, ['in_place']),
                             'a rerun over a complete bundle forecast bytes to fetch')
            self.assertEqual(totals(out, 'offline_image_pull', 'pulled', 'imported', 'skipped', 'failed'),
                             {'pulled': 0, 'imported': 0, 'skipped': n_images, 'failed': 0})
            self.assertEqual((pack_task(out, 'kubespray.tar.gz'), pack_task(out, 'airgap-kubespray-collection.tar.gz')), ('ok', 'ok'),
                             'a rerun on an unchanged checkout packed again')
            sums = self.sums(out, bundle)
            self.assertEqual((sums['changed'], sums['hashed'], sums['bytes_hashed'], sums['cached']), (False, 0, 0, sums['files']),
                             'a rerun over an unchanged bundle read files again')
            self.assertEqual(self.signed(bundle, sums), signature, 'a rerun over an unchanged SHA256SUMS signed it again')
            # A tracked file changes: packed again (with the change), and SHA256SUMS follows.
            with open(os.path.join(checkout, 'requirements.txt'), 'a') as f:
                f.write('# changed by the test\n')

            # The inventory switches to cilium, as a second view beside calico's (the bundle keeps both,
            # docs/day-two.md): only cilium's items are new; the download fetches the union.
            inv = in_checkout(make_inventory(release, 'pipeline', [('k8s_cluster/k8s-cluster.yml', 'kube_network_plugin', 'cilium')]), checkout)
            extra['airgap_view'] = 'cilium'
            out = download()
            new_files = {f['url'] for f in cilium['files']} - {f['url'] for f in calico['files']}
            new_images = {i['source'] for i in cilium['images']} - {i['source'] for i in calico['images']}
            self.forecast_bounds(out, bundle)
            both = [calico, cilium]
            self.assertEqual(totals(out, 'offline_file_fetch', 'fetched', 'skipped', 'failed'),
                             {'fetched': len(new_files), 'failed': 0,
                              'skipped': len({f['url'] for m in both for f in m['files']}) - len(new_files)})
            self.assertEqual(totals(out, 'offline_image_pull', 'pulled', 'imported', 'skipped', 'failed'),
                             {'pulled': len(new_images), 'imported': 0, 'failed': 0,
                              'skipped': len({i['source'] for m in both for i in m['images'] + m['mirror_images']}) - len(new_images)})
            self.assertEqual((pack_task(out, 'kubespray.tar.gz'), pack_task(out, 'airgap-kubespray-collection.tar.gz')), ('changed', 'ok'))
            repacked = tar_members(os.path.join(bundle, 'kubespray.tar.gz'))
            self.assertTrue(repacked['requirements.txt'].endswith(b'# changed by the test\n'))
            self.assertEqual(set(repacked), set(packed))
            self.assertIn(b'kube_network_plugin: "cilium"', repacked['inventory/prod/group_vars/k8s_cluster/k8s-cluster.yml'])
            check = subprocess.run(['sha256sum', '--quiet', '-c', 'SHA256SUMS'], cwd=bundle, stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT, universal_newlines=True)
            self.assertEqual(check.returncode, 0, check.stdout[-2000:])
            sums = self.sums(out, bundle)
            self.assertTrue(sums['changed'])
            self.assertGreaterEqual(sums['hashed'], 1, 'the repacked kubespray.tar.gz was not read')
            self.assertLess(sums['hashed'], sums['files'], 'every file was read again')
            self.assertNotEqual(self.signed(bundle, sums), signature, 'SHA256SUMS changed: signed again')

            # A delta against a site holding half the files and every layer of the full bundle
            # (the Go modules' work, the same on every line: on the full lane only, as the tampered
            # bundle below; tests/manifest/run.sh).
            if FULL_LANE:
                self.delta_download(cilium, work, bundle, lambda more: run_manifest(
                    release, inv, extra=dict(extra, **more), playbook='airgap.kubespray.download', check=False,
                    extra_files=[vars_file], kubespray_dir=checkout))

            # Offline side: the mirror from the bundle (refused first with one byte of a file
            # changed), then verify asks Kubespray and checks it, and checks calico's view by name.
            self.mirror_then_verify(release, inv, work, bundle, vars_file, tamper=FULL_LANE, views=True)
        finally:
            subprocess.run([registry_sh, 'stop', os.path.join(work, 'registry')])
            subprocess.run([NGINX, 'stop', os.path.join(work, 'nginx')])
            subprocess.run(['gpgconf', '--homedir', os.path.join(work, 'gnupg'), '--kill', 'all'])

    def signed(self, bundle, sums):
        """SHA256SUMS.asc, after checking that the real gpgv accepts it with SHA256SUMS.key (and that
        offline_bundle_sums names that key)."""
        home = os.path.join(TMP, 'pipeline-gpgv')
        os.makedirs(home, mode=0o700, exist_ok=True)
        keyring = os.path.join(home, 'sums-keyring.gpg')
        subprocess.run(['gpg', '--batch', '--yes', '--homedir', home, '--output', keyring,
                        '--dearmor', os.path.join(bundle, 'SHA256SUMS.key')], check=True)
        p = subprocess.run(['gpgv', '--homedir', home, '--keyring', keyring, '--status-fd', '1', 'SHA256SUMS.asc', 'SHA256SUMS'],
                           cwd=bundle, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True)
        self.assertEqual(p.returncode, 0, p.stdout)
        self.assertIn('VALIDSIG %s ' % sums['signer'], p.stdout)
        self.assertTrue(sums['signed'])
        with open(os.path.join(bundle, 'SHA256SUMS.asc')) as f:
            return f.read()

    def forecast_bounds(self, p, bundle):
        """offline_bundle_forecast's result in run p, checked against what the run then fetched and
        pulled: the files' bytes exactly (nginx answers HEAD with their length), the images forecast
        to pull exactly those pulled (of the images known before the scan), their bytes within what the
        layout's blobs hold; the summary shows the forecast."""
        got = results.one(p.results, 'offline_bundle_forecast')['result']
        fetched = [i for i in results.one(p.results, 'offline_file_fetch')['result']['items'] if i['status'] == 'fetched']
        self.assertEqual((got['files_bytes'], got['unknown'], got['short_bytes']), (sum(i['size'] for i in fetched), [], 0), got['msg'])
        self.assertEqual(sorted(f['path'] for f in got['files'] if f['status'] == 'to_fetch'), sorted(i['path'] for i in fetched))
        pulled = {i['source'] for i in results.one(p.results, 'offline_image_pull')['result']['images'] if i['status'] == 'pulled'}
        self.assertLessEqual({i['source'] for i in got['images'] if i['status'] == 'to_pull'}, pulled)
        self.assertFalse({i['source'] for i in got['images'] if i['status'] == 'in_place'} & pulled, 'pulled, though forecast in place')
        blobs = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(os.path.join(bundle, 'images', 'blobs')) for f in fs)
        self.assertLessEqual(got['images_bytes'], blobs)
        self.assertEqual(got['images_bytes'] > 0, any(i['status'] == 'to_pull' for i in got['images']))
        self.assertEqual(got['needed_bytes'], got['files_bytes'] + got['images_bytes'])
        self.assertGreater(got['free_bytes'], got['needed_bytes'])
        self.assertIn('space: ' + got['msg'], p.stdout)
        return got

    def delta_download(self, manifest, work, bundle, download):
        """download (the playbook, given extra vars) with a site state naming half of the full
        bundle's files, the files the image scan reads, and every blob of its layout: the delta
        fetches only the other files and the scan's (which it carries), its layout holds every
        manifest and config but no layer, and delta.yaml relies on exactly what the state named
        (computed here from the full bundle's OCI manifests)."""
        files = sorted({f['path']: f for f in manifest['files']}.values(), key=lambda f: f['path'])
        scanned = [f for f in files if f.get('scan') or f['name'] == 'helm']
        rest = [f for f in files if f not in scanned]
        held = rest[:len(rest) // 2]
        blobs_dir = os.path.join(bundle, 'images', 'blobs', 'sha256')
        blobs = sorted('sha256:' + b for b in os.listdir(blobs_dir) if not b.startswith('.'))

        def sha(path):
            with open(path, 'rb') as f:
                return hashlib.sha256(f.read()).hexdigest()

        def blob(digest):
            with open(os.path.join(blobs_dir, digest.split(':', 1)[1])) as f:
                return json.load(f)

        def entries(layout):
            with open(os.path.join(layout, 'images', 'index.json')) as f:
                return json.load(f)['manifests']

        def ref(e):
            return e['annotations']['org.opencontainers.image.ref.name']

        layers = {}  # image -> its layers (the full bundle's)
        for e in entries(bundle):
            doc = blob(e['digest'])
            images = [blob(m['digest']) for m in doc['manifests']] if 'manifests' in doc else [doc]
            layers[ref(e)] = {
                lay['digest'] for m in images for lay in m['layers']}
        state = {'schema': 'airgap.kubespray/site-state/v1', 'created': '2026-11-01T10:00:00Z', 'site': 'pipeline',
                 'views': [{'name': 'calico'}], 'images': [], 'blobs': blobs,
                 'files': [{'path': f['path'], 'sha256': sha(os.path.join(bundle, 'files', f['path'])), 'size': 0}
                           for f in sorted(held + scanned, key=lambda f: f['path'])]}
        state_file = os.path.join(work, 'airgap-site-state.yaml')
        with open(state_file, 'w') as f:
            json.dump(state, f)  # YAML's JSON subset
        delta_dir = os.path.join(work, 'airgap-delta')
        p = download({'airgap_bundle_dir': delta_dir, 'airgap_site_state': state_file,
                      'airgap_bundle_kubespray': False, 'airgap_bundle_collection': False})
        self.assertEqual(p.returncode, 0, p.stdout[-4000:])
        fetch = [r['result'] for r in results.of(p.results, 'offline_file_fetch', host='localhost', status='ok')]
        self.assertEqual([{k: r['totals'][k] for k in ('fetched', 'skipped', 'held', 'failed')} for r in fetch],
                         [{'fetched': len(scanned), 'skipped': 0, 'held': 0, 'failed': 0},  # the scan's files, first
                          {'fetched': len(rest) - len(held), 'skipped': len(scanned), 'held': len(held), 'failed': 0}])
        pulled = entries(delta_dir)  # the inventory's images: not all the full bundle (calico's and cilium's) holds
        all_layers = set().union(*(layers[ref(e)] for e in pulled))
        self.assertEqual(totals(p, 'offline_image_pull', 'left_out', 'failed'), {'left_out': len(all_layers), 'failed': 0})
        with open(os.path.join(delta_dir, 'delta.yaml')) as f:
            delta = yaml.safe_load(f)
        with open(state_file, 'rb') as f:
            state_sha = hashlib.sha256(f.read()).hexdigest()
        self.assertEqual(delta['base'], {'state_sha256': state_sha, 'created': '2026-11-01T10:00:00Z', 'site': 'pipeline', 'views': ['calico']})
        self.assertEqual(delta['relies_on']['files'], [{'path': s['path'], 'sha256': s['sha256']} for s in state['files']
                                                       if s['path'] in {f['path'] for f in held}])
        self.assertEqual(sorted((i['digest'], tuple(i['blobs'])) for i in delta['relies_on']['images']),
                         sorted((e['digest'], tuple(sorted(layers[ref(e)]))) for e in pulled))
        self.assertEqual((delta['carries']['files'], delta['carries']['images'], delta['carries']['left_out_blobs']),
                         (len(files) - len(held), len(pulled), len(all_layers)))
        on_disk = set('sha256:' + b for b in os.listdir(os.path.join(delta_dir, 'images', 'blobs', 'sha256')))
        self.assertFalse(on_disk & all_layers, 'layers the site holds were written')
        self.assertEqual(len(on_disk), delta['carries']['blobs'])
        for f in held:
            self.assertFalse(os.path.exists(os.path.join(delta_dir, 'files', f['path'])), f['path'])
        with open(os.path.join(delta_dir, 'SHA256SUMS')) as f:
            self.assertIn('  delta.yaml\n', f.read())
        delta_result = results.one(p.results, 'offline_bundle_delta')['result']
        self.assertIn('a delta against pipeline', delta_result['msg'])
        # the scan's files the site serves (by sha256: a file without a checksum is never held) are carried all the same
        self.assertEqual(delta_result['redundant']['files'], len([f for f in scanned if f.get('checksum')]))

    def sums(self, p, bundle):
        """offline_bundle_sums' result in run p, checked against the SHA256SUMS it wrote."""
        got = results.one(p.results, 'offline_bundle_sums')['result']
        with open(os.path.join(bundle, 'SHA256SUMS')) as f:
            listed = f.read().splitlines()
        self.assertEqual((got['path'], got['files'], got['hashed'] + got['cached'], got['left_out']),
                         (os.path.join(bundle, 'SHA256SUMS'), len(listed), len(listed), []))
        self.assertFalse([line for line in listed if line.split('  ', 1)[1].split('/')[-1].startswith('.')], 'dot files listed')
        return got

    def mirror_then_verify(self, release, inv, work, bundle, vars_file, tamper=False, views=False):
        """The mirror from the bundle (tamper: refused first with one byte of a file changed), then
        verify asks Kubespray and checks it (views: and verify by the bundle's other view's name)."""
        root = os.path.join(work, 'admin-root')  # the admin node's package config, as a scratch tree
        os.makedirs(os.path.join(root, 'etc', 'apt'), exist_ok=True)
        with open(os.path.join(root, 'etc', 'os-release'), 'w') as f:
            f.write('ID=debian\nVERSION_ID="12"\n')
        ports = [subprocess.check_output([NGINX, 'free-port'], universal_newlines=True).strip() for _ in range(3)]
        state = os.path.join(work, 'mirror-state')
        mirror_vars = {
            'airgap_bundle_dir': bundle, 'airgap_mirror_address': '127.0.0.1',
            'airgap_mirror_files_port': int(ports[0]), 'airgap_mirror_registry_port': int(ports[1]),
            'airgap_files_listen_override': '127.0.0.1:' + ports[0], 'airgap_registry_listen_override': '127.0.0.1:' + ports[1],
            'airgap_registry_push_listen': '127.0.0.1:' + ports[2],
            'airgap_service_manager': 'none', 'airgap_files_state_dir': state + '/files', 'airgap_registry_state_dir': state + '/registry',
            'airgap_registry_data_dir': state + '/registry-data', 'airgap_repos_root': root, 'airgap_repos_become': False,
            'debian_repo': 'http://127.0.0.1:%s/debs/' % ports[0],
            'airgap_offline_vars_file': os.path.join(inv, 'group_vars', 'all', 'offline.yml'),
        }
        env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.path.join(TMP, 'collections'),
                   ANSIBLE_NOCOLOR='1')
        ran = os.path.join(work, 'mirror-results.jsonl')
        try:
            if tamper:
                self.mirror_refuses_a_changed_byte(inv, bundle, mirror_vars, env)
            for run in ('first', 'again'):
                p = subprocess.run(['ansible-playbook', '-i', os.path.join(inv, 'hosts.yaml'), 'airgap.kubespray.mirror',
                                    '-e', json.dumps(mirror_vars)], env=dict(env, **results.callback_env(ran)),
                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True)
                self.assertEqual(p.returncode, 0, p.stdout[-4000:])
                if run == 'again':
                    self.assertTrue(results.of(ran, host='localhost', status='ok'))
                    self.assertEqual([r['task'] for r in results.of(ran, host='localhost', status='ok') if r['result'].get('changed')],
                                     [], 'a mirror rerun changed something')
            # the key of the bundle first accepted is the site's from now on
            with open(os.path.join(bundle, '.airgap', 'trusted-key.asc')) as a, open(os.path.join(bundle, 'SHA256SUMS.key')) as b:
                self.assertEqual(a.read(), b.read())
            ca = os.path.join(state, 'registry-tls', 'ca.pem')
            p = run_manifest(release, inv, playbook='airgap.kubespray.verify', check=False, extra_files=[vars_file],
                             extra={'airgap_verify_ca_path': ca})
            self.assertEqual(p.returncode, 0, p.stdout[-4000:])
            self.assertEqual(verify_failed(p), {})
            self.assertEqual(totals(p, 'offline_verify', 'failed'), {'failed': 0})
            if views:
                self.verify_views(release, inv, vars_file, ca, bundle)
        finally:
            subprocess.run(['ansible-playbook', '-i', 'localhost,', '-c', 'local', os.path.join(REPO, 'tests', 'manifest', 'mirror_down.yml'),
                            '-e', json.dumps(mirror_vars)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def verify_views(self, release, inv, vars_file, ca, bundle):
        """verify -e airgap_verify_view: calico's view, from the cilium inventory, as the bundle
        recorded it (Kubespray is not asked); an unknown view fails naming the known ones."""
        with open(os.path.join(bundle, 'manifest.yaml')) as f:
            union = yaml.safe_load(f)
        known = [v['name'] for v in union['views']]
        calico = [n for n in known if n != 'cilium']
        self.assertEqual(len(calico), 1, known)
        want = {('file', x['name']) for x in union['files'] if calico[0] in x['views']} | \
            {('image', x['name']) for x in union['images'] if calico[0] in x['views']}
        self.assertEqual(want, {('file', x['name']) for x in sample_manifest(release)[0]['files']}
                         | {('image', x['name']) for x in sample_manifest(release)[0]['images']})
        p = run_manifest(release, inv, playbook='airgap.kubespray.verify', check=False, extra_files=[vars_file],
                         extra={'airgap_verify_ca_path': ca, 'airgap_verify_view': calico[0], 'airgap_bundle_dir': bundle})
        self.assertEqual(p.returncode, 0, p.stdout[-4000:])
        got = results.one(p.results, 'offline_verify')['result']
        self.assertEqual({(i['kind'], i['name']) for i in got['items']}, want)
        self.assertEqual(got['failed_items'], [])
        self.assertFalse(results.of(p.results, action='airgap.kubespray.kubespray_downloads'), 'Kubespray was asked')
        p = run_manifest(release, inv, playbook='airgap.kubespray.verify', check=False, extra_files=[vars_file],
                         extra={'airgap_verify_ca_path': ca, 'airgap_verify_view': 'nope', 'airgap_bundle_dir': bundle})
        self.assertNotEqual(p.returncode, 0)
        self.assertIn('unknown view nope: the manifest holds %s' % ', '.join(known), p.stdout)

    def mirror_refuses_a_changed_byte(self, inv, bundle, mirror_vars, env):
        """One byte of a bundle file changed (size and mtime kept): the mirror fails before touching
        anything, naming the file; then the file is put back."""
        with open(os.path.join(bundle, 'SHA256SUMS')) as f:
            rel = next(line.split('  ', 1)[1] for line in f.read().splitlines() if line.split('  ', 1)[1].startswith('files/'))
        path = os.path.join(bundle, rel)
        st = os.stat(path)
        with open(path, 'r+b') as f:
            first = f.read(1)
            f.seek(0)
            f.write(bytes([first[0] ^ 1]))
        os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
        try:
            p = subprocess.run(['ansible-playbook', '-i', os.path.join(inv, 'hosts.yaml'), 'airgap.kubespray.mirror',
                                '-e', json.dumps(mirror_vars)], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               universal_newlines=True)
            self.assertNotEqual(p.returncode, 0, p.stdout[-3000:])
            self.assertIn('%s: content differs' % rel, p.stdout)
            self.assertFalse(os.path.exists(mirror_vars['airgap_registry_data_dir']), 'the mirror touched the registry storage')
        finally:
            with open(path, 'r+b') as f:
                f.write(first)


class ManifestViews(unittest.TestCase):
    """Several views in one manifest folder (docs/day-two.md): the sample inventory with Kubespray
    v2.30.0, then v2.31.0, into one folder give a union whose items name their views, each view's
    items being its single run's."""

    @staticmethod
    def items(manifest, view=None):
        return ({(f['path'], f['url'], f['checksum']) for f in manifest['files'] if view is None or view in f['views']},
                {(i['source'], i.get('digest'), i['target']) for i in manifest['images'] if view is None or view in i['views']})

    def test_two_releases_in_one_folder(self):
        releases = dict((os.path.basename(r), r) for r in RELEASES)
        if not {'v2.30.0', 'v2.31.0'} <= set(releases):
            self.skipTest('needs Kubespray v2.30.0 and v2.31.0 under %s' % SHARED)
        single = [sample_manifest(releases[v])[0] for v in ('v2.30.0', 'v2.31.0')]
        names = [m['views'][0]['name'] for m in single]
        # the default name: Kubespray's version (its galaxy.yml, which these fixtures lack) and kube_version
        self.assertEqual(names, ['kubespray-%s-k8s-%s' % (m['views'][0]['kubespray_version'] or 'unknown', m['kube_version'])
                                 for m in single])
        out = os.path.join(TMP, 'views-out')
        for v in ('v2.30.0', 'v2.31.0'):
            union, files_list, images_list, _, _ = run_manifest(releases[v], make_inventory(releases[v], 'views'),
                                                                extra={'airgap_manifest_dir': out})
        self.assertEqual([x['name'] for x in union['views']], names)
        self.assertEqual(union['views'], [m['views'][0] for m in single])
        for name, m in zip(names, single):
            self.assertEqual(self.items(union, name), self.items(m), name)
            with open(os.path.join(out, 'views', name + '.yaml')) as f:
                self.assertEqual(yaml.safe_load(f), m, 'views/%s.yaml is the single run\'s manifest' % name)
        self.assertEqual(self.items(union), tuple(a | b for a, b in zip(*[self.items(m) for m in single])))
        self.assertEqual(files_list, ''.join(sorted({f['url'] + '\n' for m in single for f in m['files']})))
        self.assertEqual(images_list, ''.join(sorted({i['source'] + '\n' for m in single for i in m['images']})))
        self.assertEqual(union['kube_version'], single[1]['kube_version'])


class ImagesWhereKubesprayLooks(unittest.TestCase):
    """Images pushed with offline_image_push's default mapping (strip) are exactly where
    Kubespray asks for them once offline.yml points the five *_image_repo variables at the
    registry: for every image of Kubespray 2.31.0's sample manifest, against real registries."""

    def test_strip_matches_kubespray_image_repos(self):
        release = [r for r in RELEASES if os.path.basename(r) == 'v2.31.0'] or RELEASES[-1:]
        release = release[0]
        m, _, _, _, out = sample_manifest(release)
        registry_sh = os.path.join(REPO, 'tests', 'lib', 'registry.sh')
        work = os.path.join(TMP, 'images')
        os.makedirs(work, exist_ok=True)
        hosts = {}
        try:
            for role in ('upstream', 'target'):
                port = subprocess.check_output([registry_sh, 'free-port'], universal_newlines=True).strip()
                subprocess.run([registry_sh, 'start', os.path.join(work, role), port], check=True, stdout=subprocess.DEVNULL)
                hosts[role] = '127.0.0.1:' + port
            # A stand-in upstream holding a small synthetic image under every name the manifest lists.
            names = os.path.join(work, 'names.list')
            with open(names, 'w') as f:
                f.write(''.join(i['source'] + '\n' for i in m['images'] + m['mirror_images']))
            subprocess.run(['go', 'run', './tests/tools/imageset', '--registry', hosts['upstream'], '--names', names,
                            '--scale', '0.001'], cwd=REPO, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                           env=dict(os.environ, PATH='/usr/local/go/bin:' + os.environ.get('PATH', '')))
            modules = os.path.join(TMP, 'collections/ansible_collections/airgap/kubespray/plugins/modules')
            layout = os.path.join(work, 'layout')
            pull = [os.path.join(modules, 'offline_image_pull_linux_amd64'), '--list', os.path.join(out, 'manifest.yaml'),
                    '--dest', layout, '--insecure-registries', hosts['upstream']]
            for host in sorted({i['source'].split('/')[0] for i in m['images']}):
                pull += ['--registry-mirrors', json.dumps({'prefix': host, 'replace': '%s/%s' % (hosts['upstream'], host)})]
            p = subprocess.run(pull, stdout=subprocess.PIPE, universal_newlines=True)
            self.assertEqual(p.returncode, 0, p.stdout[-3000:])
            push = [os.path.join(modules, 'offline_image_push_linux_amd64'), '--src', layout,
                    '--registry', hosts['target'], '--insecure-registries', hosts['target']]
            p = subprocess.run(push, stdout=subprocess.PIPE, universal_newlines=True)
            self.assertEqual(p.returncode, 0, p.stdout[-3000:])
            self.assertEqual(json.loads(p.stdout)['totals']['pushed'], len(m['images']))

            # Kubespray's own view once offline.yml points at the registry.
            changes = [('all/offline.yml', 'registry_host', hosts['target'])]
            changes += [('all/offline.yml', var, '{{ registry_host }}') for var in
                        ('kube_image_repo', 'gcr_image_repo', 'docker_image_repo', 'quay_image_repo', 'github_image_repo')]
            offline = run_manifest(release, make_inventory(release, 'images-offline', changes), extra=OFFLINE_VIEW)[0]
            self.assertEqual(len(offline['images']), len(m['images']))
            for img in offline['images']:
                self.assertTrue(img['repo'].startswith(hosts['target'] + '/'), img['source'])
                path = img['repo'][len(hosts['target']) + 1:]
                req = urllib.request.Request('http://%s/v2/%s/manifests/%s' % (hosts['target'], path, img['tag']), method='HEAD',
                                             headers={'Accept': ', '.join((
                                                 'application/vnd.docker.distribution.manifest.v2+json',
                                                 'application/vnd.docker.distribution.manifest.list.v2+json',
                                                 'application/vnd.oci.image.manifest.v1+json',
                                                 'application/vnd.oci.image.index.v1+json'))})
                try:
                    with NO_PROXY.open(req, timeout=10) as resp:
                        self.assertEqual(resp.status, 200)
                except urllib.error.HTTPError as e:
                    self.fail('Kubespray would pull %s, which is not in the registry (HTTP %s)' % (img['source'], e.code))
            self.verify_mirror(release, m, hosts, work)
        finally:
            for role in ('upstream', 'target'):
                subprocess.run([registry_sh, 'stop', os.path.join(work, role)])
            subprocess.run([NGINX, 'stop', os.path.join(work, 'nginx-files')])

    def verify_mirror(self, release, m, hosts, work):
        """The verify playbook passes on a complete mirror and names the missing file or image."""
        # A files server holding a stand-in of every file, and Kubespray's checksum variables
        # pointed at the stand-ins (they are role vars: only extra vars outrank them).
        files = os.path.join(work, 'files')
        vars_file = os.path.join(work, 'checksums.json')
        stand_in_files(release, [m], files, vars_file)
        os.chmod(work, 0o755)
        port = subprocess.check_output([NGINX, 'free-port'], universal_newlines=True).strip()
        subprocess.run([NGINX, 'start', os.path.join(work, 'nginx-files'), files, port], check=True)
        changes = [('all/offline.yml', 'registry_host', hosts['target']), ('all/offline.yml', 'files_repo', 'http://127.0.0.1:' + port)]
        changes += [('all/offline.yml', var, '{{ registry_host }}') for var in
                    ('kube_image_repo', 'gcr_image_repo', 'docker_image_repo', 'quay_image_repo', 'github_image_repo')]
        changes += [('all/offline.yml', var, '{{ files_repo }}/' + host) for var, host in
                    (('github_url', 'github.com'), ('dl_k8s_io_url', 'dl.k8s.io'),
                     ('storage_googleapis_url', 'storage.googleapis.com'), ('get_helm_url', 'get.helm.sh'))]
        inv = make_inventory(release, 'verify', changes)
        extra = {'airgap_verify_insecure_registries': [hosts['target']]}

        def verify():
            return run_manifest(release, inv, extra=extra, playbook='airgap.kubespray.verify', check=False, extra_files=[vars_file])

        p = verify()
        self.assertEqual(p.returncode, 0, p.stdout[-3000:])
        self.assertEqual(totals(p, 'offline_verify', 'files', 'images', 'failed'),
                         {'files': len(m['files']), 'images': len(m['images']), 'failed': 0})
        self.assertEqual(verify_failed(p), {})

        # One file gone: verify names it; back: verify passes.
        gone = m['files'][0]
        path = os.path.join(files, gone['path'])
        os.rename(path, path + '.away')
        p = verify()
        self.assertNotEqual(p.returncode, 0)
        self.assertEqual(list(verify_failed(p)), ['file ' + gone['name']])
        os.rename(path + '.away', path)
        # One image gone (its manifest deleted from the registry): named too.
        img = m['images'][0]
        repo, tag = img['target'], img['tag']
        head = urllib.request.Request('http://%s/v2/%s/manifests/%s' % (hosts['target'], repo, tag), method='HEAD', headers={
            'Accept': 'application/vnd.docker.distribution.manifest.v2+json, application/vnd.docker.distribution.manifest.list.v2+json, '
                      'application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json'})
        with NO_PROXY.open(head, timeout=10) as resp:
            digest = resp.headers['Docker-Content-Digest']
        NO_PROXY.open(urllib.request.Request('http://%s/v2/%s/manifests/%s' % (hosts['target'], repo, digest), method='DELETE'), timeout=10).close()
        p = verify()
        self.assertNotEqual(p.returncode, 0)
        self.assertEqual(list(verify_failed(p)), ['image ' + img['name']])


if __name__ == '__main__':
    unittest.main()

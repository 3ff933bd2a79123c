"""The demo (make demo) as a test: the whole pipeline from a fresh .demo/, then what users rely on.

    python3 -m unittest discover -s tests/demo -v      (make test-demo; needs make collection)

- make demo's pipeline passes: download -> mirror -> repos -> verify, all green;
- the mirror fills the registry's storage straight from the bundle (hard links, no second copy) and
  the registry serves every image with the bundle's digest; a mirror rerun changes nothing;
- the generated offline.yml, evaluated by Kubespray, sends every file to files_repo and every
  image to registry_host;
- removing any one served file or image makes verify fail naming that item (and only it);
  restoring it makes verify pass again;
- the registry refuses an anonymous push (the nodes' pull port is read-only, the push port wants the
  generated credentials); another image pushed with them under a bundle image's tag makes verify
  fail naming that image and both manifest digests;
- switching the demo inventory from calico to cilium, download fetches only cilium's items;
- -e airgap_verify_nodes=true probes the mirror from every node (a table per node, results in a
  report): files and packages from the scratch roots, containerd from node1 where the test runs a
  containerd of its own through Kubespray's hosts.toml (skipped on the others, none runs there);
  in check mode too; a key removed from node2, or the CA from node1's hosts.toml, fails that node
  only, naming the node and the probe;
- make demo-down stops every server it started.

The demo is brought up once (setUpClass); each test asserts on its own and puts back what it
changes, so the tests pass in any order. Outcomes are read from what the modules return (the task
results the demo's runs keep in .demo/logs/<log>.results.jsonl, tests/lib/results.py), the files
written and the servers' answers.
"""
import base64
import glob
import hashlib
import json
import os
import platform
import shutil
import signal
import ssl
import subprocess
import urllib.error
import urllib.request
import sys
import time
import unittest

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import demo  # noqa: E402
import results  # noqa: E402  (tests/lib, on the path demo puts there)

MANIFEST_TYPES = ', '.join(['application/vnd.oci.image.index.v1+json', 'application/vnd.oci.image.manifest.v1+json',
                            'application/vnd.docker.distribution.manifest.list.v2+json',
                            'application/vnd.docker.distribution.manifest.v2+json'])


def registry_call(port, path, method='GET', body=None, headers=None, auth=None):
    """One request to the mirror's registry on 127.0.0.1:port, with its CA: (status, headers, body)."""
    ctx = ssl.create_default_context(cafile=os.path.join(demo.MIRROR, 'registry-tls', 'ca.pem'))
    req = urllib.request.Request('https://127.0.0.1:%d%s' % (port, path), data=body, method=method, headers=headers or {})
    if auth:
        req.add_header('Authorization', 'Basic ' + base64.b64encode(('%s:%s' % auth).encode()).decode())
    try:
        with urllib.request.urlopen(req, context=ctx) as r:
            return r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


def demo_cmd(*args, check=True):
    p = subprocess.run([sys.executable, os.path.join(HERE, 'demo.py')] + list(args), stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, universal_newlines=True, env=dict(os.environ, ANSIBLE_NOCOLOR='1'))
    if check and p.returncode != 0:
        raise AssertionError('demo.py %s failed (%d):\n%s' % (' '.join(args), p.returncode, p.stdout[-6000:]))
    return p


def gpg_daemons(home):
    """Command lines of the gpg-agent (dirmngr, keyboxd) processes started for the GnuPG home home."""
    found = []
    for pid in os.listdir('/proc'):
        try:
            with open('/proc/%s/cmdline' % pid, 'rb') as f:
                argv = f.read().decode('utf-8', 'replace').split('\0')
        except OSError:
            continue
        if os.path.basename(argv[0]) in ('gpg-agent', 'dirmngr', 'keyboxd') and home in argv:
            found.append('%s: %s' % (pid, ' '.join(argv).strip()))
    return found


def log(name):
    with open(os.path.join(demo.DEMO, 'logs', name + '.log')) as f:
        return f.read()


def task_result(log, action, path=None, **kw):
    """What the one task running `action` returned in the demo's last run of `log`."""
    return results.one(path or demo.results_path(log), action, **kw)['result']


def changed_tasks(path, host):
    """The tasks that reported a change on host in a run (its recap's changed=)."""
    return [r['task'] for r in results.of(path, host=host) if r['status'] == 'ok' and r['result'].get('changed')]


def verify_failed(path=None):
    """offline_verify's failed items of the last verify run: {'<kind> <name>': item}."""
    return {'%s %s' % (i['kind'], i['name']): i for i in task_result('verify', 'offline_verify', path)['failed_items']}


def load(path):
    with open(path) as f:
        return yaml.safe_load(f)


def flatten(value):
    out = []
    for v in value:
        out.extend(flatten(v) if isinstance(v, (list, tuple)) else [v])
    return out


def crictl():
    """crictl if this host has one: $AIRGAP_CRICTL, PATH, or $AIRGAP_CACHE/tools/crictl-<version>/."""
    found = os.environ.get('AIRGAP_CRICTL') or shutil.which('crictl')
    if not found:
        cached = sorted(glob.glob(os.path.join(os.environ.get('AIRGAP_CACHE', '/var/cache/airgap-kubespray'),
                                               'tools', 'crictl-*', 'crictl')))
        found = cached[-1] if cached else None
    return found


class NodeContainerd:
    """A containerd (this host's) standing in for the one Kubespray installs on a demo node: its
    socket at the node root's /run/containerd/containerd.sock, its CRI plugin reading hosts.toml
    files from the root's /etc/containerd/certs.d, where hosts_toml() renders Kubespray's own
    template for offline.yml's containerd_registries_mirrors (the CA path taken inside the root,
    as containerd reads paths as written)."""

    def __init__(self, host):
        self.root = os.path.join(demo.DEMO, 'nodes', host)
        self.dir = os.path.join(demo.DEMO, 'work', 'containerd-' + host)
        self.sock = os.path.join(self.root, 'run', 'containerd', 'containerd.sock')
        self.proc = None

    @staticmethod
    def missing():
        """Why no containerd can run here, or None."""
        if os.geteuid() != 0:
            return 'not root'
        if not shutil.which('containerd'):
            return 'no containerd'
        if not (shutil.which('ctr') or crictl()):
            return 'neither ctr nor crictl'
        return None

    def hosts_toml(self, with_ca=True):
        import jinja2
        offline = load(os.path.join(demo.INVENTORY, 'group_vars', 'all', 'offline.yml'))
        item = json.loads(json.dumps(offline['containerd_registries_mirrors'][0]).replace('{{ registry_host }}', offline['registry_host']))
        for m in item['mirrors']:
            if with_ca:
                m['ca'] = [self.root + c for c in m.get('ca', [])]
            else:
                m.pop('ca', None)
        with open(os.path.join(demo.KUBESPRAY, 'roles', 'container-engine', 'containerd', 'templates', 'hosts.toml.j2')) as f:
            env = jinja2.Environment()
            env.filters['flatten'] = flatten  # Ansible's, the one non-Jinja filter the template uses
            text = env.from_string(f.read()).render(item=item)
        path = os.path.join(self.root, 'etc', 'containerd', 'certs.d', item['prefix'], 'hosts.toml')
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, 'w') as f:
            f.write(text)
        return path

    def start(self):
        shutil.rmtree(self.dir, ignore_errors=True)
        os.makedirs(self.dir)
        os.makedirs(os.path.dirname(self.sock), exist_ok=True)
        self.hosts_toml()
        config = os.path.join(self.dir, 'config.toml')
        with open(config, 'w') as f:
            f.write('\n'.join([
                'version = 2', 'root = %s' % json.dumps(os.path.join(self.dir, 'root')),
                'state = %s' % json.dumps(os.path.join(self.dir, 'state')),
                'disabled_plugins = ["io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", '
                '"io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.aufs", "io.containerd.tracing.processor.v1.otlp"]',
                '[grpc]', '  address = %s' % json.dumps(self.sock), '[ttrpc]', '  address = %s' % json.dumps(self.sock + '.ttrpc'),
                '[debug]', '  address = %s' % json.dumps(os.path.join(self.dir, 'debug.sock')), '[metrics]', '  address = ""',
                '[plugins."io.containerd.internal.v1.opt"]', '  path = %s' % json.dumps(os.path.join(self.dir, 'opt')),
                '[plugins."io.containerd.grpc.v1.cri".containerd]', '  snapshotter = "native"',
                '[plugins."io.containerd.grpc.v1.cri".registry]',
                '  config_path = %s' % json.dumps(os.path.join(self.root, 'etc', 'containerd', 'certs.d')), '']))
        self.log = open(os.path.join(self.dir, 'containerd.log'), 'w')
        self.proc = subprocess.Popen(['containerd', '--config', config], stdout=self.log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, start_new_session=True)
        for _ in range(200):
            if os.path.exists(self.sock) and subprocess.run(['ctr', '--address', self.sock, 'version'] if shutil.which('ctr')
                                                            else [crictl(), '-r', 'unix://' + self.sock, 'version'],
                                                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode == 0:
                return
            if self.proc.poll() is not None:
                break
            time.sleep(0.1)
        self.stop()
        with open(os.path.join(self.dir, 'containerd.log')) as f:
            raise AssertionError('containerd did not start:\n' + f.read()[-3000:])

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc:
            self.log.close()
        self.proc = None
        shutil.rmtree(os.path.join(self.root, 'run'), ignore_errors=True)
        shutil.rmtree(os.path.join(self.root, 'etc', 'containerd', 'certs.d', load(os.path.join(
            demo.INVENTORY, 'group_vars', 'all', 'offline.yml'))['registry_host']), ignore_errors=True)


class Demo(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        os.environ['ANSIBLE_NOCOLOR'] = '1'
        cls.up = demo_cmd('up')
        # What make demo left, for the tests that change the demo to put it back: the logs and task
        # results of its runs, the bundle's top-level files (manifest.yaml, lists, sums) and offline.yml.
        cls.up_logs = os.path.join(demo.DEMO, 'work', 'up-logs')
        cls.up_bundle = os.path.join(demo.DEMO, 'work', 'up-bundle')
        for d in (cls.up_logs, cls.up_bundle):
            shutil.rmtree(d, ignore_errors=True)
        shutil.copytree(os.path.join(demo.DEMO, 'logs'), cls.up_logs)
        os.makedirs(cls.up_bundle)
        for name in os.listdir(demo.BUNDLE):
            if os.path.isfile(os.path.join(demo.BUNDLE, name)) and not os.path.islink(os.path.join(demo.BUNDLE, name)):
                shutil.copy2(os.path.join(demo.BUNDLE, name), cls.up_bundle)
        with open(os.path.join(demo.INVENTORY, 'group_vars', 'all', 'offline.yml')) as f:
            cls.up_offline = f.read()

    @classmethod
    def tearDownClass(cls):
        state = demo.load_state()
        demo_cmd('down')
        for key in ('mirror', 'upstream'):
            for port in ('files_port', 'registry_port', 'push_port'):
                if state.get(key, {}).get(port):
                    assert not demo.port_open(state[key][port]), '%s %s still answers after demo-down' % (key, port)
        # The repository signing key's gpg-agent (started by gpg in .demo/gnupg) is stopped too.
        assert os.path.isdir(demo.GNUPG) or not demo.host_target(), 'the demo signed no repository: no %s' % demo.GNUPG
        left = gpg_daemons(demo.GNUPG)
        assert not left, 'still running after demo-down: %s' % left

    def setUp(self):
        self.state = demo.load_state()
        self.bundle_manifest = load(os.path.join(demo.BUNDLE, 'manifest.yaml'))

    def up_result(self, log, action, **kw):
        """What the task running `action` returned in make demo's own run of `log`."""
        return task_result(log, action, os.path.join(self.up_logs, log + '.results.jsonl'), **kw)

    def test_pipeline_all_green(self):
        self.assertIn('demo: all green', self.up.stdout)
        m = self.bundle_manifest
        fetched = self.up_result('download', 'offline_file_fetch')
        self.assertEqual({k: fetched['totals'][k] for k in ('items', 'fetched', 'skipped', 'failed')},
                         {'items': len(m['files']), 'fetched': len(m['files']), 'skipped': 0, 'failed': 0})
        self.assertEqual(sorted(i['url'] for i in fetched['items']), sorted(f['url'] for f in m['files']))
        checked = self.up_result('verify', 'offline_verify')
        self.assertEqual({k: checked['totals'][k] for k in ('files', 'images', 'failed')},
                         {'files': len(m['files']), 'images': len(m['images']), 'failed': 0})
        self.assertEqual(checked['failed_items'], [])
        self.assertEqual(len(checked['items']), len(m['files']) + len(m['images']))
        offline = load(os.path.join(demo.INVENTORY, 'group_vars', 'all', 'offline.yml'))
        self.assertEqual(offline['files_repo'], 'http://127.0.0.1:%d' % self.state['mirror']['files_port'])
        self.assertEqual(offline['registry_host'], '127.0.0.1:%d' % self.state['mirror']['registry_port'])
        with open(os.path.join(demo.MIRROR, 'registry-tls', 'ca.pem')) as f:
            ca = f.read().strip()
        self.assertEqual(offline['airgap_mirror_ca_pem'].strip(), ca)
        for host in demo.NODE_OS:
            with open(os.path.join(demo.DEMO, 'nodes', host, 'etc', 'containerd', 'certs.d', 'airgap-kubespray-ca.pem')) as f:
                self.assertEqual(f.read().strip(), ca, host)
        if demo.host_target():
            # The OS repository was built, signed, served and the nodes point at it with the key.
            url = 'http://127.0.0.1:%d/debs/debian-12/' % self.state['mirror']['files_port']
            self.assertEqual(offline['debian_repo'], url)
            self.assertEqual(offline['airgap_repos_gpg_key'], 'http://127.0.0.1:%d/airgap-kubespray-repo.asc' % self.state['mirror']['files_port'])
            for host in demo.NODE_OS:
                with open(os.path.join(demo.DEMO, 'nodes', host, 'etc', 'apt', 'sources.list.d', 'airgap-kubespray.sources')) as f:
                    src = f.read()
                self.assertIn('URIs: ' + url, src)
                self.assertIn('Signed-By: ', src)
                self.assertNotIn('Trusted', src)
            for f in ('bootstrap.sh', 'bin/offline_repo_config_linux_amd64', 'files/debs/debian-12/InRelease', 'files/pypi/simple/index.html'):
                self.assertTrue(os.path.exists(os.path.join(demo.BUNDLE, f)), f)

    def test_mirror_fills_the_registry_storage(self):
        """make demo's mirror put the images straight into the registry's storage (offline_image_push
        storage_dir, not over HTTP): every blob hard-linked from the bundle (both live under .demo/), no
        second copy; the registry then serves every image with the bundle's digest."""
        filled = self.up_result('mirror', 'offline_image_push')
        self.assertEqual(filled['storage_dir'], os.path.join(demo.MIRROR, 'registry-data'))
        self.assertNotIn('registry', filled)
        self.assertEqual(filled['failed_items'], [])
        self.assertGreater(filled['totals']['linked'], 0)
        self.assertEqual(filled['totals']['copied'], 0)
        with open(os.path.join(demo.BUNDLE, 'images', 'index.json')) as f:
            bundled = {d['annotations']['org.opencontainers.image.ref.name']: d['digest'] for d in json.load(f)['manifests']}
        self.assertEqual({i['source']: i['digest'] for i in filled['images']}, bundled)
        self.assertEqual({i['status'] for i in filled['images']}, {'pushed'})
        port = self.state['mirror']['registry_port']
        m = self.bundle_manifest
        for img in m['images'] + m['mirror_images']:
            status, headers, _ = registry_call(port, '/v2/%s/manifests/%s' % (img['target'], img['tag']), 'HEAD',
                                               headers={'Accept': MANIFEST_TYPES})
            self.assertEqual((status, headers['Docker-Content-Digest']), (200, bundled[img['source']]), img['source'])
        # the layers and configs in the storage are the bundle's files (one inode each)
        blobs = os.path.join(demo.MIRROR, 'registry-data', 'docker', 'registry', 'v2', 'blobs', 'sha256')
        bundle_blobs = os.path.join(demo.BUNDLE, 'images', 'blobs', 'sha256')
        linked = [name for name in os.listdir(bundle_blobs) if os.path.exists(os.path.join(blobs, name[:2], name, 'data'))
                  and os.path.samefile(os.path.join(blobs, name[:2], name, 'data'), os.path.join(bundle_blobs, name))]
        self.assertGreaterEqual(len(linked), filled['totals']['linked'])

    def test_bundle_carries_an_installable_collection(self):
        dest = os.path.join(demo.DEMO, 'work', 'offline-collections')
        shutil.rmtree(dest, ignore_errors=True)
        p = subprocess.run(['ansible-galaxy', 'collection', 'install', '-p', dest,
                            os.path.join(demo.BUNDLE, 'airgap-kubespray-collection.tar.gz')],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True)
        self.assertEqual(p.returncode, 0, p.stdout)
        link = os.path.join(dest, 'ansible_collections', 'airgap', 'kubespray', 'plugins', 'modules', 'offline_file_fetch_linux_amd64')
        self.assertTrue(os.path.islink(link) and os.access(link, os.X_OK), link)

    def test_mirror_rerun_changes_nothing(self):
        demo_cmd('mirror')
        ran = demo.results_path('mirror')
        self.assertTrue(results.of(ran, host='localhost', status='ok'))
        self.assertEqual(changed_tasks(ran, 'localhost'), [])
        demo_cmd('repos')
        ran = demo.results_path('repos')
        for host in demo.NODE_OS:
            self.assertTrue(results.of(ran, host=host, status='ok'), host)
            self.assertEqual(changed_tasks(ran, host), [], host)

    def test_offline_yml_sends_everything_to_the_mirror(self):
        out = os.path.join(demo.DEMO, 'work', 'offline-view')
        demo.playbook('manifest', 'manifest-offline-view', {'airgap_kubespray_dir': demo.KUBESPRAY, 'airgap_manifest_dir': out,
                                                            'airgap_manifest_upstream': False})
        m = load(os.path.join(out, 'manifest.yaml'))
        files_repo = 'http://127.0.0.1:%d/' % self.state['mirror']['files_port']
        registry = '127.0.0.1:%d/' % self.state['mirror']['registry_port']
        self.assertEqual(len(m['files']), len(self.bundle_manifest['files']))
        # The bundle also lists the images the download found inside charts and manifests.
        listed = [i for i in self.bundle_manifest['images'] if i['origin'] not in ('chart', 'manifest')]
        self.assertEqual(len(m['images']), len(listed))
        for f in m['files']:
            self.assertTrue(f['url'].startswith(files_repo), f['url'])
        for i in m['images']:
            self.assertTrue(i['repo'].startswith(registry), i['repo'])

    def test_verify_names_a_swapped_image(self):
        """The pull port refuses an anonymous push, the push port too; another image pushed with the
        generated credentials under a bundle image's tag: verify names it with both digests."""
        m = self.state['mirror']
        self.assertIn(registry_call(m['registry_port'], '/v2/x/blobs/uploads/', 'POST')[0], (401, 405))
        self.assertEqual(registry_call(m['push_port'], '/v2/x/blobs/uploads/', 'POST')[0], 401)
        with open(os.path.join(demo.MIRROR, 'registry-secrets', 'push-password')) as f:
            auth = ('airgap-push', f.read().strip())
        self.assertEqual(os.stat(os.path.join(demo.MIRROR, 'registry-secrets', 'push-password')).st_mode & 0o777, 0o600)
        # never printed, never handed to the nodes
        with open(os.path.join(demo.INVENTORY, 'group_vars', 'all', 'offline.yml')) as f:
            self.assertNotIn(auth[1], f.read())
        self.assertNotIn(auth[1], log('mirror'))
        with open(demo.results_path('mirror')) as f:
            self.assertNotIn(auth[1], f.read())
        img = next(i for i in self.bundle_manifest['images'] if i['origin'] not in ('chart', 'manifest'))
        tag_path = '/v2/%s/manifests/%s' % (img['target'], img['tag'])
        status, headers, original = registry_call(m['registry_port'], tag_path, headers={'Accept': MANIFEST_TYPES})
        self.assertEqual(status, 200)
        with open(os.path.join(demo.BUNDLE, 'images', 'index.json')) as f:
            bundled = next(d['digest'] for d in json.load(f)['manifests']
                           if d.get('annotations', {}).get('org.opencontainers.image.ref.name') == img['source'])
        self.assertEqual(headers['Docker-Content-Digest'], bundled)
        # another image: one layer, one config, pushed with the credentials under the same tag
        blobs = [b'{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}', b'not the bundle\'s']
        digests = ['sha256:' + hashlib.sha256(b).hexdigest() for b in blobs]
        for b, d in zip(blobs, digests):
            status, started, _ = registry_call(m['push_port'], '/v2/%s/blobs/uploads/' % img['target'], 'POST', auth=auth)
            self.assertEqual(status, 202)
            location = started['Location'].split('127.0.0.1:%d' % m['push_port'], 1)[-1]
            status = registry_call(m['push_port'], '%s%sdigest=%s' % (location, '&' if '?' in location else '?', d), 'PUT', b,
                                   {'Content-Type': 'application/octet-stream'}, auth)[0]
            self.assertEqual(status, 201)
        other = json.dumps({'schemaVersion': 2, 'mediaType': 'application/vnd.oci.image.manifest.v1+json',
                            'config': {'mediaType': 'application/vnd.oci.image.config.v1+json', 'digest': digests[0], 'size': len(blobs[0])},
                            'layers': [{'mediaType': 'application/vnd.oci.image.layer.v1.tar', 'digest': digests[1], 'size': len(blobs[1])}]}).encode()
        swapped = 'sha256:' + hashlib.sha256(other).hexdigest()
        put = {'Content-Type': 'application/vnd.oci.image.manifest.v1+json'}
        self.assertEqual(registry_call(m['registry_port'], tag_path, 'PUT', other, put)[0], 405)  # read-only
        self.assertEqual(registry_call(m['push_port'], tag_path, 'PUT', other, put, auth)[0], 201)
        try:
            p = demo_cmd('verify', check=False)
        finally:
            self.assertEqual(registry_call(m['push_port'], tag_path, 'PUT', original,
                                           {'Content-Type': headers['Content-Type']}, auth)[0], 201)
        self.assertNotEqual(p.returncode, 0, 'verify passed with another image under %s' % img['source'])
        failed = verify_failed()
        self.assertEqual(list(failed), ['image ' + img['name']])
        self.assertEqual(failed['image ' + img['name']]['detail'],
                         'the registry serves manifest %s, the bundle has %s' % (swapped, bundled))
        demo_cmd('verify')
        self.assertEqual(verify_failed(), {})

    def test_verify_names_each_missing_item(self):
        """Every file and every image removed (one alone, then the rest in four batches that mix
        files and images): verify names exactly the missing ones; restored, it passes."""
        tags = os.path.join(demo.MIRROR, 'registry-data', 'docker', 'registry', 'v2', 'repositories')
        items = [('file', f['name'], os.path.join(demo.BUNDLE, 'files', f['path'])) for f in self.bundle_manifest['files']]
        items += [('image', i['name'], os.path.join(tags, i['target'], '_manifests', 'tags', str(i['tag'])))
                  for i in self.bundle_manifest['images']]
        names = {'%s %s' % (kind, name) for kind, name, _ in items}
        self.assertEqual(len(names), len(items), 'item names are unique')
        # An image found inside a chart or manifest is known to verify only through that file (and
        # helm, for charts), read from the mirror: it goes in a batch that keeps those.
        needs = {i['name']: set(i.get('found_in', [])) | ({'helm'} if i['origin'] == 'chart' else set())
                 for i in self.bundle_manifest['images']}
        scanned = {f['name'] for f in self.bundle_manifest['files'] if f.get('scan')}
        batches = [items[:1], [], [], [], []]
        for n, item in enumerate(items[1:]):
            kind, name, _ = item
            for k in range(4):
                batch = batches[1 + (n + k) % 4]
                if kind == 'file' or not needs[name] & {nm for kd, nm, _ in batch if kd == 'file'}:
                    break
            batch.append(item)
        for batch in batches:
            files = {nm for kd, nm, _ in batch if kd == 'file'}
            self.assertFalse([nm for kd, nm, _ in batch if kd == 'image' and needs[nm] & files], batch)
        self.assertEqual(sum(len(b) for b in batches), len(items))
        for batch in batches:
            gone = {'%s %s' % (kind, name) for kind, name, _ in batch}
            with self.subTest(items=sorted(gone)):
                for _, _, path in batch:
                    self.assertTrue(os.path.exists(path), path)
                moved = []
                try:
                    for _, _, path in batch:
                        os.rename(path, path + '.away')
                        moved.append(path)
                    p = demo_cmd('verify', check=False)
                finally:
                    for path in moved:
                        os.rename(path + '.away', path)
                self.assertNotEqual(p.returncode, 0, 'verify passed without %s' % sorted(gone))
                out = log('verify')
                failed = verify_failed()
                self.assertEqual(set(failed), gone, 'verify names exactly the missing items')
                self.assertEqual(task_result('verify', 'offline_verify')['totals']['failed'], len(gone))
                # A missing chart or manifest: verify says the images inside went unchecked.
                unread = sorted(nm for kd, nm, _ in batch if kd == 'file' and nm in scanned)
                # ... as the fetch of what it looks into (from files_repo) failed for exactly those (and helm)
                files_repo = 'http://127.0.0.1:%d/' % self.state['mirror']['files_port']
                paths = {f['path']: f['name'] for f in self.bundle_manifest['files']}
                not_fetched = {paths[i['url'][len(files_repo):]] for i in task_result('verify', 'offline_file_fetch')['failed_items']}
                self.assertEqual(not_fetched - {'helm'}, set(unread))
                if unread:
                    said = [ln for ln in out.splitlines() if 'Not looked into' in ln]
                    self.assertTrue(said, 'verify does not say %s went unread' % unread)
                    for nm in unread:
                        self.assertIn(nm, said[0])
        demo_cmd('verify')
        self.assertEqual(verify_failed(), {})
        self.assertEqual(task_result('verify', 'offline_verify')['totals']['failed'], 0)

        # An image deleted from the registry for good comes back with a mirror rerun.
        img = self.bundle_manifest['images'][-1]
        shutil.rmtree(os.path.join(tags, img['target'], '_manifests', 'tags', str(img['tag'])))
        self.assertNotEqual(demo_cmd('verify', check=False).returncode, 0)
        self.assertEqual(list(verify_failed()), ['image ' + img['name']])
        demo_cmd('mirror')
        ran = demo.results_path('mirror')
        changed = [r for r in results.of(ran, host='localhost', status='ok') if r['result'].get('changed')]
        self.assertEqual([r['action'].rsplit('.', 1)[-1] for r in changed], ['offline_image_push'], [r['task'] for r in changed])
        demo_cmd('verify')
        self.assertEqual(verify_failed(), {})

    def test_switch_to_cilium_fetches_only_cilium(self):
        calico = load(os.path.join(demo.DEMO, 'work', 'calico', 'manifest.yaml'))
        cilium = load(os.path.join(demo.DEMO, 'work', 'cilium', 'manifest.yaml'))
        before = self.bundle_manifest
        demo.set_network_plugin(demo.INVENTORY, 'cilium')
        self.addCleanup(self.back_to_calico)
        # The inventory now holds the generated offline.yml: download still asks upstream.
        p = demo_cmd('download')
        after = load(os.path.join(demo.BUNDLE, 'manifest.yaml'))
        new_files = {f['url'] for f in cilium['files']} - {f['url'] for f in calico['files']}
        new_images = {i['source'] for i in after['images']} - {i['source'] for i in before['images']}
        self.assertTrue(new_files and new_images)
        self.assertTrue({i['source'] for i in cilium['images']} - {i['source'] for i in calico['images']} <= new_images)
        fetched = task_result('download', 'offline_file_fetch')['totals']
        self.assertEqual({k: fetched[k] for k in ('fetched', 'skipped', 'failed')},
                         {'fetched': len(new_files), 'skipped': len(cilium['files']) - len(new_files), 'failed': 0})
        n_images = len({(i['source'], i.get('digest') or '') for i in after['images'] + after['mirror_images']})  # pulled once each
        pulled = task_result('download', 'offline_image_pull')
        self.assertEqual({k: pulled['totals'][k] for k in ('pulled', 'imported', 'skipped', 'failed')},
                         {'pulled': len(new_images), 'imported': 0, 'skipped': n_images - len(new_images), 'failed': 0})
        self.assertEqual({i['source'] for i in pulled['images'] if i['status'] == 'pulled'}, new_images)
        operator = [i for i in after['images'] if i['name'] == 'cilium_operator'][0]
        self.assertEqual((operator['origin'], operator['quirk']), ('quirk', 'cilium-operator-generic'))
        self.assertTrue(operator['source'].startswith('quay.io/cilium/operator-generic:'))
        # The offline side follows: mirror, then verify with cilium's items.
        demo_cmd('mirror')
        offline = load(os.path.join(demo.INVENTORY, 'group_vars', 'all', 'offline.yml'))
        self.assertIn('helm.cilium.io', offline.get('cilium_install_extra_flags', ''))
        self.assertIs(offline['cilium_extra_values']['operator']['image']['useDigest'], False)
        demo_cmd('verify')
        checked = task_result('verify', 'offline_verify')
        self.assertEqual({k: checked['totals'][k] for k in ('files', 'images', 'failed')},
                         {'files': len(after['files']), 'images': len(after['images']), 'failed': 0})
        # operator-generic gone from the registry: verify names it.
        tags = os.path.join(demo.MIRROR, 'registry-data', 'docker', 'registry', 'v2', 'repositories')
        path = os.path.join(tags, operator['target'], '_manifests', 'tags', str(operator['tag']))
        os.rename(path, path + '.away')
        try:
            p = demo_cmd('verify', check=False)
        finally:
            os.rename(path + '.away', path)
        self.assertNotEqual(p.returncode, 0)
        failed = verify_failed()
        self.assertEqual(list(failed), ['image cilium_operator'])
        self.assertTrue(failed['image cilium_operator']['where'].startswith(
            '127.0.0.1:%d/cilium/operator-generic:' % self.state['mirror']['registry_port']), failed)

        # back to calico (the cleanup): offline.yml is make demo's again
        self.back_to_calico()
        with open(os.path.join(demo.INVENTORY, 'group_vars', 'all', 'offline.yml')) as f:
            self.assertEqual(f.read(), self.up_offline)

    def back_to_calico(self):
        """The demo as make demo left it: calico, the bundle's manifest and lists, the mirror's
        offline.yml (the cilium items fetched and pushed stay, unlisted)."""
        demo.set_network_plugin(demo.INVENTORY, 'calico')
        with open(os.path.join(demo.INVENTORY, 'group_vars', 'all', 'offline.yml')) as f:
            if f.read() == self.up_offline and load(os.path.join(demo.BUNDLE, 'manifest.yaml')) == load(
                    os.path.join(self.up_bundle, 'manifest.yaml')):
                return
        for name in os.listdir(self.up_bundle):
            if not name.startswith('SHA256SUMS'):
                shutil.copy2(os.path.join(self.up_bundle, name), os.path.join(demo.BUNDLE, name))
        # SHA256SUMS over what the bundle now holds (the cilium items too), signed with the demo's
        # key as download signs it: the mirror refuses a bundle with files SHA256SUMS does not list.
        arch = {'x86_64': 'amd64', 'aarch64': 'arm64'}[platform.machine()]
        sums = os.path.join(demo.DEMO, 'collections', 'ansible_collections', 'airgap', 'kubespray', 'plugins', 'modules',
                            'offline_bundle_sums_linux_' + arch)
        subprocess.run([sums, '--bundle', demo.BUNDLE, '--gnupg-home', demo.GNUPG], check=True, stdout=subprocess.DEVNULL)
        demo_cmd('mirror')

    def test_what_downloads_does_not_list(self):
        """Argo CD's install manifest and the images inside it, kubelet-csr-approver's chart and its
        image: in the bundle with their origin, served where offline.yml points Kubespray."""
        m = self.bundle_manifest
        files = {f['name']: f for f in m['files']}
        images = {i['source']: i for i in m['images']}
        self.assertEqual(files['argocd_install']['scan']['kind'], 'manifest')
        self.assertEqual(files['kubelet_csr_approver_chart']['origin'], 'quirk')
        found = {s: i for s, i in images.items() if i['origin'] in ('chart', 'manifest')}
        argocd = {s for s, i in found.items() if i['found_in'] == ['argocd_install']}
        self.assertTrue(any(s.startswith('quay.io/argoproj/argocd:') for s in argocd), argocd)
        self.assertIn('public.ecr.aws/docker/library/redis:7.2.7-alpine', argocd)
        approver = [i for s, i in found.items() if 'kubelet-csr-approver' in s]
        self.assertEqual([(i['origin'], i['found_in']) for i in approver], [('chart', ['kubelet_csr_approver_chart'])])
        offline = load(os.path.join(demo.INVENTORY, 'group_vars', 'all', 'offline.yml'))
        files_repo = offline['files_repo']
        self.assertTrue(offline['argocd_install_url'].startswith('{{ files_repo }}/raw.githubusercontent.com/'))
        self.assertEqual(offline['kubelet_csr_approver_values']['image']['repository'],
                         '{{ registry_host }}/postfinance/kubelet-csr-approver')
        prefixes = {e['prefix']: e for e in offline['containerd_registries_mirrors']}
        self.assertTrue({'quay.io', 'ghcr.io', 'public.ecr.aws'} <= set(prefixes), sorted(prefixes))
        ecr = prefixes['public.ecr.aws']['mirrors'][0]
        self.assertEqual((ecr['host'], ecr['override_path']), ('https://{{ registry_host }}/v2/public.ecr.aws', True))
        self.assertNotIn('override_path', prefixes['quay.io']['mirrors'][0])
        self.assertTrue(files_repo.startswith('http://127.0.0.1:'))

    def nodes_report(self):
        with open(demo.NODES_REPORT) as f:
            report = json.load(f)
        self.assertEqual(set(report), set(demo.NODE_OS))
        return {host: {p['probe']: p for p in r['probes']} for host, r in report.items()}, report

    def test_verify_from_every_node(self):
        files_repo = 'http://127.0.0.1:%d/' % self.state['mirror']['files_port']
        packages = 'ok' if demo.host_target() else 'skipped'
        why_not = NodeContainerd.missing()
        ctrd = None if why_not else NodeContainerd('node1')
        tool = crictl()
        path = os.environ['PATH']
        try:
            if tool:  # the probe takes crictl (containerd's CRI, as kubelet pulls) when the node has it
                os.environ['PATH'] = os.path.dirname(os.path.abspath(tool)) + os.pathsep + path
            if ctrd:
                ctrd.start()

            def expect_all_green():
                probes, report = self.nodes_report()
                ran = demo.results_path('verify-nodes')
                for host in demo.NODE_OS:
                    with self.subTest(host=host):
                        self.assertEqual([p['probe'] for p in report[host]['probes']], ['files', 'packages', 'containerd'])
                        self.assertEqual(report[host]['failed_probes'], [])
                        f = probes[host]['files']
                        self.assertEqual(f['status'], 'ok', f)
                        self.assertTrue(f['target'].startswith(files_repo), f)
                        self.assertIn("sha256 matches Kubespray's", f['detail'])
                        self.assertEqual(probes[host]['packages']['status'], packages, probes[host]['packages'])
                        if packages == 'ok':
                            self.assertEqual(probes[host]['packages']['target'], '%sdebs/debian-12/' % files_repo)
                            self.assertEqual(probes[host]['packages']['command'][:2], ['apt-get', 'update'])
                        c = probes[host]['containerd']
                        if ctrd and host == 'node1':
                            self.assertEqual(c['status'], 'ok', c)
                            self.assertIn('/pause:', c['target'])  # Kubespray's pod_infra image
                            self.assertIn('through /etc/containerd/certs.d/%s/hosts.toml' % c['target'].split('/')[0], c['detail'])
                            self.assertEqual(c['command'][0], 'crictl' if tool else 'ctr')
                        else:
                            self.assertEqual(c['status'], 'skipped', c)
                            self.assertIn('containerd is not running on the node', c['detail'])
                        # the playbook's verdict for the node, and what the probe returned
                        self.assertEqual([r['status'] for r in results.of(ran, 'assert', host=host)], ['ok'])
                        probe = task_result('verify-nodes', 'offline_probe', ran, host=host)
                        self.assertEqual((probe.get('failed', False), probe['failed_probes']), (False, []))
                        self.assertEqual(probe['probes'], report[host]['probes'])
                        self.assertEqual(report[host]['table'][0].split(), ['PROBE', 'STATUS', 'DETAIL'])
                return probes

            demo_cmd('verify-nodes')
            green = expect_all_green()
            # Check mode: the probes only read, so they run there too, with the same outcome.
            demo_cmd('verify-nodes', '--check')
            self.assertEqual({h: {n: r['status'] for n, r in v.items()} for h, v in expect_all_green().items()},
                             {h: {n: r['status'] for n, r in v.items()} for h, v in green.items()})

            breaks = []
            if packages == 'ok':
                key = os.path.join(demo.DEMO, 'nodes', 'node2', 'etc', 'apt', 'keyrings', 'airgap-kubespray.asc')
                breaks.append(('node2', 'packages', 'apt-get update from %sdebs/debian-12/' % files_repo,
                               lambda: os.rename(key, key + '.away'), lambda: os.rename(key + '.away', key)))
            if ctrd:
                breaks.append(('node1', 'containerd', 'x509: certificate signed by unknown authority',
                               lambda: ctrd.hosts_toml(with_ca=False), lambda: ctrd.hosts_toml(with_ca=True)))
            for host, probe, detail, brk, fix in breaks:
                with self.subTest(broken='%s %s' % (host, probe)):
                    brk()
                    try:
                        p = demo_cmd('verify-nodes', check=False)
                    finally:
                        fix()
                    self.assertNotEqual(p.returncode, 0, 'verify passed with %s broken on %s' % (probe, host))
                    probes, report = self.nodes_report()
                    self.assertEqual([f['probe'] for f in report[host]['failed_probes']], [probe])
                    self.assertEqual(probes[host][probe]['status'], 'FAILED')
                    self.assertIn(detail, probes[host][probe]['detail'])
                    ran = demo.results_path('verify-nodes')
                    verdict = results.of(ran, 'assert', host=host)
                    self.assertEqual([r['status'] for r in verdict], ['failed'])
                    self.assertIn('%s cannot reach the mirror: %s: ' % (host, probe), verdict[0]['result']['msg'])
                    for other in set(demo.NODE_OS) - {host}:
                        self.assertEqual(report[other]['failed_probes'], [], other)
                        self.assertEqual([r['status'] for r in results.of(ran, 'assert', host=other)], ['ok'], other)
            if not breaks:
                self.skipTest('nothing to break here: no OS repository (not Debian 12) and no containerd (%s)' % why_not)
            if why_not:
                sys.stderr.write('(containerd probe only seen skipped: %s) ' % why_not)
        finally:
            os.environ['PATH'] = path
            if ctrd:
                ctrd.stop()


if __name__ == '__main__':
    unittest.main()

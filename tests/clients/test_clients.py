"""Kubespray's own clients against the demo mirror (make test-clients; needs make collection).

    python3 -m unittest discover -s tests/clients -v

"verify green means Kubespray will find everything", shown with what a node runs:

- every image of the offline evaluation is pulled as repo:tag by containerd at Kubespray's
  containerd_version, configured by Kubespray's own config.toml and hosts.toml (the generated
  offline.yml's containerd_registries_mirrors), through CRI (crictl) and with ctr --hosts-dir, TLS
  verified through the CA the repos playbook installed on the node;
- with another CA in its place, the same pulls fail: TLS is really verified;
- every file of the evaluation is fetched by Kubespray's roles/download/tasks/download_file.yml
  with its checksum;
- one image removed from the registry, or one file from the files server: the check fails naming
  exactly that item (for each client), and passes again once it is restored;
- containerd, ctr and crictl are built once into $AIRGAP_CACHE/tools and reused.

The demo (AIRGAP_DEMO_DIR, default .demo/): a running one is used and left running; a stopped one
(make test-demo leaves its data) has its mirror started again (tests/demo/demo.py mirror); with
none, a fresh one is brought up (tests/demo/demo.py up). Either of the last two is stopped at the
end (tests/demo/demo.py down).
"""
import contextlib
import json
import os
import shutil
import subprocess
import sys
import tomllib
import unittest

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import clients  # noqa: E402
from clients import demo  # noqa: E402

DEMO_PY = os.path.join(HERE, '..', 'demo', 'demo.py')


def sh(*args, check=True):
    p = subprocess.run(list(args), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True,
                       env=dict(os.environ, ANSIBLE_NOCOLOR='1'))
    if check and p.returncode != 0:
        raise AssertionError('%s failed (%d):\n%s' % (' '.join(args), p.returncode, p.stdout[-6000:]))
    return p


def check(*args):
    """clients.py check ARGS: (exit code, the JSON results it wrote)."""
    with contextlib.suppress(FileNotFoundError):
        os.unlink(clients.RESULTS)
    p = sh(sys.executable, os.path.join(HERE, 'clients.py'), 'check', *args, check=False)
    if p.returncode not in (0, 1):
        raise AssertionError('clients.py check %s: exit %d\n%s' % (' '.join(args), p.returncode, p.stdout[-6000:]))
    with open(clients.RESULTS) as f:
        return p.returncode, json.load(f)


def failed(res, kind, client=None):
    return {r['name'] for r in res[kind] if not r['ok'] and client in (None, r.get('client'))}


@contextlib.contextmanager
def moved_away(path):
    """path renamed to path.away for the block: the mirror no longer serves that item."""
    assert os.path.exists(path), path
    os.rename(path, path + '.away')
    try:
        yield
    finally:
        os.rename(path + '.away', path)


class Clients(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.started = not clients.mirror_running()
        if cls.started and os.path.exists(os.path.join(demo.BUNDLE, 'manifest.yaml')) and 'mirror' in demo.load_state():
            sh(sys.executable, DEMO_PY, 'mirror')  # a stopped demo (make test-demo stops its own): start its mirror again
        elif cls.started:
            sh(sys.executable, DEMO_PY, 'up')
        cls.code, cls.res = check()
        # The evaluation of this first check, reused by the later ones (removing an item from
        # the mirror does not change what Kubespray asks for).
        cls.evaluation = os.path.join(clients.WORK, 'evaluation.yaml')
        shutil.copy(os.path.join(clients.WORK, 'manifest', 'evaluation.yaml'), cls.evaluation)
        with open(cls.evaluation) as f:
            cls.manifest = yaml.safe_load(f)
        cls.mirror = demo.load_state()['mirror']

    @classmethod
    def tearDownClass(cls):
        if cls.started:
            sh(sys.executable, DEMO_PY, 'down')

    def test_every_image_pulled_by_both_clients(self):
        res, m = self.res, self.manifest
        self.assertEqual(res['failed'], [], 'items failed: %s' % res['failed'])
        self.assertEqual(self.code, 0)
        registry = '127.0.0.1:%d/' % self.mirror['registry_port']
        want = {(i['name'], '%s:%s' % (i['repo'], i['tag'])) for i in m['images']}
        self.assertTrue(want)
        for client in ('crictl', 'ctr'):
            got = [r for r in res['images'] if r['client'] == client]
            self.assertEqual({(r['name'], r['ref']) for r in got}, want, client)
            upstream = {'%s:%s' % (i['repo'], i['tag']) for i in m['images'] if i.get('origin') in ('chart', 'manifest')}
            self.assertTrue(upstream, 'the images inside Argo CD\'s manifest and the charts are pulled too')
            for r in got:
                # The mirror, as offline.yml says: by its address, or, for what charts and manifests
                # name by upstream registry, through containerd's mirror of that registry.
                self.assertTrue(r['ref'].startswith(registry) or r['ref'] in upstream, r['ref'])
                self.assertTrue(r['ok'] and r['listed'], r)

    def test_containerd_is_kubesprays(self):
        res = self.res
        want = res['versions']['containerd_version']
        self.assertEqual(res['rendered']['containerd_version'], want)
        for client in ('crictl', 'ctr'):
            self.assertEqual(res['runtime'][client]['RuntimeName'], 'containerd')
            self.assertEqual(res['runtime'][client]['RuntimeVersion'], 'v' + want)
        self.assertEqual(os.path.basename(res['tools']['containerd']['dir']), 'containerd-' + want)
        self.assertEqual(os.path.basename(res['tools']['crictl']['dir']), 'crictl-' + clients.CRICTL_VERSION)

    def test_hosts_toml_is_kubesprays_with_the_ca(self):
        """The rendered files: the registry behind TLS with the node's CA, no skip_verify."""
        rendered = self.res['rendered']
        with open(rendered['config'], 'rb') as f:
            config = tomllib.load(f)
        images = config['plugins']['io.containerd.cri.v1.images']
        self.assertEqual(images['registry']['config_path'], rendered['certs_d'])
        self.assertEqual(config['root'], os.path.join(clients.WORK, 'node', 'root'))
        registry = '127.0.0.1:%d' % self.mirror['registry_port']
        self.assertIn(registry, rendered['mirrors'])
        with open(os.path.join(rendered['certs_d'], registry, 'hosts.toml'), 'rb') as f:
            hosts = tomllib.load(f)
        self.assertEqual(hosts['server'], 'https://' + registry)
        host = hosts['host']['https://' + registry]
        self.assertIs(host['skip_verify'], False)
        self.assertEqual(set(host['capabilities']), {'pull', 'resolve'})
        node_etc = os.path.join(demo.DEMO, 'nodes', self.res['node'], 'etc', 'containerd')
        for ca in host['ca']:
            # Resolved inside the node's namespace, where /etc/containerd is the node's.
            self.assertTrue(ca.startswith('/etc/containerd/'), ca)
            self.assertTrue(os.path.isfile(os.path.join(node_etc, os.path.relpath(ca, '/etc/containerd'))), ca)

    def test_every_file_fetched_by_kubesprays_download_file(self):
        res, m = self.res, self.manifest
        files = res['files']
        # Every file of the evaluation: fetched, or skipped as no entry of Kubespray's downloads
        # (the quirks' helm repositories and charts, fetched by helm or cilium's CLI; the helm the
        # controller renders charts with): Kubespray's download role never fetches them.
        self.assertEqual({(r['name'], r['url']) for r in files + res['skipped']}, {(f['name'], f['url']) for f in m['files']})
        self.assertTrue(files)
        not_downloads = {f['name'] for f in m['files'] if f.get('origin') != 'downloads' or f.get('purpose')}
        self.assertEqual({s['name'] for s in res['skipped']}, not_downloads)
        files_repo = 'http://127.0.0.1:%d/' % self.mirror['files_port']
        for r in files:
            self.assertTrue(r['url'].startswith(files_repo), r['url'])
            self.assertTrue(r['ok'], r)
            self.assertEqual(r['sha256'], r['checksum'], r['name'])  # Kubespray's checksum, on the fetched file

    def test_with_another_ca_tls_fails(self):
        """The node's CA replaced by another one: no image can be pulled (TLS is verified)."""
        rendered = self.res['rendered']
        registry = '127.0.0.1:%d' % self.mirror['registry_port']
        with open(os.path.join(rendered['certs_d'], registry, 'hosts.toml'), 'rb') as f:
            cas = tomllib.load(f)['host']['https://' + registry]['ca']
        other = os.path.join(clients.WORK, 'other-ca')
        shutil.rmtree(other, ignore_errors=True)
        for ca in cas:
            path = os.path.join(other, os.path.relpath(ca, '/etc/containerd'))
            os.makedirs(os.path.dirname(path), exist_ok=True)
            sh('openssl', 'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', path + '.key', '-out', path,
               '-subj', '/CN=not the mirror CA', '-days', '1')
        node = clients.Node({n: t['dir'] for n, t in self.res['tools'].items()}, os.path.join(clients.WORK, 'node'), other)
        with node.start('containerd-other-ca'):
            for client in ('crictl', 'ctr'):
                r = clients.pull_images(node, client, self.manifest['images'][:1])[0]
                self.assertFalse(r['ok'], r)
                self.assertIn('x509', r['error'], r)

    def test_missing_image_is_named(self):
        tags = os.path.join(demo.MIRROR, 'registry-data', 'docker', 'registry', 'v2', 'repositories')
        images = self.manifest['images']
        # One Kubespray names on the registry, and one a manifest names by its upstream registry
        # (reached through containerd's mirror of public.ecr.aws, whose name the registry keeps).
        picks = [images[len(images) // 2]] + [i for i in images if i['repo'].startswith('public.ecr.aws/')][:1]
        self.assertEqual(len(picks), 2, 'the demo enables Argo CD, whose manifest names redis on public.ecr.aws')
        for img in picks:
            # The repository in the registry: Kubespray's without the registry host, or the scan's target.
            repo = img['target'] if img.get('origin') in ('chart', 'manifest') else img['repo'].split('/', 1)[1]
            with moved_away(os.path.join(tags, repo, '_manifests', 'tags', str(img['tag']))):
                code, res = check('--only', 'images', '--evaluation', self.evaluation)
            self.assertEqual(code, 1)
            for client in ('crictl', 'ctr'):
                self.assertEqual(failed(res, 'images', client), {img['name']}, client)
            self.assertEqual(res['failed'], ['image ' + img['name']])
            self.assertEqual(res['files'], [])
        # Restored: the same check passes again, and no client was rebuilt.
        code, res = check('--only', 'images', '--evaluation', self.evaluation)
        self.assertEqual((code, res['failed']), (0, []))
        self.assertEqual({n: t['built'] for n, t in res['tools'].items()}, {'containerd': False, 'crictl': False})

    def test_missing_file_is_named(self):
        files = [f for f in self.manifest['files'] if f.get('origin') == 'downloads' and not f.get('purpose')]
        f = files[len(files) // 2]
        # The files server serves the bundle's files/ at files_repo.
        files_repo = 'http://127.0.0.1:%d/' % self.mirror['files_port']
        self.assertTrue(f['url'].startswith(files_repo), f['url'])
        with moved_away(os.path.join(demo.BUNDLE, 'files', f['url'][len(files_repo):])):
            code, res = check('--only', 'files', '--evaluation', self.evaluation)
        self.assertEqual(code, 1)
        self.assertEqual(failed(res, 'files'), {f['name']})
        self.assertEqual(res['failed'], ['file ' + f['name']])
        r = next(r for r in res['files'] if r['name'] == f['name'])
        self.assertEqual(r['failed_task'], 'Download_file | Download item')  # Kubespray's get_url
        self.assertEqual(res['images'], [])
        code, res = check('--only', 'files', '--evaluation', self.evaluation)
        self.assertEqual((code, res['failed']), (0, []))

    def test_tools_reused(self):
        """A second tools run reuses the cached binaries (nothing rebuilt, files untouched)."""
        dirs = [t['dir'] for t in self.res['tools'].values()]
        before = {os.path.join(d, b): os.stat(os.path.join(d, b)).st_mtime_ns for d in dirs for b in os.listdir(d)}
        p = sh(sys.executable, os.path.join(HERE, 'clients.py'), 'tools')
        self.assertNotIn('built', p.stdout.replace('(cached)', ''))
        after = {path: os.stat(path).st_mtime_ns for path in before}
        self.assertEqual(before, after)
        self.assertEqual(set(before), {os.path.join(self.res['tools']['containerd']['dir'], 'containerd'),
                                       os.path.join(self.res['tools']['containerd']['dir'], 'ctr'),
                                       os.path.join(self.res['tools']['crictl']['dir'], 'crictl')})


if __name__ == '__main__':
    unittest.main()

"""Unit tests of the one projection of a manifest into each module's arguments
(airgap.kubespray.manifest_items), checked against the modules' own strict specs (their generated
documentation), and of the rules the Python side gets from the Go binary (files layout, image
names in the private registry).

    tests/lib/ansible-lane.sh run 2.18 /usr/bin/python3 -m unittest discover -s tests/unit -v   (make test-unit)
"""
import os
import shutil
import subprocess
import tempfile
import unittest

import yaml

import test_plugin_utils as base  # noqa: F401  (imports the collection from this checkout)
from ansible_collections.airgap.kubespray.plugins.plugin_utils import manifest as m
from ansible_collections.airgap.kubespray.plugins.plugin_utils import controller_binary as cb
from ansible.errors import AnsibleError

MODULES = os.path.join(base.REPO, 'plugins', 'modules')

# A manifest entry with every key docs/manifest.md lists, so that a projection passing one on fails.
FILE = {'name': 'kubelet', 'url': 'https://dl.k8s.io/kubelet', 'checksum': 'sha256:aa', 'path': 'dl.k8s.io/kubelet',
        'arches': ['amd64'], 'groups': ['k8s_cluster'], 'enabled': True, 'origin': 'downloads', 'extra': False}
IMAGE = {'name': 'pause', 'source': 'registry.k8s.io/pause:3.10', 'repo': 'registry.k8s.io/pause', 'tag': '3.10',
         'digest': 'sha256:bb', 'target': 'pause', 'arches': ['amd64'], 'groups': ['k8s_cluster'], 'enabled': True,
         'origin': 'downloads'}
MANIFEST = {'files': [FILE], 'images': [IMAGE, dict(IMAGE, name='nodigest', digest=None, via='r.example/pause:3.10')],
            'mirror_images': [dict(IMAGE, name='registry', source='docker.io/library/registry:2', digest=None)]}


def suboptions(module, option):
    """{name: required} of a list option's sub-options, from the module's generated doc stub."""
    with open(os.path.join(MODULES, module + '.py')) as f:
        text = f.read()
    doc = yaml.safe_load(text.split('DOCUMENTATION = r"""', 1)[1].split('"""', 1)[0] if 'DOCUMENTATION = r"""' in text
                         else text.split("DOCUMENTATION = r'''", 1)[1].split("'''", 1)[0])
    return {k: bool(v.get('required')) for k, v in doc['options'][option]['suboptions'].items()}


class ProjectionMatchesTheSpecs(unittest.TestCase):
    def assert_fits(self, entries, module, option):
        spec = suboptions(module, option)
        self.assertTrue(entries, 'nothing projected for %s.%s' % (module, option))
        for e in entries:
            self.assertLessEqual(set(e), set(spec), '%s.%s refuses %s' % (module, option, sorted(set(e) - set(spec))))
            self.assertLessEqual({k for k, req in spec.items() if req}, set(e), '%s.%s: a required key is missing' % (module, option))

    def test_fetch(self):
        self.assert_fits(m.manifest_items(MANIFEST, 'fetch'), 'offline_file_fetch', 'items')

    def test_pull(self):
        out = m.manifest_items(MANIFEST, 'pull')
        self.assert_fits(out, 'offline_image_pull', 'images')
        self.assertEqual(out, [{'source': 'registry.k8s.io/pause:3.10', 'digest': 'sha256:bb'}, {'source': 'registry.k8s.io/pause:3.10'},
                               {'source': 'docker.io/library/registry:2'}])

    def test_verify(self):
        out = m.manifest_items(MANIFEST, 'verify')
        self.assert_fits(out['files'], 'offline_verify', 'files')
        self.assert_fits(out['images'], 'offline_verify', 'images')
        self.assertEqual([i['source'] for i in out['images']], ['registry.k8s.io/pause:3.10', 'r.example/pause:3.10'])

    def test_import(self):
        out = m.manifest_items(MANIFEST, 'import')
        self.assert_fits(out['files'], 'offline_bundle_import', 'files')
        self.assert_fits(out['images'], 'offline_bundle_import', 'images')
        self.assertEqual(out['images'][1], {'name': 'nodigest', 'source': 'registry.k8s.io/pause:3.10', 'digest': ''})

    def test_the_specs_are_strict(self):
        # The manifest's other keys are not options any more: the projection is the only way in.
        for module, option in (('offline_image_pull', 'images'), ('offline_verify', 'files'), ('offline_verify', 'images')):
            self.assertFalse({'target', 'groups', 'enabled', 'repo', 'tag'} & set(suboptions(module, option)), (module, option))

    def test_unknown_module(self):
        with self.assertRaises(AnsibleError):
            m.manifest_items(MANIFEST, 'offline_image_push')


class RulesFromGo(unittest.TestCase):
    """plugin_utils.controller_binary: the manifest's `path` and `target` are asked of `airgap rules`."""

    @classmethod
    def setUpClass(cls):
        go = shutil.which('go') or '/usr/local/go/bin/go'
        if not os.path.exists(go):
            raise unittest.SkipTest('no Go toolchain to build the admin binary')
        cls.dir = tempfile.mkdtemp(prefix='airgap-unit-bin.')
        cls.binary = os.path.join(cls.dir, 'airgap')
        subprocess.run([go, 'build', '-o', cls.binary, './modules/airgap'], cwd=base.REPO, check=True,
                       env=dict(os.environ, CGO_ENABLED='0'))

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dir, ignore_errors=True)

    def test_paths_and_refusals(self):
        with cb.Rules(self.binary) as layout:
            self.assertEqual(layout.path_for('https://dl.k8s.io/release/v1.35.4/bin/linux/amd64/kubelet'),
                             'dl.k8s.io/release/v1.35.4/bin/linux/amd64/kubelet')
            self.assertEqual(layout.path_for('https://user@GitHub.com/a//b.tgz'), 'github.com/a/b.tgz')
            self.assertEqual(layout.path_for('http://127.0.0.1:8080/x'), '127.0.0.1:8080/x')
            for url, why in (('ftp://example.com/x', 'scheme must be http or https'), ('https://example.com/d/', 'directory'),
                             ('https://example.com/a/../../etc/passwd', 'unsafe'),
                             ('https://example.com/a\nhttps://example.com/b', 'line break')):
                with self.assertRaises(cb.RuleError) as e:
                    layout.path_for(url)
                self.assertIn(why, str(e.exception))
            # image names as offline_image_push gives them
            self.assertEqual(layout.target_for('registry.k8s.io/coredns/coredns'), 'coredns/coredns')
            self.assertEqual(layout.target_for('nginx'), 'library/nginx')
            self.assertEqual(layout.target_for('public.ecr.aws/docker/library/redis'), 'public.ecr.aws/docker/library/redis')
            with self.assertRaises(cb.RuleError):
                layout.target_for('../../etc/passwd:x')
            # one process answers the whole run
            self.assertIsNotNone(layout._proc)

    def test_controller_platform(self):
        with self.assertRaises(cb.ControllerBinaryError) as e:
            cb.controller_binary('Darwin', 'arm64')
        self.assertIn('Linux amd64 or arm64 controller; this one is darwin/arm64', str(e.exception))
        with self.assertRaises(cb.ControllerBinaryError):
            cb.controller_binary('Linux', 'riscv64')


if __name__ == '__main__':
    unittest.main()

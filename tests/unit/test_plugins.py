"""Unit tests of the filter plugins and of the pure parts of the action plugins and plugin_utils:
manifest_merge's conflict and union paths, the manifest projections (files.list, images.list, YAML,
the scan's sources), verify_table, the quirks loader's refusals, plain(), the platform the binary
modules dispatch on, and the host classes' helpers.

    tests/lib/ansible-lane.sh run 2.18 /usr/bin/python3 -m unittest discover -s tests/unit -v   (make test-unit)

The collection is imported from this checkout (test_plugin_utils installs the collection finder).
"""
import os
import shutil
import sys
import tempfile
import types
import unittest
import warnings

import yaml

# ansible.plugins.loader installs its own collection finder on import and warns that one is there
warnings.filterwarnings('ignore', 'AnsibleCollectionFinder has already been configured')
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_plugin_utils as base  # noqa: E402  (installs the collection finder, as ansible-test does)

from ansible.errors import AnsibleError  # noqa: E402
from ansible.parsing.dataloader import DataLoader  # noqa: E402
from ansible_collections.airgap.kubespray.plugins.action.kubespray_classes import ActionModule as Classes, _some  # noqa: E402
from ansible_collections.airgap.kubespray.plugins.action.kubespray_packages import ActionModule as Packages  # noqa: E402
from ansible_collections.airgap.kubespray.plugins.filter import manifest as manifest_filters  # noqa: E402
from ansible_collections.airgap.kubespray.plugins.filter.verify_table import FilterModule as VerifyFilters, verify_table  # noqa: E402
from ansible_collections.airgap.kubespray.plugins.plugin_utils import binary_module  # noqa: E402
from ansible_collections.airgap.kubespray.plugins.plugin_utils import manifest as m  # noqa: E402
from ansible_collections.airgap.kubespray.plugins.plugin_utils.plain import inert, plain  # noqa: E402
from ansible_collections.airgap.kubespray.plugins.plugin_utils.quirks import QuirkError, load_quirks  # noqa: E402

evaluation, FILE = base.evaluation, base.FILE
IMAGE = {'name': 'pause', 'source': 'registry.k8s.io/pause:3.10', 'repo': 'registry.k8s.io/pause', 'tag': '3.10',
         'target': 'pause', 'arch': 'amd64', 'groups': ['k8s_cluster'], 'enabled': True, 'origin': 'downloads'}


class ManifestMergeConflictTest(unittest.TestCase):
    """manifest_merge refuses what hosts disagree on, naming the item and both values."""

    def test_checksum_conflict_names_the_url_and_both_checksums(self):
        with self.assertRaises(AnsibleError) as e:
            m.manifest_merge([evaluation('a', files=[FILE]), evaluation('b', files=[dict(FILE, checksum='sha256:bb')])])
        self.assertEqual(str(e.exception), 'https://dl.k8s.io/kubelet: hosts disagree on its checksum (sha256:aa vs sha256:bb)')

    def test_digest_conflict_names_the_image_and_both_digests(self):
        a, b = dict(IMAGE, digest='sha256:' + '1' * 64), dict(IMAGE, digest='sha256:' + '2' * 64)
        with self.assertRaises(AnsibleError) as e:
            m.manifest_merge([evaluation('a', images=[a]), evaluation('b', images=[b])])
        self.assertEqual(str(e.exception), 'registry.k8s.io/pause:3.10: hosts disagree on its digest (sha256:%s vs sha256:%s)'
                         % ('1' * 64, '2' * 64))

    def test_kube_version_conflict_names_every_host_of_each_class(self):
        with self.assertRaises(AnsibleError) as e:
            m.manifest_merge([evaluation('a'), evaluation('b', kube_version='1.34.0')],
                             classes=[{'representative': 'a', 'members': ['a', 'c']},
                                      {'representative': 'b', 'members': ['b', 'd', 'e']}])
        self.assertEqual(str(e.exception), 'hosts disagree on kube_version: 1.34.0 on b, d, e, 1.35.4 on a, c')

    def test_failed_or_empty_evaluation_is_refused(self):
        with self.assertRaises(AnsibleError) as e:
            m.manifest_merge([evaluation('a'), {'failed': True, 'msg': 'pkgs is undefined'}])
        self.assertEqual(str(e.exception), 'an evaluation failed: pkgs is undefined')
        with self.assertRaises(AnsibleError) as e:
            m.manifest_merge([evaluation('a'), {}])
        self.assertEqual(str(e.exception), 'an evaluation failed: None')

    def test_no_conflict_where_one_side_does_not_know(self):
        """An empty checksum or absent digest is not a disagreement: the known value is kept."""
        no_sum = dict(FILE, checksum='', arch='arm64', groups=['etcd'], enabled=False)
        out = m.manifest_merge([evaluation('a', files=[no_sum], images=[IMAGE]),
                                evaluation('b', files=[FILE], images=[dict(IMAGE, digest='sha256:' + '3' * 64)])])
        self.assertEqual(out['files'], [{'name': 'kubelet', 'url': FILE['url'], 'checksum': 'sha256:aa', 'path': FILE['path'],
                                         'arches': ['amd64', 'arm64'], 'groups': ['etcd', 'k8s_cluster'], 'enabled': True,
                                         'origin': 'downloads', 'views': ['kubespray-unknown-k8s-1.35.4']}])
        self.assertEqual(out['images'][0]['digest'], 'sha256:' + '3' * 64)

    def test_same_item_from_two_origins_keeps_the_more_authoritative(self):
        out = m.manifest_merge([evaluation('a', files=[dict(FILE, origin='quirk', quirk='q1')]),
                                evaluation('b', files=[FILE])])
        self.assertEqual((out['files'][0]['origin'], out['files'][0]['quirk']), ('downloads', 'q1'))

    def test_quirks_offline_vars_and_missing_settings_are_merged(self):
        q1 = {'id': 'cilium', 'summary': 's', 'offline_vars': {'cilium_extra_values': {'image': {'useDigest': False}}}}
        q2 = {'id': 'operator', 'offline_vars': {'cilium_extra_values': {'operator': {'image': {'useDigest': False}}}}}
        miss = {'var': 'cilium_extra_values', 'quirk': 'cilium', 'missing': ['cilium_extra_values.image.useDigest']}
        mirror = {'name': 'registry', 'source': 'docker.io/library/registry:2'}
        out = m.manifest_merge([evaluation('a', quirks=[q1], offline_vars_missing=[miss], mirror_images=[mirror]),
                                evaluation('b', quirks=[q2, dict(q1, summary='other')], offline_vars_missing=[miss])],
                               classes=[{'representative': 'b', 'members': ['b', 'c']}], arches=['amd64', 'arm64'])
        self.assertEqual(out['quirks'], [{'id': 'cilium', 'summary': 's'}, {'id': 'operator'}])
        self.assertEqual(out['offline_vars'], {'cilium_extra_values': {'image': {'useDigest': False},
                                                                       'operator': {'image': {'useDigest': False}}}})
        self.assertEqual(out['offline_vars_missing'], [dict(miss, hosts=['a', 'b', 'c'])])
        self.assertEqual(out['mirror_images'], [dict(mirror, arches=['amd64', 'arm64'], views=['kubespray-unknown-k8s-1.35.4'])])
        self.assertEqual((out['hosts'], out['kube_version'], out['scope'], out['version']), (['a', 'b', 'c'], '1.35.4', 'enabled', 1))
        self.assertNotIn('offline_vars_missing', m.manifest_merge([evaluation('a')]))

    def test_scanned_digest_conflict_is_named(self):
        manifest = m.manifest_merge([evaluation('a', images=[dict(IMAGE, digest='sha256:' + '1' * 64)])], arches=['amd64'])
        found = {'name': 'pause', 'source': IMAGE['source'], 'repo': IMAGE['repo'], 'tag': '3.10', 'digest': 'sha256:' + '2' * 64,
                 'target': 'pause', 'kind': 'chart', 'found_in': []}
        with self.assertRaises(AnsibleError) as e:
            m.manifest_add_scanned(manifest, {'images': [found]})
        self.assertIn('registry.k8s.io/pause:3.10: hosts disagree on its digest', str(e.exception))


class ManifestProjectionTest(unittest.TestCase):
    def setUp(self):
        helm = dict(FILE, name='helm', url='https://get.helm.sh/helm.tgz', path='get.helm.sh/helm.tgz', arches=['amd64', 'arm64'])
        chart = dict(FILE, name='cilium_helm_chart', url='https://h/cilium.tgz', path='h/cilium.tgz',
                     scan={'kind': 'chart', 'values': {'a': 1}})
        other = dict(IMAGE, source='quay.io/x:1', name='x', repo='quay.io/x', tag='1')
        self.manifest = m.manifest_merge([evaluation('a', files=[FILE, helm, chart], images=[IMAGE, other])], arches=['amd64'])

    def test_lists(self):
        self.assertEqual(m.manifest_files_list(self.manifest),
                         'https://dl.k8s.io/kubelet\nhttps://get.helm.sh/helm.tgz\nhttps://h/cilium.tgz\n')
        self.assertEqual(m.manifest_images_list(self.manifest), 'quay.io/x:1\nregistry.k8s.io/pause:3.10\n')
        self.assertEqual(m.manifest_files_list({'files': []}), '')

    def test_yaml_round_trips_with_its_header(self):
        text = m.manifest_yaml(self.manifest)
        self.assertTrue(text.startswith('# Generated by airgap.kubespray.manifest from Kubespray\'s evaluated variables; do not edit.\n'
                                        '# Schema: docs/manifest.md (version 1).\n'))
        self.assertEqual(m.manifest_load(text), plain(self.manifest))
        self.assertEqual(list(yaml.safe_load(text))[:4], ['version', 'generator', 'kube_version', 'arches'])

    def test_scan_sources_and_helm_for_the_arch(self):
        out = m.manifest_scan(self.manifest, arch='arm64')
        self.assertEqual(out, {'sources': [{'name': 'cilium_helm_chart', 'path': 'h/cilium.tgz', 'kind': 'chart', 'values': {'a': 1}}],
                               'helm': 'get.helm.sh/helm.tgz', 'kube_version': '1.35.4'})
        manifest = m.manifest_merge([evaluation('a', files=[dict(FILE, name='helm', path='h', url='https://h/h', arch='arm64')])])
        self.assertEqual(m.manifest_scan(manifest, arch='amd64')['helm'], '', 'no helm release for the controller')

    def test_pull_takes_digests_and_the_mirrors_own_images(self):
        manifest = m.manifest_merge([evaluation('a', images=[dict(IMAGE, digest='sha256:' + '4' * 64)],
                                                mirror_images=[{'name': 'registry', 'source': 'docker.io/library/registry:2'}])])
        self.assertEqual(m.manifest_items(manifest, 'pull'), [{'source': IMAGE['source'], 'digest': 'sha256:' + '4' * 64},
                                                              {'source': 'docker.io/library/registry:2'}])

    def test_pull_lists_an_image_once(self):
        # the mirror's nginx is also Kubespray's nginx-proxy: pulled once, not raced twice
        manifest = m.manifest_merge([evaluation('a', images=[IMAGE], mirror_images=[{'name': 'nginx', 'source': IMAGE['source']}])])
        self.assertEqual(m.manifest_items(manifest, 'pull'), [{'source': IMAGE['source']}])

    def test_filters_are_registered_under_their_names(self):
        filters = manifest_filters.FilterModule().filters()
        self.assertEqual(sorted(filters), ['manifest_files_list', 'manifest_images_list', 'manifest_items', 'manifest_offline_vars',
                                           'manifest_scan', 'manifest_upstream_registries', 'manifest_yaml'])
        for name, fn in filters.items():
            self.assertIs(fn, getattr(m, name))
        self.assertEqual(VerifyFilters().filters(), {'verify_table': verify_table})


class VerifyTableTest(unittest.TestCase):
    def test_missing_first_aligned_with_detail(self):
        items = [{'kind': 'file', 'name': 'kubelet', 'ok': True, 'where': 'http://m/kubelet'},
                 {'kind': 'image', 'name': 'pause', 'ok': False, 'where': 'r:5000/pause:3.10', 'detail': 'manifest unknown'},
                 {'kind': 'file', 'name': 'crictl', 'ok': False, 'where': 'http://m/crictl'}]
        self.assertEqual(verify_table(items), [
            'KIND   NAME     STATUS   WHERE',
            'file   crictl   MISSING  http://m/crictl',
            'image  pause    MISSING  r:5000/pause:3.10 (manifest unknown)',
            'file   kubelet  ok       http://m/kubelet'])

    def test_ok_item_detail_not_shown_and_empty(self):
        self.assertEqual(verify_table([{'kind': 'file', 'name': 'a', 'ok': True, 'where': 'w', 'detail': 'cached'}])[1],
                         'file  a     ok      w')
        self.assertEqual(verify_table(None), ['KIND  NAME  STATUS  WHERE'])


class QuirksLoaderTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix='airgap-unit-quirks.')
        self.addCleanup(shutil.rmtree, self.dir)

    def load(self, *texts):
        paths = []
        for n, text in enumerate(texts):
            paths.append(os.path.join(self.dir, 'q%d.yml' % n))
            with open(paths[-1], 'w') as f:
                f.write(text)
        return load_quirks(DataLoader(), paths), paths

    def test_later_file_replaces_a_quirk_by_id(self):
        quirks, dummy = self.load('- {id: a, summary: shipped}\n- {id: b}\n', '', '- {id: a, summary: mine}\n')
        self.assertEqual([(q['id'], q.get('summary')) for q in quirks], [('b', None), ('a', 'mine')])

    def test_refusals_name_the_file_and_quirk(self):
        cases = [('{id: a}\n', 'want a list of quirks'),
                 ('- {summary: no id}\n', 'entry 1: each quirk is a mapping with an id'),
                 ('- {id: a, colour: red}\n', '(a): unknown fields colour'),
                 ('- {id: a, files: [{name: x}]}\n', '(a): every item of files needs name, url'),
                 ('- {id: a, images: [{name: x, repo: r}]}\n', '(a): every item of images needs name, repo, tag'),
                 ('- {id: a, scan: [{download: x, kind: tarball}]}\n', "(a): scan kind 'tarball': want one of chart, manifest"),
                 ('- {id: a, files: [{name: x, url: u, scan: zip}]}\n', "(a): scan kind 'zip'")]
        for text, want in cases:
            with self.subTest(text=text):
                with self.assertRaises(QuirkError) as e:
                    self.load(text)
                self.assertIn(want, str(e.exception))
                self.assertIn(os.path.join(self.dir, 'q0.yml'), str(e.exception))


class PlainTest(unittest.TestCase):
    def test_subclasses_become_builtins(self):
        class S(str):
            pass

        class D(dict):
            pass
        out = plain(D({S('k'): (S('v'), 1, 2.5, True, None, frozenset([3]))}))
        self.assertEqual(out, {'k': ['v', 1, 2.5, True, None, [3]]})
        self.assertIs(type(out), dict)
        self.assertIs(type(list(out)[0]), str)
        self.assertIs(type(out['k'][0]), str)
        self.assertIs(out['k'][3], True)
        self.assertEqual(inert({'x': '{{ y }}'}), {'x': '{{ y }}'})


def _action(cls, task=None, **attrs):
    """An action plugin object for calling its pure helpers (no connection, no play)."""
    obj = cls.__new__(cls)
    obj._task = task or types.SimpleNamespace(delegate_to=None)
    for k, v in attrs.items():
        setattr(obj, k, v)
    return obj


class BinaryModulePlatformTest(unittest.TestCase):
    def setUp(self):
        binary_module._UNAME_CACHE.clear()
        self.addCleanup(binary_module._UNAME_CACHE.clear)

    def test_from_facts_of_the_host_or_the_delegate(self):
        action = _action(binary_module.BinaryModuleAction)
        facts = {'inventory_hostname': 'n1', 'ansible_facts': {'system': 'Linux', 'architecture': 'aarch64'},
                 'hostvars': {'prep': {'ansible_facts': {'system': 'Linux', 'architecture': 'x86_64'}}}}
        self.assertEqual(action._target_platform(facts), ('Linux', 'aarch64', None))
        delegated = _action(binary_module.BinaryModuleAction, types.SimpleNamespace(delegate_to='prep'))
        self.assertEqual(delegated._target_platform(facts), ('Linux', 'x86_64', None))
        self.assertEqual(binary_module._UNAME_CACHE, {'n1': ('Linux', 'aarch64'), 'prep': ('Linux', 'x86_64')})
        # cached per host name: later facts are not read again
        self.assertEqual(action._target_platform(dict(facts, ansible_facts={})), ('Linux', 'aarch64', None))

    def test_delegate_without_hostvars_has_no_facts(self):
        self.assertEqual(binary_module.BinaryModuleAction._delegate_facts({}, 'localhost'), {})
        self.assertEqual(binary_module.BinaryModuleAction._delegate_facts({'hostvars': {}}, 'x'), {})

    def test_supported_platforms_map_to_binaries(self):
        self.assertEqual(binary_module.SUPPORTED, ('linux/amd64', 'linux/arm64'))
        self.assertEqual({binary_module._ARCH[a] for a in ('x86_64', 'amd64')}, {'amd64'})
        self.assertEqual({binary_module._ARCH[a] for a in ('aarch64', 'arm64')}, {'arm64'})
        self.assertNotIn('armv7l', binary_module._ARCH)


class ActionHelpersTest(unittest.TestCase):
    def test_classes_key_tells_hosts_apart_only_by_what_is_read(self):
        reads = types.SimpleNamespace(names={'container_manager'}, facts={'distribution'})
        platform = {'arches': ['amd64'], 'target': 'debian-12', 'source': 'declared'}
        key = Classes._key(('k8s_cluster',), {'container_manager': 'containerd', 'ip': '10.0.0.1'}, reads, platform)
        self.assertEqual(key, Classes._key(('k8s_cluster',), {'container_manager': 'containerd', 'ip': '10.0.0.2'}, reads, platform))
        self.assertNotEqual(key, Classes._key(('k8s_cluster',), {'container_manager': 'crio'}, reads, platform))
        self.assertNotEqual(key, Classes._key(('etcd',), {'container_manager': 'containerd'}, reads, platform))
        self.assertNotEqual(key, Classes._key(('k8s_cluster',), {'container_manager': 'containerd'}, reads, dict(platform, arches=['arm64'])))
        with_fact = Classes._key(('k8s_cluster',), {'container_manager': 'containerd', 'ansible_facts': {'distribution': 'Debian'}},
                                 reads, platform)
        self.assertNotEqual(key, with_fact, 'a fact the evaluation reads tells hosts apart')
        self.assertEqual(with_fact, Classes._key(('k8s_cluster',), {'container_manager': 'containerd',
                                                                    'ansible_facts': {'distribution': 'Debian', 'memtotal_mb': 1}},
                                                 reads, platform))

    def test_some_hosts(self):
        self.assertEqual(_some(['a', 'b']), 'a, b')
        self.assertEqual(_some(['h%d' % n for n in range(8)]), 'h0, h1, h2, h3, h4 and 3 more hosts')

    def test_packages_condition_as_its_expression_and_truth(self):
        self.assertEqual(Packages._expression("{{ ansible_os_family == 'Debian' }}"), "ansible_os_family == 'Debian'")
        self.assertEqual(Packages._expression('  plain text '), 'plain text')
        self.assertEqual(Packages._expression(True), 'True')
        for value, want in ((True, True), (None, False), ('', False), (' yes ', True), ('False', False), (0, False), ([1], True)):
            with self.subTest(value=value):
                self.assertIs(Packages._truth(value), want)


if __name__ == '__main__':
    unittest.main()

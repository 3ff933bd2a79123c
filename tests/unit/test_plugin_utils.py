"""Unit tests of the controller-side Python: what host classes compare (references), platforms,
quirk version ranges and offline settings, and the manifest's merge and projections.

    tests/lib/ansible-lane.sh run 2.18 /usr/bin/python3 -m unittest discover -s tests/unit -v   (make test-unit)

The collection is imported from this checkout (a temporary ansible_collections/airgap/kubespray link).
"""
import os
import sys
import tempfile
import unittest

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
_ROOT = tempfile.mkdtemp(prefix='airgap-unit.')
os.makedirs(os.path.join(_ROOT, 'ansible_collections', 'airgap'))
os.symlink(REPO, os.path.join(_ROOT, 'ansible_collections', 'airgap', 'kubespray'))
sys.path.insert(0, _ROOT)
from ansible.utils.collection_loader._collection_finder import _AnsibleCollectionFinder  # noqa: E402

_AnsibleCollectionFinder(paths=[_ROOT])._install()  # as ansible-test's unit tests do

from ansible.errors import AnsibleError  # noqa: E402
from ansible_collections.airgap.kubespray.plugins.plugin_utils import manifest as m  # noqa: E402
from ansible_collections.airgap.kubespray.plugins.plugin_utils import platform as p  # noqa: E402
from ansible_collections.airgap.kubespray.plugins.plugin_utils.evaluation import _missing, _version_in  # noqa: E402
from ansible_collections.airgap.kubespray.plugins.plugin_utils.references import EVERYTHING, References  # noqa: E402


class ReferencesTest(unittest.TestCase):
    def test_names_followed_through_definitions(self):
        refs = References()
        seeds = refs.of_value(['{{ downloads }}'])
        defaults = {'downloads': {'crictl': {'url': '{{ crictl_url }}', 'enabled': '{{ cm == "containerd" }}'}},
                    'crictl_url': "{{ github_url }}/cri-tools/{{ ansible_facts['system'] | lower }}-{{ image_arch }}",
                    'image_arch': '{{ host_architecture | default("amd64") }}', 'unrelated': '{{ ip }}'}
        host = {'cm': '{{ my_runtime }}', 'ip': '10.0.0.1'}
        reads = refs.closure(seeds, host, defaults)
        self.assertTrue({'downloads', 'crictl_url', 'github_url', 'image_arch', 'host_architecture', 'cm',
                         'my_runtime'} <= reads.names)
        self.assertNotIn('ip', reads.names, 'a variable no followed template names is not read')
        self.assertEqual(reads.facts, {'system'}, "ansible_facts['system'] reads one fact")

    def test_any_other_use_of_facts_or_vars_reads_everything(self):
        refs = References()
        self.assertIn(EVERYTHING, refs.of_template('{{ ansible_facts | length }}').facts)
        self.assertIn(EVERYTHING, refs.of_template("{{ vars['x' ~ y] }}").names)
        self.assertEqual(refs.of_template('{{ ansible_facts.architecture }}').facts, {'architecture'})

    def test_lookup_vars_with_a_computed_name(self):
        refs = References()
        seeds = refs.of_value("{{ lookup('vars', 'gateway_api_' + channel + '_crds_checksums') }}")
        reads = refs.closure(seeds, {'gateway_api_standard_crds_checksums': {}, 'gateway_api_other': 1, 'channel': 'x'})
        self.assertIn('gateway_api_standard_crds_checksums', reads.names)
        self.assertNotIn('gateway_api_other', reads.names)

    def test_unparsable_template_reads_everything(self):
        self.assertIn(EVERYTHING, References().of_template('{{ broken ').names)


class PlatformTest(unittest.TestCase):
    def test_declared_cached_and_default(self):
        declared = p.host_platform('n1', {'airgap_os_target': 'rocky-9', 'host_architecture': 'arm64'}, ['amd64'])
        self.assertEqual((declared['arches'], declared['target'], declared['source']), (['arm64'], 'rocky-9', 'declared'))
        cached = p.host_platform('n2', {'ansible_facts': {'distribution': 'Ubuntu', 'architecture': 'aarch64'}}, ['amd64'])
        self.assertEqual((cached['arches'], cached['target'], cached['source']), (['arm64'], None, 'facts'))
        default = p.host_platform('n3', {}, ['amd64', 'arm64'])
        self.assertEqual((default['arches'], default['target'], default['source']), (['amd64', 'arm64'], p.DEFAULT_TARGET, 'default'))
        self.assertIn('n3', default['warning'])

    def test_facts_both_ways(self):
        v = p.fact_variables(p.facts_for('arm64', 'debian-12'))
        self.assertEqual(v['ansible_facts']['architecture'], 'aarch64')
        self.assertEqual((v['ansible_architecture'], v['ansible_system'], v['ansible_os_family']), ('aarch64', 'Linux', 'Debian'))
        self.assertEqual((v['ansible_distribution_release'], v['ansible_pkg_mgr']), ('bookworm', 'apt'))

    def test_unknown_target(self):
        with self.assertRaises(p.TargetError) as e:
            p.parse_target('windows-11')
        self.assertIn('ubuntu-24.04', str(e.exception))


class QuirkHelpersTest(unittest.TestCase):
    def test_version_ranges(self):
        self.assertTrue(_version_in('v2.31.0', '>=2.28.0,<2.32.0'))
        self.assertFalse(_version_in('2.32.0', '>=2.28.0,<2.32.0'))
        self.assertTrue(_version_in(None, '>=2.28.0'), 'unknown version: the condition decides')
        with self.assertRaises(AnsibleError):
            _version_in('2.31.0', 'about 2.31')

    def test_missing_offline_settings(self):
        want = {'image': {'useDigest': False}, 'operator': {'image': {'override': 'r/op', 'useDigest': False}}}
        have = {'image': {'useDigest': 'false'}, 'operator': {'image': {'override': 'r/other'}}, 'extra': 1}
        self.assertEqual(_missing(want, have, 'v'), ['v.operator.image.override', 'v.operator.image.useDigest'])
        self.assertEqual(_missing(want, None, 'v'), ['v.image.useDigest', 'v.operator.image.override',
                                                     'v.operator.image.useDigest'])


def evaluation(host, **kw):
    base = {'host': host, 'kube_version': '1.35.4', 'files': [], 'images': [], 'mirror_images': [], 'quirks': []}
    base.update(kw)
    return base


FILE = {'name': 'kubelet', 'url': 'https://dl.k8s.io/kubelet', 'checksum': 'sha256:aa', 'path': 'dl.k8s.io/kubelet',
        'arch': 'amd64', 'groups': ['k8s_cluster'], 'enabled': True, 'origin': 'downloads'}


class ManifestTest(unittest.TestCase):
    def test_classes_stand_for_their_members(self):
        out = m.manifest_merge([evaluation('node1', files=[FILE]), evaluation('node4', files=[FILE])],
                               classes=[{'representative': 'node1', 'members': ['node1']},
                                        {'representative': 'node4', 'members': ['node4', 'node5', 'node6']}],
                               arches=['amd64'])
        self.assertEqual(out['hosts'], ['node1', 'node4', 'node5', 'node6'])
        self.assertEqual(len(out['files']), 1)

    def test_conflicts_are_named(self):
        other = dict(FILE, checksum='sha256:bb')
        with self.assertRaises(AnsibleError) as e:
            m.manifest_merge([evaluation('a', files=[FILE]), evaluation('b', files=[other])])
        self.assertIn('https://dl.k8s.io/kubelet', str(e.exception))
        with self.assertRaises(AnsibleError) as e:
            m.manifest_merge([evaluation('a'), evaluation('b', kube_version='1.34.0')])
        self.assertIn('kube_version', str(e.exception))

    def test_origin_keeps_the_most_authoritative(self):
        img = {'name': 'x', 'source': 'quay.io/a/b:1', 'repo': 'quay.io/a/b', 'tag': '1', 'target': 'a/b', 'arch': 'amd64',
               'groups': ['k8s_cluster'], 'enabled': True, 'origin': 'downloads'}
        manifest = m.manifest_merge([evaluation('a', images=[img])], arches=['amd64'])
        scanned = {'images': [dict(img, kind='chart', found_in=['chart'], name='b'),
                              {'name': 'redis', 'source': 'public.ecr.aws/docker/library/redis:7', 'repo': 'public.ecr.aws/docker/library/redis',
                               'tag': '7', 'target': 'public.ecr.aws/docker/library/redis', 'kind': 'manifest', 'found_in': ['argocd']}]}
        out = m.manifest_add_scanned(manifest, scanned, registry='reg:5000')
        by = {i['source']: i for i in out['images']}
        self.assertEqual(by['quay.io/a/b:1']['origin'], 'downloads')
        redis = by['public.ecr.aws/docker/library/redis:7']
        self.assertEqual((redis['origin'], redis['via']), ('manifest', 'reg:5000/public.ecr.aws/docker/library/redis:7'))
        checked = {i['name']: i['source'] for i in m.manifest_items(out, 'verify')['images']}
        self.assertEqual(checked, {'x': 'quay.io/a/b:1', 'redis': 'reg:5000/public.ecr.aws/docker/library/redis:7'})
        self.assertEqual(m.manifest_upstream_registries(out), [{'registry': 'public.ecr.aws', 'path': 'public.ecr.aws'}])

    def test_scanned_image_already_on_the_registry_is_not_checked_twice(self):
        ours = {'name': 'cilium', 'source': 'reg:5000/cilium/cilium:v1', 'repo': 'reg:5000/cilium/cilium', 'tag': 'v1',
                'target': 'cilium/cilium', 'arch': 'amd64', 'groups': ['k8s_cluster'], 'enabled': True, 'origin': 'downloads'}
        manifest = m.manifest_merge([evaluation('a', images=[ours])], arches=['amd64'])
        chart = {'name': 'cilium', 'source': 'quay.io/cilium/cilium:v1', 'repo': 'quay.io/cilium/cilium', 'tag': 'v1',
                 'target': 'cilium/cilium', 'kind': 'chart', 'found_in': ['cilium_helm_chart']}
        out = m.manifest_add_scanned(manifest, {'images': [chart]}, registry='reg:5000')
        self.assertEqual([i['source'] for i in out['images']], ['reg:5000/cilium/cilium:v1'])

    def test_offline_vars_merge_over_the_inventorys(self):
        want = {'cilium_extra_values': {'image': {'useDigest': False}}, 'flags': '--x'}
        out = m.manifest_offline_vars(want, {'cilium_extra_values': {'image': {'useDigest': True, 'pullPolicy': 'Never'}},
                                             'flags': '--mine'})
        self.assertEqual(out, {'cilium_extra_values': {'image': {'useDigest': False, 'pullPolicy': 'Never'}}, 'flags': '--x'})

    def test_load_refuses_another_schema(self):
        with self.assertRaises(AnsibleError):
            m.manifest_load('version: 2\nfiles: []\nimages: []\n')
        with self.assertRaises(AnsibleError):
            m.manifest_load('- not a manifest\n')

    def test_projections_take_only_what_modules_accept(self):
        manifest = m.manifest_merge([evaluation('a', files=[FILE])])
        self.assertEqual(m.manifest_items(manifest, 'fetch'), [{'url': FILE['url'], 'checksum': 'sha256:aa', 'path': FILE['path']}])
        with self.assertRaises(AnsibleError):
            m.manifest_items(manifest, 'push')


if __name__ == '__main__':
    unittest.main()

"""Unit tests of several views in one manifest (docs/day-two.md, "Several views"): manifest_union
(items of two views, overlap, a conflict naming the item, a view of the same name replaced),
manifest_select and manifest_items(view=...), verify's projection of a recorded view onto the
mirror, and airgap.kubespray.manifest_fact's union and views options.

    tests/lib/ansible-lane.sh run 2.18 /usr/bin/python3 -m unittest discover -s tests/unit -v   (make test-unit)
"""
import os
import shutil
import sys
import tempfile
import types
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_plugin_utils as base  # noqa: E402  (imports the collection from this checkout)

from ansible.errors import AnsibleError  # noqa: E402
from ansible_collections.airgap.kubespray.plugins.action.manifest_fact import ActionModule as ManifestFact  # noqa: E402
from ansible_collections.airgap.kubespray.plugins.plugin_utils import manifest as m  # noqa: E402

evaluation = base.evaluation


def f(name, version, checksum=None, arch='amd64'):
    url = 'https://dl.k8s.io/%s/%s/%s' % (version, arch, name)
    return {'name': name, 'url': url, 'checksum': checksum or 'sha256:' + name + version, 'path': url[len('https://'):],
            'arch': arch, 'groups': ['k8s_cluster'], 'enabled': True, 'origin': 'downloads'}


def i(name, tag, digest=None):
    out = {'name': name, 'source': 'registry.k8s.io/%s:%s' % (name, tag), 'repo': 'registry.k8s.io/' + name, 'tag': tag,
           'target': name, 'arch': 'amd64', 'groups': ['k8s_cluster'], 'enabled': True, 'origin': 'downloads'}
    if digest:
        out['digest'] = digest
    return out


def view(name, kube, files, images, kubespray='2.31.0', quirks=(), offline_vars=None):
    return m.manifest_merge([evaluation('node1', kube_version=kube, files=files, images=images,
                                        mirror_images=[{'name': 'registry', 'source': 'docker.io/library/registry:2.8.1'}],
                                        quirks=[dict(q, offline_vars=offline_vars or {}) for q in quirks])],
                            arches=['amd64'], view=name, kubespray_version=kubespray)


OLD = view('old', '1.34.3', [f('kubelet', '1.34.3'), f('runc', '1.3.0')], [i('pause', '3.10'), i('coredns', '1.12.0')],
           kubespray='2.30.0', quirks=[{'id': 'q-old'}], offline_vars={'a': {'x': 1}})
NEW = view('new', '1.35.4', [f('kubelet', '1.35.4'), f('runc', '1.3.0')], [i('pause', '3.10'), i('coredns', '1.12.1')],
           quirks=[{'id': 'q-new'}], offline_vars={'a': {'y': 2}})


def keys(manifest):
    """A manifest's item sets: files by (path, url, checksum), images by (source, digest)."""
    return ({(x['path'], x['url'], x['checksum']) for x in manifest['files']},
            {(x['source'], x.get('digest')) for x in manifest['images']})


class UnionTest(unittest.TestCase):
    def test_one_view_is_named_and_tags_every_item(self):
        self.assertEqual(OLD['views'], [{'name': 'old', 'kubespray_version': '2.30.0', 'kube_version': '1.34.3',
                                         'arches': ['amd64'], 'scope': 'enabled', 'hosts': ['node1']}])
        self.assertEqual({v for x in OLD['files'] + OLD['images'] + OLD['mirror_images'] for v in x['views']}, {'old'})
        default = m.manifest_merge([evaluation('node1')], kubespray_version='2.31.0')
        self.assertEqual(default['views'][0]['name'], 'kubespray-2.31.0-k8s-1.35.4')
        self.assertEqual(m.manifest_view_name('2.31.0', 'v1.35.4+rc/1'), 'kubespray-2.31.0-k8s-v1.35.4-rc-1')

    def test_union_of_one_manifest_is_itself(self):
        self.assertEqual(m.manifest_union([NEW]), NEW)

    def test_two_views_side_by_side(self):
        u = m.manifest_union([OLD, NEW])
        self.assertEqual([v['name'] for v in u['views']], ['new', 'old'], 'by name')
        self.assertEqual((u['kube_version'], u['arches'], u['hosts']), ('1.35.4', ['amd64'], ['node1']))
        by = dict((x['path'], x['views']) for x in u['files'])
        self.assertEqual(by, {'dl.k8s.io/1.34.3/amd64/kubelet': ['old'], 'dl.k8s.io/1.35.4/amd64/kubelet': ['new'],
                              'dl.k8s.io/1.3.0/amd64/runc': ['new', 'old']})
        self.assertEqual(dict((x['source'], x['views']) for x in u['images']),
                         {'registry.k8s.io/pause:3.10': ['new', 'old'], 'registry.k8s.io/coredns:1.12.0': ['old'],
                          'registry.k8s.io/coredns:1.12.1': ['new']})
        self.assertEqual(u['mirror_images'][0]['views'], ['new', 'old'])
        self.assertEqual([q['id'] for q in u['quirks']], ['q-new', 'q-old'])
        self.assertEqual(u['offline_vars'], {'a': {'x': 1, 'y': 2}})
        # each view's items are its own run's, whichever order the union was made in
        for order in ([OLD, NEW], [NEW, OLD]):
            u = m.manifest_union(order)
            self.assertEqual(keys(m.manifest_select(u, 'old')), keys(OLD))
            self.assertEqual(keys(m.manifest_select(u, 'new')), keys(NEW))
        self.assertEqual(m.manifest_files_list(u).count('\n'), 3)
        self.assertEqual(m.manifest_images_list(u).count('\n'), 3)

    def test_same_name_replaces_the_view(self):
        again = view('old', '1.34.4', [f('kubelet', '1.34.4')], [i('pause', '3.10')], kubespray='2.30.1')
        u = m.manifest_union([OLD, NEW, again])
        self.assertEqual([(v['name'], v['kube_version']) for v in u['views']], [('new', '1.35.4'), ('old', '1.34.4')])
        self.assertEqual(keys(m.manifest_select(u, 'old')), keys(again))
        self.assertNotIn('dl.k8s.io/1.34.3/amd64/kubelet', [x['path'] for x in u['files']])
        self.assertNotIn('q-old', [q['id'] for q in u['quirks']], 'the replaced view\'s manifest gives nothing more')
        self.assertEqual(u['offline_vars'], {'a': {'y': 2}})

    def test_conflicting_checksum_or_digest_names_the_item_and_views(self):
        bad = view('bad', '1.35.4', [f('runc', '1.3.0', checksum='sha256:other')], [])
        with self.assertRaises(AnsibleError) as e:
            m.manifest_union([OLD, bad])
        self.assertEqual(str(e.exception), 'file dl.k8s.io/1.3.0/amd64/runc (runc): views bad and old disagree on its checksum '
                                           '(sha256:other vs sha256:runc1.3.0)')
        pinned = view('pinned', '1.35.4', [], [i('pause', '3.10', digest='sha256:' + '1' * 64)])
        other = view('other', '1.35.4', [], [i('pause', '3.10', digest='sha256:' + '2' * 64)])
        with self.assertRaises(AnsibleError) as e:
            m.manifest_union([pinned, NEW, other])
        self.assertIn('image registry.k8s.io/pause:3.10 (pause): views new, other and pinned disagree on its digest', str(e.exception))
        # a view that pins no digest is no disagreement: the pinned digest is kept
        self.assertEqual(m.manifest_union([NEW, pinned])['images'][1]['digest'], 'sha256:' + '1' * 64)

    def test_views_keep_some_and_unknown_names_fail(self):
        u = m.manifest_union([OLD, NEW])
        old = m.manifest_select(u, ['old'])
        self.assertEqual(([v['name'] for v in old['views']], old['kube_version']), (['old'], '1.34.3'))
        self.assertEqual({v for x in old['files'] + old['images'] for v in x['views']}, {'old'})
        with self.assertRaises(AnsibleError) as e:
            m.manifest_select(u, 'nope')
        self.assertEqual(str(e.exception), 'unknown view nope: the manifest holds new, old')

    def test_manifest_without_views_is_one_view(self):
        legacy = dict((k, v) for k, v in NEW.items() if k != 'views')
        for kind in ('files', 'images', 'mirror_images'):
            legacy[kind] = [dict((k, v) for k, v in x.items() if k != 'views') for x in NEW[kind]]
        u = m.manifest_union([legacy, OLD])
        self.assertEqual([v['name'] for v in u['views']], ['kubespray-unknown-k8s-1.35.4', 'old'])
        self.assertEqual(dict((x['path'], x['views']) for x in u['files'])['dl.k8s.io/1.35.4/amd64/kubelet'],
                         ['kubespray-unknown-k8s-1.35.4'])

    def test_bad_view_name_is_refused(self):
        with self.assertRaises(AnsibleError) as e:
            view('../x', '1.35.4', [], [])
        self.assertIn("view name '../x'", str(e.exception))

    def test_scanned_images_belong_to_the_views_of_their_chart(self):
        chart = dict(f('cilium', '1.18.0'), scan={'kind': 'chart'})
        u = m.manifest_union([view('a', '1.35.4', [chart], []), view('b', '1.35.4', [], [])])
        found = {'name': 'cilium', 'source': 'quay.io/cilium/cilium:v1.18.0', 'repo': 'quay.io/cilium/cilium', 'tag': 'v1.18.0',
                 'target': 'cilium/cilium', 'kind': 'chart', 'found_in': ['cilium']}
        out = m.manifest_add_scanned(u, {'images': [found]})
        self.assertEqual(out['images'][0]['views'], ['a'])
        self.assertEqual(m.manifest_select(out, 'b')['images'], [])


class VerifyProjectionTest(unittest.TestCase):
    def test_a_recorded_view_is_checked_where_the_mirror_serves_it(self):
        u = m.manifest_union([OLD, NEW])
        out = m.manifest_items(u, 'verify', view='old', files_repo='http://10.0.0.1:8080/', image_repo='10.0.0.1:5000/ns')
        self.assertEqual(sorted(x['url'] for x in out['files']),
                         ['http://10.0.0.1:8080/dl.k8s.io/1.3.0/amd64/runc', 'http://10.0.0.1:8080/dl.k8s.io/1.34.3/amd64/kubelet'])
        self.assertEqual(sorted(x['source'] for x in out['images']), ['10.0.0.1:5000/ns/coredns:1.12.0', '10.0.0.1:5000/ns/pause:3.10'])
        self.assertEqual({x['checksum'] for x in out['files']}, {'sha256:kubelet1.34.3', 'sha256:runc1.3.0'})
        # without the mirror's addresses, the view's items as recorded
        self.assertEqual(len(m.manifest_items(u, 'fetch', view='new')), 2)
        by_digest = dict(i('etcd', '', digest='sha256:' + '3' * 64), tag='')
        self.assertEqual(m._on_mirror(by_digest, 'r:5000'), 'r:5000/etcd@sha256:' + '3' * 64)


class ManifestFactUnionTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, self.dir)
        self.paths = {}
        for name, manifest in (('old', OLD), ('new', NEW)):
            self.paths[name] = os.path.join(self.dir, name + '.yaml')
            with open(self.paths[name], 'w') as out:
                out.write(m.manifest_yaml(manifest))

    def run_action(self, **args):
        action = ManifestFact.__new__(ManifestFact)
        action._task = types.SimpleNamespace(args=dict(args, name='fact'), async_val=0, check_mode=False)
        action._connection = types.SimpleNamespace(_shell=types.SimpleNamespace(tmpdir='/nonexistent'))
        action._supports_async = False
        return action.run(task_vars={})

    def test_union_of_paths_later_winning(self):
        out = self.run_action(path=self.paths['old'], union=[self.paths['new']])
        self.assertFalse(out.get('failed'), out.get('msg'))
        self.assertEqual(out['ansible_facts']['fact'], m.manifest_union([OLD, NEW]))
        out = self.run_action(union=[self.paths['old'], self.paths['new']], views=['new'])
        self.assertEqual(keys(out['ansible_facts']['fact']), keys(NEW))
        replaced = view('old', '1.34.4', [], [], kubespray='2.30.1')
        out = self.run_action(manifest=replaced, union=[self.paths['old']])
        self.assertEqual(out['ansible_facts']['fact']['views'][0]['kube_version'], '1.34.3', 'the later manifest wins')

    def test_errors_are_results(self):
        out = self.run_action(path=self.paths['old'], views=['gone'])
        self.assertEqual((out['failed'], out['msg']), (True, 'unknown view gone: the manifest holds old'))
        out = self.run_action(union=[os.path.join(self.dir, 'missing.yaml')])
        self.assertTrue(out['failed'])
        self.assertIn('cannot read the manifest', out['msg'])
        self.assertTrue(self.run_action(union='a.yaml')['failed'])
        self.assertTrue(self.run_action()['failed'])


if __name__ == '__main__':
    unittest.main()

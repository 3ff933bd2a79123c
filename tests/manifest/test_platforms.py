"""The evaluation as Kubespray's own runs read it: facts, platforms, classes of hosts.

- Kubespray's master branch reads facts as ansible_facts['...'] (no injected ansible_* names);
  2.28-2.31 read the injected names. On every ansible-core lane, the manifest equals an independent
  evaluation: Ansible itself templating `downloads` for each host with real-looking facts from a
  fact cache (tests/manifest/independent.yml), no code of the collection involved.
- A host's platform comes from its declared airgap_os_target, or from cached facts; a host with
  neither gets a warning naming the default.
- Classes: one evaluation per class of hosts Kubespray's evaluation cannot tell apart; a host with
  one differing variable the evaluation reads gets its own; the manifest equals evaluating every host.

    python3 -m unittest tests/manifest/test_platforms.py -v
"""
import json
import os
import shutil
import subprocess
import sys
import unittest

import yaml

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_manifest as tm  # noqa: E402  (its helpers, and its collection install)
import results  # noqa: E402  (tests/lib, on the path test_manifest puts there)

setUpModule, tearDownModule = tm.module_hooks()

MASTER = [r for r in tm.RELEASES if os.path.basename(r).startswith('master-')]
LATEST = [r for r in tm.RELEASES if os.path.basename(r) == 'v2.31.0'] or tm.RELEASES[-1:]


def cached_facts(host, distribution='Ubuntu', version='24.04', release='noble', family='Debian', pkg_mgr='apt',
                 machine='x86_64'):
    """Facts as the setup module caches them (ansible_ prefix), for a real-looking node."""
    major = version.split('.')[0]
    ip = '192.0.2.%d' % (10 + int(host.lstrip('node') or 0))
    return {
        'ansible_architecture': machine, 'ansible_machine': machine, 'ansible_system': 'Linux',
        'ansible_kernel': '6.8.0-90-generic', 'ansible_os_family': family, 'ansible_distribution': distribution,
        'ansible_distribution_version': version, 'ansible_distribution_major_version': major,
        'ansible_distribution_release': release, 'ansible_pkg_mgr': pkg_mgr, 'ansible_service_mgr': 'systemd',
        'ansible_hostname': host, 'ansible_fqdn': host + '.cluster.example', 'ansible_nodename': host,
        'ansible_default_ipv4': {'address': ip, 'interface': 'eth0', 'gateway': '192.0.2.1', 'netmask': '255.255.255.0'},
        'ansible_all_ipv4_addresses': [ip], 'ansible_processor_vcpus': 4, 'ansible_memtotal_mb': 15990,
        'ansible_python': {'executable': '/usr/bin/python3', 'version': {'major': 3, 'minor': 12, 'micro': 3}},
        'ansible_uptime_seconds': 1000 + len(host) * 37, 'ansible_env': {'HOME': '/root', 'LANG': 'C.UTF-8'},
        'ansible_selinux': {'status': 'disabled'}, 'ansible_virtualization_type': 'kvm',
        'ansible_virtualization_role': 'guest', 'module_setup': True,
    }


def fact_cache(inv, hosts, **kw):
    """A jsonfile fact cache holding real-looking facts for hosts, written by Ansible itself (each
    ansible-core version has its own cache format); returns the environment that uses it."""
    path = os.path.join(os.path.dirname(inv), 'facts')
    shutil.rmtree(path, ignore_errors=True)
    os.makedirs(path)
    cache = {'ANSIBLE_CACHE_PLUGIN': 'jsonfile', 'ANSIBLE_CACHE_PLUGIN_CONNECTION': path,
             'ANSIBLE_CACHE_PLUGIN_TIMEOUT': '0'}
    facts = dict((h, cached_facts(h, **kw)) for h in hosts)
    p = subprocess.run(['ansible-playbook', '-i', os.path.join(inv, 'hosts.yaml'), '-c', 'local',
                        os.path.join(tm.REPO, 'tests', 'manifest', 'cache_facts.yml'), '-e', json.dumps({'facts': facts})],
                       env=env(**cache), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True)
    if p.returncode != 0 or not os.listdir(path):
        raise AssertionError('caching the facts failed:\n' + p.stdout[-3000:])
    return cache


def env(**more):
    return dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.path.join(tm.TMP, 'collections'),
                ANSIBLE_NOCOLOR='1',
                ANSIBLE_ROLES_PATH=os.path.join(tm.TMP, 'no-roles'), **more)


def run_json(args, cwd, **more):
    """ansible-playbook with the json callback: the structured results of every task."""
    p = subprocess.run(args, env=env(ANSIBLE_STDOUT_CALLBACK='json', **more), cwd=cwd, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, universal_newlines=True)
    try:
        return p, json.loads(p.stdout)
    except ValueError:
        raise AssertionError('%s: no JSON (%s):\n%s\n%s' % (args[:4], p.returncode, p.stdout[-3000:], p.stderr[-3000:]))


def task_results(out, name):
    """{host: result} of the task whose name contains `name`, in the last play that ran it."""
    found = {}
    for play in out['plays']:
        for task in play['tasks']:
            if name in task['task']['name']:
                found = task['hosts']
    return found


def independent(release, inv, cache_env):
    """Expected items per host from Ansible's own evaluation of `downloads` with cached facts:
    {(kind, name, url or repo:tag)} for the entries enabled for the host's groups."""
    out = os.path.join(os.path.dirname(inv), 'independent')
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(out)
    p = subprocess.run(['ansible-playbook', '-i', os.path.join(inv, 'hosts.yaml'),
                        os.path.join(tm.REPO, 'tests', 'manifest', 'independent.yml'),
                        '-e', 'kubespray_dir=%s' % release, '-e', 'out_dir=%s' % out],
                       env=env(**cache_env), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True)
    if p.returncode != 0:
        raise AssertionError('independent evaluation failed:\n' + p.stdout[-4000:])
    expected = set()
    for name in sorted(os.listdir(out)):
        with open(os.path.join(out, name)) as f:
            data = json.load(f)
        groups = set(data['group_names'])
        for key, d in data['downloads'].items():
            item_groups = d.get('groups') or []
            if not _truthy(d.get('enabled')) or (item_groups and not groups & set(item_groups)):
                continue
            if _truthy(d.get('file')):
                expected.add(('file', key, d['url']))
            if _truthy(d.get('container')):
                expected.add(('image', key, '%s:%s' % (d['repo'], d['tag'])))
    return expected


def _truthy(v):
    return v is True or str(v).strip().lower() in ('true', 'yes', '1', 'on')


def listed(manifest, origin='downloads'):
    out = {('file', f['name'], f['url']) for f in manifest['files'] if f['origin'] == origin and not f.get('purpose')}
    return out | {('image', i['name'], i['source']) for i in manifest['images'] if i['origin'] == origin}


class IndependentEvaluation(unittest.TestCase):
    """The manifest of Kubespray's master branch (and 2.31.0) equals Ansible's own evaluation with
    real-looking facts, whether the platform comes from the fact cache or is declared."""

    def test_equals_ansible_with_real_facts(self):
        releases = MASTER + LATEST
        self.assertTrue(MASTER, 'no master-* Kubespray under %s' % tm.SHARED)
        for release in releases:
            for plugin in ('calico', 'cilium'):
                with self.subTest(release=os.path.basename(release), plugin=plugin):
                    inv = tm.make_inventory(release, 'independent-' + plugin,
                                            [('k8s_cluster/k8s-cluster.yml', 'kube_network_plugin', plugin)])
                    cache = fact_cache(inv, ['node1', 'node2', 'node3'])
                    want = independent(release, inv, cache)
                    self.assertTrue(any(k == 'file' and n == 'crictl' for k, n, _ in want), 'crictl needs the system fact')

                    # From the same fact cache.
                    p, out = run_json(['ansible-playbook', '-i', os.path.join(inv, 'hosts.yaml'), 'airgap.kubespray.manifest',
                                       '-e', 'airgap_kubespray_dir=' + release, '-e', 'airgap_manifest_dir=' + inv + '/out-cache'],
                                      os.path.dirname(inv), **cache)
                    self.assertEqual(p.returncode, 0, p.stdout[-3000:])
                    grouping = task_results(out, 'Group the cluster hosts')['localhost']
                    self.assertEqual({c['source'] for c in grouping['classes']}, {'facts'})
                    with open(inv + '/out-cache/manifest.yaml') as f:
                        from_cache = yaml.safe_load(f)
                    replaced = {(k, n) for k, n, _ in listed(from_cache, 'quirk')}
                    self.assertEqual(listed(from_cache), {w for w in want if (w[0], w[1]) not in replaced})
                    # Declared, no cache: the same.
                    decl = tm.make_inventory(release, 'declared-' + plugin,
                                             [('k8s_cluster/k8s-cluster.yml', 'kube_network_plugin', plugin),
                                              ('all/all.yml', 'airgap_os_target', 'ubuntu-24.04')])
                    declared = tm.run_manifest(release, decl)[0]
                    self.assertEqual(listed(declared), listed(from_cache))
                    self.assertEqual(listed(declared, 'quirk'), listed(from_cache, 'quirk'))
                    if plugin == 'cilium':
                        operator = [i for i in declared['images'] if i['name'] == 'cilium_operator'][0]
                        self.assertTrue(operator['repo'].endswith('/cilium/operator-generic'), operator)


class Platforms(unittest.TestCase):
    release = LATEST[0] if LATEST else None

    def test_no_os_declared_warns_with_the_default(self):
        inv = tm.make_inventory(self.release, 'no-os')
        p, out = run_json(['ansible-playbook', '-i', os.path.join(inv, 'hosts.yaml'), 'airgap.kubespray.manifest',
                           '-e', 'airgap_kubespray_dir=' + self.release, '-e', 'airgap_manifest_dir=' + inv + '/out'],
                          os.path.dirname(inv))
        self.assertEqual(p.returncode, 0, p.stderr[-3000:])
        grouping = task_results(out, 'Group the cluster hosts')['localhost']
        self.assertEqual({(c['source'], c['target']) for c in grouping['classes']}, {('default', 'ubuntu-24.04')})
        self.assertEqual(len(grouping['warnings']), 1)
        self.assertIn('node1, node2, node3', grouping['warnings'][0])
        self.assertIn('ubuntu-24.04', grouping['warnings'][0])
        self.assertIn('airgap_os_target', grouping['warnings'][0])

    def test_declared_per_group_and_per_host(self):
        inv = tm.make_inventory(self.release, 'per-host-os', [('all/all.yml', 'airgap_os_target', 'debian-12')])
        os.makedirs(os.path.join(inv, 'host_vars'), exist_ok=True)
        with open(os.path.join(inv, 'host_vars', 'node3.yml'), 'w') as f:
            f.write('airgap_os_target: rocky-9\nhost_architecture: arm64\n')
        p, out = run_json(['ansible-playbook', '-i', os.path.join(inv, 'hosts.yaml'), 'airgap.kubespray.manifest',
                           '-e', 'airgap_kubespray_dir=' + self.release, '-e', 'airgap_manifest_dir=' + inv + '/out'],
                          os.path.dirname(inv))
        self.assertEqual(p.returncode, 0, p.stderr[-3000:])
        grouping = task_results(out, 'Group the cluster hosts')['localhost']
        by_host = {m: c for c in grouping['classes'] for m in c['members']}
        self.assertEqual((by_host['node2']['target'], by_host['node2']['arches']), ('debian-12', ['amd64']))
        self.assertEqual((by_host['node3']['target'], by_host['node3']['arches']), ('rocky-9', ['arm64']))
        self.assertNotIn('warnings', grouping)
        with open(inv + '/out/manifest.yaml') as f:
            m = yaml.safe_load(f)
        kubelet = {tuple(f['arches']) for f in m['files'] if f['name'] == 'kubelet'}
        self.assertEqual(kubelet, {('amd64',), ('arm64',)}, 'node3 (arm64) needs its own kubelet')

    def test_no_cluster_host_fails_clearly(self):
        inv = tm.make_inventory(self.release, 'empty')
        with open(os.path.join(inv, 'hosts.yaml'), 'w') as f:
            f.write('all:\n  hosts:\n    admin: {}\n')
        p = tm.run_manifest(self.release, inv, check=False)
        self.assertNotEqual(p.returncode, 0)
        msg = results.failure(p.results)
        self.assertIn('no cluster host matches', msg)
        self.assertIn('k8s_cluster', msg)
        self.assertFalse(os.path.exists(os.path.join(os.path.dirname(inv), 'out', 'manifest.yaml')))


def big_inventory(path, workers, host_vars=None):
    """A cluster of 3 control plane/etcd hosts and `workers` workers, every host with its own
    address (as real inventories have); host_vars: {host: {var: value}}."""
    hosts, cp, node = {}, {}, {}
    for i in range(1, 4 + workers):
        h = 'node%d' % i
        hosts[h] = dict({'ansible_host': '10.0.%d.%d' % (i // 250, i % 250), 'ip': '10.0.%d.%d' % (i // 250, i % 250)},
                        **(host_vars or {}).get(h, {}))
        (cp if i <= 3 else node)[h] = None
    data = {'all': {'hosts': hosts, 'children': {
        'kube_control_plane': {'hosts': cp}, 'etcd': {'hosts': dict(cp)}, 'kube_node': {'hosts': node},
        'k8s_cluster': {'children': {'kube_control_plane': None, 'kube_node': None}}}}}
    with open(path, 'w') as f:
        yaml.safe_dump(data, f)


class Classes(unittest.TestCase):
    release = LATEST[0] if LATEST else None

    def run_classes(self, inv, enabled=True):
        p, out = run_json(['ansible-playbook', '-i', os.path.join(inv, 'hosts.yaml'), 'airgap.kubespray.manifest',
                           '-e', 'airgap_kubespray_dir=' + self.release, '-e', 'airgap_manifest_dir=' + inv + '/out',
                           '-e', json.dumps({'airgap_manifest_classes_enabled': enabled})], os.path.dirname(inv))
        self.assertEqual(p.returncode, 0, p.stderr[-3000:])
        with open(inv + '/out/manifest.yaml') as f:
            return task_results(out, 'Group the cluster hosts')['localhost'], yaml.safe_load(f)

    def test_classes_are_exact(self):
        inv = tm.make_inventory(self.release, 'classes')
        # node7 runs cri-o (one variable the evaluation reads); node8 has only a different label
        # (a variable it does not read).
        big_inventory(os.path.join(inv, 'hosts.yaml'), 9, {
            'node7': {'container_manager': 'crio'},
            'node8': {'node_labels': {'tier': 'gpu'}},
        })
        grouping, manifest = self.run_classes(inv)
        members = {c['representative']: c['members'] for c in grouping['classes']}
        self.assertIn(['node7'], members.values(), 'a host with one differing variable is evaluated on its own')
        workers = [m for m in members.values() if 'node4' in m][0]
        self.assertIn('node8', workers, 'a variable the evaluation never reads does not split a class')
        self.assertIn('container_manager', grouping['variables'])
        self.assertNotIn('node_labels', grouping['variables'])
        self.assertEqual(len(grouping['classes']), 3)
        crio = [f for f in manifest['files'] if f['name'] == 'crio']
        self.assertEqual([f['groups'] for f in crio], [['k8s_cluster']], "cri-o for node7, a worker")
        self.assertNotIn('skopeo', tm.names(manifest['files']), "skopeo is for cri-o control plane hosts: node7 is a worker")

        every, reference = self.run_classes(inv, enabled=False)
        self.assertEqual(len(every['classes']), 12)
        self.assertEqual(manifest, reference, 'evaluating one host per class gives the manifest of evaluating every host')


if __name__ == '__main__':
    unittest.main()

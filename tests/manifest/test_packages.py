"""Tests of the airgap.kubespray.os_packages playbook against Kubespray's real system_packages role.

For every Kubespray release under shared/kubespray/ (AIRGAP_KUBESPRAY_RELEASES), the playbook runs
from the installed collection with the sample group_vars and shared/kubespray/hosts.yaml, for several
target OS releases and inventory variants. Expectations come from an independent reading of the
release's roles/system_packages/vars/main.yml (PyYAML, conditions matched as text), never from pasted
package lists: a small evaluator decides the conditions that only compare OS facts or test the
k8s_cluster group, and the inventory switches (kube_proxy_mode, ntp_enabled, ntp_package) are
checked against the conditions that name them.

    python3 -m unittest discover -s tests/manifest -v      (make test-manifest)

Needs build/airgap-kubespray-*.tar.gz (make collection).
"""
import ast
import json
import os
import re
import shutil
import subprocess
import sys
import unittest

import yaml

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_manifest as tm  # noqa: E402  (its helpers, and its collection install)
import results  # noqa: E402  (tests/lib, on the path test_manifest puts there)


# The facts a node of each target OS reports (the definition of a target, not an expectation).
FACTS = {
    'debian-11': {'ansible_os_family': 'Debian', 'ansible_distribution': 'Debian', 'ansible_distribution_major_version': '11'},
    'debian-12': {'ansible_os_family': 'Debian', 'ansible_distribution': 'Debian', 'ansible_distribution_major_version': '12'},
    'debian-13': {'ansible_os_family': 'Debian', 'ansible_distribution': 'Debian', 'ansible_distribution_major_version': '13'},
    'ubuntu-22.04': {'ansible_os_family': 'Debian', 'ansible_distribution': 'Ubuntu', 'ansible_distribution_major_version': '22'},
    'ubuntu-24.04': {'ansible_os_family': 'Debian', 'ansible_distribution': 'Ubuntu', 'ansible_distribution_major_version': '24'},
    'rocky-9': {'ansible_os_family': 'RedHat', 'ansible_distribution': 'Rocky', 'ansible_distribution_major_version': '9'},
    'rhel-10': {'ansible_os_family': 'RedHat', 'ansible_distribution': 'RedHat', 'ansible_distribution_major_version': '10'},
}
TARGETS = list(FACTS)
DEB = [t for t in TARGETS if FACTS[t]['ansible_os_family'] == 'Debian']
RPM = [t for t in TARGETS if FACTS[t]['ansible_os_family'] == 'RedHat']


# -- an independent reading of Kubespray's system_packages/vars/main.yml ---------------------------

def pkgs_of(release):
    with open(os.path.join(release, 'roles', 'system_packages', 'vars', 'main.yml')) as f:
        return {name: [str(c) for c in (conds or [])] for name, conds in yaml.safe_load(f)['pkgs'].items()}


_FACT_TEST = re.compile(r"^\{\{\s*(ansible_os_family|ansible_distribution|ansible_distribution_major_version)"
                        r"\s+(==|!=|in|not in)\s+(.+?)\s*\}\}$")
_IN_CLUSTER = re.compile(r"^\{\{\s*'k8s_cluster' in group_names\s*\}\}$")


def simple(condition, facts, in_cluster=True):
    """True/False for a condition that only compares one OS fact with a literal, or tests the
    k8s_cluster group; None for anything else (inventory switches, and/or, version tests)."""
    if _IN_CLUSTER.match(condition):
        return in_cluster
    m = _FACT_TEST.match(condition)
    if not m:
        return None
    try:
        literal = ast.literal_eval(m.group(3))
    except (ValueError, SyntaxError):
        return None
    value = facts[m.group(1)]
    return {'==': value == literal, '!=': value != literal,
            'in': value in literal, 'not in': value not in literal}[m.group(2)]


def decided(release, target, in_cluster=True):
    """{package: expected presence} for every package whose conditions are all simple."""
    out = {}
    for name, conds in pkgs_of(release).items():
        values = [simple(c, FACTS[target], in_cluster) for c in conds]
        if None not in values:
            out[name] = all(values)
    return out


def naming(release, var):
    """Packages with a condition on `var`: {package: [conditions]}."""
    return {n: c for n, c in pkgs_of(release).items() if any(re.search(r'\b%s\b' % var, x) for x in c)}


def sample_value(release, var):
    """A variable's value as the sample inventory sets it (k8s_cluster, then all), else Kubespray's default."""
    group_vars = os.path.join(release, 'inventory', 'sample', 'group_vars')
    defaults = os.path.join(release, 'roles', 'kubespray_defaults', 'defaults', 'main')
    paths = [os.path.join(group_vars, g, f) for g in ('k8s_cluster', 'all') for f in sorted(os.listdir(os.path.join(group_vars, g)))]
    paths += [os.path.join(defaults, f) for f in sorted(os.listdir(defaults))]
    for path in paths:
        with open(path) as f:
            data = yaml.safe_load(f) or {}
        if var in data:
            return data[var]
    return None


# -- running the playbook ---------------------------------------------------------------------------

_RUNS = {}
setUpModule, tearDownModule = tm.module_hooks(_RUNS)


def run_packages(release, name, changes=(), targets=TARGETS, extra=None, hosts_yaml=None, check=True):
    """packages.yaml of one run, or the CompletedProcess when check is False."""
    key = (release, name, tuple(changes), tuple(targets), json.dumps(extra, sort_keys=True), hosts_yaml)
    if check and key in _RUNS:
        return _RUNS[key]
    inv = tm.make_inventory(release, 'pkgs-' + name, changes)
    if hosts_yaml:
        with open(os.path.join(inv, 'hosts.yaml'), 'w') as f:
            f.write(hosts_yaml)
    out = os.path.join(os.path.dirname(inv), 'out')
    shutil.rmtree(out, ignore_errors=True)
    args = dict({'airgap_os_targets': list(targets), 'airgap_bundle_dir': out}, **(extra or {}))
    p = tm.run_manifest(release, inv, extra=args, playbook='airgap.kubespray.os_packages', check=check)
    if not check:
        return p
    with open(os.path.join(out, 'packages.yaml')) as f:
        doc = yaml.safe_load(f)
    _RUNS[key] = doc
    return doc


def kubespray(doc, target):
    return set(doc['targets'][target]['kubespray'])


class PackagesPerRelease(unittest.TestCase):
    """Each test runs once per release, as a subTest."""

    def each(self):
        for release in tm.RELEASES:
            with self.subTest(release=os.path.basename(release)):
                yield release

    def test_sample_inventory(self):
        for release in self.each():
            doc = run_packages(release, 'sample')
            pkgs = pkgs_of(release)
            self.assertEqual(doc['version'], 1)
            self.assertEqual(doc['hosts'], ['node1', 'node2', 'node3'])
            self.assertEqual(list(doc['targets']), TARGETS, 'one entry per target, in the order given')
            for target in TARGETS:
                entry = doc['targets'][target]
                got = kubespray(doc, target)
                family = 'deb' if target in DEB else 'rpm'
                self.assertEqual(entry['family'], family)
                self.assertEqual(entry['kubespray'], sorted(got))
                self.assertEqual(entry['packages'], sorted(got | set(entry['extras'])))
                self.assertLessEqual(got, set(pkgs), 'every package comes from Kubespray\'s pkgs')
                # Everything Kubespray lists is either installed or left out with a false condition.
                self.assertEqual(got | set(entry['left_out']), set(pkgs), target)
                self.assertFalse(got & set(entry['left_out']))
                for name, cond in entry['left_out'].items():
                    self.assertIn('{{ %s }}' % cond, pkgs[name], 'left_out names one of the conditions of %s' % name)
                # Packages whose conditions only compare OS facts (or test k8s_cluster): exactly as decided.
                for name, expected in decided(release, target).items():
                    self.assertEqual(name in got, expected, '%s on %s: conditions %s' % (name, target, pkgs[name]))
                # Unconditional packages on every target.
                self.assertLessEqual({n for n, c in pkgs.items() if not c}, got, target)
            deb, rpm = entry_codenames(doc)
            self.assertEqual(deb, {'debian-11': 'bullseye', 'debian-12': 'bookworm', 'debian-13': 'trixie',
                                   'ubuntu-22.04': 'jammy', 'ubuntu-24.04': 'noble'})
            self.assertEqual(set(rpm.values()), {None})

    def test_no_package_of_the_other_family(self):
        for release in self.each():
            doc = run_packages(release, 'sample')
            pkgs = pkgs_of(release)
            redhat = {n for n, c in pkgs.items() if any("ansible_os_family == 'RedHat'" in x for x in c)}
            debian = {n for n, c in pkgs.items()
                      if any(re.search(r"ansible_(os_family|distribution) == 'Debian'", x) for x in c)}
            self.assertTrue(redhat and debian, 'the YAML names RedHat-only and Debian-only packages')
            for target in DEB:
                self.assertFalse(kubespray(doc, target) & redhat, target)
            for target in RPM:
                self.assertFalse(kubespray(doc, target) & debian, target)
            self.assertTrue(kubespray(doc, 'rocky-9') & redhat)
            self.assertTrue(kubespray(doc, 'debian-12') & debian)

    def test_debian12_basics_and_proxy_mode(self):
        for release in self.each():
            doc = run_packages(release, 'sample')
            got = kubespray(doc, 'debian-12')
            self.assertLessEqual({'conntrack', 'socat', 'ebtables'}, got)
            mode = sample_value(release, 'kube_proxy_mode')
            self.assertEqual(mode, 'ipvs', 'the sample inventory runs kube-proxy in ipvs mode')
            self.assertIn("{{ kube_proxy_mode != 'ipvs' }}", pkgs_of(release)['ipset'])
            self.assertIn("{{ kube_proxy_mode == 'ipvs' }}", pkgs_of(release)['ipvsadm'])
            self.assertIn('ipvsadm', got)
            self.assertNotIn('ipset', got, "ipset's condition is kube_proxy_mode != 'ipvs'")

    def test_kube_proxy_mode_switches(self):
        for release in self.each():
            by_mode = naming(release, 'kube_proxy_mode')
            sample = kubespray(run_packages(release, 'sample'), 'debian-12')
            for mode in ('iptables', 'nftables', 'ipvs'):
                doc = run_packages(release, 'proxy-' + mode, [('k8s_cluster/k8s-cluster.yml', 'kube_proxy_mode', mode)])
                for target in ('debian-12', 'rocky-9'):
                    got = kubespray(doc, target)
                    for name, conds in by_mode.items():
                        wanted = all(self.proxy_condition(c, mode) for c in conds
                                     if 'kube_proxy_mode' in c) and all(
                            simple(c, FACTS[target]) is not False for c in conds)
                        self.assertEqual(name in got, wanted, '%s with kube_proxy_mode %s on %s' % (name, mode, target))
                    if mode == 'ipvs':
                        self.assertEqual(kubespray(doc, 'debian-12'), sample)
            iptables = kubespray(run_packages(release, 'proxy-iptables', [('k8s_cluster/k8s-cluster.yml', 'kube_proxy_mode', 'iptables')]), 'debian-12')
            ipvs = kubespray(run_packages(release, 'proxy-ipvs', [('k8s_cluster/k8s-cluster.yml', 'kube_proxy_mode', 'ipvs')]), 'debian-12')
            self.assertEqual(ipvs - iptables, {'ipvsadm'})
            self.assertEqual(iptables - ipvs, {'ipset'})

    @staticmethod
    def proxy_condition(condition, mode):
        m = re.fullmatch(r"\{\{\s*kube_proxy_mode (==|!=) '(\w+)'\s*\}\}", condition)
        if not m:
            raise AssertionError('unexpected kube_proxy_mode condition: %s' % condition)
        return (mode == m.group(2)) == (m.group(1) == '==')

    def test_ntp(self):
        for release in self.each():
            ntp_pkgs = set(naming(release, 'ntp_package'))  # chrony, ntp, ntpsec
            self.assertLessEqual({'ntp', 'chrony'}, ntp_pkgs)
            # Kubespray's ntp_package: chrony on RedHat, else ntp (read from its template).
            text = ' '.join(str(sample_value(release, 'ntp_package')).split())
            m = re.search(r'(?:ansible_os_family|ansible_facts\[.os_family.\]) == "RedHat" -%\}\s*(\S+)\s*\{%- else -%\}\s*(\S+)\s*\{%- endif', text)
            self.assertTrue(m, text)
            redhat_ntp, other_ntp = m.groups()
            sample = run_packages(release, 'sample')
            self.assertFalse(sample_value(release, 'ntp_enabled'))
            for target in TARGETS:
                self.assertFalse(kubespray(sample, target) & ntp_pkgs, 'ntp is off in the sample')
            doc = run_packages(release, 'ntp', [('all/all.yml', 'ntp_enabled', True)])
            for target in TARGETS:
                want = redhat_ntp if target in RPM else other_ntp
                self.assertEqual(kubespray(doc, target) & ntp_pkgs, {want}, target)
                self.assertEqual(kubespray(doc, target) - {want}, kubespray(sample, target), target)
            doc = run_packages(release, 'ntpsec', [('all/all.yml', 'ntp_enabled', True), ('all/all.yml', 'ntp_package', 'ntpsec')])
            for target in TARGETS:
                self.assertEqual(kubespray(doc, target) & ntp_pkgs, {'ntpsec'}, target)

    def test_version_specific(self):
        for release in self.each():
            doc = run_packages(release, 'sample')
            pkgs = pkgs_of(release)
            for name in ('gnupg', 'mergerfs', 'software-properties-common'):
                for target in TARGETS:
                    self.assertEqual(name in kubespray(doc, target), decided(release, target)[name], (name, target))
            # What those conditions say in these releases.
            self.assertEqual({t for t in TARGETS if 'gnupg' in kubespray(doc, t)}, {'debian-11', 'debian-12'})
            self.assertEqual({t for t in TARGETS if 'mergerfs' in kubespray(doc, t)}, {'debian-12'})
            spc = {t for t in TARGETS if 'software-properties-common' in kubespray(doc, t)}
            if "{{ ansible_distribution_major_version != '13' }}" in pkgs['software-properties-common']:
                self.assertEqual(spc, set(DEB) - {'debian-13'})
            else:  # 2.28: no exception for Debian 13 yet
                self.assertEqual(spc, set(DEB))

    def test_evaluated_per_host(self):
        # An etcd node outside k8s_cluster does not get the packages gated on 'k8s_cluster' in group_names;
        # the union over the cluster does.
        with open(os.path.join(tm.SHARED, 'hosts.yaml')) as f:
            hosts = f.read()
        hosts = hosts.replace(
            'etcd:\n      hosts: {node1: {}}', 'etcd:\n      hosts: {node4: {}}').replace(
            'node3: {ansible_host: 192.0.2.13}', 'node3: {ansible_host: 192.0.2.13}\n    node4: {ansible_host: 192.0.2.14}')
        self.assertIn('node4: {}', hosts)
        for release in self.each():
            gated = {n for n, c in pkgs_of(release).items() if "{{ 'k8s_cluster' in group_names }}" in c}
            etcd = run_packages(release, 'etcd-only', hosts_yaml=hosts, targets=['debian-12'],
                                extra={'airgap_manifest_hosts': 'etcd'})
            self.assertEqual(etcd['hosts'], ['node4'])
            got = kubespray(etcd, 'debian-12')
            self.assertFalse(got & gated, 'an etcd-only node gets no k8s_cluster package')
            for name, expected in decided(release, 'debian-12', in_cluster=False).items():
                self.assertEqual(name in got, expected, name)
            everyone = run_packages(release, 'etcd-separate', hosts_yaml=hosts, targets=['debian-12'])
            self.assertEqual(everyone['hosts'], ['node1', 'node2', 'node3', 'node4'])
            self.assertEqual(kubespray(everyone, 'debian-12'), kubespray(run_packages(release, 'sample'), 'debian-12'))


def entry_codenames(doc):
    deb = {t: e['codename'] for t, e in doc['targets'].items() if e['family'] == 'deb'}
    rpm = {t: e['codename'] for t, e in doc['targets'].items() if e['family'] == 'rpm'}
    return deb, rpm


class PackagesRole(unittest.TestCase):
    release = tm.RELEASES[-1] if tm.RELEASES else None

    def test_extras(self):
        doc = run_packages(self.release, 'sample')
        self.assertEqual(doc['targets']['debian-12']['extras'],
                         sorted(['python3', 'python3-venv', 'python3-pip', 'nginx', 'docker-registry',
                                 'ca-certificates', 'gnupg']))
        self.assertEqual(doc['targets']['rocky-9']['extras'],
                         sorted(['python3', 'python3-pip', 'python3.12', 'python3.12-pip', 'nginx', 'ca-certificates']))
        custom = run_packages(self.release, 'extras', targets=['debian-12', 'debian-13', 'rocky-9'],
                              extra={'airgap_os_extra_packages': {'deb': ['python3', 'nginx-light'], 'rpm': [],
                                                                  'debian-13': ['nginx']}})
        self.assertEqual(custom['targets']['debian-12']['extras'], ['nginx-light', 'python3'])
        self.assertEqual(custom['targets']['debian-13']['extras'], ['nginx'], 'a target key replaces its family list')
        self.assertIn('nginx', custom['targets']['debian-13']['packages'])
        self.assertEqual(custom['targets']['rocky-9']['extras'], [])
        self.assertEqual(custom['targets']['rocky-9']['packages'], custom['targets']['rocky-9']['kubespray'])

    def test_fact_for_later_roles(self):
        inv = tm.make_inventory(self.release, 'pkgs-fact')
        out = os.path.join(os.path.dirname(inv), 'out')
        playbook = os.path.join(os.path.dirname(inv), 'fact.yml')
        with open(playbook, 'w') as f:
            f.write('- import_playbook: airgap.kubespray.os_packages\n'
                    '- hosts: node3\n  gather_facts: false\n  vars: {ansible_connection: local}\n  tasks:\n'
                    '    - ansible.builtin.copy:\n        content: "{{ airgap_os_packages | to_json }}"\n'
                    '        dest: "%s/fact.json"\n        mode: "0644"\n' % out)
        tm.run_manifest(self.release, inv, playbook=playbook,
                        extra={'airgap_os_targets': ['ubuntu-24.04', 'rocky-9'], 'airgap_bundle_dir': out})
        with open(os.path.join(out, 'fact.json')) as f:
            fact = json.load(f)
        with open(os.path.join(out, 'packages.yaml')) as f:
            doc = yaml.safe_load(f)
        self.assertEqual(list(fact), ['ubuntu-24.04', 'rocky-9'])
        self.assertEqual(fact['ubuntu-24.04']['codename'], 'noble')
        self.assertEqual(fact['rocky-9']['family'], 'rpm')
        for target in fact:
            self.assertEqual(fact[target]['packages'], doc['targets'][target]['packages'])
            self.assertNotIn('left_out', fact[target])

    def test_kubespray_tasks_never_run(self):
        fake = os.path.join(tm.TMP, 'pkgs-with-tasks')
        shutil.rmtree(fake, ignore_errors=True)
        shutil.copytree(os.path.join(self.release, 'roles'), os.path.join(fake, 'roles'))
        for role in ('kubespray_defaults', 'system_packages'):
            os.makedirs(os.path.join(fake, 'roles', role, 'tasks'), exist_ok=True)
            with open(os.path.join(fake, 'roles', role, 'tasks', 'main.yml'), 'w') as f:
                f.write('- name: Must not run\n  ansible.builtin.fail:\n    msg: a Kubespray task ran\n')
        inv = tm.make_inventory(self.release, 'pkgs-with-tasks')
        out = os.path.join(os.path.dirname(inv), 'out')
        tm.run_manifest(self.release, inv, kubespray_dir=fake, playbook='airgap.kubespray.os_packages',
                        extra={'airgap_os_targets': ['debian-12'], 'airgap_bundle_dir': out})
        with open(os.path.join(out, 'packages.yaml')) as f:
            doc = yaml.safe_load(f)
        self.assertEqual(doc['targets']['debian-12']['kubespray'],
                         run_packages(self.release, 'sample')['targets']['debian-12']['kubespray'])


class OsReposKey(unittest.TestCase):
    """The os_repos role's signing key (tasks/key.yml): --check on an empty keyring writes nothing
    and exports nothing; a real run makes the key and writes its public half into the bundle;
    --check then exports that key (to compare) and changes nothing, and with the public key gone
    reports that it would write it."""

    def run_key(self, name, *args):
        work = os.path.join(tm.TMP, 'os-repos-key')
        home, bundle = os.path.join(work, 'gnupg'), os.path.join(work, 'bundle')
        result = os.path.join(tm.TMP, 'os-repos-key-%s.json' % name)
        env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.path.join(tm.TMP, 'collections'), ANSIBLE_NOCOLOR='1',
                   ANSIBLE_LOCALHOST_WARNING='false', ANSIBLE_INVENTORY_UNPARSED_WARNING='false')
        p = subprocess.run(['ansible-playbook', '-i', 'localhost,', '-c', 'local',
                            os.path.join(tm.REPO, 'tests', 'manifest', 'os_repos_key.yml'),
                            '-e', json.dumps({'airgap_os_repos_gnupg_home': home, 'airgap_bundle_dir': bundle,
                                              'key_result': result})] + list(args),
                           env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True)
        self.assertEqual(p.returncode, 0, p.stdout[-3000:])
        with open(result) as f:
            got = json.load(f)
        got['changed'] = int(re.search(r'(?m)^localhost +: .*changed=(\d+)', p.stdout).group(1))
        got['home'], got['bundle'] = home, bundle
        return got

    def test_check_mode(self):
        shutil.rmtree(os.path.join(tm.TMP, 'os-repos-key'), ignore_errors=True)
        first = self.run_key('check-empty', '--check', '--diff')
        self.assertNotEqual(first['keys_rc'], 0, 'no keyring yet')
        self.assertFalse(first['exported'], 'no key to export in --check')
        self.assertGreater(first['changed'], 0, 'the keyring folder and the key would be made')
        self.assertFalse(os.path.exists(first['home']), '--check made the keyring')
        self.assertFalse(os.path.exists(first['bundle']), '--check wrote into the bundle')

        made = self.run_key('apply')
        self.assertTrue(made['exported'])
        self.assertIn('BEGIN PGP PUBLIC KEY BLOCK', made['public_key'])
        public = os.path.join(made['bundle'], 'files', 'airgap-kubespray-repo.asc')
        with open(public) as f:
            self.assertEqual(f.read(), made['public_key'] + '\n')

        again = self.run_key('check-made', '--check', '--diff')
        self.assertEqual(again['keys_rc'], 0)
        self.assertTrue(again['exported'], '--check exports an existing key to compare it')
        self.assertEqual(again['public_key'], made['public_key'])
        self.assertEqual(again['changed'], 0)

        os.unlink(public)
        gone = self.run_key('check-no-public', '--check')
        self.assertEqual(gone['changed'], 1, 'the public key would be written again')
        self.assertFalse(os.path.exists(public), '--check wrote the public key')


class PackagesErrors(unittest.TestCase):
    release = tm.RELEASES[-1] if tm.RELEASES else None

    def test_unsupported_target(self):
        p = run_packages(self.release, 'bad-target', targets=['debian-12', 'slackware-15'], check=False)
        self.assertNotEqual(p.returncode, 0)
        msg = results.failure(p.results)
        self.assertIn("unsupported OS target 'slackware-15'", msg)
        for known in ('debian-12', 'ubuntu-24.04', 'rocky-9'):
            self.assertIn(known, msg, 'the message lists the supported targets')
        p = run_packages(self.release, 'bad-release', targets=['ubuntu-18.04'], check=False)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("unsupported OS target 'ubuntu-18.04'", results.failure(p.results))

    def test_no_targets(self):
        p = run_packages(self.release, 'no-targets', targets=[], check=False)
        self.assertNotEqual(p.returncode, 0)
        msg = results.failure(p.results)
        self.assertIn('airgap_os_targets is empty', msg)
        self.assertIn('ubuntu-24.04', msg, 'the message shows how to set it')

    def test_condition_that_does_not_render(self):
        p = run_packages(self.release, 'bad-condition', targets=['debian-12'], check=False,
                         changes=[('k8s_cluster/k8s-cluster.yml', 'kube_proxy_mode', '{{ airgap_no_such_variable }}')])
        self.assertNotEqual(p.returncode, 0)
        msg = results.failure(p.results)
        self.assertIn('pkgs.ipset', msg)
        self.assertIn("{{ kube_proxy_mode != 'ipvs' }} does not render", msg)
        self.assertIn('debian-12', msg)
        self.assertIn('airgap_no_such_variable', msg)

    def test_kubespray_without_system_packages(self):
        fake = os.path.join(tm.TMP, 'pkgs-no-system-packages')
        shutil.rmtree(fake, ignore_errors=True)
        shutil.copytree(os.path.join(self.release, 'roles', 'kubespray_defaults'),
                        os.path.join(fake, 'roles', 'kubespray_defaults'))
        inv = tm.make_inventory(self.release, 'pkgs-no-system-packages')
        p = tm.run_manifest(self.release, inv, kubespray_dir=fake, playbook='airgap.kubespray.os_packages', check=False,
                            extra={'airgap_os_targets': ['debian-12']})
        self.assertNotEqual(p.returncode, 0)
        msg = results.failure(p.results)
        self.assertIn('system_packages/vars/main.yml was not found', msg)
        self.assertIn('airgap_kubespray_dir', msg)


if __name__ == '__main__':
    unittest.main()

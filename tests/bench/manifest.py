#!/usr/bin/python3
"""Benchmark: the airgap.kubespray.manifest playbook on Kubespray's sample group_vars for clusters
of 3, 300 and 1,000 hosts (3 control plane/etcd hosts, the rest workers, every host with its own
address, as real inventories have). The evaluation runs once per class of hosts Kubespray cannot
tell apart (plugins/action/kubespray_classes.py).

Prints the median wall time of BENCH_REPS runs (default 3) per size, the ratio to 3 hosts, and
checks: 1,000 hosts in at most 2x the 3-host time; the 1,000-host manifest equals the one from
evaluating every host (airgap_manifest_classes_enabled: false, timed once, for comparison); the
3-host run under the 15 s budget.

    tests/bench/manifest.py            (make bench-manifest; needs `make collection` first)
    KUBESPRAY=../shared/kubespray/v2.31.0 BENCH_REPS=5 tests/bench/manifest.py
"""
import glob
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import yaml

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
KUBESPRAY = os.path.realpath(os.environ.get('KUBESPRAY', os.path.join(REPO, '..', 'shared', 'kubespray', 'v2.31.0')))
REPS = int(os.environ.get('BENCH_REPS', '3'))


def inventory(path, hosts):
    shutil.copytree(os.path.join(KUBESPRAY, 'inventory', 'sample', 'group_vars'), os.path.join(path, 'group_vars'))
    all_hosts, cp, node = {}, {}, {}
    for i in range(1, hosts + 1):
        h = 'node%d' % i
        ip = '10.%d.%d.%d' % (i // 65536, (i // 256) % 256, i % 256)
        all_hosts[h] = {'ansible_host': ip, 'ip': ip, 'access_ip': ip}
        (cp if i <= 3 else node)[h] = None
    with open(os.path.join(path, 'hosts.yaml'), 'w') as f:
        yaml.safe_dump({'all': {'hosts': all_hosts, 'children': {
            'kube_control_plane': {'hosts': cp}, 'etcd': {'hosts': dict(cp)}, 'kube_node': {'hosts': node},
            'k8s_cluster': {'children': {'kube_control_plane': None, 'kube_node': None}}}}}, f)


def run(work, inv, out, **extra):
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.path.join(work, 'collections'),
               ANSIBLE_ROLES_PATH=os.path.join(work, 'no-roles'))
    args = ['ansible-playbook', '-i', os.path.join(inv, 'hosts.yaml'), 'airgap.kubespray.manifest',
            '-e', 'airgap_kubespray_dir=' + KUBESPRAY, '-e', 'airgap_manifest_dir=' + out, '-e', json.dumps(extra)]
    start = time.monotonic()
    p = subprocess.run(args, env=env, cwd=work, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True)
    took = time.monotonic() - start
    if p.returncode != 0:
        sys.exit('bench-manifest: the playbook failed:\n' + p.stdout[-4000:])
    with open(os.path.join(out, 'manifest.yaml')) as f:
        return took, yaml.safe_load(f)


def main():
    tarballs = glob.glob(os.path.join(REPO, 'build', 'airgap-kubespray-*.tar.gz'))
    if len(tarballs) != 1:
        sys.exit('bench-manifest: run `make collection` first')
    work = tempfile.mkdtemp(prefix='airgap-bench-manifest.')
    try:
        subprocess.run(['ansible-galaxy', 'collection', 'install', '--force', '-p', os.path.join(work, 'collections'),
                        tarballs[0]], check=True, stdout=subprocess.DEVNULL)
        rows, manifests = [], {}
        for hosts in (3, 300, 1000):
            inv = os.path.join(work, 'inv%d' % hosts)
            inventory(inv, hosts)
            times = []
            for _ in range(REPS):
                took, manifests[hosts] = run(work, inv, os.path.join(work, 'out%d' % hosts))
                times.append(took)
            rows.append((hosts, statistics.median(times)))
        every_took, every = run(work, os.path.join(work, 'inv1000'), os.path.join(work, 'every1000'),
                                airgap_manifest_classes_enabled=False)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    base = rows[0][1]
    print('bench-manifest: Kubespray %s sample, one arch, median of %d runs' % (os.path.basename(KUBESPRAY), REPS))
    print('  %6s  %8s  %9s' % ('hosts', 'seconds', 'vs 3'))
    for hosts, t in rows:
        print('  %6d  %8.2f  %8.2fx' % (hosts, t, t / base))
    print('  %6d  %8.2f  %8.2fx   every host evaluated (airgap_manifest_classes_enabled: false, one run)'
          % (1000, every_took, every_took / base))
    checks = [
        ('1,000 hosts in at most 2x the 3-host time', rows[-1][1] <= 2 * base),
        ('the 1,000-host manifest equals evaluating every host', manifests[1000] == every),
        ('3 hosts under the 15 s budget', base < 15),
    ]
    for name, ok in checks:
        print('%s  %s' % ('PASS' if ok else 'FAIL', name))
    return 0 if all(ok for _, ok in checks) else 1


if __name__ == '__main__':
    sys.exit(main())

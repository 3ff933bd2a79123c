#!/usr/bin/env python3
"""The local demo on loopback (make demo): the whole online -> offline pipeline of the collection.

    tests/demo/demo.py up        fresh demo: upstream, download, mirror, repos, verify (make demo)
    tests/demo/demo.py download  rerun the download playbook with .demo/inventory (reuses the bundle)
    tests/demo/demo.py mirror    rerun the mirror playbook (writes what the registry storage lacks)
    tests/demo/demo.py verify    rerun the verify playbook against the running mirror
    tests/demo/demo.py verify-nodes [--check]
                                 the same, and the probe from every node (-e airgap_verify_nodes=true):
                                 a table per node, every node's results in .demo/work/verify-nodes.json
    tests/demo/demo.py down      stop everything the demo started (make demo-down); data is kept

Nothing leaves 127.0.0.1 and nothing outside .demo/ is written:
  .demo/collections/   the built collection, installed from build/airgap-kubespray-*.tar.gz
  .demo/inventory/     Kubespray's sample group_vars, tests/demo/hosts.yaml, and the generated
                       group_vars/all/offline.yml
  .demo/kubespray-v2.31.0/  Kubespray, cloned at v2.31.0 when no other checkout is given (below)
  .demo/checksums.yml  Kubespray's checksum variables pointed at the stand-in files (role vars:
                       given as extra vars, -e @.demo/checksums.yml)
  .demo/upstream/      the stand-in internet: a registry holding a generated image under every name
                       Kubespray's manifest lists, and an nginx holding a file for every URL
  .demo/bundle/        what download makes and the air gap carries: files/, images/, manifest.yaml, ...
  .demo/mirror/        the offline mirror's state: nginx serving bundle/files, the registry's storage
  .demo/gnupg/         the key the OS repository is signed with (demo-down stops its gpg-agent)
  .demo/nodes/<host>/  the cluster nodes' package configuration, as scratch roots (repos playbook)
  .demo/state.json     ports and timings

Kubespray comes from AIRGAP_DEMO_KUBESPRAY (a path to a Kubespray checkout) when set, else from
../shared/kubespray/v2.31.0 (this repository's CI) when there, else `up` clones it
(git clone --depth 1 --branch v2.31.0 AIRGAP_DEMO_KUBESPRAY_REPO, default
https://github.com/kubernetes-sigs/kubespray.git) into .demo/kubespray-v2.31.0 and reuses that clone
afterwards. `tests/demo/demo.py kubespray` does only that step and prints the checkout's path.
AIRGAP_DEMO_DIR moves .demo/ elsewhere (two demos at once need two folders).
"""
import argparse
import glob
import json
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
import time

import yaml

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
sys.path.insert(0, os.path.join(REPO, 'tests', 'lib'))
from standin import images_inside, stand_in_files  # noqa: E402
import results  # noqa: E402

DEMO = os.path.abspath(os.environ.get('AIRGAP_DEMO_DIR', os.path.join(REPO, '.demo')))
STATE = os.path.join(DEMO, 'state.json')
KUBESPRAY_TAG = 'v2.31.0'
KUBESPRAY_REPO = os.environ.get('AIRGAP_DEMO_KUBESPRAY_REPO', 'https://github.com/kubernetes-sigs/kubespray.git')
KUBESPRAY_SHARED = os.path.join(REPO, '..', 'shared', 'kubespray', KUBESPRAY_TAG)
KUBESPRAY_CLONE = os.path.join(DEMO, 'kubespray-' + KUBESPRAY_TAG)


def kubespray_path():
    """Where the demo's Kubespray is: AIRGAP_DEMO_KUBESPRAY, else ../shared's when there, else the
    clone in .demo/ (made by ensure_kubespray)."""
    if os.environ.get('AIRGAP_DEMO_KUBESPRAY'):
        return os.path.abspath(os.environ['AIRGAP_DEMO_KUBESPRAY'])
    if os.path.isdir(KUBESPRAY_SHARED):
        return os.path.abspath(KUBESPRAY_SHARED)
    return KUBESPRAY_CLONE


KUBESPRAY = kubespray_path()
HOSTS = os.environ.get('AIRGAP_DEMO_HOSTS', os.path.join(REPO, 'tests', 'demo', 'hosts.yaml'))
NGINX = os.path.join(REPO, 'tests', 'lib', 'nginx.sh')
REGISTRY = os.path.join(REPO, 'tests', 'lib', 'registry.sh')
INVENTORY = os.path.join(DEMO, 'inventory')
BUNDLE = os.path.join(DEMO, 'bundle')
CHECKSUMS = os.path.join(DEMO, 'checksums.yml')
NODES_REPORT = os.path.join(DEMO, 'work', 'verify-nodes.json')
MIRROR = os.path.join(DEMO, 'mirror')
GNUPG = os.path.join(DEMO, 'gnupg')  # the OS repository's signing key; gpg starts a gpg-agent for it
# The OS each demo node runs (its scratch root's etc/os-release): this host's release, the one
# release whose package repository can be built here (the prep host must run the target's release).
NODE_OS = {'node1': ('debian', '12'), 'node2': ('debian', '12'), 'node3': ('debian', '12')}


def host_target():
    """debian-12 when this host runs Debian 12 (then the demo builds its OS repository), else None."""
    try:
        with open('/etc/os-release') as f:
            rel = dict(line.rstrip('\n').split('=', 1) for line in f if '=' in line)
    except OSError:
        return None
    if rel.get('ID', '').strip('"') == 'debian' and rel.get('VERSION_ID', '').strip('"') == '12':
        return 'debian-12'
    return None


def say(msg):
    print(msg, flush=True)


def load_state():
    if os.path.exists(STATE):
        with open(STATE) as f:
            return json.load(f)
    return {}


def save_state(state):
    os.makedirs(DEMO, exist_ok=True)
    with open(STATE + '.tmp', 'w') as f:
        json.dump(state, f, indent=1, sort_keys=True)
    os.replace(STATE + '.tmp', STATE)


def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def port_open(port):
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(('127.0.0.1', port)) == 0


def env():
    cfg = os.path.join(DEMO, 'ansible.cfg')
    if not os.path.exists(cfg):
        with open(cfg, 'w') as f:
            f.write('[defaults]\nstdout_callback = default\nretry_files_enabled = false\n')
    return dict(os.environ, ANSIBLE_CONFIG=cfg, ANSIBLE_COLLECTIONS_PATH=os.path.join(DEMO, 'collections'),
                ANSIBLE_ROLES_PATH=os.path.join(DEMO, 'no-roles'),
                ANSIBLE_LOCALHOST_WARNING='false', ANSIBLE_INVENTORY_UNPARSED_WARNING='false',
                PATH='/usr/local/go/bin:' + os.environ.get('PATH', ''))


def results_path(log):
    """Where run(..., log) keeps the task results of its Ansible run (JSON lines)."""
    return os.path.join(DEMO, 'logs', log + '.results.jsonl')


def run(args, log, **kw):
    """Runs a command with its output in .demo/logs/<log>.log (and echoed on failure); an Ansible
    run's task results, as the modules returned them, go to .demo/logs/<log>.results.jsonl
    (tests/lib/results.py reads them)."""
    os.makedirs(os.path.join(DEMO, 'logs'), exist_ok=True)
    path = os.path.join(DEMO, 'logs', log + '.log')
    e = kw.pop('env', None) or env()
    if args[0] == 'ansible-playbook':
        e = dict(e, **results.callback_env(results_path(log)))
    with open(path, 'w') as f:
        p = subprocess.run(args, stdout=f, stderr=subprocess.STDOUT, env=e, cwd=kw.pop('cwd', DEMO), **kw)
    with open(path) as f:
        out = f.read()
    if p.returncode != 0:
        sys.stdout.write(out[-6000:].rstrip('\n') + '\n')
        raise SystemExit('demo: %s failed (exit %d); the whole log is %s' % (' '.join(args[:2]), p.returncode, path))
    return out


def playbook(name, log, *extra, inventory=None, check=False):
    args = ['ansible-playbook', '-i', inventory or os.path.join(INVENTORY, 'hosts.yaml'), 'airgap.kubespray.' + name]
    if check:
        args.append('--check')
    for e in extra:
        args += ['-e', e if isinstance(e, str) else json.dumps(e)]
    return run(args, log)


def summary_lines(out, task):
    """The msg lines of the debug task whose name contains task (ansible's default callback)."""
    lines, grab = [], False
    for line in out.splitlines():
        if line.startswith('TASK ['):
            grab = task in line
        elif grab and line.strip().startswith('"') and not line.strip().startswith('"msg"'):
            lines.append(line.strip().rstrip(',').strip('"'))
        elif grab and '"msg": "' in line:
            lines.append(line.split('"msg": "', 1)[1].rstrip('"'))
    return lines


class Step:
    def __init__(self, state, name):
        self.state, self.name = state, name

    def __enter__(self):
        say('== %s' % self.name)
        self.start = time.monotonic()
        return self

    def __exit__(self, kind, *_):
        if kind is None:
            took = time.monotonic() - self.start
            self.state.setdefault('timings', {})[self.name] = round(took, 1)
            save_state(self.state)
            say('   (%.1f s)' % took)


# -- the stand-in upstream ------------------------------------------------------------------------

def manifest_of(inv, name):
    out = os.path.join(DEMO, 'work', name)
    playbook('manifest', 'manifest-' + name, {'airgap_kubespray_dir': KUBESPRAY, 'airgap_manifest_dir': out},
             inventory=os.path.join(inv, 'hosts.yaml'))
    with open(os.path.join(out, 'manifest.yaml')) as f:
        return yaml.safe_load(f)


# The demo's own settings beside Kubespray's sample: the nodes' OS, and two add-ons whose
# artifacts `downloads` does not list (Argo CD's manifest and its images, kubelet-csr-approver's
# chart and image: the quirks).
DEMO_VARS = {
    'all/airgap.yml': {'airgap_os_target': 'debian-12'},
    'k8s_cluster/demo-addons.yml': {'argocd_enabled': True, 'kubelet_rotate_server_certificates': True},
}


def is_kubespray(path):
    return os.path.isdir(os.path.join(path, 'roles', 'kubespray_defaults'))


def ensure_kubespray():
    """The demo's Kubespray checkout (kubespray_path): cloned at KUBESPRAY_TAG into .demo/ when
    neither AIRGAP_DEMO_KUBESPRAY nor ../shared gives one; a clone already there is reused."""
    if is_kubespray(KUBESPRAY):
        return KUBESPRAY
    if KUBESPRAY != KUBESPRAY_CLONE:
        raise SystemExit('demo: no Kubespray at %s (AIRGAP_DEMO_KUBESPRAY names a Kubespray checkout; unset, '
                         'the demo clones Kubespray %s into %s)' % (KUBESPRAY, KUBESPRAY_TAG, os.path.relpath(KUBESPRAY_CLONE, REPO)))
    say('demo: no Kubespray at %s and AIRGAP_DEMO_KUBESPRAY is unset: cloning Kubespray %s from %s into %s'
        % (os.path.normpath(KUBESPRAY_SHARED), KUBESPRAY_TAG, KUBESPRAY_REPO, os.path.relpath(KUBESPRAY_CLONE, REPO)))
    os.makedirs(DEMO, exist_ok=True)
    # a unique scratch folder: two demos started at once never clone into (or remove) each other's
    scratch = tempfile.mkdtemp(dir=DEMO, prefix='.kubespray-clone.')
    tmp = os.path.join(scratch, 'kubespray')
    try:
        p = subprocess.run(['git', 'clone', '--quiet', '--depth', '1', '--branch', KUBESPRAY_TAG, KUBESPRAY_REPO, tmp],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True, check=False)
        if p.returncode != 0 or not is_kubespray(tmp):
            raise SystemExit('demo: cloning Kubespray %s from %s failed (set AIRGAP_DEMO_KUBESPRAY to a checkout, or '
                             'AIRGAP_DEMO_KUBESPRAY_REPO to another copy of the repository):\n%s'
                             % (KUBESPRAY_TAG, KUBESPRAY_REPO, p.stdout.strip() or 'no roles/kubespray_defaults in the clone'))
        if not is_kubespray(KUBESPRAY_CLONE):  # else another run placed it meanwhile: keep that one
            shutil.rmtree(KUBESPRAY_CLONE, ignore_errors=True)
            os.replace(tmp, KUBESPRAY_CLONE)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    say('demo: Kubespray %s is in %s' % (KUBESPRAY_TAG, os.path.relpath(KUBESPRAY_CLONE, REPO)))
    return KUBESPRAY_CLONE


def copy_inventory(dest, plugin=None):
    shutil.rmtree(dest, ignore_errors=True)
    shutil.copytree(os.path.join(KUBESPRAY, 'inventory', 'sample', 'group_vars'), os.path.join(dest, 'group_vars'))
    shutil.copy(HOSTS, os.path.join(dest, 'hosts.yaml'))
    for rel, values in DEMO_VARS.items():
        with open(os.path.join(dest, 'group_vars', rel), 'w') as f:
            f.write('---\n# airgap.kubespray demo\n' + yaml.safe_dump(values, default_flow_style=False))
    for root, dirs, files in os.walk(dest):
        os.chmod(root, 0o755)
        for f in files:
            os.chmod(os.path.join(root, f), 0o644)
    if plugin:
        set_network_plugin(dest, plugin)


def set_network_plugin(inv, plugin):
    path = os.path.join(inv, 'group_vars', 'k8s_cluster', 'k8s-cluster.yml')
    with open(path) as f:
        lines = f.read().splitlines()
    lines = [('kube_network_plugin: %s' % plugin) if line.startswith('kube_network_plugin:') else line for line in lines]
    with open(path, 'w') as f:
        f.write('\n'.join(lines) + '\n')


def upstream_up(state):
    """Starts the stand-in upstream from .demo/upstream (made by make_upstream)."""
    up = state['upstream']
    if not port_open(up['registry_port']):
        run([REGISTRY, 'start', os.path.join(DEMO, 'upstream', 'registry'), str(up['registry_port'])], 'upstream-registry')
    if not port_open(up['files_port']):
        run([NGINX, 'start', os.path.join(DEMO, 'upstream', 'nginx'), os.path.join(DEMO, 'upstream', 'files'),
             str(up['files_port'])], 'upstream-nginx')


def upstream_down():
    subprocess.run([REGISTRY, 'stop', os.path.join(DEMO, 'upstream', 'registry')], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    subprocess.run([NGINX, 'stop', os.path.join(DEMO, 'upstream', 'nginx')], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def make_upstream(state):
    """What the internet would serve for the demo inventory, with calico and with cilium."""
    manifests = [manifest_of(INVENTORY, 'calico')]
    copy_inventory(os.path.join(DEMO, 'work', 'cilium-inventory'), 'cilium')
    manifests.append(manifest_of(os.path.join(DEMO, 'work', 'cilium-inventory'), 'cilium'))
    stand_in_files(KUBESPRAY, manifests, os.path.join(DEMO, 'upstream', 'files'), CHECKSUMS)
    images = sorted({i['source'] for m in manifests for i in m['images'] + m['mirror_images']} | set(images_inside(manifests)))
    with open(os.path.join(DEMO, 'upstream', 'images.list'), 'w') as f:
        f.write(''.join(i + '\n' for i in images))
    state['upstream'] = {'registry_port': free_port(), 'files_port': free_port(),
                         'hosts': sorted({i.split('/')[0] for i in images})}
    upstream_up(state)
    run(['go', 'run', './tests/tools/imageset', '--registry', '127.0.0.1:%d' % state['upstream']['registry_port'],
         '--names', os.path.join(DEMO, 'upstream', 'images.list'), '--scale', os.environ.get('AIRGAP_DEMO_SCALE', '0.005')],
        'upstream-images', cwd=REPO)
    files = sum(len(m['files']) for m in manifests)
    say('   upstream registry 127.0.0.1:%d (%d images), files http://127.0.0.1:%d/ (%d URLs, calico and cilium)'
        % (state['upstream']['registry_port'], len(images), state['upstream']['files_port'], files))


# -- the pipeline ---------------------------------------------------------------------------------

def download_vars(state):
    up = state['upstream']
    target = host_target()
    os_vars = {} if not target else {
        # The OS repository for the nodes, built from this host's own apt sources, signed with a
        # key kept in .demo/gnupg; the PyPI index from the wheels Debian ships (PyPI itself is
        # not needed for the demo).
        'airgap_os_targets': [target], 'airgap_os_repos_work_dir': os.path.join(DEMO, 'os-repos-work'),
        'airgap_os_repos_gnupg_home': GNUPG,
        'airgap_pypi_requirements': [], 'airgap_pypi_packages': [],
        'airgap_pypi_wheels': sorted(glob.glob('/usr/share/python-wheels/*.whl')),
    }
    return dict(os_vars, **{
        'airgap_kubespray_dir': KUBESPRAY,
        'airgap_bundle_dir': BUNDLE,
        # The collection's upstream rewrite settings, as for a corporate proxy or pull-through cache.
        'airgap_file_mirrors': [{'prefix': 'https://', 'replace': 'http://127.0.0.1:%d/' % up['files_port']}],
        'airgap_image_mirrors': [{'prefix': h, 'replace': '127.0.0.1:%d/%s' % (up['registry_port'], h)} for h in up['hosts']],
        'airgap_insecure_registries': ['127.0.0.1:%d' % up['registry_port']],
    })


def download(state):
    upstream_up(state)
    out = playbook('download', 'download', download_vars(state), '@' + CHECKSUMS)
    for line in summary_lines(out, 'Download | Summary') + summary_lines(out, 'OS repos | Summary'):
        say('   ' + line)
    if not host_target():
        say('   (no OS repository: this host does not run Debian 12, the only release the demo can build here)')
    return out


def files_user():
    """nginx's workers run as nobody when started as root: they must reach .demo/bundle/files."""
    path = os.path.join(BUNDLE, 'files')
    while path != '/':
        mode = os.stat(path).st_mode
        if not mode & 0o001:
            return pwd.getpwuid(os.getuid()).pw_name
        path = os.path.dirname(path)
    return ''


def mirror_vars(state, **more):
    m = state['mirror']
    v = {
        # (a state.json from an older demo may lack push_port: `up` stops it with what it has)
        **({'airgap_registry_push_listen': '127.0.0.1:%d' % m['push_port']} if 'push_port' in m else {}),
        'airgap_kubespray_dir': KUBESPRAY,
        'airgap_bundle_dir': BUNDLE, 'airgap_mirror_address': '127.0.0.1',
        'airgap_mirror_files_port': m['files_port'], 'airgap_mirror_registry_port': m['registry_port'],
        'airgap_files_listen_override': '127.0.0.1:%d' % m['files_port'],
        'airgap_registry_listen_override': '127.0.0.1:%d' % m['registry_port'],
        # No systemd here: started detached with a pid file (airgap_service_manager: none).
        'airgap_service_manager': 'none', 'airgap_files_user': files_user(),
        'airgap_files_state_dir': os.path.join(MIRROR, 'files-server'),
        'airgap_registry_state_dir': os.path.join(MIRROR, 'registry-server'),
        'airgap_registry_data_dir': os.path.join(MIRROR, 'registry-data'),
        # The admin node's own package managers: a scratch root, not this machine's /etc.
        'airgap_repos_root': os.path.join(MIRROR, 'admin-root'), 'airgap_repos_become': False,
        'airgap_offline_vars_file': os.path.join(INVENTORY, 'group_vars', 'all', 'offline.yml'),
    }
    v.update(more)
    return v


def fake_root(root, os_id, version):
    os.makedirs(os.path.join(root, 'etc', 'apt' if os_id in ('debian', 'ubuntu') else 'yum.repos.d'), exist_ok=True)
    with open(os.path.join(root, 'etc', 'os-release'), 'w') as f:
        f.write('ID=%s\nVERSION_ID="%s"\n' % (os_id, version))
    if os_id in ('debian', 'ubuntu'):
        os.makedirs(os.path.join(root, 'usr', 'local', 'share', 'ca-certificates'), exist_ok=True)
        with open(os.path.join(root, 'etc', 'apt', 'sources.list'), 'w') as f:
            f.write('deb http://deb.debian.org/debian bookworm main\n' if os_id == 'debian'
                    else 'deb http://archive.ubuntu.com/ubuntu noble main\n')
    else:
        os.makedirs(os.path.join(root, 'etc', 'pki', 'ca-trust', 'source', 'anchors'), exist_ok=True)
        with open(os.path.join(root, 'etc', 'yum.repos.d', 'rocky.repo'), 'w') as f:
            f.write('[baseos]\nname=Rocky Linux $releasever - BaseOS\nmirrorlist=https://mirrors.rockylinux.org/mirrorlist?repo=BaseOS-$releasever\n')


def mirror(state, log='mirror'):
    if 'mirror' not in state or 'push_port' not in state['mirror']:
        state['mirror'] = dict({'files_port': free_port(), 'registry_port': free_port()}, **state.get('mirror', {}),
                               push_port=free_port())
        save_state(state)
    if not os.path.exists(os.path.join(MIRROR, 'admin-root', 'etc', 'os-release')):
        fake_root(os.path.join(MIRROR, 'admin-root'), 'debian', '12')
    return playbook('mirror', log, mirror_vars(state))


def node_vars():
    """The nodes are the inventory's own hosts, reached with a local connection into their roots."""
    return {'ansible_connection': 'local', 'ansible_python_interpreter': sys.executable}


def repos(state):
    for host, (os_id, version) in NODE_OS.items():
        if not os.path.exists(os.path.join(DEMO, 'nodes', host, 'etc', 'os-release')):
            fake_root(os.path.join(DEMO, 'nodes', host), os_id, version)
    return playbook('repos', 'repos', dict(node_vars(), airgap_repos_become=False,
                                           airgap_repos_root=os.path.join(DEMO, 'nodes') + '/{{ inventory_hostname }}'))


def verify(state, log='verify', nodes=False, check=False):
    v = {'airgap_kubespray_dir': KUBESPRAY, 'airgap_verify_ca_path': os.path.join(MIRROR, 'registry-tls', 'ca.pem'),
         'airgap_bundle_dir': BUNDLE}
    if nodes:
        # The probe from every node, on its scratch root: files through files_repo, apt from the
        # mirror's repository alone, containerd where one runs (none does, unless a test starts one).
        v.update(node_vars(), airgap_verify_nodes=True, airgap_verify_nodes_become=False,
                 airgap_verify_nodes_root=os.path.join(DEMO, 'nodes') + '/{{ inventory_hostname }}',
                 airgap_verify_nodes_report=NODES_REPORT)
        if os.path.exists(NODES_REPORT):
            os.remove(NODES_REPORT)
    out = playbook('verify', log, v, '@' + CHECKSUMS, check=check)
    for line in summary_lines(out, 'Verify | Summary'):
        say('   ' + line)
    if nodes:
        with open(NODES_REPORT) as f:
            report = json.load(f)
        for host in sorted(report):
            say('   %s:' % host)
            for line in report[host].get('table', []):
                say('     ' + line)
    return out


def down(state):
    if state.get('mirror'):
        subprocess.run(['ansible-playbook', '-i', os.path.join(INVENTORY, 'hosts.yaml'), 'airgap.kubespray.mirror', '-e',
                        json.dumps(mirror_vars(state, airgap_mirror_state='absent'))],
                       env=env(), cwd=DEMO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    upstream_down()
    if os.path.isdir(GNUPG) and shutil.which('gpgconf'):
        # gpg left its agent running for the signing key's home: it goes with the demo's servers.
        subprocess.run(['gpgconf', '--homedir', GNUPG, '--kill', 'all'], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    ports = [p for p in (state.get('mirror', {}).get('files_port'), state.get('mirror', {}).get('registry_port'),
                         state.get('mirror', {}).get('push_port'),
                         state.get('upstream', {}).get('files_port'), state.get('upstream', {}).get('registry_port')) if p]
    deadline = time.monotonic() + 15  # a stopped server may take a moment to close its socket
    while any(port_open(p) for p in ports) and time.monotonic() < deadline:
        time.sleep(0.5)
    left = [p for p in ports if port_open(p)]
    if left:
        raise SystemExit('demo: still answering on 127.0.0.1:%s' % ', '.join(map(str, left)))
    say('demo: stopped (data kept in %s)' % DEMO)


def up():
    start = time.monotonic()
    if os.path.exists(STATE):
        down(load_state())
    ensure_kubespray()
    for sub in ('collections', 'inventory', 'work', 'upstream', 'bundle', 'mirror', 'nodes', 'logs', 'no-roles'):
        shutil.rmtree(os.path.join(DEMO, sub), ignore_errors=True)
    os.makedirs(DEMO, exist_ok=True)
    os.chmod(DEMO, 0o755)
    state = {}
    save_state(state)
    with Step(state, '1. install the collection into .demo/collections'):
        tarballs = glob.glob(os.path.join(REPO, 'build', 'airgap-kubespray-*.tar.gz'))
        if len(tarballs) != 1:
            raise SystemExit('demo: run `make collection` first (want one build/airgap-kubespray-*.tar.gz)')
        run(['ansible-galaxy', 'collection', 'install', '--force', '-p', os.path.join(DEMO, 'collections'), tarballs[0]], 'install')
        copy_inventory(INVENTORY)
    with Step(state, '2. a stand-in upstream on 127.0.0.1 (what the internet would serve)'):
        make_upstream(state)
    with Step(state, '3. online: airgap.kubespray.download -> .demo/bundle'):
        download(state)
    upstream_down()
    say('   (upstream stopped: everything below is offline)')
    with Step(state, '4. offline: airgap.kubespray.mirror (images into the registry storage, files server, registry, offline.yml)'):
        mirror(state)
        say('   wrote %s' % os.path.relpath(os.path.join(INVENTORY, 'group_vars', 'all', 'offline.yml'), REPO))
    with Step(state, '5. offline: airgap.kubespray.repos on node1..3 (scratch roots under .demo/nodes)'):
        repos(state)
    with Step(state, '6. offline: airgap.kubespray.verify (asks Kubespray, checks the mirror, probes it from every node)'):
        verify(state, nodes=True)
    total = time.monotonic() - start
    m = state['mirror']
    say('')
    say('demo: all green in %.0f s' % total)
    for name, took in state['timings'].items():
        say('  %6.1f s  %s' % (took, name))
    say('')
    say('  files_repo      http://127.0.0.1:%d/   (try: curl -s http://127.0.0.1:%d/dl.k8s.io/)' % (m['files_port'], m['files_port']))
    say('  registry_host   127.0.0.1:%d          (TLS, CA %s)' % (m['registry_port'], os.path.relpath(os.path.join(MIRROR, 'registry-tls', 'ca.pem'), REPO)))
    say('  offline.yml     .demo/inventory/group_vars/all/offline.yml')
    say('  bundle          .demo/bundle (SHA256SUMS, manifest.yaml, files/, images/)')
    say('  nodes           .demo/nodes/node1..3 (apt and pip pointed at the mirror, signed; the registry CA installed)')
    say('  node probes     .demo/work/verify-nodes.json (no containerd runs in the scratch roots: that probe is skipped)')
    say('  bootstrap       .demo/bundle/bootstrap.sh (an admin node with no Ansible: OS repo via file:, Python, venv)')
    say('  logs            .demo/logs/')
    say('')
    say('  switch to cilium and download again (only cilium\'s items are fetched):')
    say('    sed -i "s/^kube_network_plugin:.*/kube_network_plugin: cilium/" .demo/inventory/group_vars/k8s_cluster/k8s-cluster.yml')
    say('    tests/demo/demo.py download')
    say('  stop everything: make demo-down')


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n', maxsplit=1)[0])
    ap.add_argument('command', nargs='?', default='up', choices=['up', 'kubespray', 'download', 'mirror', 'repos', 'verify', 'verify-nodes', 'down'])
    ap.add_argument('--check', action='store_true', help='verify, verify-nodes: run the playbook in check mode')
    opts = ap.parse_args()
    cmd = opts.command
    if cmd == 'up':
        return up()
    if cmd == 'kubespray':
        return say(ensure_kubespray())
    state = load_state()
    if cmd == 'down':
        return down(state)
    if 'upstream' not in state:
        raise SystemExit('demo: no demo in %s: run `make demo` first' % DEMO)
    {'download': lambda: (download(state), upstream_down()), 'mirror': lambda: mirror(state),
     'repos': lambda: repos(state), 'verify': lambda: verify(state, check=opts.check),
     'verify-nodes': lambda: verify(state, 'verify-nodes', nodes=True, check=opts.check)}[cmd]()


if __name__ == '__main__':
    main()

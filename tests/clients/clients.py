"""Kubespray's own clients against the demo mirror: what a node will fetch, fetched as the node does.

    tests/clients/clients.py check [--only images|files] [--node NODE] [--evaluation MANIFEST]
    tests/clients/clients.py tools       build or reuse containerd, ctr and crictl

check needs a running demo (tests/demo/demo.py up) and root (a mount namespace).

1. The evaluation: the collection's airgap.kubespray.manifest playbook on the demo inventory in the
   offline view (-e airgap_manifest_upstream=false, -e @checksums.yml): the images and files
   Kubespray will ask the mirror for; plus the images the download found inside the charts and
   manifests Kubespray applies (Argo CD's, kubelet-csr-approver's), by their upstream names,
   which containerd reaches through offline.yml's mirrors of their registries.
2. Images: containerd at Kubespray's containerd_version (evaluated from kubespray_defaults), with
   config.toml and hosts.toml rendered from Kubespray's containerd role (node.yml), runs in a
   private mount namespace where the node's etc/containerd (the registry CA the repos playbook
   installed) is /etc/containerd (node.sh). Every image is pulled as repo:tag through CRI
   (crictl pull) and, in a fresh containerd, with ctr images pull --hosts-dir; TLS is verified
   through the CA.
3. Files: Kubespray's roles/download/tasks/download_file.yml fetches every file with its checksum
   (files.yml).

Writes one JSON result per item to <demo>/clients/results.json and exits 1 naming every failed
item. containerd, ctr and crictl are built from the Go module proxy (CGO off) once, into
$AIRGAP_CACHE/tools/<name>-<version>/ (default /var/cache/airgap-kubespray), and reused.
AIRGAP_DEMO_DIR selects the demo, as for tests/demo/demo.py.
"""
import argparse
import concurrent.futures
import contextlib
import fcntl
import glob
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, '..', '..'))
sys.path.insert(0, os.path.join(REPO, 'tests', 'demo'))
import demo  # noqa: E402

CACHE = os.environ.get('AIRGAP_CACHE', '/var/cache/airgap-kubespray')
WORK = os.path.join(demo.DEMO, 'clients')
RESULTS = os.path.join(WORK, 'results.json')
CRICTL_VERSION = os.environ.get('AIRGAP_CLIENTS_CRICTL_VERSION', '1.34.0')
GO = shutil.which('go', path='/usr/local/go/bin:' + os.environ.get('PATH', '')) or 'go'
# The stand-in files of the demo are text ("stand-in for <url>"), not the archives Kubespray
# unpacks: for those, only Kubespray's extract step may fail.
STANDIN_PREFIX = b'stand-in for '
EXTRACT_TASK = 'Extract_file | Unpacking archive'


class Failure(Exception):
    pass


def log_path(name):
    os.makedirs(os.path.join(WORK, 'logs'), exist_ok=True)
    return os.path.join(WORK, 'logs', name + '.log')


def run(args, log, **kw):
    """Runs args with the output in <demo>/clients/logs/<log>.log; raises Failure on an error."""
    with open(log_path(log), 'w') as f:
        p = subprocess.run(args, stdout=f, stderr=subprocess.STDOUT, **kw)
    if p.returncode != 0:
        with open(log_path(log)) as f:
            tail = f.read()[-4000:]
        raise Failure('%s failed (exit %d), log %s:\n%s' % (' '.join(args[:3]), p.returncode, log_path(log), tail))


# -- the clients, built once ----------------------------------------------------------------------

TOOLS = {
    # name: (module, {binary: package}, -X version variable)
    'containerd': ('github.com/containerd/containerd/v2',
                   {'containerd': 'cmd/containerd', 'ctr': 'cmd/ctr'},
                   'github.com/containerd/containerd/v2/version.Version'),
    'crictl': ('sigs.k8s.io/cri-tools', {'crictl': 'cmd/crictl'}, 'sigs.k8s.io/cri-tools/pkg/version.Version'),
}


def tool(name, version):
    """The folder holding name's binaries at version: $AIRGAP_CACHE/tools/<name>-<version>/, built
    from the Go module proxy in a scratch module (CGO off) unless already there. Returns (dir, built)."""
    module, binaries, version_var = TOOLS[name]
    tools = os.path.join(CACHE, 'tools')
    final = os.path.join(tools, '%s-%s' % (name, version))

    def present():
        return all(os.access(os.path.join(final, b), os.X_OK) for b in binaries)

    if present():
        return final, False
    os.makedirs(tools, exist_ok=True)
    with open(os.path.join(tools, '.lock'), 'w') as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another run may be building it
        if present():
            return final, False
        for stale in glob.glob(os.path.join(tools, '.%s-%s.*' % (name, version))):  # an interrupted build
            shutil.rmtree(stale, ignore_errors=True)
        tmp = tempfile.mkdtemp(prefix='.%s-%s.' % (name, version), dir=tools)
        try:
            src = os.path.join(tmp, 'src')
            os.makedirs(src)
            env = dict(os.environ, CGO_ENABLED='0', GOWORK='off', GOFLAGS='-mod=mod', GOTOOLCHAIN='local')
            pkgs = ['%s/%s' % (module, p) for p in binaries.values()]
            run([GO, 'mod', 'init', 'airgap-clients-build'], 'build-' + name, cwd=src, env=env)
            run([GO, 'get'] + ['%s@v%s' % (p, version) for p in pkgs], 'build-' + name, cwd=src, env=env)
            for binary, pkg in binaries.items():
                # Without cgo, containerd leaves out its cgo-only parts (the btrfs snapshotter) by itself.
                run([GO, 'build', '-trimpath', '-ldflags', '-s -w -X %s=v%s' % (version_var, version),
                     '-o', os.path.join(tmp, binary), '%s/%s' % (module, pkg)], 'build-%s-%s' % (name, binary), cwd=src, env=env)
            shutil.rmtree(src)
            os.chmod(tmp, 0o755)
            os.rename(tmp, final)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return final, True


# -- Ansible --------------------------------------------------------------------------------------

def ansible_env():
    return dict(demo.env(), ANSIBLE_NOCOLOR='1', ANSIBLE_PYTHON_INTERPRETER='/usr/bin/python3')


def playbook(name, log, *extra):
    """ansible-playbook on the demo inventory with the demo's checksums (role vars: extra vars)."""
    args = ['ansible-playbook', '-i', os.path.join(demo.INVENTORY, 'hosts.yaml'), name, '-e', '@' + demo.CHECKSUMS]
    for e in extra:
        args += ['-e', json.dumps(e)]
    run(args, log, env=ansible_env(), cwd=WORK)


def evaluate():
    """The manifest of what Kubespray will ask the mirror for (the offline view), and the images
    the download found inside the charts and manifests Kubespray applies (the bundle's manifest):
    the nodes pull those by their upstream names, through containerd's mirror of their registry."""
    out = os.path.join(WORK, 'manifest')
    playbook('airgap.kubespray.manifest', 'manifest',
             {'airgap_kubespray_dir': demo.KUBESPRAY, 'airgap_manifest_dir': out, 'airgap_manifest_upstream': False})
    with open(os.path.join(out, 'manifest.yaml')) as f:
        manifest = yaml.safe_load(f)
    with open(os.path.join(demo.BUNDLE, 'manifest.yaml')) as f:
        bundle = yaml.safe_load(f)
    listed = {i['source'] for i in manifest['images']}
    manifest['images'] += [i for i in bundle['images']
                           if i.get('origin') in ('chart', 'manifest') and i['source'] not in listed]
    with open(os.path.join(out, 'evaluation.yaml'), 'w') as f:  # what the checks took (tests reuse it)
        yaml.safe_dump(manifest, f)
    return manifest


def versions(node):
    out = os.path.join(WORK, 'versions.json')
    playbook(os.path.join(HERE, 'versions.yml'), 'versions',
             {'airgap_kubespray_dir': demo.KUBESPRAY, 'airgap_clients_node': node, 'airgap_clients_out': out})
    with open(out) as f:
        return json.load(f)


# -- containerd as on a node ----------------------------------------------------------------------

class Node:
    """containerd with Kubespray's configuration for a node, in a private mount namespace.

    Its own root (a tmpfs), state and socket under dir; the node's etc/containerd from the demo is
    /etc/containerd inside (node.sh). Clients run in the same namespace (nsenter)."""

    def __init__(self, bin_dir, dir, node_etc):
        self.bin_dir, self.dir, self.node_etc = bin_dir, dir, node_etc
        self.cfg = os.path.join(dir, 'etc', 'containerd')
        self.root = os.path.join(dir, 'root')
        self.state = os.path.join(dir, 'state')
        self.sock = os.path.join(dir, 'containerd.sock')
        self.pidfile = os.path.join(dir, 'containerd.pid')
        self.proc = None

    def render(self, node):
        """config.toml and hosts.toml from Kubespray's containerd role, paths aside (node.yml)."""
        self.stop_stale()
        shutil.rmtree(self.dir, ignore_errors=True)
        os.makedirs(self.dir)
        playbook(os.path.join(HERE, 'node.yml'), 'node', {
            'airgap_kubespray_dir': demo.KUBESPRAY, 'airgap_clients_node': node, 'airgap_clients_dir': self.dir,
            'airgap_clients_ctr': os.path.join(self.bin_dir['containerd'], 'ctr'),
            'containerd_cfg_dir': self.cfg, 'containerd_storage_dir': self.root, 'containerd_state_dir': self.state})
        with open(os.path.join(self.dir, 'node.json')) as f:
            return json.load(f)

    def start(self, log):
        if os.geteuid() != 0:
            raise Failure('containerd as on a node needs root (a mount namespace, mounts, its own root)')
        self.stop_stale()
        for d in (self.root, self.state):
            shutil.rmtree(d, ignore_errors=True)
            os.makedirs(d, mode=0o711)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.sock)
        self.log = log_path(log)
        with open(self.log, 'w') as f:
            self.proc = subprocess.Popen(
                ['unshare', '--mount', '--propagation', 'private', os.path.join(HERE, 'node.sh'), self.node_etc,
                 self.root, '--', os.path.join(self.bin_dir['containerd'], 'containerd'),
                 '--config', os.path.join(self.cfg, 'config.toml'), '--address', self.sock],
                stdout=f, stderr=subprocess.STDOUT)
        with open(self.pidfile, 'w') as f:
            f.write('%d\n' % self.proc.pid)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                with open(self.log) as f:
                    raise Failure('containerd exited (%d):\n%s' % (self.proc.returncode, f.read()[-4000:]))
            if os.path.exists(self.sock) and self.crictl('version').returncode == 0:
                return self
            time.sleep(0.3)
        self.stop()
        raise Failure('containerd did not answer on %s in 60 s (log %s)' % (self.sock, self.log))

    def stop_stale(self):
        """Stops a containerd a killed run left behind on this folder (its pid file, its config)."""
        try:
            with open(self.pidfile) as f:
                pid = int(f.read())
            with open('/proc/%d/cmdline' % pid, 'rb') as f:
                stale = os.path.join(self.cfg, 'config.toml').encode() in f.read().split(b'\0')
        except (OSError, ValueError):
            return
        if not stale:
            return
        os.kill(pid, signal.SIGKILL)
        for _ in range(100):
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, os.WNOHANG)
            try:
                with open('/proc/%d/stat' % pid) as f:
                    if f.read().rsplit(')', 1)[1].split()[0] == 'Z':
                        return
            except OSError:
                return
            time.sleep(0.1)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def __enter__(self):
        return self

    def __exit__(self, *_):
        self.stop()

    def exec(self, args, timeout=300):
        """args in containerd's mount namespace (where /etc/containerd is the node's)."""
        return subprocess.run(['nsenter', '--target', str(self.proc.pid), '--mount', '--'] + args,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, timeout=timeout)

    def crictl(self, *args):
        config = os.path.join(self.dir, 'crictl.yaml')
        if not os.path.exists(config):
            endpoint = 'unix://' + self.sock
            with open(config, 'w') as f:
                yaml.safe_dump({'runtime-endpoint': endpoint, 'image-endpoint': endpoint, 'timeout': 60}, f)
        return self.exec([os.path.join(self.bin_dir['crictl'], 'crictl'), '--config', config] + list(args))

    def ctr(self, *args):
        return self.exec([os.path.join(self.bin_dir['containerd'], 'ctr'), '--address', self.sock,
                          '--namespace', 'k8s.io'] + list(args))

    def pull(self, client, ref):
        if client == 'crictl':
            return self.crictl('pull', ref)
        return self.ctr('images', 'pull', '--hosts-dir', os.path.join(self.cfg, 'certs.d'), ref)

    def listed(self, client):
        """The image names the runtime holds, as the client lists them."""
        if client == 'crictl':
            p = self.crictl('images', '-o', 'json')
            return {t for i in json.loads(p.stdout)['images'] for t in i.get('repoTags') or []} if p.returncode == 0 else set()
        p = self.ctr('images', 'ls', '-q')
        return set(p.stdout.split()) if p.returncode == 0 else set()

    def runtime_version(self):
        """RuntimeVersion as CRI reports it (crictl version)."""
        p = self.crictl('version')
        return {k.strip(): v.strip() for k, v in (line.split(':', 1) for line in p.stdout.splitlines() if ':' in line)}


def pull_images(node, client, images, jobs=4):
    """Pulls every image with client; one result per image."""
    def one(img):
        ref = '%s:%s' % (img['repo'], img['tag'])
        start = time.monotonic()
        try:
            p = node.pull(client, ref)
            ok, error = p.returncode == 0, '' if p.returncode == 0 else (p.stderr.strip() or p.stdout.strip())[-2000:]
        except subprocess.TimeoutExpired as e:
            ok, error = False, 'timed out after %d s' % e.timeout
        return {'kind': 'image', 'client': client, 'name': img['name'], 'ref': ref, 'ok': ok, 'error': error,
                'seconds': round(time.monotonic() - start, 2)}
    with concurrent.futures.ThreadPoolExecutor(jobs) as pool:
        results = list(pool.map(one, images))
    held = node.listed(client)
    for r in results:
        r['listed'] = r['ref'] in held
        r['ok'] = r['ok'] and r['listed']
    return results


def check_images(manifest, node_name, bins, clients=('crictl', 'ctr')):
    node_root = os.path.join(demo.DEMO, 'nodes', node_name)
    node = Node(bins, os.path.join(WORK, 'node'), os.path.join(node_root, 'etc', 'containerd'))
    rendered = node.render(node_name)
    results, runtime = [], {}
    for client in clients:
        # A fresh containerd (empty root) for each client: each fetches every image itself.
        with node.start('containerd-' + client):
            runtime[client] = node.runtime_version()
            results += pull_images(node, client, manifest['images'])
    return rendered, runtime, results


# -- files through Kubespray's download role ------------------------------------------------------

def sha256(path):
    h = hashlib.sha256()
    with open(path, 'rb') as f:
        for chunk in iter(lambda: f.read(1 << 20), b''):
            h.update(chunk)
    return 'sha256:' + h.hexdigest()


def check_files(manifest):
    work = os.path.join(WORK, 'files')
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    out = os.path.join(work, 'results.json')
    # What Kubespray's download role fetches: its `downloads` entries (not the quirks' helm
    # repositories and charts, which helm and cilium's CLI fetch on the control plane, nor the
    # helm the collection renders charts with on the controller: purpose scan).
    items = [f for f in manifest['files'] if f.get('origin', 'downloads') == 'downloads' and not f.get('purpose')]
    names = sorted({f['name'] for f in items})
    playbook(os.path.join(HERE, 'files.yml'), 'files', {
        'airgap_kubespray_dir': demo.KUBESPRAY, 'airgap_clients_names': names, 'airgap_clients_out': out,
        'local_release_dir': work + '/releases/{{ inventory_hostname }}', 'download_cache_dir': work + '/cache',
        # Kubespray's retry switches, low: a missing file fails in seconds.
        'download_retries': 1, 'retry_stagger': 1, 'ansible_connection': 'local'})
    with open(out) as f:
        got = json.load(f)
    by_url = {f['url']: f for f in items}
    results = []
    for r in got['files']:
        m = by_url.get(r['url'], {})
        r.update(kind='file', checksum=m.get('checksum', ''), sha256='', extract='')
        if os.path.isfile(r['dest']):
            r['sha256'] = sha256(r['dest'])
        # Kubespray's get_url verified the checksum; its extract step cannot unpack a stand-in.
        if not r['ok'] and r['failed_task'] == EXTRACT_TASK and r['sha256'] == r['checksum']:
            with open(r['dest'], 'rb') as fh:
                if fh.read(len(STANDIN_PREFIX)) == STANDIN_PREFIX:
                    r.update(ok=True, extract='not an archive: a demo stand-in')
        if m.get('name') != r['name']:
            r.update(ok=False, msg='Kubespray fetches %s, which the evaluation does not list for %s' % (r['url'], r['name']))
        elif r['ok'] and r['sha256'] != r['checksum']:
            r.update(ok=False, msg='the fetched file is not the evaluation\'s %s' % r['checksum'])
        results.append(r)
    expected = {f['name']: f for f in items}
    for name in got['not_downloaded']:
        results.append({'kind': 'file', 'name': name, 'ok': False, 'url': expected[name]['url'],
                        'msg': 'no host downloads it under the condition of Kubespray\'s download role'})
    skipped = [{'kind': 'file', 'name': f['name'], 'url': f['url'],
                'why': 'the controller\'s helm (purpose scan)' if f.get('purpose') else
                       'fetched by helm or cilium\'s CLI on the control plane (quirk %s), not a Kubespray download' % f.get('quirk')}
               for f in manifest['files'] if f not in items]
    skipped += [{'kind': 'file', 'name': n, 'url': expected[n]['url'], 'why': 'no entry of Kubespray\'s downloads'}
                for n in got['not_in_downloads']]
    return results, skipped


# -- the check ------------------------------------------------------------------------------------

def mirror_running():
    m = demo.load_state().get('mirror', {})
    return bool(m) and demo.port_open(m['files_port']) and demo.port_open(m['registry_port'])


def default_node():
    with open(os.path.join(demo.INVENTORY, 'hosts.yaml')) as f:
        inv = yaml.safe_load(f)
    children = inv['all']['children']
    hosts = children.get('kube_control_plane', {}).get('hosts') or children['k8s_cluster'].get('hosts') or {}
    return sorted(hosts)[0]


def build_tools(containerd_version):
    bins, built = {}, {}
    for name, version in (('containerd', containerd_version), ('crictl', CRICTL_VERSION)):
        bins[name], built[name] = tool(name, version)
    return bins, built


def check(only=None, node=None, clients=('crictl', 'ctr'), evaluation=None):
    """Runs the checks; returns the results (also written to RESULTS). evaluation: a manifest.yaml
    to use instead of evaluating again. The files are fetched while the images are pulled."""
    if not mirror_running():
        raise Failure('no running demo mirror in %s: run tests/demo/demo.py up' % demo.DEMO)
    os.makedirs(WORK, exist_ok=True)
    node = node or default_node()
    started = time.monotonic()
    res = {'demo': demo.DEMO, 'node': node, 'images': [], 'files': [], 'skipped': [], 'timings': {}}

    def timed(name, fn, *args):
        start = time.monotonic()
        try:
            return fn(*args)
        finally:
            res['timings'][name] = round(time.monotonic() - start, 1)

    def load(path):
        with open(path) as f:
            return yaml.safe_load(f)

    def files(manifest):
        return timed('files', check_files, manifest.result()) if only in (None, 'files') else ([], [])

    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        manifest = pool.submit(timed, 'evaluate', load, evaluation) if evaluation else pool.submit(timed, 'evaluate', evaluate)
        fetched = pool.submit(files, manifest)
        if only in (None, 'images'):
            res['versions'] = timed('versions', versions, node)
            bins, built = timed('tools', build_tools, res['versions']['containerd_version'])
            res['tools'] = {n: {'dir': bins[n], 'built': built[n]} for n in bins}
            res['rendered'], res['runtime'], res['images'] = timed('images', check_images, manifest.result(), node, bins,
                                                                   clients)
        res['files'], skipped = fetched.result()
    m = manifest.result()
    res['evaluation'] = {'images': len(m['images']), 'files': len(m['files'])}
    res['skipped'] = skipped
    res['failed'] = sorted({'%s %s' % (r['kind'], r['name']) for r in res['images'] + res['files'] if not r['ok']})
    res['seconds'] = round(time.monotonic() - started, 1)
    tmp = RESULTS + '.tmp'
    with open(tmp, 'w') as f:
        json.dump(res, f, indent=1, sort_keys=True)
    os.replace(tmp, RESULTS)
    return res


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n', maxsplit=1)[0])
    sub = ap.add_subparsers(dest='command', required=True)
    c = sub.add_parser('check', help='pull every image and fetch every file as a node does')
    c.add_argument('--only', choices=['images', 'files'])
    c.add_argument('--evaluation', help='a manifest.yaml of the offline view to use rather than evaluating again')
    c.add_argument('--node', help='the inventory host whose containerd configuration is used (default: the first control plane host)')
    sub.add_parser('tools', help='build or reuse containerd, ctr and crictl')
    a = ap.parse_args()
    try:
        if a.command == 'tools':
            os.makedirs(WORK, exist_ok=True)
            bins, built = build_tools(versions(default_node())['containerd_version'])
            for n in bins:
                print('%s %s (%s)' % (n, bins[n], 'built' if built[n] else 'cached'))
            return 0
        res = check(a.only, a.node, evaluation=a.evaluation)
    except Failure as e:
        print('clients: %s' % e, file=sys.stderr)
        return 2
    for kind in ('images', 'files'):
        for client in sorted({r.get('client', 'kubespray download_file.yml') for r in res[kind]}):
            rs = [r for r in res[kind] if r.get('client', 'kubespray download_file.yml') == client]
            print('%s via %s: %d of %d ok' % (kind, client, sum(r['ok'] for r in rs), len(rs)))
    for item in res['failed']:
        print('FAILED %s' % item)
    print('results: %s (%.0f s: %s)' % (RESULTS, res['seconds'], ', '.join('%s %.0f s' % t for t in res['timings'].items())))
    return 1 if res['failed'] else 0


if __name__ == '__main__':
    sys.exit(main())

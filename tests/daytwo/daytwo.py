"""A site on day two, on loopback: built at Kubespray v2.30.0, then upgraded to v2.31.0 by a delta.

    import daytwo     (tests/daytwo/test_daytwo.py, tests/bench/delta.py)

Reuses the demo's machinery (tests/demo/demo.py: the stand-in upstream, the playbook runs with their
task results in <dir>/logs/<log>.results.jsonl, the mirror's settings) in its own folder,
AIRGAP_DAYTWO_DIR (default .daytwo/), so that it never meets a running `make demo`:

  inventory/                 v2.30.0's sample group_vars + ../shared/kubespray/hosts.yaml (the site)
  inventory-v2.31.0/         the same with v2.31.0's sample (the upgrade)
  work/v2.30.0, v2.31.0      the manifest of each (the manifest playbook)
  upstream/                  one stand-in upstream serving what both need (files and images)
  checksums-<version>.yml    Kubespray's checksum variables pointed at the stand-in files
  bundle/                    the site's full v2.30.0 bundle (download), served by the mirror
  mirror/                    the mirror's state: registry storage, servers
  work/airgap-site-state.yaml  what the site holds (site_state)
  delta/                     the v2.31.0 bundle made against that state (download -e airgap_site_state)
  gnupg/                     the key download signs with

Smallest set that still exercises both versions: calico (Kubespray's sample), no add-ons, no OS
repository, linux/amd64, neither the collection nor Kubespray packed into the bundles.
"""
import glob
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
import urllib.request

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, '..', '..'))
SHARED = os.path.join(REPO, '..', 'shared', 'kubespray')
OLD, NEW = 'v2.30.0', 'v2.31.0'
KUBESPRAY = {OLD: os.path.abspath(os.environ.get('AIRGAP_DAYTWO_KUBESPRAY_OLD', os.path.join(SHARED, OLD))),
             NEW: os.path.abspath(os.environ.get('AIRGAP_DAYTWO_KUBESPRAY_NEW', os.path.join(SHARED, NEW)))}
HOSTS = os.path.join(SHARED, 'hosts.yaml')

# demo.py reads these when imported: its folder and Kubespray are ours
os.environ['AIRGAP_DEMO_DIR'] = os.path.abspath(os.environ.get('AIRGAP_DAYTWO_DIR', os.path.join(REPO, '.daytwo')))
os.environ['AIRGAP_DEMO_KUBESPRAY'] = KUBESPRAY[OLD]
sys.path.insert(0, os.path.join(REPO, 'tests', 'demo'))
import demo  # noqa: E402
import results  # noqa: E402  (tests/lib, on the path demo puts there)
from standin import images_inside, stand_in_files  # noqa: E402

DIR = demo.DEMO
INVENTORY = {OLD: demo.INVENTORY, NEW: os.path.join(DIR, 'inventory-' + NEW)}
BUNDLE = demo.BUNDLE  # the site's bundle
DELTA = os.path.join(DIR, 'delta')
STATE_FILE = os.path.join(DIR, 'work', 'airgap-site-state.yaml')
GNUPG = demo.GNUPG
STORAGE = os.path.join(demo.MIRROR, 'registry-data', 'docker', 'registry', 'v2')
SCALE = os.environ.get('AIRGAP_DAYTWO_SCALE', '0.005')
# the name each version's items are known by in the mirror (airgap_view)
VIEW = {OLD: 'kubespray-' + OLD, NEW: 'kubespray-' + NEW}


def checksums(version):
    return os.path.join(DIR, 'checksums-%s.yml' % version)


def manifest_path(version):
    return os.path.join(DIR, 'work', version, 'manifest.yaml')


def load(path):
    with open(path) as f:
        return yaml.safe_load(f)


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, 'rb') as f:
        for chunk in iter(lambda: f.read(1 << 20), b''):
            h.update(chunk)
    return h.hexdigest()


def inventory(version):
    """Kubespray's sample group_vars of version and the small cluster; no add-ons, no OS repository."""
    dest = INVENTORY[version]
    shutil.rmtree(dest, ignore_errors=True)
    shutil.copytree(os.path.join(KUBESPRAY[version], 'inventory', 'sample', 'group_vars'), os.path.join(dest, 'group_vars'))
    shutil.copy(HOSTS, os.path.join(dest, 'hosts.yaml'))
    for root, _, files in os.walk(dest):
        os.chmod(root, 0o755)
        for name in files:
            os.chmod(os.path.join(root, name), 0o644)


def playbook(name, log, version, *extra, check=False):
    return demo.playbook(name, log, *extra, inventory=os.path.join(INVENTORY[version], 'hosts.yaml'), check=check)


def run_playbook(name, log, version, *extra):
    """The playbook's run that may fail: (exit code, path of its task results)."""
    args = ['ansible-playbook', '-i', os.path.join(INVENTORY[version], 'hosts.yaml'), 'airgap.kubespray.' + name]
    for e in extra:
        args += ['-e', e if isinstance(e, str) else json.dumps(e)]
    os.makedirs(os.path.join(DIR, 'logs'), exist_ok=True)
    path = demo.results_path(log)
    env = dict(demo.env(), **results.callback_env(path))
    with open(os.path.join(DIR, 'logs', log + '.log'), 'w') as f:
        p = subprocess.run(args, stdout=f, stderr=subprocess.STDOUT, env=env, cwd=DIR)
    return p.returncode, path


def manifest(version):
    out = os.path.dirname(manifest_path(version))
    playbook('manifest', 'manifest-' + version, version, {'airgap_kubespray_dir': KUBESPRAY[version], 'airgap_manifest_dir': out})
    return load(manifest_path(version))


def upstream(state, manifests):
    """One stand-in upstream for both versions: every file of both manifests (a path both list must
    have the same bytes in both: the upstream serves one), every image of both."""
    files = os.path.join(DIR, 'upstream', 'files')
    seen = {}
    for version in (OLD, NEW):
        stand_in_files(KUBESPRAY[version], [manifests[version]], files, checksums(version))
        for f in manifests[version]['files']:
            digest = sha256_file(os.path.join(files, f['path']))
            if seen.setdefault(f['path'], digest) != digest:
                raise SystemExit('daytwo: %s differs between %s and %s: one upstream cannot serve both' % (f['path'], OLD, NEW))
    images = sorted({i['source'] for m in manifests.values() for i in m['images'] + m['mirror_images']}
                    | set(images_inside(list(manifests.values()))))
    with open(os.path.join(DIR, 'upstream', 'images.list'), 'w') as f:
        f.write(''.join(i + '\n' for i in images))
    state['upstream'] = {'registry_port': demo.free_port(), 'files_port': demo.free_port(),
                         'hosts': sorted({i.split('/')[0] for i in images})}
    demo.save_state(state)
    demo.upstream_up(state)
    demo.run(['go', 'run', './tests/tools/imageset', '--registry', '127.0.0.1:%d' % state['upstream']['registry_port'],
              '--names', os.path.join(DIR, 'upstream', 'images.list'), '--scale', SCALE], 'upstream-images', cwd=REPO)


def signing_vars():
    """download signs SHA256SUMS with the key it keeps for the OS repositories: one home for both runs."""
    return {'airgap_signing_gnupg_home': GNUPG}


def download_vars(state, version, bundle, **more):
    up = state['upstream']
    v = dict(signing_vars(), **{
        'airgap_kubespray_dir': KUBESPRAY[version], 'airgap_bundle_dir': bundle, 'airgap_view': VIEW[version],
        'airgap_bundle_collection': False, 'airgap_bundle_kubespray': False,
        'airgap_file_mirrors': [{'prefix': 'https://', 'replace': 'http://127.0.0.1:%d/' % up['files_port']}],
        'airgap_image_mirrors': [{'prefix': h, 'replace': '127.0.0.1:%d/%s' % (up['registry_port'], h)} for h in up['hosts']],
        'airgap_insecure_registries': ['127.0.0.1:%d' % up['registry_port']],
    })
    v.update(more)
    return v


def trusted_key():
    """The signer's public key as the site keeps it (copied from the first bundle), once download signs."""
    return os.path.join(DIR, 'work', 'trusted-key.asc')


def mirror_vars(state, version, **more):
    """The demo's mirror settings (ports, scratch admin root, no systemd) for version's inventory."""
    v = demo.mirror_vars(state, airgap_kubespray_dir=KUBESPRAY[version],
                         airgap_offline_vars_file=os.path.join(INVENTORY[version], 'group_vars', 'all', 'offline.yml'))
    if os.path.exists(trusted_key()):
        v['airgap_bundle_trusted_key'] = trusted_key()
    v.update(more)
    return v


def ensure_mirror_state(state):
    if 'push_port' not in state.get('mirror', {}):
        state['mirror'] = {'files_port': demo.free_port(), 'registry_port': demo.free_port(), 'push_port': demo.free_port()}
        demo.save_state(state)
    if not os.path.exists(os.path.join(demo.MIRROR, 'admin-root', 'etc', 'os-release')):
        demo.fake_root(os.path.join(demo.MIRROR, 'admin-root'), 'debian', '12')


def verify_vars(version, **more):
    v = {'airgap_kubespray_dir': KUBESPRAY[version], 'airgap_bundle_dir': BUNDLE,
         'airgap_verify_ca_path': os.path.join(demo.MIRROR, 'registry-tls', 'ca.pem')}
    v.update(more)
    return v


def storage_blobs():
    """The blob digests in the site registry's storage (its filesystem), "sha256:<hex>"."""
    return {'sha256:' + os.path.basename(os.path.dirname(p))
            for p in glob.glob(os.path.join(STORAGE, 'blobs', 'sha256', '*', '*', 'data'))}


def stored_image_blobs(digest):
    """The blobs of the image whose manifest (or index) is digest, read from the site registry's
    storage: the manifests, the configs and the layers of every platform it holds."""
    out, todo = set(), [digest]
    while todo:
        d = todo.pop()
        out.add(d)
        path = os.path.join(STORAGE, 'blobs', 'sha256', d[7:9], d[7:], 'data')
        if not os.path.exists(path):
            continue
        with open(path) as f:
            doc = json.load(f)
        todo += [m['digest'] for m in doc.get('manifests', [])]
        out |= {layer['digest'] for layer in doc.get('layers', [])}
        if 'config' in doc:
            out.add(doc['config']['digest'])
    return out


def layout_blobs(bundle):
    """The blob digests of a bundle's OCI layout (images/blobs/sha256/<hex>)."""
    return {'sha256:' + os.path.basename(p) for p in glob.glob(os.path.join(bundle, 'images', 'blobs', 'sha256', '*'))}


def bundle_files(bundle):
    """The files under a bundle's files/, as paths relative to it."""
    out = set()
    for root, _, names in os.walk(os.path.join(bundle, 'files')):
        for name in names:
            out.add(os.path.relpath(os.path.join(root, name), os.path.join(bundle, 'files')))
    return out


MANIFEST_TYPES = ', '.join(['application/vnd.oci.image.index.v1+json', 'application/vnd.oci.image.manifest.v1+json',
                            'application/vnd.docker.distribution.manifest.list.v2+json',
                            'application/vnd.docker.distribution.manifest.v2+json'])


def upstream_blobs(state, m):
    """What the upstream registry holds for manifest m's images, asked over its HTTP API (not
    through the collection): ({manifest and config digests}, {layer digests}) for m's platforms."""
    port = state['upstream']['registry_port']
    platforms = {'linux/' + a for a in m['arches']}
    meta, layers = set(), set()

    def get(name, ref):
        req = urllib.request.Request('http://127.0.0.1:%d/v2/%s/manifests/%s' % (port, name, ref), headers={'Accept': MANIFEST_TYPES})
        with urllib.request.urlopen(req) as r:
            body = r.read()
        return 'sha256:' + hashlib.sha256(body).hexdigest(), json.loads(body)

    for image in m['images'] + m['mirror_images']:
        name, _, tag = image['source'].partition('@')[0].rpartition(':')
        ref = image.get('digest') or (image['source'].split('@', 1)[1] if '@' in image['source'] else tag)
        digest, doc = get(name, ref)
        meta.add(digest)
        todo = [doc]
        if 'manifests' in doc:
            todo = []
            for d in doc['manifests']:
                p = d.get('platform', {})
                if '%s/%s' % (p.get('os'), p.get('architecture')) in platforms:
                    meta.add(d['digest'])
                    todo.append(get(name, d['digest'])[1])
        for d in todo:
            meta.add(d['config']['digest'])
            layers |= {layer['digest'] for layer in d['layers']}
    return meta, layers


def build(log=print):
    """The site at v2.30.0 (full download, mirror, site_state), then v2.31.0's delta against its
    state. Returns the demo state (ports, timings) with what the checks need beside it."""
    start = time.monotonic()
    if os.path.exists(demo.STATE):
        down()
    for sub in ('collections', 'inventory', 'inventory-' + NEW, 'work', 'upstream', 'bundle', 'delta', 'mirror', 'logs',
                'no-roles', 'gnupg'):
        shutil.rmtree(os.path.join(DIR, sub), ignore_errors=True)
    os.makedirs(os.path.join(DIR, 'work'), exist_ok=True)
    os.chmod(DIR, 0o755)
    state = {}
    demo.save_state(state)
    with demo.Step(state, 'install the collection'):
        tarballs = glob.glob(os.path.join(REPO, 'build', 'airgap-kubespray-*.tar.gz'))
        if len(tarballs) != 1:
            raise SystemExit('daytwo: run `make collection` first (want one build/airgap-kubespray-*.tar.gz)')
        demo.run(['ansible-galaxy', 'collection', 'install', '--force', '-p', os.path.join(DIR, 'collections'), tarballs[0]], 'install')
        for version in (OLD, NEW):
            inventory(version)
    with demo.Step(state, 'manifests of %s and %s, one upstream for both' % (OLD, NEW)):
        manifests = {version: manifest(version) for version in (OLD, NEW)}
        upstream(state, manifests)
    with demo.Step(state, 'online: full download of %s' % OLD):
        playbook('download', 'download-' + OLD, OLD, download_vars(state, OLD, BUNDLE), '@' + checksums(OLD))
        shutil.copy(os.path.join(BUNDLE, 'manifest.yaml'), os.path.join(DIR, 'work', 'site-manifest.yaml'))
        if os.path.exists(os.path.join(BUNDLE, 'SHA256SUMS.key')):
            shutil.copy(os.path.join(BUNDLE, 'SHA256SUMS.key'), trusted_key())
    with demo.Step(state, 'offline: mirror %s' % OLD):
        ensure_mirror_state(state)
        playbook('mirror', 'mirror-' + OLD, OLD, mirror_vars(state, OLD))
        state['site_blobs'] = sorted(storage_blobs())
        demo.save_state(state)
    with demo.Step(state, 'offline: site_state'):
        playbook('site_state', 'site-state', OLD, mirror_vars(state, OLD, airgap_site_state_dest=STATE_FILE))
    with demo.Step(state, 'online: delta download of %s against the site state' % NEW):
        playbook('download', 'download-delta', NEW, download_vars(state, NEW, DELTA, airgap_site_state=STATE_FILE),
                 '@' + checksums(NEW))
        meta, layers = upstream_blobs(state, manifests[NEW])
        state['new_blobs'] = {'meta': sorted(meta), 'layers': sorted(layers)}
        demo.save_state(state)
    demo.upstream_down()
    log('daytwo: site built in %.0f s' % (time.monotonic() - start))
    return state


def down():
    """Stops what build started (the mirror's servers, the upstream, gpg's agent)."""
    state = demo.load_state()
    if state.get('mirror'):
        subprocess.run(['ansible-playbook', '-i', os.path.join(INVENTORY[OLD], 'hosts.yaml'), 'airgap.kubespray.mirror', '-e',
                        json.dumps(demo.mirror_vars(state, airgap_mirror_state='absent'))],
                       env=demo.env(), cwd=DIR, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    demo.upstream_down()
    if os.path.isdir(GNUPG) and shutil.which('gpgconf'):
        subprocess.run(['gpgconf', '--homedir', GNUPG, '--kill', 'all'], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


if __name__ == '__main__':
    # tests/daytwo/daytwo.py up|down: build the site (and leave it running), or stop it
    {'up': build, 'down': down}[sys.argv[1] if len(sys.argv) > 1 else 'up']()

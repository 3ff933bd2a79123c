"""Stand-ins for the internet, shared by the manifest tests and the demo.

stand_in_files writes a file for every file of Kubespray manifests (at the bundle's <host>/<path>)
and a vars file that points Kubespray's checksum variables at those files, so that Kubespray's own
checksums match what the stand-in upstream serves. Kubespray's checksum tables are role vars,
which outrank inventory vars: pass the vars file as extra vars (-e @file).

Most files are a line of text. The files whose content the collection reads are real:
- helm: a real helm release tarball (helm built from the Go module proxy, tests/lib/tools.sh), which
  renders the charts;
- the cilium chart, whose operator image helper appends -generic to operator.image.repository for
  generic clouds, as the real chart's templates/cilium-operator/_helpers.tpl does, with hubble's
  components behind their values;
- kubelet-csr-approver's chart and its helm repository index (absolute chart URLs, as
  chart-releaser writes them);
- Argo CD's install manifest, with the images the real one runs (argocd, dex, redis from
  public.ecr.aws).
images_inside(manifests) names the images these stand-ins hold, for the stand-in registry.
"""
import hashlib
import io
import json
import os
import re
import subprocess
import tarfile

import yaml

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))


def downloads_of(release):
    """Kubespray's `downloads` dict, read from the release's kubespray_defaults."""
    with open(os.path.join(release, 'roles/kubespray_defaults/defaults/main/download.yml')) as f:
        return yaml.safe_load(f)['downloads']


def _version(url, pattern):
    match = re.search(pattern, url)
    return match.group(1) if match else '0.0.0'


def _tgz(files):
    """A gzipped tarball of {name: text}, byte for byte the same on every run."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode='w', format=tarfile.PAX_FORMAT) as tar:
        for name in sorted(files):
            data = files[name].encode()
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(data), 0o644, 0
            tar.addfile(info, io.BytesIO(data))
    out = io.BytesIO()
    import gzip
    with gzip.GzipFile(fileobj=out, mode='wb', mtime=0) as gz:
        gz.write(raw.getvalue())
    return out.getvalue()


def _cilium_chart(url):
    version = _version(url, r'cilium-v?([0-9.]+)\.tgz')
    return _tgz({
        'cilium/Chart.yaml': 'apiVersion: v2\nname: cilium\nversion: %s\nappVersion: %s\n' % (version, version),
        'cilium/values.yaml': yaml.safe_dump({
            'image': {'repository': 'quay.io/cilium/cilium', 'tag': 'v' + version, 'useDigest': True,
                      'digest': 'sha256:' + hashlib.sha256(b'cilium' + version.encode()).hexdigest()},
            'operator': {'image': {'repository': 'quay.io/cilium/operator', 'tag': 'v' + version, 'useDigest': True,
                                   'genericDigest': 'sha256:' + hashlib.sha256(b'operator' + version.encode()).hexdigest(),
                                   'suffix': ''}},
            'hubble': {'enabled': True,
                       'relay': {'enabled': False, 'image': {'repository': 'quay.io/cilium/hubble-relay',
                                                             'tag': 'v' + version}},
                       'ui': {'enabled': False}},
        }),
        # As cilium's own helper: the operator image is <repository>-<cloud><suffix>, generic here.
        'cilium/templates/cilium-operator/_helpers.tpl': (
            '{{- define "cilium.operator.image" -}}\n'
            '{{- $cloud := "generic" -}}\n'
            '{{- $repo := printf "%s-%s%s" .Values.operator.image.repository $cloud .Values.operator.image.suffix -}}\n'
            '{{- if .Values.operator.image.useDigest -}}\n'
            '{{ $repo }}:{{ .Values.operator.image.tag }}@{{ .Values.operator.image.genericDigest }}\n'
            '{{- else -}}\n'
            '{{ $repo }}:{{ .Values.operator.image.tag }}\n'
            '{{- end -}}\n'
            '{{- end -}}\n'),
        'cilium/templates/cilium-operator/deployment.yaml': (
            'apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: cilium-operator, namespace: kube-system}\n'
            'spec:\n  template:\n    spec:\n      containers:\n'
            '        - name: cilium-operator\n          image: {{ include "cilium.operator.image" . | quote }}\n'),
        'cilium/templates/cilium-agent/daemonset.yaml': (
            'apiVersion: apps/v1\nkind: DaemonSet\nmetadata: {name: cilium, namespace: kube-system}\n'
            'spec:\n  template:\n    spec:\n      initContainers:\n'
            '        - name: config\n          image: "{{ .Values.image.repository }}:{{ .Values.image.tag }}'
            '{{ if .Values.image.useDigest }}@{{ .Values.image.digest }}{{ end }}"\n'
            '      containers:\n'
            '        - name: cilium-agent\n          image: "{{ .Values.image.repository }}:{{ .Values.image.tag }}'
            '{{ if .Values.image.useDigest }}@{{ .Values.image.digest }}{{ end }}"\n'),
        'cilium/templates/hubble-relay/deployment.yaml': (
            '{{- if .Values.hubble.relay.enabled }}\n'
            'apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: hubble-relay, namespace: kube-system}\n'
            'spec:\n  template:\n    spec:\n      containers:\n'
            '        - name: hubble-relay\n          image: "{{ .Values.hubble.relay.image.repository }}:'
            '{{ .Values.hubble.relay.image.tag }}"\n{{- end }}\n'),
    })


def _csr_approver_chart(url):
    version = _version(url, r'kubelet-csr-approver-([0-9.]+)\.tgz')
    return _tgz({
        'kubelet-csr-approver/Chart.yaml': ('apiVersion: v2\nname: kubelet-csr-approver\nversion: %s\nappVersion: v%s\n'
                                            % (version, version)),
        'kubelet-csr-approver/values.yaml': 'image:\n  repository: ghcr.io/postfinance/kubelet-csr-approver\n  tag: ""\n',
        'kubelet-csr-approver/templates/deployment.yaml': (
            'apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: kubelet-csr-approver}\n'
            'spec:\n  template:\n    spec:\n      containers:\n'
            '        - name: kubelet-csr-approver\n'
            '          image: "{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}"\n'),
    })


def _argocd_install(url):
    version = _version(url, r'/v([0-9.]+)/manifests/')
    docs = []
    for kind, name, images in (('Deployment', 'argocd-server', ['quay.io/argoproj/argocd:v' + version]),
                               ('Deployment', 'argocd-dex-server', ['ghcr.io/dexidp/dex:v2.43.0']),
                               ('Deployment', 'argocd-redis', ['public.ecr.aws/docker/library/redis:7.2.7-alpine']),
                               ('StatefulSet', 'argocd-application-controller', ['quay.io/argoproj/argocd:v' + version])):
        docs.append({'apiVersion': 'apps/v1', 'kind': kind, 'metadata': {'name': name},
                     'spec': {'template': {'spec': {'containers': [{'name': name, 'image': i} for i in images]}}}})
    docs.insert(0, {'apiVersion': 'v1', 'kind': 'ServiceAccount', 'metadata': {'name': 'argocd-server'}})
    return yaml.safe_dump_all(docs, sort_keys=False).encode()


def _helm_index(name, version, chart_url):
    return yaml.safe_dump({'apiVersion': 'v1', 'entries': {name: [{
        'apiVersion': 'v2', 'name': name, 'version': version, 'urls': [chart_url]}]}}).encode()


def _helm_release(url):
    path = subprocess.check_output([os.path.join(REPO, 'tests', 'lib', 'tools.sh'), 'helm-tgz'],
                                   universal_newlines=True).strip()
    with open(path, 'rb') as f:
        return f.read()


def _content(f, files):
    """The stand-in bytes for one manifest file."""
    name, url = f['name'], f['url']
    if name == 'helm':
        return _helm_release(url)
    if name == 'cilium_helm_chart':
        return _cilium_chart(url)
    if name == 'cilium_helm_index':
        chart = [g for g in files if g['name'] == 'cilium_helm_chart']
        version = _version(chart[0]['url'], r'cilium-v?([0-9.]+)\.tgz') if chart else '0.0.0'
        return _helm_index('cilium', version, 'cilium-%s.tgz' % version)  # relative, as helm.cilium.io
    if name == 'kubelet_csr_approver_chart':
        return _csr_approver_chart(url)
    if name == 'kubelet_csr_approver_helm_index':
        chart = [g for g in files if g['name'] == 'kubelet_csr_approver_chart']
        version = _version(chart[0]['url'], r'kubelet-csr-approver-([0-9.]+)\.tgz') if chart else '0.0.0'
        return _helm_index('kubelet-csr-approver', version, chart[0]['url'] if chart else '')
    if name == 'argocd_install':
        return _argocd_install(url)
    return ('stand-in for ' + url).encode()


def images_inside(manifests):
    """The images the stand-in charts and manifests of these manifests hold (repo:tag), as the
    real ones would: what the stand-in registry must serve beside the manifests' own images."""
    out = set()
    for m in manifests:
        for f in m['files']:
            if f['name'] == 'cilium_helm_chart':
                v = _version(f['url'], r'cilium-v?([0-9.]+)\.tgz')
                out |= {'quay.io/cilium/cilium:v' + v, 'quay.io/cilium/operator-generic:v' + v,
                        'quay.io/cilium/hubble-relay:v' + v}
            elif f['name'] == 'kubelet_csr_approver_chart':
                out.add('ghcr.io/postfinance/kubelet-csr-approver:v' + _version(f['url'], r'kubelet-csr-approver-([0-9.]+)\.tgz'))
            elif f['name'] == 'argocd_install':
                out |= {'quay.io/argoproj/argocd:v' + _version(f['url'], r'/v([0-9.]+)/manifests/'),
                        'ghcr.io/dexidp/dex:v2.43.0', 'public.ecr.aws/docker/library/redis:7.2.7-alpine'}
    return sorted(out)


def stand_in_files(release, manifests, files_dir, vars_file):
    """Writes a stand-in for every file of the manifests under files_dir (<host>/<path>) and the
    checksum overrides to vars_file (JSON, which is YAML too). Returns the overrides."""
    downloads = downloads_of(release)
    with open(os.path.join(release, 'roles/kubespray_defaults/vars/main/checksums.yml')) as fh:
        tables = yaml.safe_load(fh)
    checksums = {}
    for m in manifests:
        for f in m['files']:
            path = os.path.join(files_dir, f['path'])
            os.makedirs(os.path.dirname(path), exist_ok=True)
            data = _content(f, m['files'])
            with open(path, 'wb') as fh:
                fh.write(data)
            digest = 'sha256:' + hashlib.sha256(data).hexdigest()
            expr = str(downloads.get(f['name'], {}).get('checksum', ''))
            var = re.search(r'(\w+_checksum)\b', expr)
            table = re.search(r'(\w+_checksums)\.no_arch\[', expr)
            if f.get('origin') == 'quirk' or f['name'] not in downloads:
                continue  # Kubespray pins no checksum for what `downloads` does not list
            if var:
                checksums[var.group(1)] = digest
            elif table:  # {{ calico_crds_checksums.no_arch[calico_version] }}: the version is in the URL
                version = next(str(v) for v in tables[table.group(1)]['no_arch'] if str(v) in f['url'])
                checksums.setdefault(table.group(1), {'no_arch': {}})['no_arch'][version] = digest
    with open(vars_file, 'w') as fh:
        json.dump(checksums, fh, indent=1, sort_keys=True)
    return checksums

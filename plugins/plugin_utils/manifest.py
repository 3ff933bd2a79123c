# Copyright: airgap.kubespray contributors
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
"""manifest.yaml: built from per-class evaluations of what Kubespray fetches, read, extended with
the images found inside charts and manifests, and projected into what each module takes. The
filters of plugins/filter/manifest.py and the action airgap.kubespray.manifest_fact call these.

- ``manifest_merge(evaluations, classes=..., scope=..., arches=..., generator=...)``: the union over
  hosts (results of airgap.kubespray.kubespray_downloads, one per class of hosts, each standing for
  its class's members), as the manifest dict.
- ``manifest_add_scanned(manifest, scan)``: the manifest with the images airgap.kubespray.offline_image_scan
  found inside its charts and manifests (``origin: chart`` / ``manifest``).
- ``manifest_yaml``: the manifest as YAML, fields in schema order, with a header.
- ``manifest_files_list`` / ``manifest_images_list``: contrib/offline's files.list and images.list.
- ``manifest_upstream_registries``: the registries the nodes still name (images no Kubespray
  variable redirects), which offline.yml mirrors to the private registry.
- ``manifest_union(manifests)`` / ``manifest_select(manifest, names)``: several views (one Kubespray
  checkout + inventory + kube_version each) in one manifest, each item naming its views, and the
  manifest of some of them.

The schema is documented in docs/manifest.md. A manifest holds Kubespray templates (offline_vars),
which only Kubespray renders: every manifest returned is inert (Ansible never templates it).
"""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import platform as _host
import re

import yaml

from ansible.errors import AnsibleFilterError  # a manifest error names the item, as a filter's would

from ansible_collections.airgap.kubespray.plugins.plugin_utils.plain import inert, plain
from ansible_collections.airgap.kubespray.plugins.plugin_utils.platform import arch_of

MANIFEST_VERSION = 1
# Where an item comes from, most authoritative first: an item several origins give keeps the first.
ORIGINS = ('downloads', 'kubeadm', 'quirk', 'chart', 'manifest')


def _union(a, b):
    return sorted(set(a or []) | set(b or []))


def _origin(a, b):
    rank = dict((o, n) for n, o in enumerate(ORIGINS))
    return a if rank.get(a, len(ORIGINS)) <= rank.get(b, len(ORIGINS)) else b


def _deep_merge(a, b):
    """b over a, mappings merged key by key."""
    if isinstance(a, dict) and isinstance(b, dict):
        out = dict(a)
        for k, v in b.items():
            out[k] = _deep_merge(a[k], v) if k in a else v
        return out
    return b


def _members(classes):
    return dict((c['representative'], list(c['members'])) for c in classes or [])


_FILE_FIELDS = ('quirk', 'scan', 'purpose')
_IMAGE_FIELDS = ('quirk', 'found_in', 'via')


def _add_file(files, f):
    e = files.get(f['url'])
    if e is None:
        e = files[f['url']] = {
            'name': f['name'], 'url': f['url'], 'checksum': f['checksum'], 'path': f['path'],
            'arches': [], 'groups': [], 'enabled': False, 'origin': f.get('origin', 'downloads')}
        for k in _FILE_FIELDS:
            if f.get(k):
                e[k] = f[k]
    elif f['checksum'] and e['checksum'] and f['checksum'] != e['checksum']:
        raise AnsibleFilterError('%s: hosts disagree on its checksum (%s vs %s)'
                                 % (f['url'], e['checksum'], f['checksum']))
    e['checksum'] = e['checksum'] or f['checksum']
    e['origin'] = _origin(e['origin'], f.get('origin', 'downloads'))
    e['arches'] = _union(e['arches'], f.get('arches') or [f['arch']])
    e['groups'] = _union(e['groups'], f['groups'])
    e['enabled'] = e['enabled'] or f['enabled']
    if f.get('views'):
        e['views'] = _union(e.get('views'), f['views'])


def _add_image(images, i):
    e = images.get(i['source'])
    if e is None:
        e = images[i['source']] = {
            'name': i['name'], 'source': i['source'], 'repo': i['repo'], 'tag': i['tag'],
            'digest': i.get('digest'), 'target': i['target'], 'arches': [], 'groups': [],
            'enabled': False, 'origin': i.get('origin', 'downloads')}
        for k in _IMAGE_FIELDS:
            if i.get(k):
                e[k] = i[k]
    elif i.get('digest') and e.get('digest') and i['digest'] != e['digest']:
        raise AnsibleFilterError('%s: hosts disagree on its digest (%s vs %s)'
                                 % (i['source'], e['digest'], i['digest']))
    e['digest'] = e.get('digest') or i.get('digest')
    e['origin'] = _origin(e['origin'], i.get('origin', 'downloads'))
    if i.get('found_in'):
        e['found_in'] = _union(e.get('found_in'), i['found_in'])
    e['arches'] = _union(e['arches'], i.get('arches') or [i['arch']])
    e['groups'] = _union(e['groups'], i['groups'])
    e['enabled'] = e['enabled'] or i['enabled']
    if i.get('views'):
        e['views'] = _union(e.get('views'), i['views'])


def _finish(manifest, files, images):
    for e in images.values():
        if not e.get('digest'):
            e.pop('digest', None)
    manifest['files'] = sorted(files.values(), key=lambda e: (e['name'], e['path']))
    manifest['images'] = sorted(images.values(), key=lambda e: (e['name'], e['source']))
    return manifest


def manifest_merge(evaluations, classes=None, scope='enabled', arches=None, generator='airgap.kubespray.manifest',
                   view='', kubespray_version=''):
    """The evaluations' union as the manifest of one view: `view` names it (default
    manifest_view_name(kubespray_version, kube_version)), every item says it belongs to it."""
    evaluations = plain(evaluations)
    members = _members(plain(classes))
    files, images, mirror, quirks = {}, {}, {}, {}
    offline_vars, missing = {}, {}
    kube_versions = {}
    hosts = []
    for ev in evaluations:
        if not ev or ev.get('failed'):
            raise AnsibleFilterError('an evaluation failed: %s' % (ev or {}).get('msg'))
        host = ev.get('host')
        stands_for = members.get(host, [host])
        hosts.extend(stands_for)
        kube_versions.setdefault(ev.get('kube_version'), []).extend(stands_for)
        for f in ev.get('files', []):
            _add_file(files, f)
        for i in ev.get('images', []):
            _add_image(images, i)
        for m in ev.get('mirror_images', []):
            mirror.setdefault(m['source'], dict(m, arches=list(arches or [])))
        for m in ev.get('offline_vars_missing', []):
            key = (m['var'], m['quirk'], tuple(m['missing']))
            missing.setdefault(key, []).extend(stands_for)
        for q in ev.get('quirks', []):
            if q['id'] not in quirks:
                quirks[q['id']] = dict((k, v) for k, v in q.items() if k != 'offline_vars')
                for var, value in (q.get('offline_vars') or {}).items():
                    offline_vars[var] = _deep_merge(offline_vars[var], value) if var in offline_vars else value
    if len(kube_versions) > 1:
        raise AnsibleFilterError('hosts disagree on kube_version: %s' % ', '.join(
            '%s on %s' % (v, ', '.join(sorted(h))) for v, h in sorted(kube_versions.items())))
    manifest = {
        'version': MANIFEST_VERSION,
        'generator': generator,
        'kube_version': next(iter(kube_versions), None),
        'arches': list(arches or []),
        'scope': scope,
        'hosts': sorted(hosts),
        'views': [],
        'files': [],
        'images': [],
        'mirror_images': sorted(mirror.values(), key=lambda e: e['name']),
        'quirks': [quirks[k] for k in sorted(quirks)],
        'offline_vars': offline_vars,
    }
    if missing:  # verify: the offline settings that are not in effect, and on which hosts
        manifest['offline_vars_missing'] = [{'var': v, 'quirk': q, 'missing': list(m), 'hosts': sorted(h)}
                                            for (v, q, m), h in sorted(missing.items())]
    name = view or manifest_view_name(kubespray_version, manifest['kube_version'])
    _check_view_name(name)
    manifest['views'] = [_view_record(manifest, name, kubespray_version)]
    for e in list(files.values()) + list(images.values()) + manifest['mirror_images']:
        e['views'] = [name]
    return inert(_finish(manifest, files, images))


def manifest_add_scanned(manifest, scan, registry=''):
    """The images offline_image_scan found (its `images`: source, repo, tag, digest, target,
    found_in, kind) added with origin chart or manifest, for the groups and arches of the file they
    were found in; an image already listed keeps its entry and origin.

    With `registry` (verify, the offline view): an image the nodes pull by its upstream name
    reaches them through containerd's mirror of its registry (offline.yml), so it is checked at
    `registry/<target>` (`via`)."""
    manifest = plain(manifest)
    by_name = dict((f['name'], f) for f in manifest.get('files', []))
    files = dict((f['url'], f) for f in manifest.get('files', []))
    images = dict((i['source'], i) for i in manifest.get('images', []))
    for found in plain((scan or {}).get('images') or []):
        where = [by_name[n] for n in found['found_in'] if n in by_name]
        via = None
        if registry and not str(found['repo']).startswith(registry + '/'):
            via = '%s/%s%s' % (registry, found['target'], (':' + found['tag']) if found['tag'] else '@' + found['digest'])
            if via in images:  # the same image Kubespray already names on the registry (cilium's own)
                continue
        _add_image(images, {
            'name': found['name'], 'source': found['source'], 'repo': found['repo'], 'tag': found['tag'],
            'digest': found.get('digest'), 'target': found['target'], 'origin': found['kind'],
            'found_in': found['found_in'], 'arches': list(manifest.get('arches') or []),
            'groups': _union([], [g for f in where for g in f['groups']]),
            'enabled': any(f['enabled'] for f in where), 'via': via,
            # the views of the files it was found in
            'views': _union([], [v for f in where for v in f.get('views') or []])})
    return inert(_finish(manifest, files, images))


def manifest_upstream_registries(manifest):
    """The registries the nodes pull from by upstream name (images found in charts and manifests,
    which no Kubespray variable redirects): [{registry, path}], path being where the private
    registry keeps that registry's images ('' when offline_image_push strips the host, as the
    scan's `target` says; the registry's name when it keeps it)."""
    out = {}
    for i in (manifest or {}).get('images', []):
        if i.get('origin') not in ('chart', 'manifest'):
            continue
        registry = str(i['repo']).split('/', 1)[0]  # repositories are fully qualified by the scan
        kept = str(i.get('target') or '').startswith(registry + '/')
        out[registry] = registry if kept else ''
    return [{'registry': r, 'path': p} for r, p in sorted(out.items())]


def manifest_offline_vars(wanted, inventory=None):
    """offline.yml's values for the quirks' settings (`wanted`, a manifest's offline_vars): a
    mapping is merged over the inventory's own value of the variable (`inventory`: var -> value),
    key by key, the quirk's keys winning; anything else is the quirk's value."""
    inventory = plain(inventory or {})
    out = {}
    for var, value in plain(wanted or {}).items():
        own = inventory.get(var)
        out[var] = _deep_merge(own, value) if isinstance(value, dict) and isinstance(own, dict) else value
    return inert(out)


# Several views in one manifest. A view is one evaluation: one Kubespray checkout, inventory and
# kube_version. Every item names the views it belongs to (`views`); the top-level `views` lists
# them. The union keys files by their place in the files layout (`path`) and images by `source`;
# two views giving one of them different data (checksum, url; digest, target) is an error naming it.
_VIEW_NAME = re.compile(r'^[A-Za-z0-9][A-Za-z0-9._-]*$')
_VIEW_KEYS = ('name', 'kubespray_version', 'kube_version', 'arches', 'scope', 'hosts')
_ITEM_LISTS = ('files', 'images', 'mirror_images')
# per list: the key items are the same item by, and the fields views must agree on (None: "" or
# absent is no opinion, the other view's value is kept; else any difference is a conflict)
_IDENTITY = {'files': ('path', {'checksum': None, 'url': 'url'}),
             'images': ('source', {'digest': None, 'target': 'target'}),
             'mirror_images': ('source', {'digest': None})}


def manifest_view_name(kubespray_version='', kube_version=''):
    """A view's default name: kubespray-<Kubespray's version>-k8s-<kube_version>, safe as a file name."""
    name = 'kubespray-%s' % (kubespray_version or 'unknown')
    if kube_version:
        name += '-k8s-%s' % kube_version
    return re.sub(r'[^A-Za-z0-9._-]+', '-', name)


def _check_view_name(name):
    if not _VIEW_NAME.match(str(name or '')):
        raise AnsibleFilterError('view name %r: want letters, digits, ".", "_" and "-", starting with a letter or digit '
                                 '(it names the file views/<name>.yaml)' % (name,))


def _view_record(manifest, name, kubespray_version=''):
    return {'name': name, 'kubespray_version': str(kubespray_version or ''), 'kube_version': manifest.get('kube_version'),
            'arches': list(manifest.get('arches') or []), 'scope': manifest.get('scope'),
            'hosts': list(manifest.get('hosts') or [])}


def _views_of(manifest):
    """The view records of a manifest; one written before views existed is one view."""
    views = manifest.get('views')
    if not views:
        return [_view_record(manifest, manifest_view_name('', manifest.get('kube_version')))]
    return [dict((k, v.get(k)) for k in _VIEW_KEYS if k in v) for v in views]


def _version_key(v):
    return [int(n) for n in re.findall(r'\d+', str(v))]


def _union_item(store, kind, item, view):
    key_field, agree = _IDENTITY[kind]
    key = item[key_field]
    e = store.get(key)
    if e is None:
        e = store[key] = dict(item, views=[])
    else:
        for field, strict in agree.items():
            a, b = e.get(field) or '', item.get(field) or ''
            if a != b and (strict or (a and b)):
                raise AnsibleFilterError('%s %s (%s): views %s and %s disagree on its %s (%s vs %s)'
                                         % (kind[:-1].replace('_', ' '), key, item.get('name'), ', '.join(e['views']),
                                            view, field, a or '(none)', b or '(none)'))
            if not a and b:
                e[field] = b
        for field in ('arches', 'groups', 'found_in'):
            if e.get(field) or item.get(field):
                e[field] = _union(e.get(field), item.get(field))
        if 'enabled' in e:
            e['enabled'] = e['enabled'] or item.get('enabled', False)
        if 'origin' in e:
            e['origin'] = _origin(e['origin'], item.get('origin', 'downloads'))
    e['views'] = _union(e['views'], [view])


def manifest_union(manifests, views=None):
    """Several manifests as one: their views, a later manifest's view replacing an earlier one of the
    same name, each item naming the views it belongs to. `views` (names) keeps only these; a name
    no manifest holds is an error listing the known ones. Views are listed by name. The top level
    is the views': kube_version the highest, arches and hosts united, scope `all` if any view has it; quirks and
    offline_vars come from the manifests that still give a view (a later one's offline_vars merged
    over an earlier's)."""
    manifests = [plain(m) for m in manifests or [] if m]
    byname, order = {}, []
    for n, m in enumerate(manifests):
        records = _views_of(m)
        names = [r['name'] for r in records]
        split = dict((name, dict((k, []) for k in _ITEM_LISTS)) for name in names)
        for kind in _ITEM_LISTS:
            for item in m.get(kind) or []:
                for v in item.get('views') or names:
                    if v not in split:
                        raise AnsibleFilterError('%s (%s) names view %s, which the manifest does not list (views: %s)'
                                                 % (item.get('name'), item.get('path') or item.get('source'), v, ', '.join(names)))
                    split[v][kind].append(item)
        for r in records:
            _check_view_name(r['name'])
            if r['name'] not in byname:
                order.append(r['name'])
            byname[r['name']] = (r, split[r['name']], n)
    order.sort()  # by name, whichever order the manifests came in
    if views is not None:
        unknown = [v for v in views if v not in byname]
        if unknown:
            raise AnsibleFilterError('unknown view %s: the manifest holds %s' % (', '.join(unknown), ', '.join(order) or 'none'))
        order = [v for v in order if v in set(views)]
    stores = dict((k, {}) for k in _ITEM_LISTS)
    for name in order:
        for kind in _ITEM_LISTS:
            for item in byname[name][1][kind]:
                _union_item(stores[kind], kind, item, name)
    records = [byname[name][0] for name in order]
    sources = [manifests[i] for i in sorted(set(byname[name][2] for name in order))]
    quirks, offline_vars, missing = {}, {}, []
    for m in sources:
        for q in m.get('quirks') or []:
            quirks[q['id']] = q
        for var, value in (m.get('offline_vars') or {}).items():
            offline_vars[var] = _deep_merge(offline_vars[var], value) if var in offline_vars else value
        missing.extend(x for x in m.get('offline_vars_missing') or [] if x not in missing)
    kube_versions = sorted(set(str(r['kube_version']) for r in records if r.get('kube_version')), key=_version_key)
    arches = []
    for r in records:
        arches.extend(a for a in r.get('arches') or [] if a not in arches)
    manifest = {
        'version': MANIFEST_VERSION,
        'generator': (sources[0] if sources else {}).get('generator', 'airgap.kubespray.manifest'),
        'kube_version': kube_versions[-1] if kube_versions else None,
        'arches': arches,
        'scope': 'all' if any(r.get('scope') == 'all' for r in records) else 'enabled',
        'hosts': _union([], [h for r in records for h in r.get('hosts') or []]),
        'views': records,
        'files': [],
        'images': [],
        'mirror_images': sorted(stores['mirror_images'].values(), key=lambda e: e['name']),
        'quirks': [quirks[k] for k in sorted(quirks)],
        'offline_vars': offline_vars,
    }
    if missing:
        manifest['offline_vars_missing'] = missing
    return inert(_finish(manifest, stores['files'], stores['images']))


def manifest_select(manifest, views):
    """The manifest of the named views only (`views`: a name or a list); an unknown name is an error
    listing the known ones."""
    return manifest_union([manifest], views=[views] if isinstance(views, str) else list(views))


def manifest_load(text):
    """manifest.yaml's text as the manifest, inert (its Kubespray templates stay as they are)."""
    data = yaml.safe_load(text)
    if not isinstance(data, dict) or 'files' not in data or 'images' not in data:
        raise AnsibleFilterError('not a manifest (want a mapping with files and images; see docs/manifest.md)')
    if data.get('version') != MANIFEST_VERSION:
        raise AnsibleFilterError('manifest version %r: this collection reads version %d; rerun the download '
                                 'or manifest playbook with it' % (data.get('version'), MANIFEST_VERSION))
    return inert(data)


def manifest_scan(manifest, arch=None):
    """What offline_image_scan takes for a manifest: its charts and manifests (files marked `scan`)
    as sources, the helm release for the controller's architecture (`arch`, default this machine's)
    and kube_version."""
    arch = arch or arch_of(_host.machine())
    sources, helm = [], ''
    for f in (manifest or {}).get('files', []):
        scan = f.get('scan')
        if scan:
            sources.append({'name': f['name'], 'path': f['path'], 'kind': scan['kind'],
                            'values': scan.get('values') or {}})
        if f['name'] == 'helm' and arch in f.get('arches', []):
            helm = f['path']
    return inert({'sources': sources, 'helm': helm, 'kube_version': str(manifest.get('kube_version') or '')})


def _on_mirror(image, image_repo):
    """Where the mirror keeps an image: push's repository (`target`) under offline.yml's image repo."""
    target = image.get('target') or str(image['repo']).split('/', 1)[-1]
    return '%s/%s%s' % (image_repo.rstrip('/'), target, (':' + image['tag']) if image.get('tag') else '@' + image['digest'])


def manifest_items(manifest, module, view='', files_repo='', image_repo=''):
    """The manifest's items as one module takes them, and nothing more (module specs are strict):
    fetch (offline_file_fetch items), pull (offline_image_pull images, the mirror's own included),
    verify (offline_verify files and images), import (offline_bundle_import files and images).

    `view` projects that view's items only (manifest_select). For verify, `files_repo` and
    `image_repo` (offline.yml's files_repo and *_image_repo) check a recorded manifest, upstream
    names, where the mirror serves its items: each file at <files_repo>/<path>, each image at
    <image_repo>/<target>."""
    if view:
        manifest = manifest_select(manifest, view)
    files, images = manifest.get('files', []), manifest.get('images', [])
    if module == 'verify' and files_repo:
        files = [dict(f, url='%s/%s' % (files_repo.rstrip('/'), f['path'])) for f in files]
    if module == 'verify' and image_repo:
        images = [dict(i, source=_on_mirror(i, image_repo), via=None) for i in images]
    if module == 'fetch':
        return [{'url': f['url'], 'checksum': f.get('checksum') or '', 'path': f['path']} for f in files]
    if module == 'pull':
        # one entry per image: the mirror's own images may also be Kubespray's (nginx)
        out, seen = [], set()
        for i in images + manifest.get('mirror_images', []):
            key = (i['source'], i.get('digest') or '')
            if key not in seen:
                seen.add(key)
                out.append(dict({'source': i['source']}, **({'digest': i['digest']} if i.get('digest') else {})))
        return out
    if module == 'verify':
        return {'files': [{'name': f['name'], 'url': f['url'], 'checksum': f.get('checksum') or ''} for f in files],
                'images': [{'name': i['name'], 'source': i.get('via') or i['source'], 'arches': list(i.get('arches') or [])}
                           for i in images]}
    if module == 'import':
        return {'files': [{'name': f['name'], 'path': f['path'], 'checksum': f.get('checksum') or '', 'url': f.get('url') or ''}
                          for f in files],
                'images': [{'name': i['name'], 'source': i['source'], 'digest': i.get('digest') or ''} for i in images]}
    raise AnsibleFilterError('manifest_items: unknown module %r (fetch, pull, verify, import)' % (module,))


class _Dumper(yaml.SafeDumper):
    pass


def manifest_yaml(manifest):
    header = ('# Generated by %s from Kubespray\'s evaluated variables; do not edit.\n'
              '# Schema: docs/manifest.md (version %s).\n'
              % (manifest.get('generator'), manifest.get('version')))
    # inert: the text holds Kubespray's templates (offline_vars), which Ansible must not render
    return inert(header + yaml.dump(plain(manifest), Dumper=_Dumper, sort_keys=False, default_flow_style=False,
                                    width=1000))


def manifest_files_list(manifest):
    """contrib/offline's files.list: one URL a line, sorted."""
    urls = sorted(set(f['url'] for f in manifest.get('files', [])))
    return ''.join(u + '\n' for u in urls)


def manifest_images_list(manifest):
    """contrib/offline's images.list: one repo:tag a line, sorted."""
    refs = sorted(set(i['source'] for i in manifest.get('images', [])))
    return ''.join(r + '\n' for r in refs)

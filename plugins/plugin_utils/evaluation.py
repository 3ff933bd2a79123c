# Copyright: airgap.kubespray contributors
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
"""Evaluate what Kubespray will fetch for one host, as that host sees Kubespray's variables.

``Evaluation(templar, variables, ...).run(arches, target)`` templates each entry of ``downloads``
(loaded with Kubespray's ``kubespray_defaults`` role), the images kubeadm pulls itself, and the
quirks (roles/manifest/files/quirks.yml: what ``downloads`` does not say), once per architecture,
with the facts Kubespray reads set from the host's platform (platform.py). Every item says where it
came from (``origin``: downloads, kubeadm, quirk; chart and manifest are added when the files are
scanned, see modules/internal/scan).

``templates(quirks)`` lists every template an evaluation renders besides ``downloads`` itself:
references.py follows them to find what a host's result depends on (host classes).
"""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import glob
import os
import re

from ansible.module_utils.parsing.convert_bool import boolean

from ansible_collections.airgap.kubespray.plugins.plugin_utils.controller_binary import ControllerBinaryError, RuleError, Rules
from ansible_collections.airgap.kubespray.plugins.plugin_utils.platform import facts_for, fact_variables
from ansible_collections.airgap.kubespray.plugins.plugin_utils.templating import RenderError, innermost, trust_as_template

# The variables that, pointed at a private registry, redirect every image (offline.yml).
IMAGE_REPO_VARS = ('kube_image_repo', 'gcr_image_repo', 'docker_image_repo', 'quay_image_repo', 'github_image_repo')
SENTINEL = 'airgap-registry.invalid'

# The images kubeadm pulls itself: not in `downloads`.
KUBEADM_IMAGES = (
    ('kube-apiserver', ['kube_control_plane']),
    ('kube-controller-manager', ['kube_control_plane']),
    ('kube-scheduler', ['kube_control_plane']),
    ('kube-proxy', ['k8s_cluster']),
)
KUBE_VERSION = '{{ kube_version }}'
KUBEADM_REPO = '{{ kubeadm_image_repo | default(kube_image_repo) }}'
KUBE_PROXY = '{{ kube_proxy_deployed | default(true) }}'
# The images the offline mirror itself runs (registry, nginx), at the versions Kubespray pins.
MIRROR_IMAGES = ('registry', 'nginx')
# Where offline, files that no Kubespray base URL covers are served (quirk files).
FILES_REPO = "{{ files_repo | default('') }}"
# Kubespray's helm, which scans charts for images (for the controller's arch).
HELM = 'helm'


def kubespray_defaults(loader, role_dir, parts=('defaults', 'vars')):
    """Kubespray's raw role variables (roles/kubespray_defaults/<part>/main[/*.yml]), untemplated."""
    out = {}
    for part in parts:
        paths = sorted(glob.glob(os.path.join(role_dir, part, 'main', '*.yml')) +
                       glob.glob(os.path.join(role_dir, part, 'main', '*.yaml')))
        paths += [p for p in (os.path.join(role_dir, part, 'main.yml'),) if os.path.isfile(p)]
        for path in paths:
            data = loader.load_from_file(path)
            if isinstance(data, dict):
                out.update(data)
    return out


def upstream_view(variables, defaults, names, quirks):
    """The variables as Kubespray's own defaults point it at the internet: `names` (the base URLs
    and *_image_repo variables an offline.yml sets) and every variable the quirks set offline get
    Kubespray's default back (or the quirk's own default, or none), and files_repo is unset."""
    out = dict(variables)
    offline = set()
    for quirk in quirks or []:
        offline |= set(quirk.get('offline_vars') or {})
    for name in list(names) + sorted(offline - set(names)):
        if name in defaults:
            out[name] = _trusted(defaults[name])
        else:
            out.pop(name, None)  # the quirk's `vars` (or nothing) then stand
    out.pop('files_repo', None)
    return out


def templates(quirks):
    """Every template an evaluation renders besides `downloads` (for references.py)."""
    out = [KUBE_VERSION, KUBEADM_REPO, KUBE_PROXY, FILES_REPO]
    out += ['{{ %s_image_repo }}{{ %s_image_tag }}' % (n, n) for n in MIRROR_IMAGES]
    out += ['{{ %s }}' % v for v in IMAGE_REPO_VARS]
    for q in quirks or []:
        out.append({k: v for k, v in q.items() if k not in ('id', 'summary', 'upstream', 'kubespray', 'offline_vars')})
    return out


class Evaluation(object):
    """One host's evaluation; `variables` are its task vars (Kubespray's defaults loaded)."""

    def __init__(self, templar, variables, scope='enabled', extras=True, quirks=None, kubespray_version=None,
                 controller_arch=None, check_offline_vars=False):
        self.templar = templar
        self.host = variables.get('inventory_hostname')
        self.groups = set(variables.get('group_names') or [])
        self.base = variables
        self.scope = scope
        self.extras = extras
        self.quirks = quirks or []
        self.kubespray_version = kubespray_version
        self.controller_arch = controller_arch
        self.check_offline_vars = check_offline_vars
        self.rules = None  # airgap rules, for the run: the files layout and image names are Go's

    # -- rendering -------------------------------------------------------------------------------

    def _renderer(self, arch, target):
        """A function that renders one raw value as this host would see it on `arch`."""
        variables = dict(self.base)
        for quirk in self.quirks:  # defaults of variables Kubespray defines outside kubespray_defaults
            for k, v in (quirk.get('vars') or {}).items():
                variables.setdefault(k, _trusted(v))
        variables.update(fact_variables(facts_for(arch, target, self.base.get('ansible_facts'))))
        sentinel_vars = dict(variables)
        for var in IMAGE_REPO_VARS:
            sentinel_vars[var] = SENTINEL
        host = self.host

        def render(where, raw, sentinel=False, extra=None):
            templar = self.templar
            scope = sentinel_vars if sentinel else variables
            templar.available_variables = dict(scope, **extra) if extra else scope
            try:
                return templar.template(_trusted(raw))
            except Exception as e:  # AnsibleUndefinedVariable, AnsibleTemplateError, ...
                expr = raw if isinstance(raw, str) else repr(raw)
                raise RenderError(
                    '%s (%s) does not render for %s on %s: %s. Set the variable it names in your '
                    'inventory (group_vars), or pick a kube_version this Kubespray release supports.'
                    % (where, expr.strip(), host, arch, innermost(e)))
        return render

    @staticmethod
    def _str(value):
        if value is None:
            return ''
        value = str(value).strip()
        return '' if value in ('None', 'none') else value

    @staticmethod
    def _bool(value):
        return boolean(value, strict=False) if value not in (None, '') else False

    # -- the run ---------------------------------------------------------------------------------

    def run(self, arches, target):
        self.rules = Rules()
        try:
            return self._run(arches, target)
        finally:
            self.rules.close()

    def _rule(self, kind, value, where):
        try:
            return self.rules.path_for(value) if kind == 'path' else self.rules.target_for(value)
        except RuleError as e:
            raise RenderError('%s: %s' % (where, e))
        except ControllerBinaryError as e:
            raise RenderError('%s: %s' % (where, e))

    def _path_for(self, url, where):
        """The file's place in the files layout, as offline_file_fetch puts it (Go's rule)."""
        return self._rule('path', url, where)

    def _run(self, arches, target):
        downloads = self.base.get('downloads')
        if not isinstance(downloads, dict):
            raise RenderError(
                "Kubespray's `downloads` variable is not defined or not a mapping: this Kubespray layout is "
                "not supported (expected roles/kubespray_defaults/defaults/main/download.yml defining "
                "`downloads`, as in Kubespray 2.2x). Point airgap_kubespray_dir at a supported checkout.")
        files, images, skipped, applied = [], [], [], {}
        kube_version, scanning = None, False
        for arch in arches:
            render = self._renderer(arch, target)
            kube_version = self._str(render('kube_version', KUBE_VERSION))
            for name in sorted(downloads):
                self._entry(name, downloads[name], arch, render, files, images, skipped)
            self._kubeadm_images(arch, render, kube_version, images)
            if self.extras:
                for quirk in self.quirks:
                    if self._quirk(quirk, arch, render, files, images):
                        applied[quirk['id']] = quirk
            scanning = scanning or any(f.get('scan') for f in files)
        if scanning and self.controller_arch:
            self._helm(self.controller_arch, target, downloads, files)
        mirror_images = self._mirror_images(render)
        out = {'kube_version': kube_version, 'files': files, 'images': images, 'left_out': skipped,
               'mirror_images': mirror_images,
               'quirks': [self._quirk_summary(applied[k]) for k in sorted(applied)]}
        if self.check_offline_vars:
            out['offline_vars_missing'] = self._offline_vars_missing(render, applied)
        return out

    def _offline_vars_missing(self, render, applied):
        """The quirks' offline settings that are not in effect for this host: the inventory (its
        offline.yml) must give each variable a value holding every key the quirk sets."""
        out = []
        for qid, quirk in sorted(applied.items()):
            for var, want in sorted((quirk.get('offline_vars') or {}).items()):
                where = 'quirk %s: offline_vars.%s' % (qid, var)
                try:
                    want_value = render(where, want)
                    have = render(var, self.base[var]) if var in self.base else None
                except RenderError as e:
                    out.append({'var': var, 'quirk': qid, 'missing': ['(%s)' % e]})
                    continue
                missing = _missing(want_value, have, var)
                if missing:
                    out.append({'var': var, 'quirk': qid, 'missing': missing})
        return out

    def _needed(self, enabled, item_groups):
        return enabled and (not item_groups or self.groups.intersection(item_groups))

    def _entry(self, name, raw, arch, render, files, images, skipped):
        where = 'downloads.%s' % name
        if not isinstance(raw, dict):
            raise RenderError('%s is not a mapping: this Kubespray layout is not supported' % where)

        def field(key, default=None):
            return render('%s.%s' % (where, key), raw[key]) if key in raw else default

        enabled = self._bool(field('enabled', False))
        item_groups = self._groups(field('groups', []))
        if self.scope == 'enabled' and not self._needed(enabled, item_groups):
            skipped.append({'name': name, 'arch': arch,
                            'reason': 'disabled' if not enabled else 'not for groups %s' % sorted(self.groups)})
            return
        is_file = self._bool(field('file', False))
        is_container = self._bool(field('container', False))
        if self.scope == 'all' and 'url' in raw and 'repo' in raw:
            is_file = is_container = True  # etcd: a binary or an image, depending on the inventory
        if is_file:
            url = self._str(field('url'))
            checksum = self._str(field('checksum'))
            if not url:
                raise RenderError('%s.url is empty for %s: set %s' % (where, arch, raw.get('url')))
            if not checksum and self.scope == 'enabled':
                raise RenderError('%s.checksum is empty for %s on %s: Kubespray has no checksum for this '
                                  'version; set the variable %s names' % (where, url, arch, raw.get('checksum')))
            files.append(self._file(name, url, checksum, arch, item_groups, enabled, 'downloads'))
        if is_container:
            repo = self._str(field('repo'))
            tag = self._str(field('tag'))
            if not repo or not tag:
                raise RenderError('%s: repo or tag is empty for %s (repo: %s, tag: %s)'
                                  % (where, arch, raw.get('repo'), raw.get('tag')))
            digest = None if is_file else self._str(field('checksum')) or None
            target = self._target(repo, self._asked(render('%s.repo' % where, raw['repo'], sentinel=True)), where)
            images.append(self._image(name, repo, tag, digest, target, arch, item_groups, enabled, 'downloads'))

    @staticmethod
    def _groups(value):
        value = value or []
        return [value] if isinstance(value, str) else [str(g) for g in value]

    def _file(self, name, url, checksum, arch, groups, enabled, origin, path=None):
        if checksum and ':' not in checksum:
            checksum = 'sha256:' + checksum
        if path is None:
            path = self._path_for(url, name)
        return {'name': name, 'url': url, 'checksum': checksum, 'path': path, 'arch': arch,
                'groups': sorted(groups), 'enabled': enabled, 'origin': origin}

    @staticmethod
    def _image(name, repo, tag, digest, target, arch, groups, enabled, origin):
        if digest and ':' not in digest:
            digest = 'sha256:' + digest
        return {'name': name, 'source': '%s:%s' % (repo, tag), 'repo': repo, 'tag': tag, 'digest': digest,
                'target': target, 'arch': arch, 'groups': sorted(groups), 'enabled': enabled, 'origin': origin}

    @staticmethod
    def _asked(sentinel_repo):
        """The repository Kubespray asks the private registry for, once the *_image_repo variables
        point at it (the sentinel stands for the registry); None when the image ignores them."""
        sentinel_repo = str(sentinel_repo)
        if sentinel_repo == SENTINEL:
            return ''
        if sentinel_repo.startswith(SENTINEL + '/'):
            return sentinel_repo[len(SENTINEL) + 1:]
        return None

    def _target(self, repo, asked, where):
        """Where the private registry holds the image: offline_image_push's name for it (Go's
        imagename rule), when Kubespray asks for that very name (`asked`); else None: the image
        needs its own override."""
        if asked is None:
            return None
        target = self._rule('target', repo, where)
        return target if target == asked else None

    def _kubeadm_images(self, arch, render, kube_version, images):
        tag = kube_version if kube_version.startswith('v') else 'v' + kube_version
        repo = self._str(render('kubeadm_image_repo', KUBEADM_REPO))
        asked_base = self._asked(render('kubeadm_image_repo', KUBEADM_REPO, sentinel=True))
        kube_proxy = self._bool(render('kube_proxy_deployed', KUBE_PROXY))
        for image, image_groups in KUBEADM_IMAGES:
            enabled = kube_proxy if image == 'kube-proxy' else True
            if self.scope == 'enabled' and not (enabled and self.groups.intersection(image_groups)):
                continue
            asked = None if asked_base is None else (asked_base + '/' + image).lstrip('/')
            target = self._target('%s/%s' % (repo, image), asked, 'kubeadm_image_repo')
            images.append(self._image(image.replace('-', '_'), '%s/%s' % (repo, image), tag, None, target,
                                      arch, image_groups, enabled, 'kubeadm'))

    # -- quirks ----------------------------------------------------------------------------------

    def _quirk(self, quirk, arch, render, files, images):
        """Applies one quirk for `arch`; True when it applies to this host."""
        qid = quirk['id']
        where = 'quirk %s' % qid
        if not _version_in(self.kubespray_version, quirk.get('kubespray')):
            return False
        # Scope all lists every item, whatever the inventory enables.
        if self.scope != 'all' and not self._bool(render('%s: when' % where, quirk.get('when', True))):
            return False
        applied = False
        for key, fields in sorted((quirk.get('replace') or {}).items()):
            for item in [i for i in files + images if i['name'] == key and i['arch'] == arch]:
                for field, raw in sorted(fields.items()):
                    value = self._str(render('%s: replace.%s.%s' % (where, key, field), raw,
                                             extra={'current': item.get(field)}))
                    if value == item.get(field):
                        continue
                    item[field] = value
                    item['origin'], item['quirk'] = 'quirk', qid
                    if 'source' in item:
                        item['source'] = '%s:%s' % (item['repo'], item['tag'])
                        if field == 'repo':  # where the private registry holds it: the same rule
                            sentinel = render('%s: replace.%s.repo' % (where, key), raw, sentinel=True,
                                              extra={'current': render('', self.base['downloads'][key]['repo'],
                                                                       sentinel=True)})
                            item['target'] = self._target(value, self._asked(sentinel), '%s: replace.%s.repo' % (where, key))
                    else:
                        item['path'] = self._path_for(item['url'], '%s: replace.%s' % (where, key))
                    applied = True
        for spec in quirk.get('files') or []:
            entry = self._quirk_file(qid, spec, arch, render)
            if entry and not any(f['url'] == entry['url'] and f['arch'] == arch for f in files):
                files.append(entry)
                applied = True
        for spec in quirk.get('images') or []:
            entry = self._quirk_image(qid, spec, arch, render)
            if entry:
                images.append(entry)
                applied = True
        for spec in quirk.get('scan') or []:
            for item in [f for f in files if f['name'] == spec['download'] and f['arch'] == arch]:
                item['scan'] = {'kind': spec['kind'], 'quirk': qid}
                applied = True
        return applied or bool(quirk.get('offline_vars'))

    def _quirk_gate(self, where, spec, render):
        """(enabled, groups) of a quirk's item, or None when this host does not need it."""
        enabled = self._bool(render(where + '.enabled', spec.get('enabled', True)))
        groups = self._groups(render(where + '.groups', spec.get('groups', [])))
        if self.scope == 'enabled' and not self._needed(enabled, groups):
            return None
        return enabled, groups

    def _quirk_file(self, qid, spec, arch, render):
        where = 'quirk %s: files.%s' % (qid, spec['name'])
        gate = self._quirk_gate(where, spec, render)
        if gate is None:
            return None
        enabled, groups = gate
        upstream = self._str(render(where + '.url', spec['url']))
        path = self._path_for(upstream, where)
        # Offline (verify), the nodes fetch it from files_repo, where the layout puts it; the
        # quirk's offline_vars point Kubespray there.
        files_repo = self._str(render(where, FILES_REPO))
        url = files_repo.rstrip('/') + '/' + path if files_repo else upstream
        entry = self._file(spec['name'], url, self._str(render(where + '.checksum', spec.get('checksum', ''))),
                           arch, groups, enabled, 'quirk', path=path)
        entry['quirk'] = qid
        if spec.get('scan'):
            entry['scan'] = {'kind': spec['scan'], 'quirk': qid}
            if spec.get('values'):
                entry['scan']['values'] = render(where + '.values', spec['values'])
        return entry

    def _quirk_image(self, qid, spec, arch, render):
        where = 'quirk %s: images.%s' % (qid, spec['name'])
        gate = self._quirk_gate(where, spec, render)
        if gate is None:
            return None
        enabled, groups = gate
        repo = self._str(render(where + '.repo', spec['repo']))
        tag = self._str(render(where + '.tag', spec['tag']))
        target = self._target(repo, self._asked(render(where + '.repo', spec['repo'], sentinel=True)), where)
        entry = self._image(spec['name'], repo, tag, None, target, arch, groups, enabled, 'quirk')
        entry['quirk'] = qid
        return entry

    @staticmethod
    def _quirk_summary(quirk):
        out = {'id': quirk['id'], 'summary': ' '.join(str(quirk.get('summary', '')).split()),
               'upstream': list(quirk.get('upstream') or [])}
        if quirk.get('offline_vars'):
            out['offline_vars'] = quirk['offline_vars']
        return out

    # -- tools and the mirror's own images -------------------------------------------------------

    def _helm(self, arch, target, downloads, files):
        """Kubespray's helm for the controller: it renders the charts the scan looks into."""
        if HELM not in downloads or any(f['name'] == HELM and f['arch'] == arch for f in files):
            return
        render = self._renderer(arch, target)
        raw = downloads[HELM]
        url = self._str(render('downloads.helm.url', raw.get('url')))
        checksum = self._str(render('downloads.helm.checksum', raw.get('checksum')))
        entry = self._file(HELM, url, checksum, arch, [], False, 'downloads')
        entry['purpose'] = 'scan'
        files.append(entry)

    def _mirror_images(self, render):
        out = []
        for name in MIRROR_IMAGES:
            repo_raw, tag_raw = '{{ %s_image_repo }}' % name, '{{ %s_image_tag }}' % name
            repo = self._str(render('%s_image_repo' % name, repo_raw))
            tag = self._str(render('%s_image_tag' % name, tag_raw))
            target = self._target(repo, self._asked(render('%s_image_repo' % name, repo_raw, sentinel=True)), '%s_image_repo' % name)
            out.append({'name': name, 'source': '%s:%s' % (repo, tag), 'repo': repo, 'tag': tag,
                        'target': target})
        return out


def _missing(want, have, path):
    """The leaf key paths of `want` that `have` lacks or sets otherwise (mappings compared key by key)."""
    if isinstance(want, dict):
        out = []
        for k, v in sorted(want.items()):
            out.extend(_missing(v, have.get(k) if isinstance(have, dict) else None, '%s.%s' % (path, k)))
        return out
    if have is None:
        return [path]
    if isinstance(want, bool) or isinstance(have, bool):
        return [] if Evaluation._bool(want) == Evaluation._bool(have) else [path]
    return [] if str(want).strip() == str(have).strip() else [path]


def _trusted(raw):
    """Trust every string of a raw value as a template (ansible-core 2.19 renders only those)."""
    if isinstance(raw, str):
        return trust_as_template(raw)
    if isinstance(raw, dict):
        return dict((k, _trusted(v)) for k, v in raw.items())
    if isinstance(raw, list):
        return [_trusted(v) for v in raw]
    return raw


_VERSION = re.compile(r'^v?(\d+(?:\.\d+)*)')
_CLAUSE = re.compile(r'^(>=|<=|==|!=|>|<)\s*v?(\d+(?:\.\d+)*)$')


def _parse_version(text):
    match = _VERSION.match(str(text).strip())
    return tuple(int(p) for p in match.group(1).split('.')) if match else None


def _version_in(version, spec):
    """Whether a Kubespray version satisfies `spec` (">=2.28.0,<2.32.0"); True when either is unknown."""
    current = _parse_version(version) if version else None
    if current is None or not spec:
        return True
    for clause in str(spec).split(','):
        match = _CLAUSE.match(clause.strip())
        if not match:
            raise RenderError('quirk version range %r: want clauses like >=2.28.0' % spec)
        op, bound = match.group(1), tuple(int(p) for p in match.group(2).split('.'))
        width = max(len(current), len(bound))
        a, b = current + (0,) * (width - len(current)), bound + (0,) * (width - len(bound))
        if not {'>=': a >= b, '<=': a <= b, '==': a == b, '!=': a != b, '>': a > b, '<': a < b}[op]:
            return False
    return True

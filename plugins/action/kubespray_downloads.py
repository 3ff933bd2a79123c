# Copyright: airgap.kubespray contributors
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
"""Evaluate Kubespray's ``downloads`` variable as the current host sees it.

Runs on the controller only: it templates each entry of ``downloads`` (loaded with Kubespray's
``kubespray_defaults`` role) field by field, once per requested architecture, and returns the
files and images this host needs. Nothing connects to the host.
"""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.module_utils.parsing.convert_bool import boolean
from ansible.module_utils.six import string_types
from ansible.plugins.action import ActionBase

from ansible_collections.airgap.kubespray.plugins.plugin_utils.layout import UnsafePath, path_for
from ansible_collections.airgap.kubespray.plugins.plugin_utils.templating import RenderError, innermost, trust_as_template

# Kubespray derives host_architecture from the ansible_architecture fact.
MACHINE = {'amd64': 'x86_64', 'arm64': 'aarch64', 'arm': 'armv7l', 'ppc64le': 'ppc64le', 's390x': 's390x'}

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


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _VALID_ARGS = frozenset(('arches', 'scope', 'extras', 'overrides'))

    def run(self, tmp=None, task_vars=None):
        self._supports_check_mode = True
        result = super(ActionModule, self).run(tmp, task_vars)
        task_vars = task_vars or {}
        args = self._task.args
        arches = args.get('arches') or ['amd64']
        if isinstance(arches, string_types):
            arches = [a.strip() for a in arches.split(',') if a.strip()]
        scope = args.get('scope', 'enabled')
        if scope not in ('enabled', 'all'):
            return dict(result, failed=True, msg="scope must be one of: enabled, all, got: %s" % scope)
        extras = boolean(args.get('extras', True), strict=False)
        overrides = args.get('overrides') or {}
        if not isinstance(overrides, dict):
            return dict(result, failed=True, msg="overrides must be a mapping of variable names to values")
        if overrides:  # a null value unsets the variable (files_repo in the upstream view)
            task_vars = dict(task_vars, **overrides)
            for var in [k for k, v in overrides.items() if v is None]:
                del task_vars[var]

        if not isinstance(task_vars.get('downloads'), dict):
            return dict(result, failed=True, msg=(
                "Kubespray's `downloads` variable is not defined or not a mapping: this Kubespray layout is "
                "not supported (expected roles/kubespray_defaults/defaults/main/download.yml defining "
                "`downloads`, as in Kubespray 2.2x). Point airgap_kubespray_dir at a supported checkout."))

        groups = set(task_vars.get('group_names') or [])
        files, images, skipped, warnings = [], [], [], []
        kube_version = None
        try:
            for arch in arches:
                render = self._renderer(task_vars, arch)
                kube_version = self._str(render('kube_version', '{{ kube_version }}'))
                for name in sorted(task_vars['downloads']):
                    self._entry(name, task_vars['downloads'][name], arch, render, scope, groups,
                                files, images, skipped)
                self._kubeadm_images(arch, render, scope, groups, kube_version, images)
                if extras:
                    self._extras(arch, render, scope, files)
            mirror_images = self._mirror_images(render)
        except RenderError as e:
            return dict(result, failed=True, msg=str(e))
        result.update(changed=False, host=task_vars.get('inventory_hostname'), kube_version=kube_version, arches=list(arches), scope=scope,
                      files=files, images=images, left_out=skipped,
                      mirror_images=mirror_images)
        if warnings:
            result['warnings'] = warnings
        return result

    # -- rendering -------------------------------------------------------------------------------

    def _renderer(self, task_vars, arch):
        """A function that renders one raw value as this host would see it on `arch`."""
        variables = dict(task_vars)
        variables.update(host_architecture=arch, ansible_architecture=MACHINE.get(arch, arch))
        variables.setdefault('ansible_system', 'Linux')
        variables.setdefault('ansible_os_family', 'Debian')
        sentinel_vars = dict(variables)
        for var in IMAGE_REPO_VARS:
            sentinel_vars[var] = SENTINEL

        def render(where, raw, sentinel=False):
            templar = self._templar
            templar.available_variables = sentinel_vars if sentinel else variables
            if isinstance(raw, string_types):
                raw = trust_as_template(raw)
            try:
                return templar.template(raw)
            except Exception as e:  # AnsibleUndefinedVariable, AnsibleTemplateError, ...
                expr = raw if isinstance(raw, string_types) else repr(raw)
                raise RenderError(
                    '%s (%s) does not render for %s on %s: %s. Set the variable it names in your '
                    'inventory (group_vars), or pick a kube_version this Kubespray release supports.'
                    % (where, expr.strip(), task_vars.get('inventory_hostname'), arch, innermost(e)))
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

    # -- entries ---------------------------------------------------------------------------------

    def _entry(self, name, raw, arch, render, scope, groups, files, images, skipped):
        where = 'downloads.%s' % name
        if not isinstance(raw, dict):
            raise RenderError('%s is not a mapping: this Kubespray layout is not supported' % where)

        def field(key, default=None):
            return render('%s.%s' % (where, key), raw[key]) if key in raw else default

        enabled = self._bool(field('enabled', False))
        item_groups = field('groups', []) or []
        if isinstance(item_groups, string_types):
            item_groups = [item_groups]
        needed = enabled and (not item_groups or groups.intersection(item_groups))
        if scope == 'enabled' and not needed:
            skipped.append({'name': name, 'arch': arch,
                            'reason': 'disabled' if not enabled else 'not for groups %s' % sorted(groups)})
            return
        is_file = self._bool(field('file', False))
        is_container = self._bool(field('container', False))
        if scope == 'all' and 'url' in raw and 'repo' in raw:
            is_file = is_container = True  # etcd: a binary or an image, depending on the inventory
        if is_file:
            url = self._str(field('url'))
            checksum = self._str(field('checksum'))
            if not url:
                raise RenderError('%s.url is empty for %s: set %s' % (where, arch, raw.get('url')))
            if not checksum and scope == 'enabled':
                raise RenderError('%s.checksum is empty for %s on %s: Kubespray has no checksum for this '
                                  'version; set the variable %s names' % (where, url, arch, raw.get('checksum')))
            files.append(self._file(name, url, checksum, arch, item_groups, enabled))
        if is_container:
            repo = self._str(field('repo'))
            tag = self._str(field('tag'))
            if not repo or not tag:
                raise RenderError('%s: repo or tag is empty for %s (repo: %s, tag: %s)'
                                  % (where, arch, raw.get('repo'), raw.get('tag')))
            digest = None if is_file else self._str(field('checksum')) or None
            target = self._target(repo, render('%s.repo' % where, raw['repo'], sentinel=True))
            images.append(self._image(name, repo, tag, digest, target, arch, item_groups, enabled))

    @staticmethod
    def _file(name, url, checksum, arch, groups, enabled):
        if checksum and ':' not in checksum:
            checksum = 'sha256:' + checksum
        try:
            path = path_for(url)
        except UnsafePath as e:
            raise RenderError('downloads.%s: %s' % (name, e))
        return {'name': name, 'url': url, 'checksum': checksum, 'path': path, 'arch': arch,
                'groups': sorted(groups), 'enabled': enabled}

    @staticmethod
    def _image(name, repo, tag, digest, target, arch, groups, enabled):
        if digest and ':' not in digest:
            digest = 'sha256:' + digest
        return {'name': name, 'source': '%s:%s' % (repo, tag), 'repo': repo, 'tag': tag, 'digest': digest,
                'target': target, 'arch': arch, 'groups': sorted(groups), 'enabled': enabled}

    @staticmethod
    def _target(repo, sentinel_repo):
        """The repository Kubespray asks the private registry for, once the *_image_repo variables
        point at it; None when this image ignores them (it then needs its own override)."""
        sentinel_repo = str(sentinel_repo)
        if sentinel_repo == SENTINEL:
            return ''
        if sentinel_repo.startswith(SENTINEL + '/'):
            return sentinel_repo[len(SENTINEL) + 1:]
        return None

    def _kubeadm_images(self, arch, render, scope, groups, kube_version, images):
        tag = kube_version if kube_version.startswith('v') else 'v' + kube_version
        repo_expr = '{{ kubeadm_image_repo | default(kube_image_repo) }}'
        repo = self._str(render('kubeadm_image_repo', repo_expr))
        target_base = self._target(repo, render('kubeadm_image_repo', repo_expr, sentinel=True))
        kube_proxy = self._bool(render('kube_proxy_deployed', '{{ kube_proxy_deployed | default(true) }}'))
        for image, image_groups in KUBEADM_IMAGES:
            enabled = kube_proxy if image == 'kube-proxy' else True
            if scope == 'enabled' and not (enabled and groups.intersection(image_groups)):
                continue
            target = None if target_base is None else (target_base + '/' + image).lstrip('/')
            images.append(self._image(image.replace('-', '_'), '%s/%s' % (repo, image), tag, None, target,
                                      arch, image_groups, enabled))

    def _extras(self, arch, render, scope, files):
        """What Kubespray's offline docs say to mirror beside `downloads`: cilium's helm repository."""
        cilium = self._bool(render('kube_network_plugin', "{{ kube_network_plugin == 'cilium' or "
                                                           "(cilium_deploy_additionally | default(false)) }}"))
        if not (cilium or scope == 'all'):
            return
        version = self._str(render('cilium_version', '{{ cilium_version }}'))
        # Offline, Kubespray's docs serve the helm repository under files_repo.
        base = self._str(render('files_repo', "{{ (files_repo ~ '/helm.cilium.io') if files_repo is defined "
                                              "else 'https://helm.cilium.io' }}"))
        for name, leaf in (('cilium_helm_index', 'index.yaml'), ('cilium_helm_chart', 'cilium-%s.tgz' % version.lstrip('v'))):
            url = base.rstrip('/') + '/' + leaf
            entry = self._file(name, url, '', arch, ['kube_control_plane'], cilium)
            entry['path'] = 'helm.cilium.io/' + leaf  # its place in the files layout, wherever it is served
            entry['extra'] = True
            if not any(f['url'] == url for f in files):
                files.append(entry)

    def _mirror_images(self, render):
        """The images the offline mirror itself runs (registry, nginx), at the versions Kubespray pins."""
        out = []
        for name in ('registry', 'nginx'):
            repo_raw, tag_raw = '{{ %s_image_repo }}' % name, '{{ %s_image_tag }}' % name
            repo = self._str(render('%s_image_repo' % name, repo_raw))
            tag = self._str(render('%s_image_tag' % name, tag_raw))
            target = self._target(repo, render('%s_image_repo' % name, repo_raw, sentinel=True))
            out.append({'name': name, 'source': '%s:%s' % (repo, tag), 'repo': repo, 'tag': tag,
                        'target': target})
        return out

# Copyright: airgap.kubespray contributors
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
"""Set a fact holding a manifest: merged from evaluations, read from manifest.yaml, or extended with
the images offline_image_scan found; then, optionally, united with other manifest.yaml files (their
views) and narrowed to some views. The manifest carries Kubespray templates (offline_vars) that
only Kubespray renders; a fact set here keeps them as they are (set_fact does not, on ansible-core
2.17 and 2.18). Runs on the controller only; see plugins/plugin_utils/manifest.py."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.errors import AnsibleError
from ansible.plugins.action import ActionBase

from ansible_collections.airgap.kubespray.plugins.plugin_utils.manifest import (
    manifest_add_scanned, manifest_load, manifest_merge, manifest_offline_vars, manifest_union)


def _read(path):
    try:
        with open(path, 'rb') as f:
            text = f.read().decode('utf-8')
    except (IOError, OSError) as e:
        raise AnsibleError('cannot read the manifest %s: %s' % (path, e))
    try:
        return manifest_load(text)
    except AnsibleError as e:
        raise AnsibleError('%s: %s' % (path, e))


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False
    _VALID_ARGS = frozenset(('name', 'evaluations', 'classes', 'scope', 'arches', 'path', 'manifest', 'scan', 'registry',
                             'inventory_host', 'view', 'kubespray_version', 'union', 'views'))

    def run(self, tmp=None, task_vars=None):
        self._supports_check_mode = True
        result = super(ActionModule, self).run(tmp, task_vars)
        args = self._task.args
        name = args.get('name')
        if not name:
            return dict(result, failed=True, msg='name (the fact to set) is required')
        given = [k for k in ('evaluations', 'path', 'manifest') if args.get(k) is not None]
        union = args.get('union')
        if union is not None and (not isinstance(union, list) or not all(isinstance(p, str) for p in union)):
            return dict(result, failed=True, msg='union: want a list of manifest.yaml paths')
        if len(given) > 1 or (not given and union is None):
            return dict(result, failed=True, msg='give exactly one of evaluations (merge), path (read manifest.yaml) '
                                                 'or manifest (with scan: add the images found), or union (paths) alone')
        views = args.get('views')
        if views is not None and not isinstance(views, list):
            views = [views]
        try:
            if given == ['evaluations']:
                manifest = manifest_merge(args['evaluations'], classes=args.get('classes'),
                                          scope=args.get('scope') or 'enabled', arches=args.get('arches'),
                                          view=args.get('view') or '', kubespray_version=args.get('kubespray_version') or '')
            elif given == ['path']:
                manifest = _read(args['path'])
            elif given == ['manifest']:
                manifest = manifest_add_scanned(args['manifest'], args.get('scan'), registry=args.get('registry') or '')
            else:
                manifest = None
            if union is not None or views is not None:
                # later manifests win on a view of the same name
                manifest = manifest_union([manifest] + [_read(p) for p in union or []], views=views)
            host = args.get('inventory_host')
            if host:  # offline_vars merged over the host's own values, as the inventory writes them
                own = (task_vars or {})['hostvars'].raw_get(host)
                manifest = dict(manifest, offline_vars=manifest_offline_vars(
                    manifest.get('offline_vars'), dict((k, own[k]) for k in manifest.get('offline_vars') or {} if k in own)))
        except AnsibleError as e:
            return dict(result, failed=True, msg=str(e))
        result.update(changed=False, ansible_facts={name: manifest})
        return result

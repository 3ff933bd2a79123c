# Copyright: airgap.kubespray contributors
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
"""Evaluate what Kubespray will fetch (``downloads``, kubeadm's images, the quirks) as the current
host sees it, on the platform its class was given (see kubespray_classes); with ``upstream``, as
Kubespray's own defaults point it at the internet whatever offline settings the inventory holds.

Runs on the controller only; nothing connects to the host. The work is in
plugins/plugin_utils/evaluation.py.
"""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import platform

from ansible.module_utils.parsing.convert_bool import boolean
from ansible.plugins.action import ActionBase

from ansible_collections.airgap.kubespray.plugins.plugin_utils.evaluation import Evaluation, kubespray_defaults, upstream_view
from ansible_collections.airgap.kubespray.plugins.plugin_utils.plain import inert
from ansible_collections.airgap.kubespray.plugins.plugin_utils.platform import TargetError, arch_of, host_platform
from ansible_collections.airgap.kubespray.plugins.plugin_utils.quirks import QuirkError, load_quirks
from ansible_collections.airgap.kubespray.plugins.plugin_utils.templating import RenderError


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _VALID_ARGS = frozenset(('arches', 'target', 'scope', 'extras', 'upstream', 'upstream_vars', 'role_dir', 'quirks',
                             'kubespray_version', 'check_offline_vars'))

    def run(self, tmp=None, task_vars=None):
        self._supports_check_mode = True
        result = super(ActionModule, self).run(tmp, task_vars)
        task_vars = task_vars or {}
        args = self._task.args
        scope = args.get('scope', 'enabled')
        if scope not in ('enabled', 'all'):
            return dict(result, failed=True, msg="scope must be one of: enabled, all, got: %s" % scope)
        try:
            quirks = load_quirks(self._loader, args.get('quirks') or [])
            if boolean(args.get('upstream', False), strict=False):
                task_vars = upstream_view(task_vars, kubespray_defaults(self._loader, args.get('role_dir') or '', ('defaults',)),
                                          args.get('upstream_vars') or [], quirks)
            arches, target = args.get('arches'), args.get('target')
            if not arches:  # no class given: this host's own platform
                found = host_platform(task_vars.get('inventory_hostname'), task_vars, ['amd64'])
                arches, target = found['arches'], found['target']
            if isinstance(arches, str):
                arches = [a.strip() for a in arches.split(',') if a.strip()]
            evaluation = Evaluation(self._templar, task_vars, scope=scope,
                                    extras=boolean(args.get('extras', True), strict=False), quirks=quirks,
                                    kubespray_version=args.get('kubespray_version') or None,
                                    controller_arch=arch_of(platform.machine()),
                                    check_offline_vars=boolean(args.get('check_offline_vars', False), strict=False))
            out = evaluation.run(list(arches), target or None)
        except (RenderError, TargetError, QuirkError) as e:
            return dict(result, failed=True, msg=str(e))
        result.update(inert(out), changed=False, host=task_vars.get('inventory_hostname'), arches=list(arches),
                      target=target, scope=scope)
        return result

# Copyright: airgap.kubespray contributors
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
"""Dispatch a module of this collection to the Go binary built for the target.

Each module ships as ``plugins/modules/<name>_linux_amd64`` and ``<name>_linux_arm64`` (static Go
binaries) plus a ``<name>.py`` documentation stub. The same-named action plugin subclasses
``BinaryModuleAction`` and sets ``module_name``; at run time it finds the target's OS and CPU and
runs the matching binary with the task's arguments, check mode, become and async included.

The target is the delegated host under ``delegate_to``, else the inventory host. Its platform comes
from gathered facts (``system``, ``architecture``) when present, else from one ``uname -sm`` over the
task's connection (which already points at the delegated host). Answers are cached per host name
for the life of the worker process, so loops over many items probe once.

Works with ansible-core 2.14 and later.
"""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.plugins.action import ActionBase
from ansible.utils.vars import merge_hash

COLLECTION = 'airgap.kubespray'
SUPPORTED = ('linux/amd64', 'linux/arm64')

_OS = {'linux': 'linux'}
_ARCH = {'x86_64': 'amd64', 'amd64': 'amd64', 'aarch64': 'arm64', 'arm64': 'arm64'}

# host name -> (system, machine) as reported by facts or uname.
_UNAME_CACHE = {}


class BinaryModuleAction(ActionBase):
    """Run ``<module_name>_<os>_<arch>`` from this collection on the task's target."""

    module_name = None  # short module name, set by each subclass

    def run(self, tmp=None, task_vars=None):
        # Set here, not as class attributes: ansible-core < 2.16 resets both in ActionBase.__init__.
        self._supports_check_mode = True
        self._supports_async = True

        task_vars = task_vars or {}
        result = super(BinaryModuleAction, self).run(tmp, task_vars)
        del tmp
        if result.get('skipped'):
            return result

        prefix = '%s.%s' % (COLLECTION, self.module_name)
        system, machine, error = self._target_platform(task_vars)
        if error:
            return merge_hash(result, {'failed': True, 'msg': '%s: %s' % (prefix, error)})

        os_name = _OS.get(system.lower())
        arch = _ARCH.get(machine.lower())
        if os_name is None or arch is None:
            msg = '%s: unsupported target platform %s/%s; supported: %s' % (
                prefix, system, machine, ', '.join(SUPPORTED))
            return merge_hash(result, {'failed': True, 'msg': msg})

        binary = '%s_%s_%s' % (self.module_name, os_name, arch)
        fqcn = '%s.%s' % (COLLECTION, binary)
        found = self._shared_loader_obj.module_loader.find_plugin_with_context(
            fqcn, collection_list=self._task.collections)
        if not found.resolved:
            msg = ('%s: binary %s is missing from the collection; '
                   'build it with `make` in the collection source' % (prefix, binary))
            return merge_hash(result, {'failed': True, 'msg': msg})

        wrap_async = self._task.async_val and not self._connection.has_native_async
        result = merge_hash(result, self._execute_module(
            module_name=fqcn, module_args=self._task.args, task_vars=task_vars, wrap_async=wrap_async))
        if not wrap_async:
            self._remove_tmp_path(self._connection._shell.tmpdir)
        return result

    def _target_platform(self, task_vars):
        """Return (system, machine, error) for the host the module will run on."""
        delegate = self._task.delegate_to
        host = delegate or task_vars.get('inventory_hostname')
        if host in _UNAME_CACHE:
            return _UNAME_CACHE[host] + (None,)

        if delegate:
            facts = self._delegate_facts(task_vars, delegate)
        else:
            facts = task_vars.get('ansible_facts') or {}
        system, machine = facts.get('system'), facts.get('architecture')

        if not (system and machine):
            # Runs over the task's connection: under delegate_to that is the delegated host.
            res = self._low_level_execute_command('uname -sm', sudoable=False)
            words = res.get('stdout', '').split()
            if res.get('rc') != 0 or len(words) != 2:
                detail = (res.get('stderr') or res.get('stdout') or '').strip()
                return None, None, 'cannot determine the target platform: `uname -sm` returned rc=%s: %s' % (
                    res.get('rc'), detail)
            system, machine = words

        _UNAME_CACHE[host] = (system, machine)
        return system, machine, None

    @staticmethod
    def _delegate_facts(task_vars, delegate):
        """Facts gathered for the delegated host, or {} (an implicit localhost has no hostvars)."""
        try:
            return dict(task_vars['hostvars'][delegate].get('ansible_facts') or {})
        except Exception:  # hostvars missing, host unknown, or undefined facts
            return {}

# Copyright: airgap.kubespray contributors
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
"""Evaluate Kubespray's OS package list (``pkgs`` of its ``system_packages`` role) per target OS.

Runs on the controller only: for each requested target (``debian-12``, ``rocky-9``, ...) it sets the
OS facts Kubespray's conditions read, keeps every other variable as the current host sees it
(its groups, the inventory's group_vars, Kubespray's defaults), and templates each condition of
each package. Nothing connects to the host.
"""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible.module_utils.parsing.convert_bool import boolean
from ansible.plugins.action import ActionBase

from ansible_collections.airgap.kubespray.plugins.plugin_utils.platform import (
    TargetError, fact_variables, parse_target, supported_targets, target_facts)
from ansible_collections.airgap.kubespray.plugins.plugin_utils.templating import RenderError, innermost, trust_as_template


_WRAPPED = re.compile(r'^\{\{-?\s*((?:(?!\{\{|\}\}).)*?)\s*-?\}\}$', re.S)


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _VALID_ARGS = frozenset(('targets',))

    def run(self, tmp=None, task_vars=None):
        self._supports_check_mode = True
        result = super(ActionModule, self).run(tmp, task_vars)
        task_vars = task_vars or {}
        targets = self._task.args.get('targets') or []
        if isinstance(targets, str):
            targets = [t.strip() for t in targets.split(',') if t.strip()]
        if not isinstance(targets, list) or not targets:
            return dict(result, failed=True, msg=(
                'targets is empty: name the OS releases of the cluster nodes, e.g. [ubuntu-24.04, rocky-9] '
                '(supported: %s)' % ', '.join(supported_targets())))
        try:
            specs = [parse_target(t) for t in targets]
        except TargetError as e:
            return dict(result, failed=True, msg=str(e))

        pkgs = task_vars.get('pkgs')
        if not isinstance(pkgs, dict):
            return dict(result, failed=True, msg=(
                "Kubespray's `pkgs` variable is not defined or not a mapping: load Kubespray's system_packages "
                "role first (include_role with public: true), from a Kubespray release that defines it in "
                "roles/system_packages/vars/main.yml (2.28 and later)."))

        out = []
        try:
            for spec in specs:
                out.append(self._evaluate(spec, pkgs, task_vars))
        except RenderError as e:
            return dict(result, failed=True, msg=str(e))
        result.update(changed=False, host=task_vars.get('inventory_hostname'),
                      groups=sorted(task_vars.get('group_names') or []), targets=out)
        return result

    def _evaluate(self, spec, pkgs, task_vars):
        facts = target_facts(spec)
        variables = dict(task_vars)
        variables.update(fact_variables(dict(task_vars.get('ansible_facts') or {}, **facts)))
        # Kubespray's network_facts role sets main_access_ip on every cluster host before
        # system_packages runs (iputils-ping depends on it); only "is defined" is tested.
        if 'main_access_ip' not in variables:
            variables['main_access_ip'] = (task_vars.get('access_ip') or task_vars.get('ip')
                                           or task_vars.get('ansible_host') or task_vars.get('inventory_hostname'))
        packages, left_out = [], []
        for name in sorted(pkgs):
            conditions = pkgs[name]
            if conditions is None:
                conditions = []
            if not isinstance(conditions, list):
                raise RenderError('pkgs.%s is not a list of conditions: this Kubespray layout is not supported'
                                  % name)
            first_false = None
            # Kubespray templates every condition (the whole `pkgs`), so every one must render.
            for condition in conditions:
                if not self._truth(self._render(name, condition, variables, spec)) and first_false is None:
                    first_false = condition
            if first_false is None:
                packages.append(name)
            else:
                left_out.append({'name': name, 'condition': self._expression(first_false)})
        return {'target': spec['target'], 'family': spec['family'], 'distribution': spec['distribution'],
                'version': spec['version'], 'codename': spec['codename'], 'packages': packages,
                'left_out': left_out}

    def _render(self, name, condition, variables, spec):
        templar = self._templar
        templar.available_variables = variables
        raw = trust_as_template(condition) if isinstance(condition, str) else condition
        try:
            return templar.template(raw)
        except Exception as e:  # AnsibleUndefinedVariable, AnsibleTemplateError, ...
            raise RenderError(
                'pkgs.%s: the condition %s does not render for %s as %s: %s. Set the variable it names in your '
                'inventory (group_vars).'
                % (name, self._text(condition), variables.get('inventory_hostname'), spec['target'], innermost(e)))

    @staticmethod
    def _text(condition):
        return condition.strip() if isinstance(condition, str) else repr(condition)

    @classmethod
    def _expression(cls, condition):
        """A condition as the expression it wraps ("{{ x == 'y' }}" -> "x == 'y'"): readable, and never
        templated again wherever the result is used."""
        text = cls._text(condition)
        match = _WRAPPED.match(text)
        return match.group(1) if match else text

    @staticmethod
    def _truth(value):
        if isinstance(value, bool):
            return value
        if value is None:
            return False
        if isinstance(value, str):
            value = value.strip()
            return boolean(value, strict=False) if value else False
        return bool(value)

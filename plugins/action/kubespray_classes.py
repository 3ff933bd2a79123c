# Copyright: airgap.kubespray contributors
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
"""Group cluster hosts into classes that Kubespray's evaluation cannot tell apart.

Evaluating Kubespray's variables costs a fraction of a second per host; a 1,000-node inventory
usually holds a handful of distinct kinds of host. Two hosts are in one class when they agree on
their groups, their platform (architectures and OS, see platform.py) and the raw value of every
variable the evaluation can read (references.py follows the templates of ``downloads``, of the
evaluation's own expressions and of the quirks through Kubespray's defaults and the hosts' own
variables). One host per class is evaluated; its result stands for every member.

Runs on the controller (localhost) only. Returns ``classes``: a list of {representative, members,
arches, target, source}, in inventory order, and ``variables``: the names the classes compare.
"""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import glob
import hashlib
import json
import os

from ansible.module_utils.parsing.convert_bool import boolean
from ansible.plugins.action import ActionBase

from ansible_collections.airgap.kubespray.plugins.plugin_utils.evaluation import templates
from ansible_collections.airgap.kubespray.plugins.plugin_utils.plain import plain
from ansible_collections.airgap.kubespray.plugins.plugin_utils.platform import DEFAULT_TARGET, TargetError, host_platform
from ansible_collections.airgap.kubespray.plugins.plugin_utils.quirks import QuirkError, load_quirks
from ansible_collections.airgap.kubespray.plugins.plugin_utils.references import EVERYTHING, References
from ansible_collections.airgap.kubespray.plugins.plugin_utils.templating import trust_as_template

MISSING = '<undefined>'


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _VALID_ARGS = frozenset(('hosts', 'role_dir', 'arches', 'quirks', 'enabled'))

    def run(self, tmp=None, task_vars=None):
        self._supports_check_mode = True
        result = super(ActionModule, self).run(tmp, task_vars)
        task_vars = task_vars or {}
        args = self._task.args
        hosts = [str(h) for h in args.get('hosts') or []]
        if not hosts:
            return dict(result, failed=True, msg=(
                'no cluster host matches: the inventory has no host in k8s_cluster or etcd (or in the '
                'pattern airgap_manifest_hosts names). Pass your Kubespray inventory with -i '
                '(e.g. -i inventory/mycluster/hosts.yaml).'))
        role_dir = args.get('role_dir') or ''
        arches = args.get('arches') or ['amd64']
        enabled = boolean(args.get('enabled', True), strict=False)

        refs = References()
        hostvars = task_vars['hostvars']
        by_key, order, warnings = {}, [], []
        names = set()
        try:
            defaults = self._kubespray_defaults(role_dir)
            seeds = refs.of_value(['{{ downloads }}'] + templates(load_quirks(self._loader, args.get('quirks') or [])))
            for host in hosts:
                raw = hostvars.raw_get(host)
                found = host_platform(host, raw, arches, self._renderer(raw))
                if found['warning']:
                    warnings.append(host)
                reads = refs.closure(seeds, raw, defaults)
                names |= reads.names
                key = self._key(host, raw, reads, found, enabled)
                if key not in by_key:
                    by_key[key] = dict(found, representative=host, members=[])
                    order.append(key)
                by_key[key]['members'].append(host)
        except (TargetError, QuirkError) as e:
            return dict(result, failed=True, msg=str(e))
        classes = [by_key[k] for k in order]
        for c in classes:
            del c['warning']
        if warnings:
            result['warnings'] = ['%s: no OS declared (airgap_os_target) and no cached facts: evaluated as %s; '
                                  'set airgap_os_target for the hosts or their group (e.g. in group_vars/all)'
                                  % (_some(warnings), DEFAULT_TARGET)]
        result.update(changed=False, classes=classes, representatives=[c['representative'] for c in classes],
                      hosts=len(hosts), variables=sorted(n for n in names if n != EVERYTHING))
        return result

    def _renderer(self, raw):
        def render(value):
            if isinstance(value, str) and '{' in value:
                self._templar.available_variables = raw
                return self._templar.template(trust_as_template(value))
            return value
        return render

    def _kubespray_defaults(self, role_dir):
        """Kubespray's raw defaults and role vars, as the templates the evaluation follows."""
        out = {}
        for sub in ('defaults', 'vars'):
            paths = sorted(glob.glob(os.path.join(role_dir, sub, 'main', '*.yml'))) + \
                sorted(glob.glob(os.path.join(role_dir, sub, 'main', '*.yaml')))
            paths += [p for p in (os.path.join(role_dir, sub, 'main.yml'),) if os.path.isfile(p)]
            for path in paths:
                data = self._loader.load_from_file(path)
                if isinstance(data, dict):
                    out.update(data)
        return out

    @staticmethod
    def _key(host, raw, reads, platform, enabled):
        if not enabled:  # every host on its own (the reference the tests compare classes with)
            return host
        names = set(raw) if EVERYTHING in reads.names else reads.names
        values = {}
        for name in sorted(names):
            if name == 'ansible_facts':
                continue
            values[name] = plain(raw[name]) if name in raw else MISSING
        facts = raw.get('ansible_facts') or {}
        if EVERYTHING in reads.facts:
            seen = plain(facts)
        else:
            seen = dict((k, plain(facts[k]) if k in facts else MISSING) for k in sorted(reads.facts))
        text = json.dumps([sorted(plain(raw.get('group_names') or [])), platform['arches'], platform['target'],
                           platform['source'], values, seen], sort_keys=True, default=repr)
        return hashlib.sha256(text.encode('utf-8')).hexdigest()


def _some(hosts, most=5):
    if len(hosts) <= most:
        return ', '.join(hosts)
    return '%s and %d more hosts' % (', '.join(hosts[:most]), len(hosts) - most)

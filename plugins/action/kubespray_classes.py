# Copyright: airgap.kubespray contributors
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
"""Group cluster hosts into classes that Kubespray's evaluation cannot tell apart.

Evaluating Kubespray's variables costs a fraction of a second per host; a 1,000-node inventory
usually holds a handful of distinct kinds of host. Two hosts are in one class when they are in the
same groups, have the same platform (architectures and OS, see platform.py) and the same
host-level value (or none) of every variable the evaluation can read: group variables are the
same for hosts of the same groups, so only what a host sets itself (its inventory entry, its
host_vars, its cached facts) can tell it apart. references.py finds the variables the evaluation
can read by following the templates of ``downloads``, of the evaluation's own expressions and of
the quirks through Kubespray's defaults, the group variables and the host's own.

One host per class is evaluated; its result stands for every member. Reading every host's whole
variables (``hostvars.raw_get``) costs milliseconds per host; the host-level part is read from the
inventory, the inventory's vars plugins and the fact cache instead, once per host, and the whole
variables once per set of groups. When ansible-core's internals are not as expected, every host
is read whole (slower, the same classes).

Runs on the controller (localhost) only. Returns ``classes``: a list of {representative, members,
arches, target, source}, in inventory order, and ``variables``: the names the classes compare.
"""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import json
import time

from ansible.module_utils.parsing.convert_bool import boolean
from ansible.plugins.action import ActionBase
from ansible.vars.clean import namespace_facts

from ansible_collections.airgap.kubespray.plugins.plugin_utils.evaluation import kubespray_defaults, templates
from ansible_collections.airgap.kubespray.plugins.plugin_utils.plain import plain
from ansible_collections.airgap.kubespray.plugins.plugin_utils.platform import DEFAULT_TARGET, TargetError, host_platform
from ansible_collections.airgap.kubespray.plugins.plugin_utils.quirks import QuirkError, load_quirks
from ansible_collections.airgap.kubespray.plugins.plugin_utils.references import EVERYTHING, References
from ansible_collections.airgap.kubespray.plugins.plugin_utils.templating import trust_as_template

MISSING = '<not set by the host>'
# What decides a host's platform (platform.host_platform).
PLATFORM_VARS = ('airgap_os_target', 'host_architecture', 'airgap_arches')


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
        started = time.monotonic()
        arches = args.get('arches') or ['amd64']
        enabled = boolean(args.get('enabled', True), strict=False)
        reader = _VarsReader(self._loader, task_vars['hostvars'])
        refs = References()
        by_key, order, defaulted = {}, [], []
        names = set()
        try:
            defaults = kubespray_defaults(self._loader, args.get('role_dir') or '')
            seeds = refs.of_value(['{{ downloads }}'] + templates(load_quirks(self._loader, args.get('quirks') or [])))
            per_groups = {}
            for host in hosts:
                own, whole = reader.host_level(host), None
                groups = tuple(sorted(plain(own.get('group_names') or [])))
                if groups not in per_groups:  # the whole variables of one host of these groups
                    rep_whole = reader.whole(host)
                    whole = rep_whole
                    per_groups[groups] = (rep_whole, own, refs.closure(seeds, rep_whole, defaults))
                rep_whole, rep_own, base = per_groups[groups]
                reads = self._reads(refs, seeds, base, own, rep_whole, defaults)
                names |= reads.names
                found = host_platform(host, self._platform_vars(reader, host, own, rep_whole, rep_own, whole), arches,
                                      self._renderer(rep_whole if whole is None else whole, own))
                if found['warning']:
                    defaulted.append(host)
                key = host if not enabled else self._key(groups, own, reads, found)
                if key not in by_key:
                    by_key[key] = {'representative': host, 'members': [], 'arches': found['arches'],
                                   'target': found['target'], 'source': found['source']}
                    order.append(key)
                by_key[key]['members'].append(host)
        except (TargetError, QuirkError) as e:
            return dict(result, failed=True, msg=str(e))
        classes = [by_key[k] for k in order]
        if defaulted:
            result['warnings'] = ['%s: no OS declared (airgap_os_target) and no cached facts: evaluated as %s; '
                                  'set airgap_os_target for the hosts or their group (e.g. in group_vars/all)'
                                  % (_some(defaulted), DEFAULT_TARGET)]
        result.update(changed=False, classes=classes, representatives=[c['representative'] for c in classes],
                      hosts=len(hosts), variables=sorted(n for n in names if n != EVERYTHING),
                      exact_reads=reader.fast, seconds=round(time.monotonic() - started, 3))
        return result

    @staticmethod
    def _reads(refs, seeds, base, own, rep_whole, defaults):
        """What the evaluation can read for a host: its groups' closure, unless the host's own
        values name more variables (then the closure over them too)."""
        for name in base.names & set(own):
            more = refs.of_value(own[name])
            if more.names - base.names or more.patterns - base.patterns or more.facts - base.facts:
                return refs.closure(seeds, own, rep_whole, defaults)
        return base

    @staticmethod
    def _platform_vars(reader, host, own, rep_whole, rep_own, whole):
        """The variables that decide the platform, as the host sees them."""
        if whole is not None:
            return whole
        out = dict((k, own[k]) for k in PLATFORM_VARS if k in own)
        for k in PLATFORM_VARS:
            if k in out or k not in rep_whole:
                continue
            if k in rep_own:  # the representative's own value hides its groups': read this host whole
                return reader.whole(host)
            out[k] = rep_whole[k]
        if 'ansible_facts' in own:
            out['ansible_facts'] = own['ansible_facts']
        return out

    def _renderer(self, variables, own):
        def render(value):
            if isinstance(value, str) and '{' in value:
                self._templar.available_variables = dict(variables, **own)
                return self._templar.template(trust_as_template(value))
            return value
        return render

    @staticmethod
    def _key(groups, own, reads, platform):
        names = set(own) if EVERYTHING in reads.names else reads.names
        values = dict((n, plain(own[n])) for n in sorted(names) if n in own and n != 'ansible_facts')
        facts = own.get('ansible_facts') or {}
        if EVERYTHING in reads.facts:
            seen = plain(facts)
        else:
            seen = dict((k, plain(facts[k]) if k in facts else MISSING) for k in sorted(reads.facts))
        text = json.dumps([list(groups), platform['arches'], platform['target'], platform['source'], values, seen],
                          sort_keys=True, default=repr)
        return hashlib.sha256(text.encode('utf-8')).hexdigest()


class _VarsReader(object):
    """A host's variables: `whole` (everything but play and role variables, as hostvars.raw_get),
    and `host_level` (only what the host sets itself: inventory entry, the inventory's vars plugins
    for the host, cached facts; plus its magic variables, group_names among them)."""

    def __init__(self, loader, hostvars):
        self.loader = loader
        self.hostvars = hostvars
        try:
            from ansible.vars.plugins import get_vars_from_inventory_sources
            self.inventory = hostvars._inventory
            self.sources = self.inventory._sources
            self.facts = hostvars._variable_manager._fact_cache
            self.plugins = get_vars_from_inventory_sources
            self.fast = True
        except (AttributeError, ImportError):
            self.fast = False

    def whole(self, host):
        return self.hostvars.raw_get(host)

    def host_level(self, host):
        if not self.fast:
            return self.whole(host)
        entity = self.inventory.get_host(host)
        out = dict(entity.get_vars())
        for stage in ('inventory', 'task'):  # where the vars plugins run depends on the configuration
            out.update(self.plugins(self.loader, self.sources, [entity], stage))
        try:
            facts = self.facts.get(host)
        except KeyError:
            facts = None
        if facts:  # cached as the setup module returns them: ansible_<fact>
            facts = namespace_facts(facts)['ansible_facts']
            out['ansible_facts'] = facts
            out.update(('ansible_' + k, v) for k, v in facts.items())
        return out


def _some(hosts, most=5):
    if len(hosts) <= most:
        return ', '.join(hosts)
    return '%s and %d more hosts' % (', '.join(hosts[:most]), len(hosts) - most)

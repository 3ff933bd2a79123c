# Copyright: airgap.kubespray contributors
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
"""A host's platform as Kubespray reads it: its architecture and OS, as facts.

The evaluations never connect to the nodes. A host's platform comes, in this order, from:

- its declared OS target, ``airgap_os_target`` (``ubuntu-24.04``, ``rocky-9``, ...: the same names
  ``airgap_os_targets`` takes for the package repositories), and its ``host_architecture`` or
  ``airgap_arches``;
- the fact cache, when the user has gathered real facts (``ansible_facts`` of the host);
- a default (``DEFAULT_TARGET``), with a warning naming the host and the default used.

``facts_for`` turns that into the facts Kubespray reads, both as ``ansible_facts['...']`` (Kubespray's
master branch) and as the injected ``ansible_*`` variables (Kubespray 2.28 to 2.31).
"""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible.errors import AnsibleError

# Kubespray's own names (host_architecture) -> what the architecture fact says.
MACHINE = {'amd64': 'x86_64', 'arm64': 'aarch64', 'arm': 'armv7l', 'ppc64le': 'ppc64le', 's390x': 's390x'}
ARCH = dict((machine, arch) for arch, machine in MACHINE.items())

# id -> (package family, os_family, distribution, pkg_mgr, {release: codename or ''}). Releases are
# what Kubespray 2.28 and later supports or is about to; Debian and Ubuntu codenames name the apt suites.
DISTROS = {
    'ubuntu': ('deb', 'Debian', 'Ubuntu', 'apt', {'20.04': 'focal', '22.04': 'jammy', '24.04': 'noble'}),
    'debian': ('deb', 'Debian', 'Debian', 'apt', {'11': 'bullseye', '12': 'bookworm', '13': 'trixie'}),
    'rocky': ('rpm', 'RedHat', 'Rocky', 'dnf', {'8': '', '9': '', '10': ''}),
    'almalinux': ('rpm', 'RedHat', 'AlmaLinux', 'dnf', {'8': '', '9': '', '10': ''}),
    'rhel': ('rpm', 'RedHat', 'RedHat', 'dnf', {'8': '', '9': '', '10': ''}),
    'oraclelinux': ('rpm', 'RedHat', 'OracleLinux', 'dnf', {'8': '', '9': '', '10': ''}),
    'centos': ('rpm', 'RedHat', 'CentOS', 'dnf', {'9': '', '10': ''}),  # CentOS Stream
}

# The OS a host is evaluated as when nothing declares it (with a warning).
DEFAULT_TARGET = 'ubuntu-24.04'

# The facts the evaluation provides (Kubespray's templates and conditions read these).
FACTS = ('architecture', 'machine', 'system', 'os_family', 'distribution', 'distribution_version',
         'distribution_major_version', 'distribution_release', 'pkg_mgr')

_TARGET = re.compile(r'^([a-z]+)-(\d+(?:\.\d+)*)$')


class TargetError(AnsibleError):
    pass


def supported_targets():
    return ['%s-%s' % (distro, release) for distro in sorted(DISTROS) for release in DISTROS[distro][4]]


def parse_target(target):
    """`<id>-<version>` -> the facts a host of that OS reports. Debian and the EL family also take a
    point release (debian-12.7, rocky-9.4); Ubuntu's version is its YY.MM."""
    if not isinstance(target, str):
        raise TargetError('target %r is not a string' % (target,))
    target = target.strip()
    match = _TARGET.match(target.lower())
    distro = match and DISTROS.get(match.group(1))
    if distro:
        family, os_family, distribution, pkg_mgr, releases = distro
        version = match.group(2)
        major = version.split('.')[0]
        release = version if distribution == 'Ubuntu' else major
        if release in releases:
            return {'target': target, 'family': family, 'distribution': distribution, 'version': version,
                    'major': major, 'codename': releases[release] or None, 'os_family': os_family,
                    'pkg_mgr': pkg_mgr}
    raise TargetError('unsupported OS target %r: use one of %s (Debian and EL targets also take a point '
                      'release, e.g. debian-12.7 or rocky-9.4)' % (target, ', '.join(supported_targets())))


def target_facts(spec):
    """The OS facts Kubespray reads, for one parsed target."""
    return {
        'os_family': spec['os_family'],
        'distribution': spec['distribution'],
        'distribution_major_version': spec['major'],
        'distribution_version': spec['version'],
        'distribution_release': spec['codename'] or '',
        'pkg_mgr': spec['pkg_mgr'],
        'system': 'Linux',
    }


def arch_of(machine):
    """x86_64 -> amd64 (Kubespray's own mapping); an unknown machine stays as it is."""
    return ARCH.get(machine, machine)


def host_platform(host, variables, default_arches, template=None):
    """Where a host's platform comes from. `variables` are the host's (untemplated) variables,
    `template(value)` renders one of them. Returns {'arches', 'target', 'source', 'warning'}:
    source is 'declared' (airgap_os_target), 'facts' (the fact cache) or 'default'."""
    render = template or (lambda v: v)
    facts = variables.get('ansible_facts') or {}
    cached = isinstance(facts, dict) and bool(facts.get('distribution'))
    arches = None
    if variables.get('host_architecture') not in (None, ''):
        arches = [str(render(variables['host_architecture'])).strip()]
    elif isinstance(facts, dict) and facts.get('architecture'):
        arches = [arch_of(str(facts['architecture']))]
    if not arches:
        own = variables.get('airgap_arches')
        arches = [str(a) for a in (render(own if own not in (None, '', []) else default_arches) or ['amd64'])]
    declared = variables.get('airgap_os_target')
    if declared not in (None, ''):
        return {'arches': arches, 'target': parse_target(str(render(declared)))['target'],
                'source': 'declared', 'warning': None}
    if cached:
        return {'arches': arches, 'target': None, 'source': 'facts', 'warning': None}
    return {'arches': arches, 'target': DEFAULT_TARGET, 'source': 'default',
            'warning': '%s: no OS declared (airgap_os_target) and no cached facts: evaluated as %s; set '
                       'airgap_os_target for the host or its group (e.g. in group_vars/all)' % (host, DEFAULT_TARGET)}


def facts_for(arch, target, cached=None):
    """The facts a host of `target` (or with `cached` facts) reports on `arch`."""
    facts = dict(cached or {})
    if target is not None:
        facts.update(target_facts(parse_target(target)))
    facts['architecture'] = facts['machine'] = MACHINE.get(arch, arch)
    facts.setdefault('system', 'Linux')
    return facts


def fact_variables(facts):
    """`facts` both ways Kubespray reads them: ansible_facts and the injected ansible_<fact> names."""
    out = dict(('ansible_' + k, v) for k, v in facts.items() if k in FACTS)
    out['ansible_facts'] = facts
    return out

# Copyright: airgap.kubespray contributors
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
"""``plain(value)``: Ansible's data as plain Python types.

ansible-core 2.19 hands plugins lazy, tagged subclasses of dict, list and str (and older versions
their own ``AnsibleUnicode`` and friends); ``yaml.SafeDumper`` and equality against plain values
want the builtins. Everything that leaves the collection as YAML or JSON goes through here.
"""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

from collections.abc import Mapping, Sequence, Set


def plain(value):
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, (str, bytes)):
        return str.__str__(value) if isinstance(value, str) else bytes(value)  # exact types, not subclasses
    if isinstance(value, Mapping):
        return dict((plain(k), plain(v)) for k, v in value.items())
    if isinstance(value, (Sequence, Set)):
        return [plain(v) for v in value]
    return value


def inert(value):
    """`value` as plain data that Ansible never templates again: manifests carry Kubespray's own
    templates (offline_vars, chart values) that only Kubespray renders, on the nodes."""
    from ansible.utils.unsafe_proxy import wrap_var  # deprecated in 2.23: 2.19 no longer templates results
    return wrap_var(plain(value))

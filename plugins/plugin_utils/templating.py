# Copyright: airgap.kubespray contributors
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
"""What the action plugins that template Kubespray's variables share (kubespray_downloads,
kubespray_packages): the 2.19 trust shim, and error messages that name the missing variable."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible.errors import AnsibleError

try:  # ansible-core >= 2.19 only templates strings marked as trusted
    from ansible.template import trust_as_template  # noqa: F401 (re-exported) pylint: disable=unused-import
except ImportError:  # ansible-core < 2.19 templates every string
    def trust_as_template(value):
        return value


class RenderError(AnsibleError):
    """A Kubespray expression that does not render for a host."""


_NESTED = re.compile(r'(\{\{.*?\}\}): ((?:(?!\{\{).)*?)(?:\. |$)')


def innermost(error):
    """Ansible nests the error of every variable a template went through; keep the deepest one,
    which names the variable that is really missing."""
    text = str(error)
    found = _NESTED.findall(text)
    if found:
        expr, detail = found[-1]
        return '%s: %s' % (expr, detail.rstrip('.'))
    return text

# Test helper (never shipped): returns the facts it is given, as the setup module returns gathered
# ones, so that Ansible itself stores them in the configured fact cache, in its own format.
from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.plugins.action import ActionBase


class ActionModule(ActionBase):
    _requires_connection = False

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars)
        result.update(changed=False, ansible_facts=self._task.args['facts'])
        return result

# Copyright: airgap.kubespray contributors
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
"""Tests' view of a playbook run: every task result, as the module returned it, one JSON line each,
appended to the file $AIRGAP_TASK_RESULTS (nothing without it). Beside the stdout callback, so the
run's log stays as users see it; results of no_log tasks are censored as Ansible censors them.

    ANSIBLE_CALLBACK_PLUGINS=tests/lib/callback_plugins ANSIBLE_CALLBACKS_ENABLED=airgap_results \\
    AIRGAP_TASK_RESULTS=results.jsonl ansible-playbook ...

A line: {"play", "task", "action", "host", "status" (ok, failed, skipped, unreachable), "ignored"
(a failure under ignore_errors), "result"}.
tests/lib/results.py reads them.
"""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os

from ansible.plugins.callback import CallbackBase

DOCUMENTATION = '''
name: airgap_results
type: aggregate
short_description: every task result as a JSON line in $AIRGAP_TASK_RESULTS (tests)
description: Every task result, as the module returned it, one JSON line each, for the tests.
requirements: [enabled in callbacks_enabled]
'''


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = 'aggregate'
    CALLBACK_NAME = 'airgap_results'
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, *args, **kwargs):
        super(CallbackModule, self).__init__(*args, **kwargs)
        self._path = os.environ.get('AIRGAP_TASK_RESULTS')
        self._play = ''

    def v2_playbook_on_play_start(self, play):
        self._play = play.get_name()

    def _write(self, result, status, ignored=False):
        if not self._path:
            return
        try:
            res = result.clean_copy()._result  # censored for no_log, internal keys removed
        except AttributeError:
            res = dict(result._result)
        task = result._task
        line = {'play': self._play, 'task': task.get_name(), 'action': task.action, 'host': result._host.get_name(),
                'status': status, 'ignored': ignored, 'result': res}
        with open(self._path, 'a') as f:
            f.write(json.dumps(line, default=str, sort_keys=True) + '\n')

    def v2_runner_on_ok(self, result):
        self._write(result, 'ok')

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._write(result, 'failed', ignored=bool(ignore_errors))

    def v2_runner_on_skipped(self, result):
        self._write(result, 'skipped')

    def v2_runner_on_unreachable(self, result):
        self._write(result, 'unreachable')

"""The task results a playbook run wrote through tests/lib/callback_plugins/airgap_results.py.

    env = dict(os.environ, **results.callback_env(path))   # then run ansible-playbook with env
    fetch = results.one(path, 'airgap.kubespray.offline_file_fetch')['result']['totals']
"""
import json
import os

CALLBACKS = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'callback_plugins')


def callback_env(path):
    """The environment that makes ansible-playbook write its task results to path (emptied here)."""
    with open(path, 'w'):
        pass
    return {'ANSIBLE_CALLBACK_PLUGINS': CALLBACKS, 'ANSIBLE_CALLBACKS_ENABLED': 'airgap_results',
            'AIRGAP_TASK_RESULTS': path}


def load(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def of(path, action=None, task=None, status=None, host=None):
    """The result lines of the tasks running `action` (a module's name, FQCN or short) and/or whose
    name contains `task`, in the order they ran."""
    out = []
    for r in load(path):
        if action and r['action'] != action and r['action'].rsplit('.', 1)[-1] != action:
            continue
        if task and task not in r['task']:
            continue
        if status and r['status'] != status:
            continue
        if host and r['host'] != host:
            continue
        out.append(r)
    return out


def one(path, action=None, task=None, **kw):
    """The one result of such a task (AssertionError when there are none or several)."""
    found = [r for r in of(path, action, task, **kw) if r['status'] != 'skipped']
    if len(found) != 1:
        raise AssertionError('want one result of %s in %s, got %d: %s'
                             % (action or task, path, len(found), [(r['task'], r['host'], r['status']) for r in found]))
    return found[0]


def failure(path):
    """The msg of the task that failed the run (on its first host; failures under ignore_errors do
    not count): AssertionError unless one task failed."""
    found = [r for r in load(path) if r['status'] in ('failed', 'unreachable') and not r.get('ignored')]
    if not found or len({r['task'] for r in found}) != 1:
        raise AssertionError('want one failed task in %s, got %s' % (path, [(r['task'], r['host']) for r in found]))
    return found[0]['result'].get('msg', '')

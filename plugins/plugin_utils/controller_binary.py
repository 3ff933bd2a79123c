# Copyright: airgap.kubespray contributors
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
"""The collection's Go binary on the controller, for the rules that live in Go only.

The files layout (URL -> ``<host>/<url path>``, ``fetch.PathFor`` in modules/internal/fetch/path.go)
and the name of an image in the private registry (``imagename``'s mapping, what
offline_image_push and offline_image_scan use) have one implementation, in Go. The Python side
(the manifest's ``path`` and ``target``) asks the admin binary ``plugins/bin/airgap_linux_<arch>``
through ``airgap rules`` (one question a line on stdin: ``path URL`` or ``target REF``; one JSON
line back per question) instead of keeping copies. One process serves a whole evaluation.

The admin side of the collection runs on Linux amd64 and arm64 controllers only; elsewhere the
error says so.
"""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import platform
import subprocess

_ARCH = {'x86_64': 'amd64', 'amd64': 'amd64', 'aarch64': 'arm64', 'arm64': 'arm64'}
BIN_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'bin')


class ControllerBinaryError(Exception):
    """The controller cannot run the collection's binary (platform, missing build)."""


class RuleError(ValueError):
    """The Go rule refused the input (the message is Go's: an unsafe URL, an invalid reference)."""


def controller_binary(system=None, machine=None):
    """Path of the admin binary built for this controller."""
    system = (system or platform.system()).lower()
    machine = machine or platform.machine()
    arch = _ARCH.get(machine.lower())
    if system != 'linux' or arch is None:
        raise ControllerBinaryError(
            'airgap.kubespray runs its admin side on a Linux amd64 or arm64 controller; this one is %s/%s'
            % (system, machine))
    path = os.path.join(BIN_DIR, 'airgap_linux_' + arch)
    if not os.access(path, os.X_OK):
        raise ControllerBinaryError('%s is missing or not executable: install the collection from its built tarball '
                                    '(make collection), which ships it' % path)
    return path


class Rules(object):
    """``path_for(url)`` and ``target_for(ref)`` answered by ``airgap rules``, started on first
    use; ``close()`` ends it. Answers are memoized."""

    def __init__(self, binary=None):
        self._binary, self._proc, self._memo = binary, None, {}

    def path_for(self, url):
        """The file's place in the files layout: ``<host>/<url path>``."""
        return self._value('path', url)

    def target_for(self, ref):
        """The repository an image goes to in the private registry, without registry and tag."""
        return self._value('target', ref)

    def _value(self, kind, arg):
        arg = str(arg)
        if '\n' in arg or '\r' in arg:
            raise RuleError('%r: line break in the value' % arg)
        ask = '%s %s' % (kind, arg)
        if ask not in self._memo:
            self._memo[ask] = self._ask(ask)
        answer = self._memo[ask]
        if 'error' in answer:
            raise RuleError(answer['error'])
        return answer.get('value', '')

    def _ask(self, ask):
        if self._proc is None:
            self._proc = subprocess.Popen([self._binary or controller_binary(), 'rules'], stdin=subprocess.PIPE,
                                          stdout=subprocess.PIPE, universal_newlines=True)
        try:
            self._proc.stdin.write(ask + '\n')
            self._proc.stdin.flush()
            answer = json.loads(self._proc.stdout.readline())
        except (OSError, ValueError) as e:
            self.close()
            raise ControllerBinaryError('airgap rules gave no answer to %r: %s' % (ask, e))
        if answer.get('ask') != ask:
            self.close()
            raise ControllerBinaryError('airgap rules answered %r, asked %r' % (answer.get('ask'), ask))
        return answer

    def close(self):
        proc, self._proc = self._proc, None
        if proc is not None:
            try:
                proc.stdin.close()
            except OSError:
                pass
            proc.wait()
            proc.stdout.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

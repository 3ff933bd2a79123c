# Copyright: airgap.kubespray contributors
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
"""Load the quirks files (roles/manifest/files/quirks.yml and the user's own): what Kubespray
fetches beside ``downloads``. Loaded by the action plugins themselves, from paths, so that their
templates reach the evaluation raw (Ansible would otherwise render them as task arguments)."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.errors import AnsibleError

FIELDS = frozenset(('id', 'summary', 'kubespray', 'upstream', 'when', 'vars', 'replace', 'files', 'images',
                    'scan', 'offline_vars'))
REQUIRED = {'files': ('name', 'url'), 'images': ('name', 'repo', 'tag'), 'scan': ('download', 'kind')}
SCAN_KINDS = ('chart', 'manifest')


class QuirkError(AnsibleError):
    pass


def load_quirks(loader, paths):
    """The quirks of every file, in order; an id given twice keeps the last (a user's file can
    replace a shipped quirk)."""
    out = {}
    for path in paths or []:
        data = loader.load_from_file(str(path))
        if data is None:
            continue
        if not isinstance(data, list):
            raise QuirkError('%s: want a list of quirks' % path)
        for n, quirk in enumerate(data):
            where = '%s, entry %d' % (path, n + 1)
            if not isinstance(quirk, dict) or not quirk.get('id'):
                raise QuirkError('%s: each quirk is a mapping with an id' % where)
            where = '%s (%s)' % (path, quirk['id'])
            unknown = set(quirk) - FIELDS
            if unknown:
                raise QuirkError('%s: unknown fields %s (known: %s)' % (where, ', '.join(sorted(unknown)),
                                                                        ', '.join(sorted(FIELDS))))
            for field, keys in REQUIRED.items():
                for item in quirk.get(field) or []:
                    missing = [k for k in keys if not isinstance(item, dict) or k not in item]
                    if missing:
                        raise QuirkError('%s: every item of %s needs %s' % (where, field, ', '.join(keys)))
                    kind = item.get('kind') if field == 'scan' else item.get('scan')
                    if kind is not None and kind not in SCAN_KINDS:
                        raise QuirkError('%s: scan kind %r: want one of %s' % (where, kind, ', '.join(SCAN_KINDS)))
            out.pop(str(quirk['id']), None)
            out[str(quirk['id'])] = quirk
    return list(out.values())

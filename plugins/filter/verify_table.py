# Copyright: airgap.kubespray contributors
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
"""``verify_table(items)``: offline_verify's items as aligned table lines (kind, name, status, where)."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type


def verify_table(items):
    rows = [('KIND', 'NAME', 'STATUS', 'WHERE')]
    for i in sorted(items or [], key=lambda i: (i.get('ok', False), i.get('kind', ''), i.get('name', ''))):
        where = i.get('where', '')
        if not i.get('ok') and i.get('detail'):
            where = '%s (%s)' % (where, i['detail'])
        rows.append((i.get('kind', ''), i.get('name', ''), 'ok' if i.get('ok') else 'MISSING', where))
    widths = [max(len(str(r[c])) for r in rows) for c in range(3)]
    return ['%-*s  %-*s  %-*s  %s' % (widths[0], r[0], widths[1], r[1], widths[2], r[2], r[3]) for r in rows]


class FilterModule(object):
    def filters(self):
        return {'verify_table': verify_table}

#!/usr/bin/env python3
"""Lint the tracked YAML: every file parses, and every conditional (that, when, failed_when,
changed_when, until) is a string or a boolean. A plain scalar holding ': ' parses as a mapping:
ansible-core 2.19 refuses it ("Conditional expressions must be strings"), older releases
silently take it for true, so the check it meant never ran.

    tests/lib/yamllint.py FILE...
"""
import sys

import yaml

CONDITIONALS = ('that', 'when', 'failed_when', 'changed_when', 'until')


def bad_conditionals(node, where):
    if isinstance(node, dict):
        for key, value in node.items():
            if key in CONDITIONALS:
                for cond in value if isinstance(value, list) else [value]:
                    if not isinstance(cond, (str, bool)):
                        yield f'{where}: {key}: not a string (quote it): {cond!r}'
            yield from bad_conditionals(value, where)
    elif isinstance(node, list):
        for item in node:
            yield from bad_conditionals(item, where)


def main(paths):
    problems = []
    for path in paths:
        with open(path, encoding='utf-8') as f:
            try:
                docs = list(yaml.safe_load_all(f))
            except yaml.YAMLError as e:
                problems.append(f'{path}: {e}')
                continue
        for doc in docs:
            problems.extend(bad_conditionals(doc, path))
    for p in problems:
        print(p, file=sys.stderr)
    return 1 if problems else 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))

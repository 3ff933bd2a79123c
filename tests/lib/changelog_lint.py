"""Check changelogs/ as antsibull-changelog reads it (antsibull-changelog itself is not in Debian).

    /usr/bin/python3 tests/lib/changelog_lint.py [CHANGELOGS_DIR]

config.yaml: the sections, the fragments folder, the changes file; changelog.yaml: `ancestor` and
`releases` (a mapping of version to changes and fragments); every fragment: a YAML mapping whose
keys are config.yaml's sections (or its trivial and release summary sections), each a list of
non-empty strings (the release summary a string). Prints one line per problem, naming the file.
"""
import os
import sys

import yaml


def load(path, problems):
    try:
        with open(path, encoding='utf-8') as f:
            return yaml.safe_load(f)
    except (OSError, yaml.YAMLError) as e:
        problems.append('%s: %s' % (path, e))
        return None


def check(root):
    problems = []
    config = load(os.path.join(root, 'config.yaml'), problems)
    if not isinstance(config, dict):
        return problems + ['%s: not a mapping' % os.path.join(root, 'config.yaml')]
    sections = [s[0] for s in config.get('sections') or [] if isinstance(s, list) and len(s) == 2]
    if not sections:
        problems.append('config.yaml: sections must be a list of [key, title] pairs')
    lists = set(sections) | {config.get('trivial_section_name', 'trivial')}
    summary = config.get('prelude_section_name', 'release_summary')

    changes = os.path.join(root, config.get('changes_file', 'changelog.yaml'))
    state = load(changes, problems)
    if not isinstance(state, dict) or 'ancestor' not in state or not isinstance(state.get('releases'), dict):
        problems.append('%s: needs `ancestor` and a `releases` mapping' % changes)
    else:
        for version, release in state['releases'].items():
            if not isinstance(release, dict) or not isinstance(release.get('changes', {}), dict):
                problems.append('%s: release %s: needs a `changes` mapping' % (changes, version))

    notes = os.path.join(root, config.get('notesdir', 'fragments'))
    for name in sorted(os.listdir(notes)):
        path = os.path.join(notes, name)
        if name.startswith('.'):
            continue
        if not name.endswith(('.yml', '.yaml')):
            problems.append('%s: a fragment ends in .yml or .yaml' % path)
            continue
        fragment = load(path, problems)
        if not isinstance(fragment, dict) or not fragment:
            problems.append('%s: a fragment is a non-empty mapping of sections' % path)
            continue
        for key, value in fragment.items():
            if key == summary:
                if not isinstance(value, str) or not value.strip():
                    problems.append('%s: %s must be a string' % (path, key))
            elif key not in lists:
                problems.append('%s: unknown section %r (sections: %s)' % (path, key, ', '.join(sorted(lists))))
            elif not isinstance(value, list) or not value or \
                    not all(isinstance(v, str) and v.strip() for v in value):
                problems.append('%s: %s must be a list of non-empty strings' % (path, key))
    return problems


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else 'changelogs'
    problems = check(root)
    for p in problems:
        print(p)
    return 1 if problems else 0


if __name__ == '__main__':
    sys.exit(main())

"""Run the lane's ansible-test with its sanity tests in one virtual environment that sees Debian's
packages (pylint, pycodestyle, yamllint, voluptuous, ... from tests/setup-host.sh).

ansible-test gives each sanity test a virtual environment of its own and pip-installs pinned
requirements into it from PyPI, which this project's machines cannot reach. This wrapper swaps
that one step: every test gets the same environment, created once by ansible-test's own
create_virtual_environment with system site packages. Everything else is ansible-test's.

    /usr/bin/python3 tests/sanity/ansible_test_offline.py VENV_DIR sanity --local --python 3.11 ...

The lane's ansible-test (first on PATH, see tests/lib/ansible-lane.sh) is the one imported.
AIRGAP_SANITY_PATH_FIRST=DIR: DIR comes first on the environment's path, before Debian's packages
(tests/sanity/run.sh puts trixie's pylint there for ansible-core 2.19).
"""
import json
import os
import re
import shutil
import sys


def lane_path():
    """The folder the lane's ansible_test package lives in (its wrapper's PYTHONPATH), if any."""
    script = shutil.which('ansible-test')
    if not script:
        sys.exit('ansible_test_offline: no ansible-test on PATH')
    with open(script, encoding='utf-8', errors='replace') as f:
        head = f.read(4096)
    m = re.search(r'PYTHONPATH="([^"$]+)', head)
    return m.group(1) if m else None


def first_path(root):
    """Puts $AIRGAP_SANITY_PATH_FIRST first on the path of the environment at root (or nothing)."""
    first = os.environ.get('AIRGAP_SANITY_PATH_FIRST', '')
    pth = [os.path.join(dirpath, 'airgap-first.pth')
           for dirpath, dirs, _files in os.walk(os.path.join(root, 'lib')) if dirpath.endswith('site-packages')]
    for path in pth:
        if first:
            with open(path, 'w', encoding='utf-8') as f:
                f.write('import sys; sys.path.insert(0, %r)\n' % first)
        elif os.path.exists(path):
            os.remove(path)


def main():
    venv, args = os.path.abspath(sys.argv[1]), sys.argv[2:]
    path = lane_path()
    if path:
        sys.path.insert(0, path)
    # pylint: disable=import-outside-toplevel
    from ansible_test._internal import main as cli_main
    from ansible_test._internal.commands import sanity
    import importlib
    from ansible_test._internal.host_configs import VirtualPythonConfig
    from ansible_test._internal.venv import create_virtual_environment

    def one_venv(args, python, name, **_):
        """ansible-test's create_sanity_virtualenv, without pip: one shared environment."""
        del name
        root = os.path.join(venv, python.version)
        marker = os.path.join(root, 'marker.txt')
        if not os.path.exists(marker):
            shutil.rmtree(root, ignore_errors=True)
            if not create_virtual_environment(args, python, root, system_site_packages=True):
                return None
            # check_sanity_virtualenv_yaml reads whether PyYAML has libyaml (Debian's has)
            with open(os.path.join(root, 'meta.yaml.json'), 'w', encoding='utf-8') as f:
                json.dump(True, f)
            with open(marker, 'w', encoding='utf-8'):
                pass
        first_path(root)
        return VirtualPythonConfig(version=python.version, path=os.path.join(root, 'bin', 'python'))

    sanity.create_sanity_virtualenv = one_venv
    for name in ('import', 'mypy'):  # tests that import the function themselves (if loaded yet)
        try:
            mod = importlib.import_module('ansible_test._internal.commands.sanity.' + name)
        except ImportError:
            continue
        mod.create_sanity_virtualenv = one_venv
    sys.argv = ['ansible-test'] + args
    cli_main()


if __name__ == '__main__':
    main()

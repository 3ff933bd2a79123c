"""Unit tests of os_repo_build's pure helpers: what apt's simulation installs, the file names apt
downloads, PEP 503 names and pages, reproducible gzip, atomic writes. The module's runs (apt, dnf,
createrepo_c, gpg, pip) are tested for real in tests/os_repos/run.sh and tests/repos/fixtures.sh.

    tests/lib/ansible-lane.sh run 2.18 /usr/bin/python3 -m unittest discover -s tests/unit -v   (make test-unit)
"""
import gzip
import importlib.util
import os
import tempfile
import unittest

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
_SPEC = importlib.util.spec_from_file_location('os_repo_build', os.path.join(REPO, 'plugins', 'modules', 'os_repo_build.py'))
orb = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(orb)

# apt-get install --simulate on an empty dpkg status (abridged from bookworm).
SIMULATION = """NOTE: This is only a simulation!
Reading package lists...
Inst libc6 (2.36-9+deb12u4 Debian:12.5/stable [amd64])
Inst conntrack (1:1.4.7-1+b2 Debian:12.5/stable [amd64])
Inst tzdata [2024a-0+deb12u1] (2025b-0+deb12u1 Debian:12-updates/stable-updates [all])
Conf libc6 (2.36-9+deb12u4 Debian:12.5/stable [amd64])
"""


class AptTest(unittest.TestCase):
    def test_closure_from_simulation(self):
        self.assertEqual(orb.apt_closure(SIMULATION), [
            ('libc6', '2.36-9+deb12u4', 'amd64'), ('conntrack', '1:1.4.7-1+b2', 'amd64'),
            ('tzdata', '2025b-0+deb12u1', 'all')])
        self.assertEqual(orb.apt_closure('Reading package lists...\n'), [])

    def test_downloaded_file_name_escapes_the_epoch(self):
        self.assertEqual(orb.deb_file_name('conntrack', '1:1.4.7-1+b2', 'amd64'), 'conntrack_1%3a1.4.7-1+b2_amd64.deb')
        self.assertEqual(orb.deb_file_name('tzdata', '2025b-0+deb12u1', 'all'), 'tzdata_2025b-0+deb12u1_all.deb')

    def test_missing_packages_named_once_sorted(self):
        err = 'E: Unable to locate package zz\nE: Unable to locate package aa\nE: Unable to locate package zz\n'
        self.assertEqual(orb.apt_missing(err), ['aa', 'zz'])
        self.assertEqual(orb.apt_missing('E: Could not get lock'), [])


class PypiTest(unittest.TestCase):
    def test_project_names_pep503(self):
        self.assertEqual(orb.project_of('Jinja2-3.1.4-py3-none-any.whl'), 'jinja2')
        self.assertEqual(orb.project_of('ruamel.yaml.clib-0.2.8-cp312-cp312-manylinux_2_17_x86_64.whl'), 'ruamel-yaml-clib')
        self.assertEqual(orb.project_of('zope_interface-6.0.tar.gz'), 'zope-interface')
        self.assertEqual(orb.normalize('Foo__Bar.baz'), 'foo-bar-baz')

    def test_index_page_escapes_links(self):
        page = orb.index_page('Links for a&b', [('../../packages/a&b-1.whl#sha256=00', 'a&b-1.whl')])
        self.assertIn('<title>Links for a&amp;b</title>', page)
        self.assertIn('<a href="../../packages/a&amp;b-1.whl#sha256=00">a&amp;b-1.whl</a><br/>', page)
        self.assertIn('<meta name="pypi:repository-version" content="1.0">', page)


class FilesTest(unittest.TestCase):
    def test_gzip_is_reproducible(self):
        data = b'Package: conntrack\n' * 100
        self.assertEqual(orb.gzip_bytes(data), orb.gzip_bytes(data))
        self.assertEqual(gzip.decompress(orb.gzip_bytes(data)), data)

    def test_write_atomic_replaces_and_leaves_no_temporary(self):
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, 'sub', 'Release')
            orb.write_atomic(path, 'one\n')
            orb.write_atomic(path, b'two\n', mode=0o600)
            with open(path, 'rb') as f:
                self.assertEqual(f.read(), b'two\n')
            self.assertEqual(os.stat(path).st_mode & 0o777, 0o600)
            self.assertEqual(os.listdir(os.path.dirname(path)), ['Release'])
            with self.assertRaises(AttributeError):  # not bytes, not str: fails inside the write
                orb.write_atomic(path, 42)
            self.assertEqual(os.listdir(os.path.dirname(path)), ['Release'], 'a failed write leaves nothing behind')
            with open(path, 'rb') as f:
                self.assertEqual(f.read(), b'two\n', 'a failed write keeps the old file')


if __name__ == '__main__':
    unittest.main()

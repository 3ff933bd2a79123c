"""Where the demo's Kubespray comes from, on a clone outside this repository's CI (no ../shared):

    python3 -m unittest tests/demo/test_kubespray_source.py -v     (part of make test-demo; seconds)

- with neither ../shared nor AIRGAP_DEMO_KUBESPRAY, `demo.py kubespray` (the step `make demo` runs
  first) clones Kubespray at v2.31.0 from AIRGAP_DEMO_KUBESPRAY_REPO into .demo/kubespray-v2.31.0,
  says so, and reuses that clone on the next run; a local bare repository stands in for GitHub (its
  branch has moved on past the tag: the checkout must be the tag's commit);
- a repository that cannot be cloned fails naming it, and leaves nothing in .demo/;
- AIRGAP_DEMO_KUBESPRAY (a path to a checkout) is used as is: nothing is cloned.

demo.py runs from a copy of this repository's demo in a scratch folder, so ../shared is not there.
"""
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
SHARED = os.path.join(REPO, '..', 'shared', 'kubespray', 'v2.31.0')
TAG = 'v2.31.0'


def git(*args, cwd=None):
    return subprocess.run(['git', '-c', 'user.name=airgap-test', '-c', 'user.email=test@airgap.invalid',
                           '-c', 'init.defaultBranch=master', '-c', 'advice.detachedHead=false'] + list(args),
                          cwd=cwd, check=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          universal_newlines=True).stdout.strip()


class KubesprayResolution(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix='airgap-demo-kubespray-')
        # A copy of the demo's script (and the helper it imports) in <tmp>/repo: <tmp>/shared is absent.
        cls.repo = os.path.join(cls.tmp, 'repo')
        for rel in ('tests/demo', 'tests/lib'):
            shutil.copytree(os.path.join(REPO, rel), os.path.join(cls.repo, rel), ignore=shutil.ignore_patterns('__pycache__'))
        # The stand-in for github.com/kubernetes-sigs/kubespray: Kubespray 2.31's files tagged v2.31.0,
        # then one more commit on the branch.
        src = os.path.join(cls.tmp, 'src')
        if os.path.isdir(SHARED):
            shutil.copytree(SHARED, src)
        else:  # the files the demo needs to call it Kubespray
            os.makedirs(os.path.join(src, 'roles', 'kubespray_defaults', 'defaults'))
            with open(os.path.join(src, 'roles', 'kubespray_defaults', 'defaults', 'main.yml'), 'w') as f:
                f.write('---\nkube_version: 1.33.0\n')
        git('init', '-q', src)
        git('add', '-A', cwd=src)
        git('commit', '-q', '-m', 'Kubespray 2.31.0', cwd=src)
        git('tag', TAG, cwd=src)
        cls.tag_commit = git('rev-parse', 'HEAD', cwd=src)
        with open(os.path.join(src, 'after-the-tag'), 'w') as f:
            f.write('not in v2.31.0\n')
        git('add', '-A', cwd=src)
        git('commit', '-q', '-m', 'after the release', cwd=src)
        cls.upstream = os.path.join(cls.tmp, 'kubespray.git')
        git('clone', '-q', '--bare', src, cls.upstream)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def setUp(self):
        shutil.rmtree(os.path.join(self.repo, '.demo'), ignore_errors=True)

    def demo(self, **env):
        e = {k: v for k, v in os.environ.items() if not k.startswith('AIRGAP_DEMO_')}
        e.update(env)
        return subprocess.run([sys.executable, os.path.join(self.repo, 'tests', 'demo', 'demo.py'), 'kubespray'],
                              cwd=self.repo, env=e, stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, check=False)

    def test_without_shared_clones_the_tag_into_demo(self):
        self.assertFalse(os.path.exists(os.path.join(self.tmp, 'shared')))
        url = 'file://' + self.upstream
        p = self.demo(AIRGAP_DEMO_KUBESPRAY_REPO=url)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        clone = os.path.join(self.repo, '.demo', 'kubespray-' + TAG)
        lines = p.stdout.splitlines()
        self.assertEqual(lines[-1], clone)
        # said on the terminal: what is cloned, from where, to where
        self.assertTrue(any('cloning Kubespray %s from %s into .demo/kubespray-%s' % (TAG, url, TAG) in line
                            for line in lines), p.stdout)
        self.assertEqual(git('rev-parse', 'HEAD', cwd=clone), self.tag_commit)
        self.assertEqual(git('describe', '--tags', '--exact-match', cwd=clone), TAG)
        self.assertEqual(git('rev-list', '--count', 'HEAD', cwd=clone), '1')  # --depth 1
        self.assertTrue(os.path.isdir(os.path.join(clone, 'roles', 'kubespray_defaults')))
        self.assertFalse(os.path.exists(os.path.join(clone, 'after-the-tag')))
        self.assertEqual(sorted(os.listdir(os.path.join(self.repo, '.demo'))), ['kubespray-' + TAG])

        # the next run reuses the clone, even with the repository gone
        again = self.demo(AIRGAP_DEMO_KUBESPRAY_REPO=os.path.join(self.tmp, 'gone.git'))
        self.assertEqual(again.returncode, 0, again.stdout + again.stderr)
        self.assertEqual(again.stdout.splitlines(), [clone])
        self.assertEqual(git('rev-parse', 'HEAD', cwd=clone), self.tag_commit)

    def test_unclonable_repository_is_named(self):
        missing = os.path.join(self.tmp, 'no-such-kubespray.git')
        p = self.demo(AIRGAP_DEMO_KUBESPRAY_REPO=missing)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn('cloning Kubespray %s from %s failed' % (TAG, missing), p.stderr)
        self.assertEqual([n for n in os.listdir(os.path.join(self.repo, '.demo')) if n.startswith('kubespray')], [])

    def test_airgap_demo_kubespray_is_used_as_is(self):
        checkout = os.path.join(self.tmp, 'my-kubespray')
        shutil.rmtree(checkout, ignore_errors=True)
        git('clone', '-q', '--branch', TAG, self.upstream, checkout)
        p = self.demo(AIRGAP_DEMO_KUBESPRAY=checkout, AIRGAP_DEMO_KUBESPRAY_REPO=os.path.join(self.tmp, 'gone.git'))
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertEqual(p.stdout.splitlines(), [checkout])
        self.assertFalse(os.path.exists(os.path.join(self.repo, '.demo', 'kubespray-' + TAG)))

        # a path that holds no Kubespray fails naming it, and does not fall back to a clone
        p = self.demo(AIRGAP_DEMO_KUBESPRAY=os.path.join(self.tmp, 'src-missing'), AIRGAP_DEMO_KUBESPRAY_REPO='file://' + self.upstream)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn('no Kubespray at %s' % os.path.join(self.tmp, 'src-missing'), p.stderr)
        self.assertFalse(os.path.exists(os.path.join(self.repo, '.demo', 'kubespray-' + TAG)))


if __name__ == '__main__':
    unittest.main()

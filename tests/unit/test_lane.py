# Copyright: airgap.kubespray contributors
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
"""make test-unit runs the unit tests on each ansible-core lane: they must import that lane's ansible."""
import os
import unittest

from ansible.release import __version__


class Lane(unittest.TestCase):
    def test_imports_the_lanes_ansible_core(self):
        lane = os.environ.get('AIRGAP_ANSIBLE_LANE')
        if not lane:
            self.skipTest('not run through tests/lib/ansible-lane.sh')
        self.assertTrue(__version__.startswith(lane + '.'), 'lane %s imported ansible-core %s' % (lane, __version__))

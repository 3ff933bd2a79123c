# Copyright: airgap.kubespray contributors
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
"""Runs airgap.kubespray.offline_bundle_delta as the Go binary built for the target platform."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.airgap.kubespray.plugins.plugin_utils.binary_module import BinaryModuleAction


class ActionModule(BinaryModuleAction):
    module_name = 'offline_bundle_delta'

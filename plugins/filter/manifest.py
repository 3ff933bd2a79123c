# Copyright: airgap.kubespray contributors
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
"""The manifest filters (docs in plugins/filter/manifest_*.yml): projections of a manifest that
tasks use as they are. Building, reading and extending a manifest is airgap.kubespray.manifest_fact's
(a fact set by set_fact would lose the inertness of its Kubespray templates on ansible-core 2.17
and 2.18). The work is in plugins/plugin_utils/manifest.py."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.airgap.kubespray.plugins.plugin_utils.manifest import (
    manifest_files_list, manifest_images_list, manifest_items, manifest_offline_vars, manifest_scan,
    manifest_upstream_registries, manifest_yaml)


class FilterModule(object):
    def filters(self):
        return {
            'manifest_scan': manifest_scan,
            'manifest_items': manifest_items,
            'manifest_yaml': manifest_yaml,
            'manifest_files_list': manifest_files_list,
            'manifest_images_list': manifest_images_list,
            'manifest_upstream_registries': manifest_upstream_registries,
            'manifest_offline_vars': manifest_offline_vars,
        }

# -*- coding: utf-8 -*-
# Copyright: airgap.kubespray contributors
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
module: manifest_fact
short_description: Set a fact holding a manifest (merged, read, or with the images found inside charts)
version_added: 0.1.0
description:
  - Sets the fact O(name) to a manifest (docs/manifest.md) - merged from per-class evaluations of Kubespray
    (results of M(airgap.kubespray.kubespray_downloads)), read from a C(manifest.yaml), or extended with the images
    M(airgap.kubespray.offline_image_scan) found.
  - The manifest carries Kubespray templates (C(offline_vars)) that only Kubespray renders; the fact keeps them as they
    are, which C(ansible.builtin.set_fact) does not on ansible-core 2.17 and 2.18.
  - Runs on the controller; connects to nothing.
author: airgap.kubespray contributors (@airgap-kubespray)
options:
  name:
    description: The fact to set.
    type: str
    required: true
  evaluations:
    description: Merge these evaluations (one per class of hosts), each standing for its class's members.
    type: list
    elements: dict
  classes:
    description: The classes (C(airgap.kubespray.kubespray_classes)), for O(evaluations).
    type: list
    elements: dict
  scope:
    description: The scope the evaluations used, for O(evaluations).
    type: str
    default: enabled
  arches:
    description: The architectures requested, for O(evaluations).
    type: list
    elements: str
  path:
    description: Read this C(manifest.yaml).
    type: path
  manifest:
    description: Add the images of O(scan) to this manifest.
    type: dict
  scan:
    description: The registered result of M(airgap.kubespray.offline_image_scan), for O(manifest).
    type: dict
  inventory_host:
    description:
      - Merge the manifest's C(offline_vars) over this inventory host's own values of those variables, as the inventory
        writes them (untemplated) - a mapping key by key, the manifest's keys winning.
    type: str
  registry:
    description: With O(manifest), the registry the nodes pull from (verify's offline view); images found are checked there.
    type: str
extends_documentation_fragment:
  - airgap.kubespray.controller
'''

EXAMPLES = r'''
- name: Read the bundle's manifest
  airgap.kubespray.manifest_fact:
    name: bundle_manifest
    path: /srv/airgap-bundle/manifest.yaml
'''

RETURN = r'''
ansible_facts:
  description: The fact O(name), the manifest.
  returned: success
  type: dict
'''

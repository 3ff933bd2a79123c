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
  - Then, with O(union), united with other C(manifest.yaml) files - their views side by side, each item naming the views it
    belongs to, a later manifest replacing a view of the same name - and, with O(views), narrowed to some views
    (docs/manifest.md, docs/day-two.md).
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
  view:
    description:
      - With O(evaluations), the name of the view the manifest is (letters, digits, C(.), C(_), C(-)).
      - Default C(kubespray-<kubespray_version>-k8s-<kube_version>).
    type: str
  kubespray_version:
    description: With O(evaluations), Kubespray's version, recorded in the view.
    type: str
  union:
    description:
      - Unite the manifest (of O(evaluations), O(path) or O(manifest); or none) with these C(manifest.yaml) files, in order.
      - A later manifest's view replaces an earlier one of the same name. Two views giving one file (by C(path)) or image (by
        C(source)) different data (checksum or url; digest or target) fail, naming the item and the views.
    type: list
    elements: path
  views:
    description: Keep only these views (names); a name the manifest does not hold fails, listing the ones it holds.
    type: list
    elements: str
extends_documentation_fragment:
  - airgap.kubespray.controller
'''

EXAMPLES = r'''
- name: Read the bundle's manifest
  airgap.kubespray.manifest_fact:
    name: bundle_manifest
    path: /srv/airgap-bundle/manifest.yaml

- name: The site's manifest with a delta's views on top (a view of the same name replaced)
  airgap.kubespray.manifest_fact:
    name: site_manifest
    path: /srv/airgap-bundle/manifest.yaml
    union: [/media/delta/manifest.yaml]

- name: One view of the bundle's manifest
  airgap.kubespray.manifest_fact:
    name: old_view
    path: /srv/airgap-bundle/manifest.yaml
    views: [kubespray-2.30.0-k8s-1.34.3]
'''

RETURN = r'''
ansible_facts:
  description: The fact O(name), the manifest.
  returned: success
  type: dict
'''

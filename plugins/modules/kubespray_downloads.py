# -*- coding: utf-8 -*-
# Copyright: airgap.kubespray contributors
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
module: kubespray_downloads
short_description: Evaluate Kubespray's downloads variable as the current host sees it
version_added: 0.1.0
description:
  - Templates each entry of Kubespray's C(downloads) variable (load it first with Kubespray's
    C(kubespray_defaults) role, for example C(include_role) with C(public=true)) field by field, as the
    current inventory host sees it, once per architecture, and returns the files and images it needs.
  - Runs on the controller only; nothing connects to the host.
  - Used by the C(airgap.kubespray.manifest) role; most users run the C(airgap.kubespray.manifest) playbook.
author: airgap.kubespray contributors
options:
  arches:
    description: Architectures to evaluate (C(host_architecture) is set to each in turn).
    type: list
    elements: str
    default: [amd64]
  scope:
    description:
      - C(enabled) returns what is enabled for this host's groups; C(all) returns every entry.
    type: str
    choices: [enabled, all]
    default: enabled
  extras:
    description: Also return what Kubespray's offline docs say to mirror beside C(downloads) (cilium's helm repository).
    type: bool
    default: true
  overrides:
    description:
      - Variables to evaluate with instead of the host's own, e.g. Kubespray's upstream C(github_url) and
        C(kube_image_repo) where the inventory points them at a mirror (the manifest role's upstream view).
      - A null value leaves the variable undefined (C(files_repo), so that cilium's helm repository is its upstream one).
    type: dict
    default: {}
extends_documentation_fragment:
  - airgap.kubespray.controller
'''

EXAMPLES = r'''
- name: Load Kubespray's variables without running its tasks
  ansible.builtin.include_role:
    name: kubespray_defaults
    public: true
    apply:
      when: false

- name: Evaluate downloads for amd64 and arm64
  airgap.kubespray.kubespray_downloads:
    arches: [amd64, arm64]
  register: downloads
'''

RETURN = r'''
host:
  description: The inventory host evaluated.
  returned: success
  type: str
kube_version:
  description: Kubespray's kube_version for this host.
  returned: success
  type: str
files:
  description: Files needed (name, url, checksum, path, arch, groups, enabled, extra).
  returned: success
  type: list
  elements: dict
images:
  description: Images needed (name, source, repo, tag, digest, target, arch, groups, enabled).
  returned: success
  type: list
  elements: dict
mirror_images:
  description: The images the offline mirror runs (registry, nginx).
  returned: success
  type: list
  elements: dict
left_out:
  description: Entries left out (disabled, or not for this host's groups), with the reason.
  returned: success
  type: list
  elements: dict
'''

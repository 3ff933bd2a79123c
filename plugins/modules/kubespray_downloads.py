# -*- coding: utf-8 -*-
# Copyright: airgap.kubespray contributors
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
module: kubespray_downloads
short_description: Evaluate what Kubespray fetches (downloads, kubeadm's images, the quirks) as the current host sees it
version_added: 0.1.0
description:
  - Templates each entry of Kubespray's C(downloads) variable (load it first with Kubespray's
    C(kubespray_defaults) role, for example C(include_role) with C(public=true)) field by field, as the
    current inventory host sees it, once per architecture, with the facts Kubespray reads (both C(ansible_facts) and the
    injected C(ansible_*) names) set from the host's platform, and returns the files and images it needs, the images
    kubeadm pulls itself, and the quirks' items (what Kubespray fetches beside C(downloads)), each with its C(origin).
  - Runs on the controller only; nothing connects to the host.
  - Used by the C(airgap.kubespray.manifest) role; most users run the C(airgap.kubespray.manifest) playbook.
author: airgap.kubespray contributors (@airgap-kubespray)
options:
  arches:
    description:
      - Architectures to evaluate (the C(architecture) fact is set to each in turn).
      - Default, the host's own platform (C(host_architecture), cached facts, else amd64).
    type: list
    elements: str
  target:
    description:
      - The OS the host runs, C(<id>-<version>) (C(ubuntu-24.04)); its facts are set. Null keeps the host's cached facts.
      - Default, the host's own C(airgap_os_target), cached facts, else ubuntu-24.04.
    type: str
  quirks:
    description: Quirks files (paths on the controller, schema in docs/manifest.md) to apply.
    type: list
    elements: path
    default: []
  kubespray_version:
    description: Kubespray's version, for the quirks' version ranges; empty when unknown.
    type: str
  check_offline_vars:
    description: Also report, in C(offline_vars_missing), the quirks' offline settings that are not in effect (verify).
    type: bool
    default: false
  scope:
    description:
      - C(enabled) returns what is enabled for this host's groups; C(all) returns every entry.
    type: str
    choices: [enabled, all]
    default: enabled
  extras:
    description: Apply O(quirks).
    type: bool
    default: true
  upstream:
    description:
      - Evaluate the upstream view, what to download from the internet - O(upstream_vars) and every variable the quirks set
        offline (C(argocd_install_url), ...) get Kubespray's own defaults back, and C(files_repo) is unset, whatever the
        inventory (say an offline.yml from an earlier mirror run) sets.
    type: bool
    default: false
  upstream_vars:
    description: With O(upstream), the variables an offline.yml redirects (base URLs, C(*_image_repo)).
    type: list
    elements: str
    default: []
  role_dir:
    description: With O(upstream), Kubespray's C(roles/kubespray_defaults), whose defaults are read.
    type: path
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
  description: Files needed (name, url, checksum, path, arch, groups, enabled, origin; quirk, scan, purpose where they apply).
  returned: success
  type: list
  elements: dict
images:
  description: Images needed (name, source, repo, tag, digest, target, arch, groups, enabled, origin; quirk where it applies).
  returned: success
  type: list
  elements: dict
mirror_images:
  description: The images the offline mirror runs (registry, nginx).
  returned: success
  type: list
  elements: dict
quirks:
  description: The quirks that applied (id, summary, upstream, offline_vars).
  returned: success
  type: list
  elements: dict
offline_vars_missing:
  description: With O(check_offline_vars), the quirks' offline settings not in effect (var, quirk, missing key paths).
  returned: when check_offline_vars
  type: list
  elements: dict
left_out:
  description: Entries left out (disabled, or not for this host's groups), with the reason.
  returned: success
  type: list
  elements: dict
'''

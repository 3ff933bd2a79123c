# -*- coding: utf-8 -*-
# Copyright: airgap.kubespray contributors
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
module: kubespray_packages
short_description: Evaluate Kubespray's OS package list for target OS releases as the current host sees it
version_added: 0.1.0
description:
  - Templates every condition of the C(pkgs) variable of Kubespray's C(system_packages) role (load it
    first, and Kubespray's C(kubespray_defaults), with C(include_role) and C(public=true)) once per target
    OS, with the OS facts of that target and every other variable as the current inventory host sees it
    (its C(group_names), the inventory's group_vars, Kubespray's defaults).
  - A package is listed when all its conditions are true, as Kubespray's C(system_packages) role decides.
  - The facts set per target are C(ansible_os_family), C(ansible_distribution),
    C(ansible_distribution_major_version), C(ansible_distribution_version), C(ansible_distribution_release)
    (the codename of Debian and Ubuntu), C(ansible_pkg_mgr), C(ansible_system), and the same keys of
    C(ansible_facts). C(main_access_ip), which Kubespray's C(network_facts) role sets on every cluster
    host, is given a placeholder when the inventory does not set it.
  - Fails, naming the package, the condition and what is missing, when a condition does not render.
  - Runs on the controller only; nothing connects to the host.
  - Used by the C(airgap.kubespray.os_packages) role; most users run the C(airgap.kubespray.os_packages) playbook.
author: airgap.kubespray contributors (@airgap-kubespray)
options:
  targets:
    description:
      - The target OS releases, C(<id>-<version>), e.g. C(ubuntu-24.04), C(debian-12), C(rocky-9).
      - Supported ids and releases - C(ubuntu) 20.04, 22.04, 24.04; C(debian) 11, 12, 13; C(rocky), C(almalinux),
        C(rhel), C(oraclelinux) 8, 9, 10; C(centos) (Stream) 9, 10. Debian and the EL family also take a
        point release (C(debian-12.7), C(rocky-9.4)), used as C(ansible_distribution_version).
      - A comma-separated string is accepted too.
    type: list
    elements: str
    required: true
extends_documentation_fragment:
  - airgap.kubespray.controller
'''

EXAMPLES = r'''
- name: Load Kubespray's variables without running its tasks
  ansible.builtin.include_role:
    name: "{{ item }}"
    public: true
    apply:
      when: false
  loop:
    - /path/to/kubespray/roles/kubespray_defaults
    - /path/to/kubespray/roles/system_packages

- name: Evaluate Kubespray's package list for Ubuntu 24.04 and Rocky Linux 9
  airgap.kubespray.kubespray_packages:
    targets: [ubuntu-24.04, rocky-9]
  register: packages
'''

RETURN = r'''
host:
  description: The inventory host evaluated.
  returned: success
  type: str
groups:
  description: The host's groups (C(group_names)) the conditions saw.
  returned: success
  type: list
  elements: str
targets:
  description: One entry per target, in the order given.
  returned: success
  type: list
  elements: dict
  contains:
    target:
      description: The target as given, e.g. C(debian-12).
      type: str
    family:
      description: The package format, C(deb) or C(rpm).
      type: str
    distribution:
      description: C(ansible_distribution), e.g. C(Debian), C(Ubuntu), C(Rocky), C(RedHat).
      type: str
    version:
      description: C(ansible_distribution_version), e.g. C(12), C(24.04), C(9.4).
      type: str
    codename:
      description: The release codename (apt suite) of Debian and Ubuntu targets, e.g. C(bookworm); null for rpm targets.
      type: str
    packages:
      description: The packages Kubespray installs on this host with this OS, sorted.
      type: list
      elements: str
    left_out:
      description:
        - The packages left out, each with the first of its conditions that is false (C(name), C(condition)).
        - The condition is given as the expression inside its C({{ }}), e.g. C(kube_proxy_mode != 'ipvs').
      type: list
      elements: dict
'''

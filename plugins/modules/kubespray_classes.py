# -*- coding: utf-8 -*-
# Copyright: airgap.kubespray contributors
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
module: kubespray_classes
short_description: Group cluster hosts into classes that Kubespray's evaluation cannot tell apart
version_added: 0.1.0
description:
  - Two hosts are in one class when they are in the same groups, have the same platform (architectures and OS) and the
    same host-level value (or none) of every variable the evaluation of Kubespray's C(downloads), of kubeadm's images
    and of the quirks can read, found by following their templates through Kubespray's defaults, the group variables
    and the host's own. One host per class is then evaluated (M(airgap.kubespray.kubespray_downloads)); its result
    stands for every member.
  - Warns, naming the hosts, when a host declares no OS (C(airgap_os_target)) and has no cached facts.
  - Runs on the controller only (localhost); nothing connects to the hosts.
author: airgap.kubespray contributors (@airgap-kubespray)
options:
  hosts:
    description: The cluster hosts. Fails with a clear message when empty.
    type: list
    elements: str
    required: true
  role_dir:
    description: Kubespray's C(roles/kubespray_defaults).
    type: path
    required: true
  arches:
    description: Architectures for hosts whose architecture is not known (C(airgap_arches)).
    type: list
    elements: str
    default: [amd64]
  quirks:
    description: The quirks files the evaluation applies (their templates are read too).
    type: list
    elements: path
    default: []
  enabled:
    description: C(false) puts every host in a class of its own (every host evaluated).
    type: bool
    default: true
extends_documentation_fragment:
  - airgap.kubespray.controller
'''

EXAMPLES = r'''
- name: Group the cluster hosts
  airgap.kubespray.kubespray_classes:
    hosts: "{{ query('ansible.builtin.inventory_hostnames', 'k8s_cluster:etcd') }}"
    role_dir: /srv/kubespray/roles/kubespray_defaults
  register: grouping
'''

RETURN = r'''
classes:
  description: The classes in inventory order (representative, members, arches, target, source - declared, facts or default).
  returned: success
  type: list
  elements: dict
representatives:
  description: One host per class, to evaluate.
  returned: success
  type: list
  elements: str
variables:
  description: The variables the classes compare (what the evaluation can read).
  returned: success
  type: list
  elements: str
hosts:
  description: How many hosts were grouped.
  returned: success
  type: int
seconds:
  description: How long the grouping took.
  returned: success
  type: float
'''

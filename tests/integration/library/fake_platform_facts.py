#!/usr/bin/python
# Test-only module: pretends the target is another platform by setting the `system` and
# `architecture` facts the collection's dispatcher reads.
from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.module_utils.basic import AnsibleModule


def main():
    module = AnsibleModule(
        argument_spec=dict(system=dict(type='str', required=True),
                           architecture=dict(type='str', required=True)),
        supports_check_mode=True,
    )
    module.exit_json(changed=False, ansible_facts=dict(system=module.params['system'],
                                                       architecture=module.params['architecture']))


if __name__ == '__main__':
    main()

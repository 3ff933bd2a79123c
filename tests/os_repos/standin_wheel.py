"""Writes a stand-in wheel for bootstrap.sh's pip step, which PyPI (unreachable here) would
otherwise fill with ansible-core: a pure-Python package `ansible-core` whose console script
`ansible` prints "ansible [core VERSION]" like the real one. Only bootstrap.sh's own logic is under
test (venv, pip --no-index from the bundle, the rerun check), not Ansible.

  standin_wheel.py OUT_DIR [VERSION]      # prints the wheel's path
"""
import base64
import hashlib
import os
import sys
import zipfile

out = sys.argv[1]
version = sys.argv[2] if len(sys.argv) > 2 else '0.0.0'
name = 'ansible_core-%s-py3-none-any.whl' % version
dist = 'ansible_core-%s.dist-info' % version
files = {
    'airgap_standin_ansible/__init__.py': 'def main():\n    print("ansible [core %s] (airgap.kubespray test stand-in)")\n' % version,
    dist + '/METADATA': 'Metadata-Version: 2.1\nName: ansible-core\nVersion: %s\nSummary: test stand-in\n' % version,
    dist + '/WHEEL': 'Wheel-Version: 1.0\nGenerator: airgap.kubespray tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n',
    dist + '/entry_points.txt': '[console_scripts]\nansible = airgap_standin_ansible:main\n',
}


def digest(data):
    return 'sha256=' + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b'=').decode()


os.makedirs(out, exist_ok=True)
path = os.path.join(out, name)
with zipfile.ZipFile(path, 'w', zipfile.ZIP_DEFLATED) as z:
    record = []
    for arc, text in files.items():
        data = text.encode()
        z.writestr(arc, data)
        record.append('%s,%s,%d' % (arc, digest(data), len(data)))
    record.append(dist + '/RECORD,,')
    z.writestr(dist + '/RECORD', '\n'.join(record) + '\n')
print(path)

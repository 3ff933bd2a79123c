"""Stand-ins for the internet, shared by the manifest tests and the demo.

stand_in_files writes a small file for every file of Kubespray manifests (at the bundle's
<host>/<path>) and a vars file that points Kubespray's checksum variables at those files, so
that Kubespray's own checksums match what the stand-in upstream serves. Kubespray's checksum
tables are role vars, which outrank inventory vars: pass the vars file as extra vars (-e @file).
"""
import hashlib
import json
import os
import re

import yaml


def downloads_of(release):
    """Kubespray's `downloads` dict, read from the release's kubespray_defaults."""
    with open(os.path.join(release, 'roles/kubespray_defaults/defaults/main/download.yml')) as f:
        return yaml.safe_load(f)['downloads']


def stand_in_files(release, manifests, files_dir, vars_file):
    """Writes a stand-in for every file of the manifests under files_dir (<host>/<path>) and the
    checksum overrides to vars_file (JSON, which is YAML too). Returns the overrides."""
    downloads = downloads_of(release)
    with open(os.path.join(release, 'roles/kubespray_defaults/vars/main/checksums.yml')) as fh:
        tables = yaml.safe_load(fh)
    checksums = {}
    for m in manifests:
        for f in m['files']:
            path = os.path.join(files_dir, f['path'])
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, 'w') as fh:
                fh.write('stand-in for ' + f['url'])
            with open(path, 'rb') as fh:
                digest = 'sha256:' + hashlib.sha256(fh.read()).hexdigest()
            expr = str(downloads.get(f['name'], {}).get('checksum', ''))
            var = re.search(r'(\w+_checksum)\b', expr)
            table = re.search(r'(\w+_checksums)\.no_arch\[', expr)
            if var:
                checksums[var.group(1)] = digest
            elif table:  # {{ calico_crds_checksums.no_arch[calico_version] }}: the version is in the URL
                version = next(str(v) for v in tables[table.group(1)]['no_arch'] if str(v) in f['url'])
                checksums.setdefault(table.group(1), {'no_arch': {}})['no_arch'][version] = digest
    with open(vars_file, 'w') as fh:
        json.dump(checksums, fh, indent=1, sort_keys=True)
    return checksums

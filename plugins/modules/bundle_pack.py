#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: airgap.kubespray contributors
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
module: bundle_pack
short_description: Pack a Kubespray checkout or this collection into a tarball of the bundle, again only when it changed
version_added: 0.1.0
description:
  - Writes I(dest), a gzipped tarball of I(src), as the C(airgap.kubespray.download) role packs C(kubespray.tar.gz)
    and C(airgap-kubespray-collection.tar.gz) into the bundle.
  - C(mode=kubespray) packs what git tracks in I(src) when I(src) is in a git work tree (the files as they are on disk),
    plus the I(inventories) (files or folders, each C(-i) source) that lie in I(src) (Kubespray's C(.gitignore) leaves
    C(inventory/*) untracked); else every file under I(src).
  - C(mode=collection) packs an installed collection (I(src) holds C(MANIFEST.json)) in the layout
    C(ansible-galaxy collection install) accepts.
  - Never packed, in either mode, C(.git), C(__pycache__) and C(*.pyc), the folder I(dest) is written to (the bundle,
    often inside the checkout), any other airgap bundle (a folder holding C(manifest.yaml) and C(SHA256SUMS)), and
    secrets, C(credentials) and C(artifacts) folders under C(inventory/) (Kubespray's generated passwords and
    C(admin.conf)), Ansible vault password files (C(.vault_pass*), C(vault_pass*), C(*.vault-password), ...) and
    C(*.vault) files, Terraform state, SSH private keys.
  - Members are named from I(src) (no C(./) prefix); symbolic links stay links. A fingerprint of what would be packed
    (each member's path, type, size, mtime, mode, link target) is kept beside I(dest) in C(.<name>.fingerprint)
    together with the tarball's own size and mtime. When both match nothing is done (C(changed=false)); else the
    tarball is written under a temporary name and renamed into place.
author:
  - airgap.kubespray contributors (@airgap-kubespray)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details:
      - Compares the fingerprints and reports whether a run would pack; writes nothing.
  diff_mode:
    support: none
  platform:
    platforms: posix
    support: full
options:
  mode:
    description:
      - What I(src) is.
    type: str
    required: true
    choices: [kubespray, collection]
  src:
    description:
      - The folder to pack.
    type: path
    required: true
  dest:
    description:
      - The tarball to write.
    type: path
    required: true
  inventories:
    description:
      - With C(mode=kubespray), the inventory sources of the run; those inside I(src) are packed too, without their
        secrets.
    type: list
    elements: str
    default: []
'''

EXAMPLES = r'''
- name: Pack the Kubespray checkout into the bundle
  airgap.kubespray.bundle_pack:
    mode: kubespray
    src: "{{ airgap_kubespray_dir }}"
    dest: "{{ airgap_bundle_dir }}/kubespray.tar.gz"
    inventories: "{{ ansible_inventory_sources }}"
  delegate_to: localhost
'''

RETURN = r'''
summary:
  description: One line saying what was packed, from where, and what was left out.
  returned: always
  type: str
  sample: "kubespray.tar.gz: 1520 members from what git tracks and the inventory, packed"
source:
  description: Where the members came from, C(git) (what git tracks) or C(walk) (every file under I(src)).
  returned: always
  type: str
  sample: git
members:
  description: How many members the tarball holds (or would hold).
  returned: always
  type: int
  sample: 1520
left_out:
  description: The paths left out by rule (C(airgap bundle), C(inventory credentials), C(inventory artifacts),
    C(secret file)), at most 20 each.
  returned: always
  type: dict
  sample: {"secret file": [".vault_pass"]}
'''

import fnmatch
import hashlib
import json
import os
import stat
import tarfile
import tempfile

from ansible.module_utils.basic import AnsibleModule

FORMAT = 'airgap-pack 1'  # part of the fingerprint: a change of these rules rebuilds the tarballs
SECRET_FILES = ('.vault_pass*', '.vault-pass*', 'vault_pass*', 'vault-pass*', '.vault_password*', '*.vault_pass',
                '*.vault-password', '*.vault', '*.tfstate', '*.tfstate.*', 'id_rsa', 'id_dsa', 'id_ecdsa', 'id_ed25519')
SECRET_INVENTORY_DIRS = ('credentials', 'artifacts')  # {{ inventory_dir }}/credentials, /artifacts (admin.conf)


class Error(Exception):
    pass


def skipped(rel, is_dir):
    """(left out, reason): reason names the rule for secrets and bundles, None for caches and .git."""
    parts = rel.split('/')
    name = parts[-1]
    if name in ('.git', '__pycache__') or (not is_dir and name.endswith('.pyc')):
        return True, None
    if is_dir and parts[0] == 'inventory' and len(parts) > 1 and name in SECRET_INVENTORY_DIRS:
        return True, 'inventory ' + name
    if not is_dir and any(fnmatch.fnmatchcase(name, p) for p in SECRET_FILES):
        return True, 'secret file'
    return False, None


def git_files(module, src):
    """Paths git tracks under src (relative to src), or None when src is not in a git work tree."""
    git = module.get_bin_path('git')
    if not git:
        return None
    rc, out, dummy = module.run_command([git, '-C', src, 'ls-files', '-z', '--cached', '--recurse-submodules'],
                                        environ_update={'GIT_OPTIONAL_LOCKS': '0'}, encoding=None)
    if rc != 0:
        return None
    return sorted(set(n for n in out.decode('utf-8', 'surrogateescape').split('\0') if n))


class Lister(object):
    def __init__(self, src, out):
        self.src = os.path.abspath(src)
        self.out_dir = os.path.realpath(os.path.dirname(os.path.abspath(out)))
        self.left_out = {}

    def leave(self, rel, why):
        if why:
            self.left_out.setdefault(why, []).append(rel)

    def is_bundle(self, path):
        real = os.path.realpath(path)
        if real == self.out_dir:
            return True
        return os.path.isfile(os.path.join(path, 'manifest.yaml')) and os.path.isfile(os.path.join(path, 'SHA256SUMS'))

    def walk(self, top_rel=''):
        """Every member under src (relative paths), folders before what they hold; links not followed."""
        found = []
        for root, dirs, files in os.walk(os.path.join(self.src, top_rel) if top_rel else self.src):
            rel_root = os.path.relpath(root, self.src)
            rel_root = '' if rel_root == '.' else rel_root
            keep = []
            for d in sorted(dirs):
                rel = d if not rel_root else rel_root + '/' + d
                path = os.path.join(root, d)
                out, why = skipped(rel, True)
                if out:
                    self.leave(rel, why)
                elif os.path.islink(path):
                    found.append(rel)  # a link to a folder: packed as the link
                elif self.is_bundle(path):
                    self.leave(rel, 'airgap bundle')
                else:
                    found.append(rel)
                    keep.append(d)
            dirs[:] = keep
            for f in sorted(files):
                rel = f if not rel_root else rel_root + '/' + f
                out, why = skipped(rel, False)
                if out:
                    self.leave(rel, why)
                else:
                    found.append(rel)
        return found

    def from_git(self, tracked):
        """The tracked paths still on disk, with their folders; the same rules as the walk."""
        found, dirs = [], set()
        for rel in tracked:
            parts = rel.split('/')
            why, bad = None, False
            for i in range(1, len(parts)):
                prefix = '/'.join(parts[:i])
                if prefix in dirs:
                    continue
                out, why = skipped(prefix, True)
                if out or self.is_bundle(os.path.join(self.src, prefix)):
                    bad, why = True, why if out else 'airgap bundle'
                    break
                if os.path.islink(os.path.join(self.src, prefix)):
                    bad = True  # below a link git does not track through
                    break
                dirs.add(prefix)
                found.append(prefix)
            if bad:
                self.leave(rel, why)
                continue
            path = os.path.join(self.src, rel)
            if not os.path.lexists(path):
                continue  # deleted in the work tree
            if os.path.isdir(path) and not os.path.islink(path):
                continue  # a submodule that is not checked out
            out, why = skipped(rel, False)
            if out:
                self.leave(rel, why)
            else:
                found.append(rel)
        return sorted(set(found), key=lambda r: r.split('/'))


def inventory_members(lister, src, sources):
    """The -i sources that lie below src: a folder whole, a file with the group_vars and host_vars
    beside it (walked with the same rules)."""
    found = []
    for path in sources:
        path = os.path.abspath(path)
        if (not os.path.lexists(path) or os.path.realpath(path) == os.path.realpath(src)
                or not (path + os.sep).startswith(src + os.sep)):
            continue  # not a path (e.g. "host1,host2,"), or not in the checkout
        rel = os.path.relpath(path, src)
        if os.path.isdir(path):
            tops = [rel]
        else:
            d = os.path.dirname(rel)
            tops = [rel] + [os.path.join(d, v) for v in ('group_vars', 'host_vars') if os.path.isdir(os.path.join(src, d, v))]
        for top in tops:
            parts = top.split('/')
            if any(skipped('/'.join(parts[:i + 1]), True)[0] for i in range(len(parts) - 1)):
                continue
            if os.path.islink(os.path.join(src, top)):
                found.append(top)  # packed as the link
            elif os.path.isdir(os.path.join(src, top)):
                if not skipped(top, True)[0]:
                    found += [top] + lister.walk(top)
            elif not skipped(top, False)[0]:
                found.append(top)
    return found


def fingerprint(src, members, mode, source):
    h = hashlib.sha256()
    h.update(json.dumps([FORMAT, mode, source]).encode())
    for rel in members:
        st = os.lstat(os.path.join(src, rel))
        link = os.readlink(os.path.join(src, rel)) if stat.S_ISLNK(st.st_mode) else ''
        size = st.st_size if stat.S_ISREG(st.st_mode) else 0
        mtime = st.st_mtime_ns if not stat.S_ISDIR(st.st_mode) else 0
        h.update(json.dumps([rel, stat.S_IFMT(st.st_mode), stat.S_IMODE(st.st_mode), size, mtime, link]).encode() + b'\n')
    return h.hexdigest()


def out_stamp(out):
    try:
        st = os.stat(out)
    except FileNotFoundError:
        return None
    return '%d %d' % (st.st_size, st.st_mtime_ns)


def write_atomic(path, data_writer, mode=0o644):
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path) or '.', prefix='.' + os.path.basename(path) + '.')
    os.close(fd)
    try:
        data_writer(tmp)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        if os.path.lexists(tmp):
            os.unlink(tmp)
        raise


def pack(module, mode, src, out, check, inventories=()):
    src = os.path.abspath(src)
    out = os.path.abspath(out)
    if not os.path.isdir(src):
        raise Error('%s is not a folder' % src)
    if mode == 'collection' and not os.path.isfile(os.path.join(src, 'MANIFEST.json')):
        raise Error('%s is not an installed collection (no MANIFEST.json)' % src)
    lister = Lister(src, out)
    tracked = git_files(module, src) if mode == 'kubespray' else None
    more = []
    if tracked is not None:
        source, members = 'git', lister.from_git(tracked)
        more = inventory_members(lister, src, inventories)
        if more:
            parents = set()
            for rel in more:
                parts = rel.split('/')
                parents.update('/'.join(parts[:i]) for i in range(1, len(parts)))
            members = sorted(set(members) | set(more) | parents, key=lambda r: r.split('/'))
    else:
        source, members = 'walk', lister.walk()
    if not any(not os.path.isdir(os.path.join(src, m)) or os.path.islink(os.path.join(src, m)) for m in members):
        raise Error('nothing to pack in %s' % src)
    print_ = fingerprint(src, members, mode, source)
    stamp_file = os.path.join(os.path.dirname(out), '.' + os.path.basename(out) + '.fingerprint')
    try:
        with open(stamp_file) as f:
            old = f.read().split('\n')
    except FileNotFoundError:
        old = []
    same = old[:2] == [print_, out_stamp(out)] and out_stamp(out) is not None
    if not same and not check:
        def write_tar(tmp):
            with tarfile.open(tmp, 'w:gz') as tar:
                for rel in members:
                    tar.add(os.path.join(src, rel), arcname=rel, recursive=False)
        write_atomic(out, write_tar)

        def write_stamp(tmp):
            with open(tmp, 'w') as f:
                f.write('%s\n%s\n' % (print_, out_stamp(out)))
        write_atomic(stamp_file, write_stamp)
    named = sum(len(v) for v in lister.left_out.values())
    return {
        'summary': '%s: %d members from %s, %s%s' % (
            os.path.basename(out), len(members), ('what git tracks' + (' and the inventory' if more else '')) if source == 'git' else 'the folder',
            'unchanged' if same else ('would pack again' if check else 'packed'),
            (', left out %d: %s' % (named, '; '.join('%s %s' % (why, ', '.join(sorted(p)[:3] + (['...'] if len(p) > 3 else [])))
                                                     for why, p in sorted(lister.left_out.items())))) if named else ''),
        'changed': not same, 'source': source, 'members': len(members),
        'left_out': dict((why, sorted(paths)[:20] + (['... %d more' % (len(paths) - 20)] if len(paths) > 20 else []))
                         for why, paths in sorted(lister.left_out.items())),
    }


def main():
    module = AnsibleModule(
        argument_spec=dict(
            mode=dict(type='str', required=True, choices=['kubespray', 'collection']),
            src=dict(type='path', required=True),
            dest=dict(type='path', required=True),
            inventories=dict(type='list', elements='str', default=[]),
        ),
        supports_check_mode=True,
    )
    p = module.params
    inventories = p['inventories'] if p['mode'] == 'kubespray' else []
    try:
        result = pack(module, p['mode'], p['src'], p['dest'], module.check_mode, inventories)
    except (Error, OSError, tarfile.TarError) as e:
        module.fail_json(msg='%s %s: %s' % (p['mode'], p['dest'], e))
    module.exit_json(**result)


if __name__ == '__main__':
    main()

#!/usr/bin/env python3
"""Snapshots of a file tree, to prove a run wrote nothing or put everything back.

  tree.py snapshot ROOT OUT.json [--dir-mtime] [PATH ...]   # PATHs relative to ROOT (default: all)
  tree.py compare BEFORE.json AFTER.json [--ignore PREFIX ...]

A snapshot records, per path (never following symlinks): the type, mode, owner, mtime (ns) and
the sha256 of regular files or the target of symlinks. Directory mtimes are only recorded with
--dir-mtime: a restore cannot give a folder back its mtime once a file was added to it and
removed again, but a check-mode run must not even touch one. A missing PATH is recorded as
missing, so a file that appears later shows up as added.

compare prints every added, removed or changed path (with what changed) and exits 1 if there is
any difference outside the --ignore prefixes (those are printed as "ignored").
"""
import hashlib
import json
import os
import stat
import sys


def entry(path, dir_mtime):
    st = os.lstat(path)
    e = {"mode": "%o" % stat.S_IMODE(st.st_mode), "owner": "%d:%d" % (st.st_uid, st.st_gid)}
    if stat.S_ISREG(st.st_mode):
        h = hashlib.sha256()
        with open(path, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
        e.update(type="file", size=st.st_size, sha256=h.hexdigest(), mtime=st.st_mtime_ns)
    elif stat.S_ISLNK(st.st_mode):
        e.update(type="link", target=os.readlink(path), mtime=st.st_mtime_ns)
    elif stat.S_ISDIR(st.st_mode):
        e.update(type="dir")
        if dir_mtime:
            e["mtime"] = st.st_mtime_ns
    else:
        e.update(type="other", rdev=st.st_rdev)
    return e


def snapshot(root, paths, dir_mtime):
    out = {}
    for rel in paths or ["."]:
        top = os.path.normpath(os.path.join(root, rel))
        if not os.path.lexists(top):
            out[os.path.relpath(top, root)] = {"type": "missing"}
            continue
        out[os.path.relpath(top, root)] = entry(top, dir_mtime)
        if os.path.isdir(top) and not os.path.islink(top):
            for dirpath, dirnames, filenames in os.walk(top):
                dirnames.sort()
                for name in sorted(dirnames + filenames):
                    p = os.path.join(dirpath, name)
                    out[os.path.relpath(p, root)] = entry(p, dir_mtime)
    return out


def compare(before, after, ignore):
    bad = 0
    for p in sorted(set(before) | set(after)):
        b, a = before.get(p, {"type": "missing"}), after.get(p, {"type": "missing"})
        if a == b:
            continue
        if b["type"] == "missing":
            what = "added (%s)" % a["type"]
        elif a["type"] == "missing":
            what = "removed (%s)" % b["type"]
        else:
            what = "changed " + ", ".join(
                "%s %s -> %s" % (k, b.get(k), a.get(k)) for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k))
        if any(p == i or p.startswith(i.rstrip("/") + "/") for i in ignore):
            print("ignored: %s: %s" % (p, what))
        else:
            print("%s: %s" % (p, what))
            bad += 1
    print("%d paths before, %d after, %d differences" % (len(before), len(after), bad))
    return 1 if bad else 0


def main(argv):
    if len(argv) >= 3 and argv[0] == "snapshot":
        root, out, rest = argv[1], argv[2], argv[3:]
        dir_mtime = "--dir-mtime" in rest
        paths = [p for p in rest if p != "--dir-mtime"]
        with open(out, "w") as f:
            json.dump(snapshot(root, paths, dir_mtime), f, indent=1, sort_keys=True)
        return 0
    if len(argv) >= 3 and argv[0] == "compare":
        ignore, rest = [], argv[3:]
        while rest:
            if rest[0] == "--ignore" and len(rest) > 1:
                ignore.append(rest[1])
                rest = rest[2:]
            else:
                sys.exit("tree.py: unexpected argument %r" % rest[0])
        with open(argv[1]) as f:
            before = json.load(f)
        with open(argv[2]) as f:
            after = json.load(f)
        return compare(before, after, ignore)
    sys.stderr.write(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

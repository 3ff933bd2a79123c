#!/usr/bin/env python3
"""Prints the Debian mirror this machine's apt uses for SUITE (default bookworm).

  apt_mirror.py [SUITE] [ETC_APT]      # e.g. apt_mirror.py bookworm-security

Reads ETC_APT/sources.list and ETC_APT/sources.list.d/*.list and *.sources (one-line and deb822
formats; disabled entries and other file names are skipped) and prints the first `deb` URI that
serves SUITE. Exits 1 if there is none.
"""
import glob
import os
import re
import sys


def one_line(path):
    with open(path) as f:
        for line in f:
            line = line.split("#", 1)[0].strip()
            if not line:
                continue
            line = re.sub(r"\[[^\]]*\]", " ", line)  # [arch=amd64 signed-by=...]
            parts = line.split()
            if len(parts) >= 3 and parts[0] == "deb":
                yield parts[1], [parts[2]]


def deb822(path):
    with open(path) as f:
        text = f.read()
    for stanza in re.split(r"\n\s*\n", text):
        fields, key = {}, None
        for line in stanza.splitlines():
            if line.startswith("#"):
                continue
            if line[:1] in (" ", "\t") and key:
                fields[key] += " " + line.strip()
                continue
            if ":" in line:
                key, value = line.split(":", 1)
                key = key.strip().lower()
                fields[key] = value.strip()
        if fields.get("enabled", "yes").lower() == "no" or "deb" not in fields.get("types", "").split():
            continue
        for uri in fields.get("uris", "").split():
            yield uri, fields.get("suites", "").split()


def main():
    suite = sys.argv[1] if len(sys.argv) > 1 else "bookworm"
    etc = sys.argv[2] if len(sys.argv) > 2 else "/etc/apt"
    files = [os.path.join(etc, "sources.list")] + sorted(glob.glob(os.path.join(etc, "sources.list.d", "*")))
    for path in files:
        if not os.path.isfile(path):
            continue
        if path.endswith(".sources"):
            entries = deb822(path)
        elif path.endswith(".list"):
            entries = one_line(path)
        else:
            continue
        for uri, suites in entries:
            if suite in suites:
                print(uri.rstrip("/"))
                return 0
    sys.stderr.write("apt_mirror.py: no deb source for %s in %s\n" % (suite, etc))
    return 1


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Builds a PEP 503 "simple" index from wheel files.

  pypi_index.py OUT WHEEL...

Copies the wheels to OUT/packages/ and writes OUT/simple/index.html (one link per project) and
OUT/simple/<normalized project>/index.html (links ../../packages/<wheel>#sha256=<digest>).
Prints the project names.
"""
import hashlib
import html
import os
import re
import shutil
import sys


def page(title, links):
    body = "".join('<a href="%s">%s</a><br/>\n' % (html.escape(href), html.escape(text)) for href, text in links)
    return "<!DOCTYPE html>\n<html><head><title>%s</title></head><body>\n%s</body></html>\n" % (html.escape(title), body)


def main(out, wheels):
    packages = os.path.join(out, "packages")
    os.makedirs(packages, exist_ok=True)
    projects = {}
    for wheel in wheels:
        name = os.path.basename(wheel)
        project = re.sub(r"[-_.]+", "-", name.split("-", 1)[0]).lower()  # PEP 503 normalization
        shutil.copyfile(wheel, os.path.join(packages, name))
        with open(wheel, "rb") as f:
            digest = hashlib.sha256(f.read()).hexdigest()
        projects.setdefault(project, []).append(("../../packages/%s#sha256=%s" % (name, digest), name))
    simple = os.path.join(out, "simple")
    os.makedirs(simple, exist_ok=True)
    with open(os.path.join(simple, "index.html"), "w") as f:
        f.write(page("Simple index", [(p + "/", p) for p in sorted(projects)]))
    for project, links in sorted(projects.items()):
        os.makedirs(os.path.join(simple, project), exist_ok=True)
        with open(os.path.join(simple, project, "index.html"), "w") as f:
            f.write(page("Links for " + project, links))
        print(project)


if __name__ == "__main__":
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2:])

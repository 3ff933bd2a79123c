#!/usr/bin/env python3
"""Helpers of tests/bench/images.sh (standard library only).

  images.py targets IMAGES_LIST                 source<TAB>normalized<TAB>target, one per image
  images.py layout-refs LAYOUT                  ref<TAB>target<TAB>all|one<TAB>oci|docker, per image
  images.py archives SET_DIR                    tar.gz<TAB>ref<TAB>target, one per per-image bundle
  images.py check-registry URL IMAGES_LIST      every target manifest is in the registry
  images.py registry-bytes DATA_DIR             bytes of the blobs a registry stores
  images.py json-check FILE KEY VALUE...        asserts fields of a JSON result (a.b.c paths)

The target rule is the one of modules/internal/imagename (Strip mode): the upstream host is
dropped for the registries Kubespray's *_image_repo variables stand for, any other host keeps
its name, so every tool pushes the same repositories and tags.
"""
import json
import os
import sys
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

STRIP_HOSTS = {"registry.k8s.io", "k8s.gcr.io", "gcr.io", "ghcr.io", "docker.io", "quay.io"}

ACCEPT = ", ".join([
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.docker.distribution.manifest.v2+json",
])
OCI_TYPES = {"application/vnd.oci.image.index.v1+json", "application/vnd.oci.image.manifest.v1+json"}
INDEX_TYPES = {
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
}


def split(ref):
    digest = ""
    if "@" in ref:
        ref, digest = ref.split("@", 1)
    tag = ""
    i = ref.rfind(":")
    if i > ref.rfind("/"):
        ref, tag = ref[:i], ref[i + 1:]
    return ref, tag, digest


def normalize(ref):
    """registry.k8s.io/pause:3.10 stays; nginx -> docker.io/library/nginx:latest."""
    repo, tag, digest = split(ref.strip())
    host, path = "docker.io", repo
    first, sep, rest = repo.partition("/")
    if sep and (("." in first) or (":" in first) or first == "localhost"):
        host, path = first, rest
    if host in ("index.docker.io", "registry-1.docker.io"):
        host = "docker.io"
    if host == "docker.io" and "/" not in path:
        path = "library/" + path
    if not tag and not digest:
        tag = "latest"
    return host, path, tag, digest


def target(ref):
    """Repository path and tag (or digest) in the private registry, without the registry."""
    host, path, tag, digest = normalize(ref)
    if host not in STRIP_HOSTS:
        path = host + "/" + path
    if tag:
        return path + ":" + tag
    return path + "@" + digest


def read_list(path):
    out = []
    with open(path) as f:
        for line in f:
            line = line.split("#", 1)[0].strip()
            if line:
                out.append(line)
    return out


def full(ref):
    """The normalized reference: nginx:1.25 -> docker.io/library/nginx:1.25."""
    host, path, tag, digest = normalize(ref)
    return f"{host}/{path}" + (f":{tag}" if tag else "") + (f"@{digest}" if digest else "")


def cmd_targets(images_list):
    for src in read_list(images_list):
        print(f"{src}\t{full(src)}\t{target(src)}")


def cmd_layout_refs(layout):
    """Images of an OCI layout by their ref.name annotation, with the copy mode skopeo needs:
    'all' (an index whose every child manifest is in the layout: copy them all) or 'one', and
    whether the descriptor has an OCI media type ('oci'; skopeo 1.9's oci: transport finds only
    those) or not ('docker': a Docker schema 2 manifest or list kept as pulled)."""
    with open(os.path.join(layout, "index.json")) as f:
        index = json.load(f)

    def has_blob(digest):
        algo, _, hexd = digest.partition(":")
        return os.path.exists(os.path.join(layout, "blobs", algo, hexd))

    def load_blob(digest):
        algo, _, hexd = digest.partition(":")
        with open(os.path.join(layout, "blobs", algo, hexd)) as f:
            return json.load(f)

    seen = set()
    for desc in index.get("manifests", []):
        ann = desc.get("annotations") or {}
        ref = ann.get("org.opencontainers.image.ref.name") or ann.get("io.containerd.image.name")
        if not ref:
            continue
        if "/" not in ref and "." not in ref.split(":")[0]:
            sys.exit(f"layout {layout}: ref.name {ref!r} is not a full image reference; "
                     "cannot tell which image it is")
        if ref in seen:
            continue
        seen.add(ref)
        mode = "one"
        if desc.get("mediaType") in INDEX_TYPES:
            children = load_blob(desc["digest"]).get("manifests", [])
            if children and all(has_blob(c["digest"]) for c in children):
                mode = "all"
        kind = "oci" if desc.get("mediaType") in OCI_TYPES else "docker"
        print(f"{ref}\t{target(ref)}\t{mode}\t{kind}")
    if not seen:
        sys.exit(f"layout {layout}: no image with an org.opencontainers.image.ref.name annotation")


def cmd_archives(set_dir):
    """kubespray-offline's per-image bundles of a tests/tools/imageset set (imageset.json)."""
    with open(os.path.join(set_dir, "imageset.json")) as f:
        m = json.load(f)
    for im in m["images"]:
        path = os.path.join(set_dir, im["files"]["kubespray_offline"])
        if not os.path.isfile(path):
            sys.exit(f"{path}: missing")
        print(f"{path}\t{im['ref']}\t{target(im['ref'])}")


def cmd_check_registry(url, images_list):
    targets = [target(s) for s in read_list(images_list)]

    def check(t):
        if "@" in t:
            repo, ref = t.split("@", 1)
        else:
            repo, ref = t.rsplit(":", 1)
        req = urllib.request.Request(f"{url}/v2/{repo}/manifests/{ref}", method="HEAD",
                                     headers={"Accept": ACCEPT})
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                return t, resp.status
        except urllib.error.HTTPError as e:
            return t, e.code
        except OSError as e:
            return t, str(e)

    with ThreadPoolExecutor(8) as ex:
        bad = [(t, s) for t, s in ex.map(check, targets) if s != 200]
    if bad:
        for t, s in bad:
            print(f"  missing in {url}: {t} ({s})", file=sys.stderr)
        sys.exit(f"{len(bad)} of {len(targets)} images missing in {url}")
    print(len(targets))


def cmd_registry_bytes(data):
    root = os.path.join(data, "docker/registry/v2/blobs")
    total = 0
    for d, _, files in os.walk(root):
        for name in files:
            if name == "data":
                total += os.path.getsize(os.path.join(d, name))
    print(total)


def cmd_json_check(path, *pairs):
    try:
        with open(path) as f:
            res = json.load(f)
    except (OSError, ValueError) as e:
        sys.exit(f"{path}: {e}")
    for key, want in zip(pairs[::2], pairs[1::2]):
        node = res
        try:
            for part in key.split("."):
                node = node[int(part)] if isinstance(node, list) else node[part]
        except (KeyError, IndexError, ValueError, TypeError):
            sys.exit(f"{path}: no {key}")
        if str(node).lower() != want.lower():
            sys.exit(f"{path}: {key} = {node!r}, expected {want}")


def main(argv):
    cmds = {
        "targets": (cmd_targets, 1),
        "layout-refs": (cmd_layout_refs, 1),
        "archives": (cmd_archives, 1),
        "check-registry": (cmd_check_registry, 2),
        "registry-bytes": (cmd_registry_bytes, 1),
        "json-check": (cmd_json_check, None),
    }
    if len(argv) < 2 or argv[1] not in cmds:
        sys.exit(__doc__)
    fn, n = cmds[argv[1]]
    args = argv[2:]
    if n is not None and len(args) != n:
        sys.exit(__doc__)
    fn(*args)


if __name__ == "__main__":
    main(sys.argv)

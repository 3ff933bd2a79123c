#!/usr/bin/env python3
"""Helpers of tests/bench/images.sh (standard library only).

  images.py targets IMAGES_LIST                 source<TAB>normalized<TAB>target, one per image
  images.py layout-refs LAYOUT                  ref<TAB>target<TAB>all|one<TAB>oci|docker<TAB>digest, per image
  images.py split-layout LAYOUT OUT             one OCI layout per image under OUT (index.json of
                                                that image, blobs/ a symlink to LAYOUT's);
                                                prints folder<TAB>target, one per image
  images.py archives SET_DIR                    tar.gz<TAB>ref<TAB>target, one per per-image bundle
  images.py check-registry URL IMAGES_LIST      every target manifest is in the registry
  images.py verify-registry URL LAYOUT          every image of the layout is served under its
                                                target name with index.json's digest (sha256 of
                                                the bytes served), its child manifests by digest,
                                                every blob they name (HEAD, size)
  images.py registry-bytes DATA_DIR             bytes of the blobs a registry stores
  images.py json-check FILE KEY VALUE...        asserts fields of a JSON result (a.b.c paths)
  images.py json-get FILE KEY                   prints a field of a JSON result (a.b.c path)

The target rule is the one of modules/internal/imagename (Strip mode): the upstream host is
dropped for the registries Kubespray's *_image_repo variables stand for, any other host keeps
its name, so every tool pushes the same repositories and tags.
"""
import hashlib
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
    'all' (an index whose every child manifest is in the layout: copy them all) or 'one', whether
    the descriptor has an OCI media type ('oci'; skopeo 1.9's oci: transport finds only those) or
    not ('docker': a Docker schema 2 manifest or list kept as pulled), and its digest."""
    def has_blob(digest):
        algo, _, hexd = digest.partition(":")
        return os.path.exists(os.path.join(layout, "blobs", algo, hexd))

    def load_blob(digest):
        algo, _, hexd = digest.partition(":")
        with open(os.path.join(layout, "blobs", algo, hexd)) as f:
            return json.load(f)

    for ref, tgt, desc in layout_images(layout):
        mode = "one"
        if desc.get("mediaType") in INDEX_TYPES:
            children = load_blob(desc["digest"]).get("manifests", [])
            if children and all(has_blob(c["digest"]) for c in children):
                mode = "all"
        kind = "oci" if desc.get("mediaType") in OCI_TYPES else "docker"
        print(f"{ref}\t{tgt}\t{mode}\t{kind}\t{desc['digest']}")


def layout_images(layout):
    """(ref, target, descriptor) of every image named in the layout's index.json (by its
    org.opencontainers.image.ref.name annotation, else containerd's image name), first one of
    each name."""
    with open(os.path.join(layout, "index.json")) as f:
        index = json.load(f)
    out, seen = [], set()
    for desc in index.get("manifests", []):
        ann = desc.get("annotations") or {}
        ref = ann.get("org.opencontainers.image.ref.name") or ann.get("io.containerd.image.name")
        if not ref or ref in seen:
            continue
        if "/" not in ref and "." not in ref.split(":")[0]:
            sys.exit(f"layout {layout}: ref.name {ref!r} is not a full image reference; "
                     "cannot tell which image it is")
        seen.add(ref)
        out.append((ref, target(ref), desc))
    if not out:
        sys.exit(f"layout {layout}: no image with an org.opencontainers.image.ref.name annotation")
    return out


def cmd_split_layout(layout, out):
    """One OCI layout per image (for tools that push one image per layout, as `crane push`):
    index.json holds that image's descriptor only; blobs/ is a symlink to the layout's blobs, so
    nothing is copied and no blob gains a hard link."""
    layout = os.path.abspath(layout)
    with open(os.path.join(layout, "oci-layout")) as f:
        oci_layout = f.read()
    for i, (_, tgt, desc) in enumerate(layout_images(layout)):
        d = os.path.join(out, f"{i:03d}")
        os.makedirs(d)
        with open(os.path.join(d, "oci-layout"), "w") as f:
            f.write(oci_layout)
        with open(os.path.join(d, "index.json"), "w") as f:
            json.dump({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
                       "manifests": [desc]}, f)
        os.symlink(os.path.join(layout, "blobs"), os.path.join(d, "blobs"))
        print(f"{d}\t{tgt}")


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


def cmd_verify_registry(url, layout):
    """Pulls every image of the layout back from the registry under its target name: the
    manifest's bytes must hash to index.json's digest, an index's child manifests (those the
    layout holds) are fetched by digest the same way, and every blob a manifest names must be
    served (HEAD: 200 with the descriptor's size), so the repository's links are in place too."""
    images = layout_images(layout)

    def request(method, path, accept=ACCEPT):
        req = urllib.request.Request(url + path, method=method, headers={"Accept": accept})
        try:
            with urllib.request.urlopen(req, timeout=60) as resp:
                return resp.status, resp.read() if method == "GET" else b"", resp.headers
        except urllib.error.HTTPError as e:
            return e.code, b"", e.headers
        except OSError as e:
            return str(e), b"", {}

    def has_blob(digest):
        algo, _, hexd = digest.partition(":")
        return os.path.exists(os.path.join(layout, "blobs", algo, hexd))

    def check_manifest(repo, ref, want):
        """Errors of one manifest (by tag or digest) and of what it names."""
        status, body, _ = request("GET", f"/v2/{repo}/manifests/{ref}")
        if status != 200:
            return [f"{repo}:{ref}: GET manifest answered {status}"]
        got = "sha256:" + hashlib.sha256(body).hexdigest()
        if got != want:
            return [f"{repo}:{ref}: served digest {got}, index.json has {want}"]
        m = json.loads(body)
        errs = []
        if "manifests" in m:
            for child in m["manifests"]:
                if has_blob(child["digest"]):
                    errs += check_manifest(repo, child["digest"], child["digest"])
            return errs
        for d in ([m["config"]] if "config" in m else []) + m.get("layers", []):
            status, _, headers = request("HEAD", f"/v2/{repo}/blobs/{d['digest']}", "*/*")
            size = headers.get("Content-Length") if headers else None
            if status != 200 or str(size) != str(d["size"]):
                errs.append(f"{repo}: blob {d['digest']}: HEAD answered {status}, "
                            f"{size} bytes (want 200, {d['size']})")
        return errs

    def check(image):
        ref, tgt, desc = image
        repo, tag, digest = split(tgt)
        return check_manifest(repo, tag or digest, desc["digest"])

    with ThreadPoolExecutor(8) as ex:
        errs = [e for errs in ex.map(check, images) for e in errs]
    if errs:
        for e in errs:
            print(f"  {url}: {e}", file=sys.stderr)
        sys.exit(f"{len(errs)} errors pulling the {len(images)} images of {layout} back from {url}")
    print(len(images))


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


def cmd_json_get(path, key):
    with open(path) as f:
        node = json.load(f)
    try:
        for part in key.split("."):
            node = node[int(part)] if isinstance(node, list) else node[part]
    except (KeyError, IndexError, ValueError, TypeError):
        sys.exit(f"{path}: no {key}")
    print(json.dumps(node) if isinstance(node, (dict, list, bool)) or node is None else node)


def main(argv):
    cmds = {
        "targets": (cmd_targets, 1),
        "layout-refs": (cmd_layout_refs, 1),
        "archives": (cmd_archives, 1),
        "split-layout": (cmd_split_layout, 2),
        "check-registry": (cmd_check_registry, 2),
        "verify-registry": (cmd_verify_registry, 2),
        "registry-bytes": (cmd_registry_bytes, 1),
        "json-check": (cmd_json_check, None),
        "json-get": (cmd_json_get, 2),
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

# Copyright: airgap.kubespray contributors
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
"""The files layout rule, for the Python side of the collection.

``path_for`` mirrors ``PathFor`` in modules/internal/fetch/path.go (what offline_file_fetch
does); tests/manifest checks both give the same answer for every URL of every manifest.
"""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

try:
    from urllib.parse import unquote, urlsplit
except ImportError:  # pragma: no cover - Python 2 is not supported by ansible-core 2.14+
    raise


class UnsafePath(ValueError):
    """A URL that does not map to a safe relative path."""


def path_for(url):
    """Map a download URL to its place in the files layout: ``<host>/<url path>``.

    https://dl.k8s.io/release/v1.35.4/bin/linux/amd64/kubelet ->
    dl.k8s.io/release/v1.35.4/bin/linux/amd64/kubelet
    """
    parts = urlsplit(url)
    if parts.scheme not in ('http', 'https'):
        raise UnsafePath('url %r: scheme must be http or https' % url)
    host = parts.netloc.rpartition('@')[2].lower()
    if not host or '/' in host or '\\' in host or host in ('.', '..'):
        raise UnsafePath('url %r has no usable host' % url)
    raw_path = unquote(parts.path)
    segments = []
    for seg in (host + '/' + raw_path).split('/'):
        if seg == '':
            continue
        if seg in ('.', '..') or '\\' in seg or '\x00' in seg:
            raise UnsafePath('url %r: unsafe path' % url)
        segments.append(seg)
    if raw_path.endswith('/') or len(segments) < 2:
        raise UnsafePath('url %r names a directory, not a file' % url)
    if segments[0] == '.partial':
        raise UnsafePath('url %r: reserved path' % url)
    return '/'.join(segments)

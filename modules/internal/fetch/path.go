package fetch

import (
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"path"
	"path/filepath"
	"strings"
)

// PathFor is the one rule that maps a download URL to its place in the files layout:
// "<host>/<url path>", e.g. https://dl.k8s.io/release/v1.35.4/bin/linux/amd64/kubelet ->
// dl.k8s.io/release/v1.35.4/bin/linux/amd64/kubelet. It is the layout `wget -x` makes and
// Kubespray's offline docs recommend, so that files_repo + "/<host>" replaces each upstream
// base URL (github_url, dl_k8s_io_url, storage_googleapis_url, get_helm_url) unchanged.
// A port, when the URL has one, stays in the host part ("127.0.0.1:8080/..."), as with wget.
func PathFor(rawURL string) (string, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return "", fmt.Errorf("parsing url %q: %w", rawURL, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return "", fmt.Errorf("url %q: scheme must be http or https", rawURL)
	}
	if u.Host == "" {
		return "", fmt.Errorf("url %q has no host", rawURL)
	}
	host := strings.ToLower(u.Host)
	if strings.ContainsAny(host, `/\`) || host == "." || host == ".." {
		return "", fmt.Errorf("url %q: host %q: %w", rawURL, host, ErrUnsafePath)
	}
	rel, err := CleanPath(host + "/" + u.Path)
	if err != nil {
		return "", fmt.Errorf("url %q: %w", rawURL, err)
	}
	if strings.HasSuffix(u.Path, "/") || rel == host {
		return "", fmt.Errorf("url %q names a directory, not a file", rawURL)
	}
	return rel, nil
}

// CleanPath checks a relative path for the files layout: no absolute paths, no ".." or "."
// segments, no backslashes or NUL bytes. Empty segments ("a//b") are dropped.
func CleanPath(p string) (string, error) {
	if p == "" {
		return "", fmt.Errorf("empty path: %w", ErrUnsafePath)
	}
	if strings.HasPrefix(p, "/") || strings.ContainsAny(p, "\\\x00") {
		return "", fmt.Errorf("path %q: %w", p, ErrUnsafePath)
	}
	var parts []string
	for _, seg := range strings.Split(p, "/") {
		switch seg {
		case "":
			continue
		case ".", "..":
			return "", fmt.Errorf("path %q: %w", p, ErrUnsafePath)
		}
		parts = append(parts, seg)
	}
	if len(parts) == 0 {
		return "", fmt.Errorf("path %q: %w", p, ErrUnsafePath)
	}
	if parts[0] == partialDir {
		return "", fmt.Errorf("path %q is inside the reserved %s folder: %w", p, partialDir, ErrUnsafePath)
	}
	return path.Join(parts...), nil
}

// within joins root and a path CleanPath accepted, and checks that the result stays in root
// even after existing symbolic links below root are resolved.
func within(root, rel string) (string, error) {
	full := filepath.Join(root, filepath.FromSlash(rel))
	if !strings.HasPrefix(full, root+string(filepath.Separator)) {
		return "", fmt.Errorf("path %q leaves %s: %w", rel, root, ErrUnsafePath)
	}
	realRoot, err := filepath.EvalSymlinks(root)
	if errors.Is(err, fs.ErrNotExist) {
		return full, nil // nothing below root exists yet, so no link can lead out of it
	}
	if err != nil {
		return "", fmt.Errorf("resolving %s: %w", root, err)
	}
	// Resolve the deepest existing parent: a link there must not point out of root.
	dir := filepath.Dir(full)
	for {
		real, err := filepath.EvalSymlinks(dir)
		if err == nil {
			if real != realRoot && !strings.HasPrefix(real, realRoot+string(filepath.Separator)) {
				return "", fmt.Errorf("path %q leaves %s through a symbolic link: %w", rel, root, ErrUnsafePath)
			}
			break
		}
		if dir == root {
			break
		}
		dir = filepath.Dir(dir)
	}
	return full, nil
}

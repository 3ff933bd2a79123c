// Package imagename holds the one rule that names an image in the private registry.
//
// Kubespray's offline.yml points kube_image_repo, gcr_image_repo, docker_image_repo,
// quay_image_repo and github_image_repo at the registry, so Kubespray asks for
// registry.k8s.io/pause as <registry>/pause and docker.io/library/nginx as
// <registry>/library/nginx: the upstream host is stripped. Push, offline.yml and verify all
// use this package, so they cannot disagree.
package imagename

import (
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"
)

// ErrInvalid: a reference is not an image name by the distribution grammar.
var ErrInvalid = errors.New("invalid image reference")

// The distribution reference grammar (github.com/distribution/reference): a reference that
// passes cannot leave /v2/<name>/ in a registry URL.
var (
	domainRE    = regexp.MustCompile(`^(?:(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])(?:\.(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]))*|\[[a-fA-F0-9:]+\])(?::[0-9]+)?$`)
	componentRE = regexp.MustCompile(`^[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*$`)
	tagRE       = regexp.MustCompile(`^[\w][\w.-]{0,127}$`)
	digestRE    = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]+$`)
)

// maxNameLength is the longest repository name (host included) distribution accepts.
const maxNameLength = 255

// check applies the grammar to a reference's parts.
func check(ref, host, path, tag, digest string) error {
	bad := func(what, v string) error { return fmt.Errorf("%w %q: bad %s %q", ErrInvalid, ref, what, v) }
	if !domainRE.MatchString(host) {
		return bad("registry host", host)
	}
	for _, c := range strings.Split(path, "/") {
		if !componentRE.MatchString(c) {
			return bad("repository path", path)
		}
	}
	if len(host)+1+len(path) > maxNameLength {
		return fmt.Errorf("%w %q: the name is longer than %d characters", ErrInvalid, ref, maxNameLength)
	}
	if tag != "" && !tagRE.MatchString(tag) {
		return bad("tag", tag)
	}
	if digest != "" && !digestRE.MatchString(digest) {
		return bad("digest", digest)
	}
	return nil
}

// DefaultStripHosts are the upstream registries Kubespray's *_image_repo variables stand for.
var DefaultStripHosts = []string{"registry.k8s.io", "k8s.gcr.io", "gcr.io", "ghcr.io", "docker.io", "quay.io"}

// Modes of mapping an upstream reference to the private registry.
const (
	Strip = "strip" // <registry>/<path>: what Kubespray's *_image_repo variables expect
	Keep  = "keep"  // <registry>/<upstream host>/<path>: for containerd mirror configs
)

// Mapping says how upstream references map to the private registry.
type Mapping struct {
	Mode       string   // Strip (default) or Keep
	Namespace  string   // optional prefix, e.g. a Harbor project: <registry>/<namespace>/...
	StripHosts []string // more hosts to strip, beside DefaultStripHosts
}

// Normalize returns the full form of an image reference: docker.io for a missing registry,
// library/ for a Docker Hub official image, latest for a missing tag and digest.
// "nginx" -> "docker.io/library/nginx:latest". A reference that breaks the distribution
// grammar ("../../etc/passwd:x") is refused with ErrInvalid: this is the one place image
// names are checked.
func Normalize(ref string) (string, error) {
	ref = strings.TrimSpace(ref)
	if ref == "" || strings.ContainsAny(ref, " \t\n") {
		return "", fmt.Errorf("%w %q", ErrInvalid, ref)
	}
	repo, tag, digest := Split(ref)
	host, path := "docker.io", repo
	if i := strings.IndexByte(repo, '/'); i > 0 {
		first := repo[:i]
		if strings.ContainsAny(first, ".:") || first == "localhost" {
			host, path = first, repo[i+1:]
		}
	}
	if host == "index.docker.io" || host == "registry-1.docker.io" {
		host = "docker.io"
	}
	if host == "docker.io" && !strings.Contains(path, "/") {
		path = "library/" + path
	}
	if err := check(ref, host, path, tag, digest); err != nil {
		return "", err
	}
	out := host + "/" + path
	if tag == "" && digest == "" {
		tag = "latest"
	}
	if tag != "" {
		out += ":" + tag
	}
	if digest != "" {
		out += "@" + digest
	}
	return out, nil
}

// Split cuts "repo[:tag][@digest]" into its parts; a registry port is not a tag.
func Split(ref string) (repo, tag, digest string) {
	if i := strings.IndexByte(ref, '@'); i >= 0 {
		ref, digest = ref[:i], ref[i+1:]
	}
	if i := strings.LastIndexByte(ref, ':'); i > strings.LastIndexByte(ref, '/') {
		ref, tag = ref[:i], ref[i+1:]
	}
	return ref, tag, digest
}

// Host returns the registry host of a normalized reference.
func Host(normalized string) string {
	host, _, _ := strings.Cut(normalized, "/")
	return host
}

// Repository returns the repository path a source goes to in the private registry, without
// the registry and without tag or digest: "registry.k8s.io/pause:3.10" -> "pause" (Strip).
func (m Mapping) Repository(source string) (string, error) {
	n, err := Normalize(source)
	if err != nil {
		return "", err
	}
	repo, _, _ := Split(n)
	host, path, _ := strings.Cut(repo, "/")
	switch m.Mode {
	case "", Strip:
		if !m.strips(host) {
			path = host + "/" + path // an unknown registry keeps its name, so nothing collides
		}
	case Keep:
		path = host + "/" + path
	default:
		return "", fmt.Errorf("unknown mapping %q: want %s or %s", m.Mode, Strip, Keep)
	}
	if ns := strings.Trim(m.Namespace, "/"); ns != "" {
		path = ns + "/" + path
	}
	return path, nil
}

// Target returns where a source goes in registry ("host[:port]"), tag and digest kept:
// "quay.io/calico/node:v3.30.3" -> "<registry>/calico/node:v3.30.3".
func (m Mapping) Target(registry, source string) (string, error) {
	path, err := m.Repository(source)
	if err != nil {
		return "", err
	}
	n, _ := Normalize(source)
	_, tag, digest := Split(n)
	out := strings.TrimSuffix(registry, "/") + "/" + path
	if tag != "" {
		out += ":" + tag
	}
	if digest != "" {
		out += "@" + digest
	}
	return out, nil
}

// Targets maps every source and fails when two different sources map to one target, naming
// both (for example docker.io/library/nginx and quay.io/library/nginx under Strip).
func (m Mapping) Targets(registry string, sources []string) (map[string]string, error) {
	out := make(map[string]string, len(sources))
	by := map[string]string{}
	var clashes []string
	for _, s := range sources {
		t, err := m.Target(registry, s)
		if err != nil {
			return nil, err
		}
		n, _ := Normalize(s)
		if prev, ok := by[t]; ok && prev != n {
			clashes = append(clashes, fmt.Sprintf("%s and %s both map to %s", prev, n, t))
		}
		by[t] = n
		out[s] = t
	}
	if len(clashes) > 0 {
		sort.Strings(clashes)
		return nil, fmt.Errorf("image names collide in the registry (use mapping: keep, or push one of them separately): %s",
			strings.Join(clashes, "; "))
	}
	return out, nil
}

func (m Mapping) strips(host string) bool {
	for _, h := range DefaultStripHosts {
		if h == host {
			return true
		}
	}
	for _, h := range m.StripHosts {
		if strings.TrimSuffix(h, "/") == host {
			return true
		}
	}
	return false
}

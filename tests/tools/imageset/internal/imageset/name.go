package imageset

import (
	"bufio"
	"fmt"
	"io"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
)

// Name is an image reference of the set.
type Name struct {
	// Ref is the reference as listed (digest suffix dropped): the tag written in the bundles.
	Ref string
	// Host is the upstream registry, "docker.io" for Docker Hub.
	Host string
	// Repository is Host plus the repository path: "docker.io/library/nginx".
	Repository string
	// Tag is the tag, "latest" when the reference has none.
	Tag string
}

// ParseName parses a reference as Kubespray lists it. Docker Hub short names are normalized
// (nginx:1.28 -> docker.io/library/nginx:1.28); a digest suffix (@sha256:...) is dropped, since a
// synthetic image cannot have the upstream digest.
func ParseName(s string) (Name, error) {
	ref := strings.TrimSpace(s)
	if i := strings.Index(ref, "@"); i >= 0 {
		ref = ref[:i]
	}
	t, err := name.NewTag(ref)
	if err != nil {
		return Name{}, fmt.Errorf("parsing reference %q: %w", s, err)
	}
	host := t.RegistryStr()
	if host == name.DefaultRegistry {
		host = "docker.io"
	}
	return Name{
		Ref:        ref,
		Host:       host,
		Repository: host + "/" + t.RepositoryStr(),
		Tag:        t.TagStr(),
	}, nil
}

// Upstream is the normalized reference: host/path:tag.
func (n Name) Upstream() string { return n.Repository + ":" + n.Tag }

// KubesprayOfflineFile is the bundle file name kubespray-offline's scripts/images.sh gives the
// image: the reference with "/" -> "_" and ":" -> "-", plus ".tar.gz".
func (n Name) KubesprayOfflineFile() string {
	return strings.NewReplacer("/", "_", ":", "-").Replace(n.Ref) + ".tar.gz"
}

// ContribFile is the file name Kubespray's contrib/offline/manage-offline-container-images.sh
// gives the image inside container-images/: "/" and ":" -> "-", digest dropped, plus ".tar".
func (n Name) ContribFile() string {
	return strings.NewReplacer("/", "-", ":", "-").Replace(n.Ref) + ".tar"
}

// contribStripped are the hosts manage-offline-container-images.sh strips from the names it
// writes to container-images.txt (kube_image_repo, gcr_image_repo, ghcr_image_repo,
// docker_image_repo and quay_image_repo are replaced by the offline registry).
var contribStripped = []string{"registry.k8s.io", "gcr.io", "ghcr.io", "docker.io", "quay.io"}

// ContribListName is the image name manage-offline-container-images.sh writes to
// container-images.txt: the reference without its first part when that part is one of the
// hosts Kubespray repoints (registry.k8s.io/pause:3.10 -> pause:3.10).
func (n Name) ContribListName() string {
	first, rest, ok := strings.Cut(n.Ref, "/")
	if !ok {
		return n.Ref
	}
	for _, h := range contribStripped {
		if first == h {
			return rest
		}
	}
	return n.Ref
}

// ReadNames reads a list of references, one a line (a Kubespray images.list); blank lines and
// lines starting with # are skipped, and so are duplicates.
func ReadNames(r io.Reader) ([]string, error) {
	var refs []string
	seen := map[string]bool{}
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") || seen[line] {
			continue
		}
		seen[line] = true
		refs = append(refs, line)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading names: %w", err)
	}
	return refs, nil
}

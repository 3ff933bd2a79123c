package imagepush

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"io"
	"os"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/atomicfile"
	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/platform"
)

// Archive writes one entry as a docker-save tarball at path, for `docker load`, `podman load`
// and `nerdctl load`: the image for want (platform.Match) when the entry is an index, tagged
// with the entry's source reference. Every blob is verified first. The file is written beside path and renamed
// over it only when its content differs, so a rerun reports changed=false and nothing
// half-written is ever at path. With dryRun, path is left as it is: changed tells whether it
// would be replaced.
func Archive(e Entry, want v1.Platform, path string, dryRun bool) (changed bool, err error) {
	if e.Err != nil {
		return false, fmt.Errorf("%s: %w", e.Source, e.Err)
	}
	if e.Check != nil {
		if err := e.Check(); err != nil {
			return false, fmt.Errorf("%s: %w", e.Source, err)
		}
	}
	img, err := platformImage(e, want)
	if err != nil {
		return false, err
	}
	for _, b := range e.Blobs {
		if b.Verify != nil {
			if err := b.Verify(); err != nil {
				return false, fmt.Errorf("%s: %w", e.Source, err)
			}
		}
	}
	ref, err := name.NewTag(e.Source)
	if err != nil {
		// A digest-only reference: docker load needs a tag; the repository's "latest" is wrong,
		// so refuse rather than guess.
		return false, fmt.Errorf("%s: a docker-save tarball needs a tagged reference: %w", e.Source, err)
	}
	tmp, err := atomicfile.Create(path)
	if err != nil {
		return false, err
	}
	defer tmp.Abort()
	h := sha256.New()
	if err := tarball.Write(ref, img, io.MultiWriter(tmp, h)); err != nil {
		return false, fmt.Errorf("writing %s: %w", path, err)
	}
	if same, _ := sameContent(path, h.Sum(nil)); same || dryRun {
		return !same, nil
	}
	if err := tmp.Commit(0o644); err != nil {
		return false, err
	}
	return true, nil
}

// platformImage is the entry itself, or its index's image for want.
func platformImage(e Entry, want v1.Platform) (v1.Image, error) {
	switch t := e.Taggable.(type) {
	case v1.Image:
		return t, nil
	case v1.ImageIndex:
		im, err := t.IndexManifest()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", e.Source, err)
		}
		var have []string
		for _, m := range im.Manifests {
			if m.Platform == nil || !m.MediaType.IsImage() {
				continue
			}
			if platform.Match(m.Platform, []v1.Platform{want}) {
				return t.Image(m.Digest)
			}
			have = append(have, m.Platform.String())
		}
		return nil, fmt.Errorf("%s has no image for %s (it has %v)", e.Source, want.String(), have)
	default:
		return nil, fmt.Errorf("%s: not an image or an index", e.Source)
	}
}

func sameContent(path string, sum []byte) (bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return false, err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return false, err
	}
	return bytes.Equal(h.Sum(nil), sum), nil
}

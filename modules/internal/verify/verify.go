// Package verify checks that a mirror holds what a Kubespray run will ask for: every file at
// its URL with its checksum (streamed, nothing stored), and every image under its name with
// the platforms asked for.
package verify

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/platform"
	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/pool"
	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/regclient"
	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/tagmerge"
)

// File is a download Kubespray will make.
type File struct {
	Name     string `json:"name"`
	URL      string `json:"url"`
	Checksum string `json:"checksum"` // sha256:<hex>, or empty to check presence only
}

// Image is an image Kubespray will pull.
type Image struct {
	Name      string   `json:"name"`
	Ref       string   `json:"ref"`       // as Kubespray will pull it, registry included
	Platforms []string `json:"platforms"` // os/arch[/variant] (platform.Parse); empty: any
	Digest    string   `json:"digest"`    // manifest (or index) digest the registry must serve; empty: any
}

// Result is one checked item.
type Result struct {
	Kind   string `json:"kind"` // file or image
	Name   string `json:"name"`
	Where  string `json:"where"` // URL or reference
	OK     bool   `json:"ok"`
	Detail string `json:"detail,omitempty"`
}

// Options configure Check.
type Options struct {
	HTTP        *http.Client
	Registry    *regclient.Client
	Concurrency int // if <= 0, 8
}

// Check checks every file and image; the results keep the input order (files first).
func Check(ctx context.Context, files []File, images []Image, o Options) []Result {
	if o.Concurrency <= 0 {
		o.Concurrency = 8
	}
	out := make([]Result, len(files)+len(images))
	pool.Each(len(out), o.Concurrency, func(i int) {
		if i < len(files) {
			out[i] = checkFile(ctx, o.HTTP, files[i])
		} else {
			out[i] = checkImage(ctx, o.Registry, images[i-len(files)])
		}
	})
	return out
}

func checkFile(ctx context.Context, c *http.Client, f File) Result {
	r := Result{Kind: "file", Name: f.Name, Where: f.URL}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, f.URL, nil)
	if err != nil {
		r.Detail = err.Error()
		return r
	}
	resp, err := c.Do(req)
	if err != nil {
		r.Detail = err.Error()
		return r
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		r.Detail = "HTTP " + resp.Status
		return r
	}
	h := sha256.New()
	if _, err := io.Copy(h, resp.Body); err != nil {
		r.Detail = "reading: " + err.Error()
		return r
	}
	got := "sha256:" + hex.EncodeToString(h.Sum(nil))
	want := strings.ToLower(f.Checksum)
	if want != "" && !strings.Contains(want, ":") {
		want = "sha256:" + want
	}
	if want != "" && got != want {
		r.Detail = fmt.Sprintf("checksum %s, Kubespray expects %s", got, want)
		return r
	}
	r.OK = true
	return r
}

func checkImage(ctx context.Context, c *regclient.Client, img Image) Result {
	r := Result{Kind: "image", Name: img.Name, Where: img.Ref}
	ref, err := c.Reference(img.Ref)
	if err != nil {
		r.Detail = err.Error()
		return r
	}
	desc, err := remote.Get(ref, c.Remote(ctx)...)
	if err != nil {
		var terr *transport.Error
		if errors.As(err, &terr) && terr.StatusCode == http.StatusNotFound {
			r.Detail = "not in the registry"
		} else {
			r.Detail = regclient.Clean(err).Error()
		}
		return r
	}
	if img.Digest != "" && desc.Digest.String() != img.Digest && !mergedFrom(ctx, c, ref, desc, img.Digest) {
		r.Detail = fmt.Sprintf("the registry serves manifest %s, the bundle has %s", desc.Digest, img.Digest)
		return r
	}
	have, err := platforms(desc)
	if err != nil {
		r.Detail = err.Error()
		return r
	}
	var missing []string
	for _, s := range img.Platforms {
		want, err := platform.Parse(s)
		if err != nil {
			r.Detail = err.Error()
			return r
		}
		found := false
		for i := range have {
			found = found || platform.Match(&have[i], []v1.Platform{want})
		}
		if !found {
			missing = append(missing, s)
		}
	}
	if len(missing) > 0 {
		r.Detail = "no image for " + strings.Join(missing, ", ")
		return r
	}
	r.OK = true
	return r
}

// platforms lists the platforms an image or index serves.
func platforms(desc *remote.Descriptor) ([]v1.Platform, error) {
	var out []v1.Platform
	if desc.MediaType.IsIndex() {
		idx, err := desc.ImageIndex()
		if err != nil {
			return nil, err
		}
		im, err := idx.IndexManifest()
		if err != nil {
			return nil, err
		}
		for _, m := range im.Manifests {
			if m.Platform != nil {
				out = append(out, *m.Platform)
			}
		}
		return out, nil
	}
	img, err := desc.Image()
	if err != nil {
		return nil, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("reading the image config: %w", err)
	}
	if p := cf.Platform(); p != nil {
		out = append(out, *p)
	}
	return out, nil
}

// mergedFrom reports whether the tag (desc) serves every image of the manifest digest: an index
// a push merged the bundle's platforms into (on_existing: merge), which keeps the bundle's own
// manifest by digest in the same repository.
func mergedFrom(ctx context.Context, c *regclient.Client, ref name.Reference, desc *remote.Descriptor, digest string) bool {
	if !desc.MediaType.IsIndex() {
		return false
	}
	want, err := remote.Get(ref.Context().Digest(digest), c.Remote(ctx)...)
	if err != nil {
		return false
	}
	return tagmerge.Contains(tagmerge.Manifest{Descriptor: desc.Descriptor, Raw: desc.Manifest},
		tagmerge.Manifest{Descriptor: want.Descriptor, Raw: want.Manifest})
}

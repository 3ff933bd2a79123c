package bundleimport

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/imagename"
)

// Image is a manifest image, as manifest_items(manifest, 'import') projects it.
type Image struct {
	Name   string `json:"name"`
	Source string `json:"source"`
	Digest string `json:"digest"`
}

// MissingImage is a manifest image the layout does not hold (or holds under another digest).
type MissingImage struct {
	Name   string `json:"name"`
	Source string `json:"source"`
	Why    string `json:"why"`
}

// ImagesResult says which manifest images an OCI layout holds.
type ImagesResult struct {
	Found   []string       `json:"found"`
	Missing []MissingImage `json:"missing"`
	Lines   []string       `json:"lines"`
}

// Images compares the manifest's images with the layout's index.json, by their names in
// imagename's normal form (docker.io short names as the image modules write them). A missing
// layout holds nothing.
func Images(layout string, images []Image) (*ImagesResult, error) {
	refs := map[string]string{}
	b, err := os.ReadFile(filepath.Join(layout, "index.json"))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	if err == nil {
		var index struct {
			Manifests []struct {
				Digest      string            `json:"digest"`
				Annotations map[string]string `json:"annotations"`
			} `json:"manifests"`
		}
		if err := json.Unmarshal(b, &index); err != nil {
			return nil, fmt.Errorf("%s/index.json: %w", layout, err)
		}
		for _, m := range index.Manifests {
			for _, key := range []string{"io.containerd.image.name", "org.opencontainers.image.ref.name"} {
				if ref := m.Annotations[key]; ref != "" {
					if n, err := imagename.Normalize(ref); err == nil {
						refs[n] = m.Digest
					}
				}
			}
		}
	}
	res := &ImagesResult{Found: []string{}, Missing: []MissingImage{}}
	var texts []string
	for _, img := range images {
		ref, err := imagename.Normalize(img.Source)
		got, held := refs[ref]
		switch {
		case err != nil:
			res.Missing = append(res.Missing, MissingImage{img.Name, img.Source, err.Error()})
			texts = append(texts, fmt.Sprintf("%s (%s: %v)", img.Name, img.Source, err))
		case !held:
			res.Missing = append(res.Missing, MissingImage{img.Name, img.Source, "not in the layout"})
			texts = append(texts, fmt.Sprintf("%s (%s)", img.Name, img.Source))
		case img.Digest != "" && got != img.Digest:
			why := fmt.Sprintf("Kubespray pins %s; a docker-save bundle loses registry digests", img.Digest)
			res.Missing = append(res.Missing, MissingImage{img.Name, img.Source, why})
			texts = append(texts, fmt.Sprintf("%s (%s: %s)", img.Name, img.Source, why))
		default:
			res.Found = append(res.Found, img.Name)
		}
	}
	res.Lines = []string{fmt.Sprintf("images: %d of %d manifest images in %s", len(res.Found), len(images), layout)}
	if len(texts) > 0 {
		res.Lines = append(res.Lines, fmt.Sprintf("missing images %d: %s; pull them online with airgap.kubespray.download",
			len(texts), strings.Join(texts, "; ")))
	}
	return res, nil
}

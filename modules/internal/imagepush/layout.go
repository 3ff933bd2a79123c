package imagepush

import (
	"fmt"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/partial"

	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/ocistore"
)

// FromLayout reads the images of an OCI layout; with subset, only those sources. An image
// that cannot be read (a blob missing, a bad name) is returned with Err set, so that the
// others are still pushed; a layout that lists no image at all is an error naming it.
func FromLayout(store *ocistore.Store, subset []string) ([]Entry, error) {
	entries, err := store.Entries()
	if err != nil {
		return nil, err
	}
	want := map[string]bool{}
	for _, s := range subset {
		want[s] = true
	}
	lp, err := layout.FromPath(store.Root())
	if err != nil {
		return nil, fmt.Errorf("reading layout %s: %w", store.Root(), err)
	}
	root, err := lp.ImageIndex()
	if err != nil {
		return nil, fmt.Errorf("reading %s/index.json: %w", store.Root(), err)
	}
	var out []Entry
	found := map[string]bool{}
	for _, e := range entries {
		if e.Ref == "" || (len(want) > 0 && !want[e.Ref]) {
			continue
		}
		found[e.Ref] = true
		entry, err := fromDescriptor(store, root, e)
		if err != nil {
			entry = Entry{Source: e.Ref, Digest: e.Descriptor.Digest, Origin: store.Root(), Err: err}
		}
		out = append(out, entry)
	}
	if len(subset) == 0 && len(out) == 0 {
		return nil, fmt.Errorf("the layout %s lists no images: its index.json has no manifests named by %s", store.Root(), ocistore.AnnotationRefName)
	}
	for _, s := range subset {
		if !found[s] {
			return nil, fmt.Errorf("image %s is not in the layout %s", s, store.Root())
		}
	}
	return out, nil
}

func fromDescriptor(store *ocistore.Store, root v1.ImageIndex, e ocistore.Entry) (Entry, error) {
	d := e.Descriptor
	entry := Entry{Source: e.Ref, Digest: d.Digest, Origin: store.Root()}
	manifests := []v1.Descriptor{d}
	var images []v1.Image
	switch {
	case d.MediaType.IsIndex():
		idx, err := root.ImageIndex(d.Digest)
		if err != nil {
			return Entry{}, fmt.Errorf("%s: reading index %s: %w", e.Ref, d.Digest, err)
		}
		im, err := idx.IndexManifest()
		if err != nil {
			return Entry{}, fmt.Errorf("%s: reading index %s: %w", e.Ref, d.Digest, err)
		}
		for _, m := range im.Manifests {
			img, err := idx.Image(m.Digest)
			if err != nil {
				return Entry{}, fmt.Errorf("%s: reading image %s: %w", e.Ref, m.Digest, err)
			}
			images = append(images, img)
			manifests = append(manifests, m)
		}
		entry.Taggable = idx
	case d.MediaType.IsImage():
		img, err := root.Image(d.Digest)
		if err != nil {
			return Entry{}, fmt.Errorf("%s: reading image %s: %w", e.Ref, d.Digest, err)
		}
		images = append(images, img)
		entry.Taggable = img
	default:
		return Entry{}, fmt.Errorf("%s: unsupported media type %s", e.Ref, d.MediaType)
	}
	seen := map[v1.Hash]bool{}
	for _, img := range images {
		layers, err := img.Layers()
		if err != nil {
			return Entry{}, fmt.Errorf("%s: reading layers: %w", e.Ref, err)
		}
		cl, err := partial.ConfigLayer(img)
		if err != nil {
			return Entry{}, fmt.Errorf("%s: reading config: %w", e.Ref, err)
		}
		for _, l := range append(layers, cl) {
			digest, err := l.Digest()
			if err != nil {
				return Entry{}, err
			}
			size, err := l.Size()
			if err != nil {
				return Entry{}, err
			}
			if seen[digest] {
				continue
			}
			seen[digest] = true
			mt, err := l.MediaType()
			if err != nil {
				return Entry{}, err
			}
			if !mt.IsDistributable() {
				continue
			}
			entry.Blobs = append(entry.Blobs, Blob{Layer: l, Digest: digest, Size: size,
				Verify: func() error { return store.Verify(digest, size) }})
		}
	}
	entry.Check = func() error {
		for _, m := range manifests {
			if err := store.Verify(m.Digest, m.Size); err != nil {
				return err
			}
		}
		return nil
	}
	return entry, nil
}

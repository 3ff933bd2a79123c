// Package ocistoretest writes OCI layouts for tests, as offline_image_pull writes them.
package ocistoretest

import (
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/ocistore"
)

// WriteLayout writes images (reference -> image or index) into an OCI layout at dir as
// offline_image_pull would (each blob once, index.json naming each image by its reference),
// and returns it.
func WriteLayout(t *testing.T, dir string, images map[string]any) *ocistore.Store {
	t.Helper()
	store, err := ocistore.Open(dir, true)
	if err != nil {
		t.Fatal(err)
	}
	lp := layout.Path(dir)
	for ref, x := range images {
		var err error
		switch x := x.(type) {
		case v1.Image:
			err = lp.WriteImage(x)
		case v1.ImageIndex:
			err = lp.WriteIndex(x)
		}
		if err != nil {
			t.Fatal(err)
		}
		m := x.(interface {
			MediaType() (types.MediaType, error)
			Digest() (v1.Hash, error)
			Size() (int64, error)
		})
		mt, _ := m.MediaType()
		d, _ := m.Digest()
		n, _ := m.Size()
		if err := store.Put(ref, "", v1.Descriptor{MediaType: mt, Digest: d, Size: n}); err != nil {
			t.Fatal(err)
		}
	}
	return store
}

package ocistore_test

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/ocistore"
)

func digest(b string) v1.Hash {
	s := sha256.Sum256([]byte(b))
	return v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(s[:])}
}

func TestBlobsAreVerifiedAndAtomic(t *testing.T) {
	s, err := ocistore.Open(filepath.Join(t.TempDir(), "l"), true)
	if err != nil {
		t.Fatal(err)
	}
	d := digest("hello")
	if _, err := s.WriteBlob(d, 5, strings.NewReader("HELLO")); !errors.Is(err, ocistore.ErrCorruptBlob) {
		t.Fatalf("wrong content: err = %v, want ErrCorruptBlob", err)
	}
	if s.Has(d, -1) {
		t.Fatal("a blob with the wrong content is at its final path")
	}
	if n, err := s.WriteBlob(d, 5, strings.NewReader("hello")); err != nil || n != 5 {
		t.Fatalf("write: %d %v", n, err)
	}
	if n, err := s.WriteBlob(d, 5, strings.NewReader("hello")); err != nil || n != 0 {
		t.Fatalf("rewrite: %d %v, want a no-op", n, err)
	}
	if err := s.Verify(d, 5); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(s.BlobPath(d), []byte("jello"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := s.Verify(d, 5); !errors.Is(err, ocistore.ErrCorruptBlob) || !strings.Contains(err.Error(), d.String()) {
		t.Fatalf("corrupted blob: err = %v, want ErrCorruptBlob naming it", err)
	}
	leftovers, _ := filepath.Glob(filepath.Join(s.Root(), "blobs", "sha256", ".partial-*"))
	if len(leftovers) != 0 {
		t.Errorf("temporary files left: %v", leftovers)
	}
}

func TestEntriesAreReadableByGoContainerRegistry(t *testing.T) {
	root := filepath.Join(t.TempDir(), "l")
	s, _ := ocistore.Open(root, true)
	cfg, _ := s.WriteBytes(types.OCIConfigJSON, []byte(`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}`))
	raw := []byte(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"` +
		string(cfg.MediaType) + `","size":` + strconv.FormatInt(cfg.Size, 10) + `,"digest":"` + cfg.Digest.String() + `"},"layers":[]}`)
	desc, err := s.WriteBytes(types.OCIManifestSchema1, raw)
	if err != nil {
		t.Fatal(err)
	}
	for _, ref := range []string{"registry.k8s.io/pause:3.10", "registry.k8s.io/pause:3.10", "docker.io/library/x:1"} {
		if err := s.Put(ref, "sha256:src", desc); err != nil {
			t.Fatal(err)
		}
	}
	entries, _ := s.Entries()
	if len(entries) != 2 || entries[1].Ref != "registry.k8s.io/pause:3.10" {
		t.Fatalf("entries = %+v, want two, one per reference", entries)
	}
	lp, err := layout.FromPath(root)
	if err != nil {
		t.Fatal(err)
	}
	idx, err := lp.ImageIndex()
	if err != nil {
		t.Fatal(err)
	}
	img, err := idx.Image(desc.Digest)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := img.Digest(); got != desc.Digest {
		t.Errorf("go-containerregistry reads %s, want %s", got, desc.Digest)
	}
	if _, err := ocistore.Open(filepath.Join(t.TempDir(), "missing"), false); err == nil {
		t.Error("opening a missing layout without create succeeded")
	}
}

// Package ocistore is an OCI image layout on disk that many images share: one blobs/ folder,
// so a base layer used by twenty images is stored once, and an index.json whose entries carry
// each image's original reference, so skopeo, crane, nerdctl and containerd can read it too.
//
// Blobs are written to a temporary file, verified against their digest, then renamed into
// place: a blob at its final path is always complete and correct.
package ocistore

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"syscall"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/atomicfile"
	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/verified"
)

// Annotations on index.json entries.
const (
	// AnnotationRefName is the OCI annotation skopeo and crane look images up by; here the
	// image's full original reference, e.g. "registry.k8s.io/pause:3.10.1".
	AnnotationRefName = "org.opencontainers.image.ref.name"
	// AnnotationContainerdName is the name containerd and nerdctl give an imported image.
	AnnotationContainerdName = "io.containerd.image.name"
	// AnnotationSourceDigest is the digest the registry served for the reference when it was
	// pulled (it differs from the entry's digest when the index was filtered by platform).
	AnnotationSourceDigest = "io.airgap.kubespray.source.digest"
)

// ErrCorruptBlob means a blob's content does not match its digest.
var ErrCorruptBlob = errors.New("corrupt blob")

// Store is an OCI image layout folder. Any number of Store values, in any number of
// processes, may share one layout: index.json is read, changed and replaced (atomically)
// under a file lock in the layout.
type Store struct {
	root string
	mu   sync.Mutex // serialises this value's own index.json updates before the file lock
}

// Entry is one image of the layout: its original reference and its descriptor.
type Entry struct {
	Ref        string
	Descriptor v1.Descriptor
}

const layoutFile = `{"imageLayoutVersion":"1.0.0"}`

// Open opens the layout at root, creating it (unless it exists) when create is true. With
// create, leftovers of killed runs in the layout are removed (see Clean).
func Open(root string, create bool) (*Store, error) {
	s := &Store{root: root}
	if _, err := os.Stat(filepath.Join(root, "oci-layout")); err == nil {
		if create {
			_, _ = s.Clean() // housekeeping: a failure here must not stop a pull
		}
		return s, nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("opening layout %s: %w", root, err)
	}
	if !create {
		return nil, fmt.Errorf("%s is not an OCI image layout (no oci-layout file)", root)
	}
	if err := os.MkdirAll(filepath.Join(root, "blobs", "sha256"), 0o755); err != nil {
		return nil, fmt.Errorf("creating layout: %w", err)
	}
	// Another process may be creating (and already filling) the same layout: only what is
	// still missing under the lock is written.
	unlock, err := s.lock()
	if err != nil {
		return nil, err
	}
	defer unlock()
	if _, err := os.Stat(filepath.Join(root, "index.json")); errors.Is(err, fs.ErrNotExist) {
		if err := s.writeIndex(&v1.IndexManifest{SchemaVersion: 2, MediaType: types.OCIImageIndex}); err != nil {
			return nil, err
		}
	}
	if _, err := os.Stat(filepath.Join(root, "oci-layout")); errors.Is(err, fs.ErrNotExist) {
		if err := writeAtomic(filepath.Join(root, "oci-layout"), []byte(layoutFile)); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// Root is the layout folder.
func (s *Store) Root() string { return s.root }

// BlobPath is where the blob with digest d lives.
func (s *Store) BlobPath(d v1.Hash) string {
	return filepath.Join(s.root, "blobs", d.Algorithm, d.Hex)
}

// Has reports whether the blob is present with the given size (size < 0: any size).
func (s *Store) Has(d v1.Hash, size int64) bool {
	fi, err := os.Stat(s.BlobPath(d))
	return err == nil && fi.Mode().IsRegular() && (size < 0 || fi.Size() == size)
}

// WriteBlob stores r as the blob d, verifying its digest and size (size < 0: unknown) while
// writing; it returns how many bytes it wrote (0 when the blob was already there).
func (s *Store) WriteBlob(d v1.Hash, size int64, r io.Reader) (int64, error) {
	if s.Has(d, size) {
		return 0, nil
	}
	h, err := hasher(d)
	if err != nil {
		return 0, err
	}
	tmp, n, err := s.writeTemp(r, h)
	if err != nil {
		return n, err
	}
	defer os.Remove(tmp)
	got := hex.EncodeToString(h.Sum(nil))
	if got != d.Hex || (size >= 0 && n != size) {
		return n, fmt.Errorf("blob %s: got %d bytes with digest %s:%s: %w", d, n, d.Algorithm, got, ErrCorruptBlob)
	}
	if err := os.Rename(tmp, s.BlobPath(d)); err != nil {
		return n, fmt.Errorf("placing blob %s: %w", d, err)
	}
	verified.Store(s.BlobPath(d), verified.Record{Size: n, SHA256: got})
	return n, nil
}

// WriteBlobStream stores r as a blob whose digest is not known in advance (a layer being
// compressed) and returns its descriptor digest and size.
func (s *Store) WriteBlobStream(r io.Reader) (v1.Hash, int64, error) {
	h := sha256.New()
	tmp, n, err := s.writeTemp(r, h)
	if err != nil {
		return v1.Hash{}, n, err
	}
	defer os.Remove(tmp)
	d := v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(h.Sum(nil))}
	if s.Has(d, n) {
		return d, n, nil
	}
	if err := os.Rename(tmp, s.BlobPath(d)); err != nil {
		return d, n, fmt.Errorf("placing blob %s: %w", d, err)
	}
	verified.Store(s.BlobPath(d), verified.Record{Size: n, SHA256: d.Hex})
	return d, n, nil
}

func (s *Store) writeTemp(r io.Reader, h hash.Hash) (string, int64, error) {
	dir := filepath.Join(s.root, "blobs", "sha256")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", 0, fmt.Errorf("creating blobs folder: %w", err)
	}
	f, err := os.CreateTemp(dir, ".partial-")
	if err != nil {
		return "", 0, DiskFull(fmt.Errorf("creating temporary blob in %s: %w", dir, err))
	}
	// Locked while it is written, so that Clean in another process leaves it alone.
	_ = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
	n, err := io.Copy(io.MultiWriter(f, h), r)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(f.Name())
		return "", n, DiskFull(fmt.Errorf("writing blob into %s: %w", dir, err))
	}
	return f.Name(), n, nil
}

// WriteBytes stores small content (a manifest, a config) and returns its descriptor.
func (s *Store) WriteBytes(mediaType types.MediaType, b []byte) (v1.Descriptor, error) {
	d, n, err := s.WriteBlobStream(bytes.NewReader(b))
	if err != nil {
		return v1.Descriptor{}, err
	}
	return v1.Descriptor{MediaType: mediaType, Digest: d, Size: n}, nil
}

// ReadBytes returns a small blob's content, verified.
func (s *Store) ReadBytes(d v1.Hash) ([]byte, error) {
	b, err := os.ReadFile(s.BlobPath(d))
	if err != nil {
		return nil, fmt.Errorf("reading blob %s: %w", d, err)
	}
	if sum := sha256.Sum256(b); d.Algorithm == "sha256" && hex.EncodeToString(sum[:]) != d.Hex {
		return nil, fmt.Errorf("blob %s in %s: %w", d, s.root, ErrCorruptBlob)
	}
	return b, nil
}

// Verify checks that the blob is present, of the given size, and matches its digest. A blob
// verified before and unchanged since (same size and mtime) is not read again.
func (s *Store) Verify(d v1.Hash, size int64) error {
	p := s.BlobPath(d)
	fi, err := os.Stat(p)
	if err != nil {
		return fmt.Errorf("blob %s is missing from %s: %w", d, s.root, err)
	}
	if size >= 0 && fi.Size() != size {
		return fmt.Errorf("blob %s in %s has %d bytes, want %d: %w", d, s.root, fi.Size(), size, ErrCorruptBlob)
	}
	if r, ok := verified.Lookup(p, fi); ok && d.Algorithm == "sha256" && r.SHA256 == d.Hex {
		return nil
	}
	f, err := os.Open(p)
	if err != nil {
		return fmt.Errorf("reading blob %s: %w", d, err)
	}
	defer f.Close()
	h, err := hasher(d)
	if err != nil {
		return err
	}
	if _, err := io.CopyBuffer(h, struct{ io.Reader }{f}, make([]byte, 1<<20)); err != nil {
		return fmt.Errorf("reading blob %s: %w", d, err)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != d.Hex {
		return fmt.Errorf("blob %s in %s has digest %s:%s: %w", d, s.root, d.Algorithm, got, ErrCorruptBlob)
	}
	verified.Store(p, verified.Record{Size: fi.Size(), SHA256: d.Hex})
	return nil
}

// ErrDiskFull: the disk holding the layout (or an import's work folder) is full. It is not
// worth retrying.
var ErrDiskFull = errors.New("disk full")

// DiskFull marks err as ErrDiskFull when it is an ENOSPC (or EDQUOT), so that it reads as a
// full disk, not as a corrupt download or archive; other errors are returned as they are.
func DiskFull(err error) error {
	if err != nil && !errors.Is(err, ErrDiskFull) && (errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT)) {
		return fmt.Errorf("%w: %w", ErrDiskFull, err)
	}
	return err
}

func hasher(d v1.Hash) (hash.Hash, error) {
	if d.Algorithm != "sha256" {
		return nil, fmt.Errorf("blob %s: unsupported digest algorithm %q", d, d.Algorithm)
	}
	return sha256.New(), nil
}

// Entries lists the layout's images, sorted by reference.
func (s *Store) Entries() ([]Entry, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	idx, err := s.readIndex()
	if err != nil {
		return nil, err
	}
	var out []Entry
	for _, d := range idx.Manifests {
		out = append(out, Entry{Ref: d.Annotations[AnnotationRefName], Descriptor: d})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Ref < out[j].Ref })
	return out, nil
}

// Lookup returns the entry for ref, if any.
func (s *Store) Lookup(ref string) (v1.Descriptor, bool, error) {
	entries, err := s.Entries()
	if err != nil {
		return v1.Descriptor{}, false, err
	}
	for _, e := range entries {
		if e.Ref == ref {
			return e.Descriptor, true, nil
		}
	}
	return v1.Descriptor{}, false, nil
}

// Put records desc as the image for ref, replacing an earlier entry for the same ref. Its
// blobs must already be in the layout.
func (s *Store) Put(ref, sourceDigest string, desc v1.Descriptor) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	unlock, err := s.lock()
	if err != nil {
		return err
	}
	defer unlock()
	idx, err := s.readIndex()
	if err != nil {
		return err
	}
	desc.Annotations = map[string]string{AnnotationRefName: ref, AnnotationContainerdName: ref}
	if sourceDigest != "" {
		desc.Annotations[AnnotationSourceDigest] = sourceDigest
	}
	kept := idx.Manifests[:0]
	for _, d := range idx.Manifests {
		if d.Annotations[AnnotationRefName] != ref {
			kept = append(kept, d)
		}
	}
	idx.Manifests = append(kept, desc)
	if idx.SchemaVersion == 0 { // an index.json of null or {}
		idx.SchemaVersion, idx.MediaType = 2, types.OCIImageIndex
	}
	sort.Slice(idx.Manifests, func(i, j int) bool {
		return idx.Manifests[i].Annotations[AnnotationRefName] < idx.Manifests[j].Annotations[AnnotationRefName]
	})
	return s.writeIndex(idx)
}

func (s *Store) readIndex() (*v1.IndexManifest, error) {
	b, err := os.ReadFile(filepath.Join(s.root, "index.json"))
	if err != nil {
		return nil, fmt.Errorf("reading index.json: %w", err)
	}
	var idx v1.IndexManifest
	if err := json.Unmarshal(b, &idx); err != nil {
		return nil, fmt.Errorf("parsing %s/index.json: %w", s.root, err)
	}
	return &idx, nil
}

func (s *Store) writeIndex(idx *v1.IndexManifest) error {
	b, err := json.MarshalIndent(idx, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding index.json: %w", err)
	}
	return writeAtomic(filepath.Join(s.root, "index.json"), append(b, '\n'))
}

func writeAtomic(path string, b []byte) error {
	return DiskFull(atomicfile.Write(path, b, 0o644))
}

// Contents is what one layout entry references: its manifests (the entry itself and, for an
// index, each image it lists) and each image's config and distributable layers, each blob
// once. Foreign layers are left out: registries never store them.
type Contents struct {
	Manifests []v1.Descriptor
	Configs   []v1.Descriptor
	Layers    []v1.Descriptor
}

// Contents reads what entry references from the layout's manifests alone, which every layout
// holds (a delta bundle's layout may lack layers the site already has): no config or layer is
// read or required.
func (s *Store) Contents(entry v1.Descriptor) (*Contents, error) {
	c := &Contents{Manifests: []v1.Descriptor{entry}}
	images := []v1.Descriptor{entry}
	if entry.MediaType.IsIndex() {
		raw, err := s.ReadBytes(entry.Digest)
		if err != nil {
			return nil, err
		}
		im, err := v1.ParseIndexManifest(bytes.NewReader(raw))
		if err != nil {
			return nil, fmt.Errorf("parsing index %s: %w", entry.Digest, err)
		}
		images = im.Manifests
		c.Manifests = append(c.Manifests, im.Manifests...)
	}
	seen := map[v1.Hash]bool{}
	for _, d := range images {
		if !d.MediaType.IsImage() {
			return nil, fmt.Errorf("%s: unsupported media type %s", d.Digest, d.MediaType)
		}
		raw, err := s.ReadBytes(d.Digest)
		if err != nil {
			return nil, err
		}
		m, err := v1.ParseManifest(bytes.NewReader(raw))
		if err != nil {
			return nil, fmt.Errorf("parsing manifest %s: %w", d.Digest, err)
		}
		if !seen[m.Config.Digest] {
			seen[m.Config.Digest] = true
			c.Configs = append(c.Configs, m.Config)
		}
		for _, l := range m.Layers {
			if l.MediaType.IsDistributable() && !seen[l.Digest] {
				seen[l.Digest] = true
				c.Layers = append(c.Layers, l)
			}
		}
	}
	return c, nil
}

// Missing lists the blobs of c the layout does not hold (at their size): the manifests and
// configs first, then the layers.
func (s *Store) Missing(c *Contents) []v1.Descriptor {
	var out []v1.Descriptor
	for _, group := range [][]v1.Descriptor{c.Manifests, c.Configs, c.Layers} {
		for _, d := range group {
			if !s.Has(d.Digest, d.Size) {
				out = append(out, d)
			}
		}
	}
	return out
}

package bundleapply

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/delta"
	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/ocistore"
	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/regstore"
)

// openLayout opens the layout at dir, nil when there is none.
func openLayout(dir string) (*ocistore.Store, error) {
	if _, err := os.Stat(filepath.Join(dir, "oci-layout")); errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	return ocistore.Open(dir, false)
}

// images plans the delta's images/: every index entry the site's layout does not hold with its
// digest, and the blobs that make it whole: from the delta, else (a blob the delta left out)
// the site's layout, else the registry's storage. An entry that none of them makes whole is a
// mismatch naming the image and the blobs.
func (p *plan) images() error {
	var err error
	if p.src, err = openLayout(filepath.Join(p.opts.Src, "images")); err != nil || p.src == nil {
		return err
	}
	if p.site, err = openLayout(filepath.Join(p.opts.Bundle, "images")); err != nil {
		return err
	}
	if p.opts.StorageDir != "" {
		if p.storage, err = os.OpenRoot(p.opts.StorageDir); errors.Is(err, fs.ErrNotExist) {
			p.storage, err = nil, nil
		} else if err != nil {
			return fmt.Errorf("opening the registry's storage %s: %w", p.opts.StorageDir, err)
		}
	}
	entries, err := p.src.Entries()
	if err != nil {
		return fmt.Errorf("reading the delta's layout: %w", err)
	}
	planned := map[v1.Hash]bool{}
	for _, e := range entries {
		if e.Ref == "" {
			continue
		}
		if p.site != nil {
			cur, ok, err := p.site.Lookup(e.Ref)
			if err != nil {
				return err
			}
			if ok && cur.Digest == e.Descriptor.Digest {
				continue
			}
		}
		var missing []string
		var copies []blobCopy
		if err := p.walk(e.Descriptor, &copies, &missing); err != nil {
			return fmt.Errorf("reading %s of the delta: %w", e.Ref, err)
		}
		if len(missing) > 0 {
			sort.Strings(missing)
			p.rep.Mismatches = append(p.rep.Mismatches, delta.Mismatch{Kind: delta.KindImage, Item: e.Ref,
				Expected: e.Descriptor.Digest.String(), Site: "lacks " + strings.Join(missing, " "),
				Msg: fmt.Sprintf("the delta brings %s (%s), but neither the delta, the site's bundle nor the registry's storage holds %d of its blobs: %s",
					e.Ref, e.Descriptor.Digest, len(missing), strings.Join(missing, ", "))})
			continue
		}
		for _, c := range copies {
			if planned[c.digest] {
				continue
			}
			planned[c.digest] = true
			p.blobs = append(p.blobs, c)
			p.copyBytes += c.size
			p.rep.Applied.Bytes += c.size
			p.rep.Applied.Blobs++
			if c.fromStorage {
				p.rep.Applied.FromStorage++
			}
		}
		p.entries = append(p.entries, entryPut{ref: e.Ref, sourceDigest: e.Descriptor.Annotations[ocistore.AnnotationSourceDigest], desc: v1.Descriptor{
			MediaType: e.Descriptor.MediaType, Digest: e.Descriptor.Digest, Size: e.Descriptor.Size, Platform: e.Descriptor.Platform}})
		p.rep.Applied.Images++
	}
	return nil
}

// walk lists what the site's layout needs to hold desc whole: desc itself, and for an index its
// manifests, for an image its config and (distributable) layers.
func (p *plan) walk(desc v1.Descriptor, copies *[]blobCopy, missing *[]string) error {
	c, ok := p.source(desc.Digest, desc.Size)
	if !ok {
		*missing = append(*missing, desc.Digest.String())
		return nil
	}
	if c != nil {
		*copies = append(*copies, *c)
	}
	switch {
	case desc.MediaType.IsIndex():
		raw, err := p.read(desc.Digest)
		if err != nil {
			return err
		}
		idx, err := v1.ParseIndexManifest(bytes.NewReader(raw))
		if err != nil {
			return fmt.Errorf("parsing index %s: %w", desc.Digest, err)
		}
		for _, m := range idx.Manifests {
			if err := p.walk(m, copies, missing); err != nil {
				return err
			}
		}
	case desc.MediaType.IsImage():
		raw, err := p.read(desc.Digest)
		if err != nil {
			return err
		}
		m, err := v1.ParseManifest(bytes.NewReader(raw))
		if err != nil {
			return fmt.Errorf("parsing manifest %s: %w", desc.Digest, err)
		}
		for _, l := range append([]v1.Descriptor{m.Config}, m.Layers...) {
			if !l.MediaType.IsDistributable() {
				continue
			}
			if c, ok := p.source(l.Digest, l.Size); !ok {
				*missing = append(*missing, l.Digest.String())
			} else if c != nil {
				*copies = append(*copies, *c)
			}
		}
	}
	return nil
}

// source says where blob d comes from: nil when the site's layout holds it, a copy from the
// delta or the registry's storage, or false when nothing holds it.
func (p *plan) source(d v1.Hash, size int64) (*blobCopy, bool) {
	switch {
	case p.site != nil && p.site.Has(d, size):
		return nil, true
	case p.src.Has(d, size):
		return &blobCopy{digest: d, size: size}, true
	case p.inStorage(d, size):
		return &blobCopy{digest: d, size: size, fromStorage: true}, true
	}
	return nil, false
}

func (p *plan) inStorage(d v1.Hash, size int64) bool {
	if p.storage == nil {
		return false
	}
	fi, err := p.storage.Stat(regstore.BlobPath(d))
	return err == nil && fi.Mode().IsRegular() && (size < 0 || fi.Size() == size)
}

// read returns a manifest's content, verified, from wherever it is.
func (p *plan) read(d v1.Hash) ([]byte, error) {
	for _, s := range []*ocistore.Store{p.src, p.site} {
		if s != nil && s.Has(d, -1) {
			return s.ReadBytes(d)
		}
	}
	if p.storage == nil {
		return nil, fmt.Errorf("manifest %s: %w", d, fs.ErrNotExist)
	}
	b, err := p.storage.ReadFile(regstore.BlobPath(d))
	if err != nil {
		return nil, fmt.Errorf("reading manifest %s from the registry's storage: %w", d, err)
	}
	if sum := sha256.Sum256(b); hex.EncodeToString(sum[:]) != d.Hex {
		return nil, fmt.Errorf("manifest %s in the registry's storage: %w", d, ocistore.ErrCorruptBlob)
	}
	return b, nil
}

// copyBlob copies a planned blob into the site's layout, verified while written.
func (p *plan) copyBlob(b blobCopy) error {
	var r io.ReadCloser
	var err error
	if b.fromStorage {
		r, err = p.storage.Open(regstore.BlobPath(b.digest))
	} else {
		r, err = os.Open(p.src.BlobPath(b.digest))
	}
	if err != nil {
		return fmt.Errorf("reading blob %s: %w", b.digest, err)
	}
	defer r.Close()
	if _, err := p.site.WriteBlob(b.digest, b.size, r); err != nil {
		return fmt.Errorf("adding blob %s to the site's layout: %w", b.digest, err)
	}
	return nil
}

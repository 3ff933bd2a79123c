package delta

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/atomicfile"
	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/fetch"
	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/imagename"
	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/ocistore"
	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/sitestate"
)

// The bundle's folders, as the download role lays them out.
const (
	FilesDir  = "files"
	ImagesDir = "images"
)

// maxNamed is how many missing items an error names.
const maxNamed = 10

// WriteOptions say which bundle, which of its files, and against which site state.
type WriteOptions struct {
	Bundle string       // the bundle folder
	Files  []fetch.Item // the manifest's files, as offline_file_fetch took them
	// Site is the site state the bundle was downloaded against, StateSHA256 its file's sha256
	// (sitestate.Load gives both). Without Site the bundle is a full one: no delta.yaml.
	Site        *sitestate.State
	StateSHA256 string
	Check       bool // compute, write nothing
}

// Written is what Write found and did.
type Written struct {
	Path    string // <bundle>/delta.yaml
	Delta   *Delta // nil for a full bundle
	Changed bool   // delta.yaml was (or, with Check, would be) written or removed
	// Before and After are delta.yaml's content before and after ("" when absent).
	Before, After string
	// Pending names, with Check only, what the bundle lacks and the site does not hold: in a
	// check run the download's earlier tasks have fetched nothing, so this is not an error, and
	// delta.yaml would change.
	Pending []string
	// Redundant counts what the bundle carries although the site holds it: files the download
	// needs online (the image scan's charts and helm), or files and layers an earlier download
	// left in the folder.
	Redundant Redundant
}

// Redundant counts files and layers carried that the site holds.
type Redundant struct {
	Files int   `json:"files"`
	Blobs int   `json:"blobs"`
	Bytes int64 `json:"bytes"`
}

// Write computes delta.yaml from the bundle on disk and the site state, and writes it into the
// bundle (atomically, only when its content changes). A manifest file the bundle lacks is relied
// on when the site serves it (fetch.SiteHolds, the rule offline_file_fetch leaves files out by);
// a layer an image of the bundle's layout lacks, when the site's registry holds it. Anything else
// the bundle lacks is an error naming it: the bundle is incomplete, and no delta.yaml is written.
//
// Carries counts the manifest files in the bundle, the layout's images and the blobs they
// reference that the layout holds (each once), and their bytes; left_out_blobs the layers left
// out (each once), left_out_bytes those and the files relied on (their sizes in the state).
//
// Without opts.Site an old delta.yaml is removed: a full bundle has none.
func Write(opts WriteOptions) (*Written, error) {
	w := &Written{Path: filepath.Join(opts.Bundle, FileName)}
	if opts.Site == nil {
		return w, w.remove(opts.Check)
	}
	d := &Delta{Base: base(opts.Site, opts.StateSHA256),
		ReliesOn: ReliesOn{Files: []File{}, Images: []Image{}}}
	var lacks []string
	if err := w.files(opts, d, &lacks); err != nil {
		return nil, err
	}
	if err := w.images(opts, d, &lacks); err != nil {
		return nil, err
	}
	if len(lacks) > 0 && opts.Check {
		w.Delta, w.Pending, w.Changed = d, lacks, true
		return w, nil
	}
	if len(lacks) > 0 {
		named := lacks
		if len(named) > maxNamed {
			named = append(named[:maxNamed:maxNamed], fmt.Sprintf("and %d more", len(lacks)-maxNamed))
		}
		return nil, fmt.Errorf("the bundle %s is incomplete, and the site state does not hold what it lacks: %s", opts.Bundle, strings.Join(named, "; "))
	}
	w.Delta = d
	b, err := d.Marshal()
	if err != nil {
		return nil, fmt.Errorf("encoding %s: %w", w.Path, err)
	}
	old, err := os.ReadFile(w.Path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("reading %s: %w", w.Path, err)
	}
	w.Before, w.After = string(old), string(b)
	if err == nil && bytes.Equal(old, b) {
		return w, nil
	}
	w.Changed = true
	if opts.Check {
		return w, nil
	}
	return w, atomicfile.Write(w.Path, b, 0o644)
}

func (w *Written) remove(check bool) error {
	old, err := os.ReadFile(w.Path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	} else if err != nil {
		return fmt.Errorf("reading %s: %w", w.Path, err)
	}
	w.Changed, w.Before = true, string(old)
	if check {
		return nil
	}
	if err := os.Remove(w.Path); err != nil {
		return fmt.Errorf("removing %s (a full bundle has none): %w", w.Path, err)
	}
	return nil
}

func base(s *sitestate.State, sha string) Base {
	b := Base{StateSHA256: sha, Created: s.Created, Site: s.Site}
	for _, v := range s.Views {
		b.Views = append(b.Views, v.Name)
	}
	return b
}

// files sorts the manifest's files into carried (in the bundle) and relied on (the site serves them).
func (w *Written) files(opts WriteOptions, d *Delta, lacks *[]string) error {
	sizes := map[string]int64{}
	for _, f := range opts.Site.Files {
		sizes[f.Path] = f.Size
	}
	seen := map[string]bool{}
	for _, it := range opts.Files {
		rel, err := fetch.ItemPath(it)
		if err != nil {
			return err
		}
		if seen[rel] {
			continue
		}
		seen[rel] = true
		_, sha, held := fetch.SiteHolds(opts.Site, it)
		fi, err := os.Lstat(filepath.Join(opts.Bundle, FilesDir, filepath.FromSlash(rel)))
		switch {
		case err == nil && fi.Mode().IsRegular():
			d.Carries.Files++
			d.Carries.Bytes += fi.Size()
			if held {
				w.Redundant.Files++
				w.Redundant.Bytes += fi.Size()
			}
		case err != nil && !errors.Is(err, fs.ErrNotExist):
			return fmt.Errorf("reading the bundle's %s: %w", rel, err)
		case err == nil:
			*lacks = append(*lacks, fmt.Sprintf("%s/%s is not a regular file", FilesDir, rel))
		case held:
			d.ReliesOn.Files = append(d.ReliesOn.Files, File{Path: rel, SHA256: sha})
			d.Carries.LeftOutBytes += sizes[rel]
		default:
			*lacks = append(*lacks, fmt.Sprintf("file %s (%s)", rel, it.URL))
		}
	}
	sort.Slice(d.ReliesOn.Files, func(i, j int) bool { return d.ReliesOn.Files[i].Path < d.ReliesOn.Files[j].Path })
	return nil
}

// images goes through the layout's images: blobs held are carried, layers missing relied on.
func (w *Written) images(opts WriteOptions, d *Delta, lacks *[]string) error {
	dir := filepath.Join(opts.Bundle, ImagesDir)
	if _, err := os.Stat(filepath.Join(dir, "oci-layout")); errors.Is(err, fs.ErrNotExist) {
		return nil // a bundle without images
	}
	store, err := ocistore.Open(dir, false)
	if err != nil {
		return err
	}
	entries, err := store.Entries()
	if err != nil {
		return err
	}
	carried, left := map[v1.Hash]bool{}, map[v1.Hash]bool{}
	for _, e := range entries {
		c, err := store.Contents(e.Descriptor)
		if err != nil {
			*lacks = append(*lacks, fmt.Sprintf("image %s: %v", e.Ref, err))
			continue
		}
		d.Carries.Images++
		layers := map[v1.Hash]bool{}
		for _, l := range c.Layers {
			layers[l.Digest] = true
		}
		missing := map[v1.Hash]bool{}
		var relied []string
		for _, m := range store.Missing(c) {
			missing[m.Digest] = true
			switch {
			case layers[m.Digest] && opts.Site.HasBlob(m.Digest.String()):
				relied = append(relied, m.Digest.String())
				if !left[m.Digest] {
					left[m.Digest] = true
					d.Carries.LeftOut++
					d.Carries.LeftOutBytes += m.Size
				}
			default:
				*lacks = append(*lacks, fmt.Sprintf("image %s: blob %s", e.Ref, m.Digest))
			}
		}
		for _, group := range [][]v1.Descriptor{c.Manifests, c.Configs, c.Layers} {
			for _, b := range group {
				if missing[b.Digest] || carried[b.Digest] {
					continue
				}
				carried[b.Digest] = true
				d.Carries.Blobs++
				d.Carries.Bytes += b.Size
				if layers[b.Digest] && opts.Site.HasBlob(b.Digest.String()) {
					w.Redundant.Blobs++
					w.Redundant.Bytes += b.Size
				}
			}
		}
		if len(relied) > 0 {
			sort.Strings(relied)
			d.ReliesOn.Images = append(d.ReliesOn.Images, Image{Reference: SiteReference(opts.Site, e.Ref),
				Digest: e.Descriptor.Digest.String(), Blobs: relied})
		}
	}
	sort.Slice(d.ReliesOn.Images, func(i, j int) bool { return d.ReliesOn.Images[i].Reference < d.ReliesOn.Images[j].Reference })
	return nil
}

// SiteReference is the name a bundle image (source, its reference in the layout) has in the
// site's registry, <repository>:<tag>: the site state's own name for it when the site holds an
// image from that source, else where the mirror role puts it (offline_image_push's default
// mapping, strip, without a namespace).
func SiteReference(s *sitestate.State, source string) string {
	n, err := imagename.Normalize(source)
	if err != nil {
		return source
	}
	for _, i := range s.Images {
		if i.Source == "" {
			continue
		}
		if src, err := imagename.Normalize(i.Source); err == nil && src == n {
			return i.Reference
		}
	}
	repo, err := imagename.Mapping{}.Repository(n)
	if err != nil {
		return source
	}
	_, tag, digest := imagename.Split(n)
	if tag != "" {
		repo += ":" + tag
	}
	if digest != "" {
		repo += "@" + digest
	}
	return repo
}

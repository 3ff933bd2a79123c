package sitestate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"gopkg.in/yaml.v3"

	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/bundlesums"
	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/imagename"
	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/ocistore"
	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/pool"
	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/regstore"
)

// ExportOptions says which site to describe.
type ExportOptions struct {
	Bundle      string // the site's bundle folder: files/ (served), images/ (the layout), manifest.yaml (views)
	StorageDir  string // the registry's filesystem storage ("" when the registry is remote: images come from the bundle's layout)
	Site        string // a name for the site (optional)
	Concurrency int
	// CollectionVersion is the collection's version, used when manifest.yaml names none.
	CollectionVersion string
	// Check: read only. Otherwise a file whose digest had to be read gets its digest record
	// (modules/internal/verified, an extended attribute), so that the next export reads nothing.
	Check bool
	// Now gives Created (tests); nil: time.Now.
	Now func() time.Time
}

// Export describes what the site holds now. It writes no file: the served files' digests come
// from their digest records (read, and recorded, when a record is missing or stale, as the
// bundle's SHA256SUMS does), the images and blobs from the registry's storage as the registry
// itself lays it out (regstore), or, when StorageDir is "" (a remote registry, which this
// node cannot look into), from the bundle's OCI layout: its images under the names the mirror
// pushed them to (imagename's default mapping) and its blobs.
func Export(ctx context.Context, opts ExportOptions) (*State, error) {
	bundle := filepath.Clean(opts.Bundle)
	if fi, err := os.Stat(bundle); err != nil {
		return nil, fmt.Errorf("bundle folder %s: %w", bundle, err)
	} else if !fi.IsDir() {
		return nil, fmt.Errorf("bundle folder %s is not a folder", bundle)
	}
	now := time.Now
	if opts.Now != nil {
		now = opts.Now
	}
	s := &State{
		Schema:            Schema,
		Created:           now().UTC().Format(time.RFC3339),
		Site:              opts.Site,
		CollectionVersion: opts.CollectionVersion,
		Files:             []File{},
		Images:            []Image{},
		Blobs:             []string{},
	}
	if err := s.readManifest(filepath.Join(bundle, "manifest.yaml")); err != nil {
		return nil, err
	}
	files := filepath.Join(bundle, "files")
	if err := s.readFiles(ctx, files, opts); err != nil {
		return nil, err
	}
	if err := s.readPackages(files); err != nil {
		return nil, err
	}
	sources, err := layoutSources(filepath.Join(bundle, "images"))
	if err != nil {
		return nil, err
	}
	if opts.StorageDir != "" {
		err = s.readStorage(ctx, opts.StorageDir, sources, opts.Concurrency)
	} else {
		err = s.readLayout(filepath.Join(bundle, "images"), sources)
	}
	if err != nil {
		return nil, err
	}
	if _, err := s.Marshal(); err != nil { // sorts the lists
		return nil, err
	}
	s.index()
	return s, nil
}

// readManifest takes the views and the collection version from the bundle's manifest.yaml: its
// `views` when it lists them, else one view of its kubespray_version and kube_version.
func (s *State) readManifest(p string) error {
	b, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading %s: %w", p, err)
	}
	var m struct {
		KubesprayVersion  string `yaml:"kubespray_version"`
		KubeVersion       string `yaml:"kube_version"`
		CollectionVersion string `yaml:"collection_version"`
		Views             []View `yaml:"views"`
	}
	if err := yaml.Unmarshal(b, &m); err != nil {
		return fmt.Errorf("reading %s: %w", p, err)
	}
	if m.CollectionVersion != "" {
		s.CollectionVersion = m.CollectionVersion
	}
	s.Views = m.Views
	if len(s.Views) == 0 && (m.KubesprayVersion != "" || m.KubeVersion != "") {
		s.Views = []View{{Name: ViewName(m.KubesprayVersion, m.KubeVersion),
			KubesprayVersion: m.KubesprayVersion, KubeVersion: m.KubeVersion}}
	}
	for i, v := range s.Views {
		if v.Name == "" {
			s.Views[i].Name = ViewName(v.KubesprayVersion, v.KubeVersion)
		}
	}
	return nil
}

// ViewName is the name of a view a manifest does not name: Kubespray's version when known,
// else "kube-<kube_version>".
func ViewName(kubesprayVersion, kubeVersion string) string {
	if kubesprayVersion != "" {
		return kubesprayVersion
	}
	return "kube-" + kubeVersion
}

// readFiles lists every regular file under files/ (bundlesums' walk: dot files and dot folders
// left out, a symbolic link never followed) with its digest.
func (s *State) readFiles(ctx context.Context, dir string, opts ExportOptions) error {
	if _, err := os.Lstat(dir); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	sums, _, err := bundlesums.Files(ctx, bundlesums.Options{Dir: dir, Concurrency: opts.Concurrency, Check: opts.Check})
	if err != nil {
		return err
	}
	for _, f := range sums {
		s.Files = append(s.Files, File{Path: filepath.ToSlash(f.Path), SHA256: f.SHA256, Size: f.Size})
	}
	return nil
}

// layoutSources maps each manifest digest of the bundle's layout to the references it was
// pulled as (none when the bundle has no layout).
func layoutSources(dir string) (map[string][]string, error) {
	out := map[string][]string{}
	if _, err := os.Stat(filepath.Join(dir, "oci-layout")); errors.Is(err, fs.ErrNotExist) {
		return out, nil
	}
	store, err := ocistore.Open(dir, false)
	if err != nil {
		return nil, err
	}
	entries, err := store.Entries()
	if err != nil {
		return nil, err
	}
	for _, e := range entries {
		if e.Ref != "" {
			d := e.Descriptor.Digest.String()
			out[d] = append(out[d], e.Ref)
		}
	}
	return out, nil
}

// source picks, of the layout references with the tag's digest, the one the mirror pushes to
// reference (imagename's default mapping), else the first.
func source(reference string, refs []string) string {
	for _, r := range refs {
		if t, err := (imagename.Mapping{}).Target("", r); err == nil && strings.TrimPrefix(t, "/") == reference {
			return r
		}
	}
	if len(refs) > 0 {
		return refs[0]
	}
	return ""
}

// readStorage lists every tag and blob of the registry's filesystem storage.
func (s *State) readStorage(ctx context.Context, dir string, sources map[string][]string, concurrency int) error {
	st, err := regstore.Open(dir, false)
	if err != nil {
		return err
	}
	defer st.Close()
	base := filepath.Join(dir, filepath.FromSlash(regstore.RepoPath("")))
	type tag struct{ repo, tag string }
	var tags []tag
	var repos func(rel string) error
	repos = func(rel string) error {
		des, err := readDir(filepath.Join(base, rel))
		if err != nil {
			return err
		}
		for _, de := range des {
			if !de.IsDir() {
				continue
			}
			name := de.Name()
			switch {
			case name == "_manifests":
				tds, err := readDir(filepath.Join(base, rel, name, "tags"))
				if err != nil {
					return err
				}
				for _, td := range tds {
					if td.IsDir() {
						tags = append(tags, tag{repo: filepath.ToSlash(rel), tag: td.Name()})
					}
				}
			case strings.HasPrefix(name, "_"): // _layers, _uploads
			default:
				if err := repos(path.Join(rel, name)); err != nil {
					return err
				}
			}
		}
		return nil
	}
	if err := repos(""); err != nil {
		return err
	}
	images := make([]*Image, len(tags))
	errs := make([]error, len(tags))
	pool.Each(len(tags), concurrency, func(i int) {
		if errs[i] = ctx.Err(); errs[i] != nil {
			return
		}
		t := tags[i]
		ref := t.repo + ":" + t.tag
		d, raw, ok, err := st.Tag(t.repo, t.tag)
		switch {
		case err != nil:
			errs[i] = fmt.Errorf("image %s in %s: %w", ref, dir, err)
			return
		case !ok: // a tag folder without a current link: the registry serves no such tag
			return
		}
		img := &Image{Reference: ref, Digest: d.String(), Source: source(ref, sources[d.String()])}
		if img.Platforms, err = platforms(raw, st.ReadBlob); err != nil {
			errs[i] = fmt.Errorf("image %s in %s: %w", ref, dir, err)
			return
		}
		images[i] = img
	})
	if err := errors.Join(errs...); err != nil {
		return err
	}
	for _, img := range images {
		if img != nil {
			s.Images = append(s.Images, *img)
		}
	}

	// blobs/sha256 (regstore's BlobPath: blobs/sha256/<first 2 hex>/<hex>/data)
	blobs := filepath.Join(dir, filepath.FromSlash(path.Dir(path.Dir(path.Dir(regstore.BlobPath(v1.Hash{Algorithm: "sha256", Hex: "00"}))))))
	prefixes, err := readDir(blobs)
	if err != nil {
		return err
	}
	for _, p := range prefixes {
		if !p.IsDir() {
			continue
		}
		hexes, err := readDir(filepath.Join(blobs, p.Name()))
		if err != nil {
			return err
		}
		for _, h := range hexes {
			d := v1.Hash{Algorithm: "sha256", Hex: h.Name()}
			if h.IsDir() && isHex(h.Name()) && st.HasBlob(d, -1) {
				s.Blobs = append(s.Blobs, d.String())
			}
		}
	}
	return nil
}

// isHex says whether name is a sha256 digest's hex.
func isHex(name string) bool {
	if len(name) != 64 {
		return false
	}
	for _, c := range name {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// readDir lists a folder, none when it does not exist. (os.ReadDir's entries are lstat's:
// a symbolic link is never a folder.)
func readDir(dir string) ([]os.DirEntry, error) {
	des, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading folder %s: %w", dir, err)
	}
	return des, nil
}

// readLayout lists the layout's images, by the names the mirror pushed them to, and its blobs.
func (s *State) readLayout(dir string, sources map[string][]string) error {
	if len(sources) == 0 {
		return nil
	}
	store, err := ocistore.Open(dir, false)
	if err != nil {
		return err
	}
	entries, err := store.Entries()
	if err != nil {
		return err
	}
	for _, e := range entries {
		if e.Ref == "" {
			continue
		}
		t, err := (imagename.Mapping{}).Target("", e.Ref)
		if err != nil {
			return fmt.Errorf("image %s in %s: %w", e.Ref, dir, err)
		}
		img := Image{Reference: strings.TrimPrefix(t, "/"), Source: e.Ref, Digest: e.Descriptor.Digest.String()}
		raw, err := store.ReadBytes(e.Descriptor.Digest)
		if err == nil {
			img.Platforms, err = platforms(raw, store.ReadBytes)
		}
		if err != nil {
			return fmt.Errorf("image %s in %s: %w", e.Ref, dir, err)
		}
		s.Images = append(s.Images, img)
	}
	des, err := readDir(filepath.Join(dir, "blobs", "sha256"))
	if err != nil {
		return err
	}
	for _, de := range des {
		if de.Type().IsRegular() && isHex(de.Name()) { // not a .partial- file of a pull in progress
			s.Blobs = append(s.Blobs, "sha256:"+de.Name())
		}
	}
	return nil
}

// platforms are what a manifest serves: an index's children's platforms (an attestation's
// unknown/unknown left out; a child without one read from its config), an image's config's
// os/arch[/variant].
func platforms(raw []byte, read func(v1.Hash) ([]byte, error)) ([]string, error) {
	var m struct {
		Manifests []v1.Descriptor `json:"manifests"`
		Config    *v1.Descriptor  `json:"config"`
	}
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("reading its manifest: %w", err)
	}
	if m.Manifests == nil {
		if m.Config == nil {
			return nil, nil
		}
		b, err := read(m.Config.Digest)
		if err != nil {
			return nil, err
		}
		cf, err := v1.ParseConfigFile(strings.NewReader(string(b)))
		if err != nil {
			return nil, fmt.Errorf("reading its config %s: %w", m.Config.Digest, err)
		}
		if cf.OS == "" || cf.Architecture == "" {
			return nil, nil
		}
		return []string{cf.Platform().String()}, nil
	}
	seen := map[string]bool{}
	var out []string
	for _, d := range m.Manifests {
		var ps []string
		if d.Platform != nil {
			ps = []string{d.Platform.String()}
		} else {
			b, err := read(d.Digest)
			if err != nil {
				return nil, err
			}
			if ps, err = platforms(b, read); err != nil {
				return nil, err
			}
		}
		for _, p := range ps {
			if !seen[p] && p != "unknown/unknown" {
				seen[p] = true
				out = append(out, p)
			}
		}
	}
	sort.Strings(out)
	return out, nil
}

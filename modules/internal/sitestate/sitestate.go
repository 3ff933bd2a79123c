// Package sitestate is the schema of the site state file: what an offline mirror holds (the files
// it serves, the images and blobs its registry holds, the OS repositories' packages, the Kubespray
// views and collection version it was built from). The offline admin node writes it
// (offline_site_state); it is carried online, where the download of a delta bundle reads it to
// leave out what the site already holds, and the offline mirror reads it back to check a delta's
// base. This package is the one definition of the file; Export (export.go) fills it from a site.
package sitestate

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

// Schema names the file format; Load refuses any other.
const Schema = "airgap.kubespray/site-state/v1"

// FileName is the state file's default name; its checksum goes beside it in FileName + ".sha256"
// (the `sha256sum` format).
const FileName = "airgap-site-state.yaml"

// State is what a site holds.
type State struct {
	Schema            string    `yaml:"schema" json:"schema"`
	Created           string    `yaml:"created" json:"created"` // RFC 3339, UTC
	Site              string    `yaml:"site,omitempty" json:"site,omitempty"`
	CollectionVersion string    `yaml:"collection_version,omitempty" json:"collection_version,omitempty"`
	Views             []View    `yaml:"views,omitempty" json:"views,omitempty"`
	Files             []File    `yaml:"files" json:"files"`
	Images            []Image   `yaml:"images" json:"images"`
	Blobs             []string  `yaml:"blobs" json:"blobs"` // "sha256:<hex>", sorted
	Packages          []Package `yaml:"packages,omitempty" json:"packages,omitempty"`

	files map[string]string   // path -> sha256 (built by index)
	blobs map[string]struct{} // digest set
	refs  map[string]Image    // reference -> image
}

// View is one Kubespray release (checkout, inventory, kube_version) the site's manifest was made for.
type View struct {
	Name             string `yaml:"name" json:"name"`
	KubesprayVersion string `yaml:"kubespray_version,omitempty" json:"kubespray_version,omitempty"`
	KubeVersion      string `yaml:"kube_version,omitempty" json:"kube_version,omitempty"`
}

// File is a file the mirror serves, by its path under the files root (the manifest's `path`, the
// one URL -> path rule of modules/internal/fetch).
type File struct {
	Path   string `yaml:"path" json:"path"`
	SHA256 string `yaml:"sha256" json:"sha256"` // hex, no prefix
	Size   int64  `yaml:"size" json:"size"`
}

// Image is a tag the site's registry serves: the reference in the site's registry
// (<repository>:<tag>, no host), the manifest digest the tag points at and the platforms it serves.
type Image struct {
	Reference string `yaml:"reference" json:"reference"`
	// Source is the image's reference in the bundle it came from (the layout's annotation), when known.
	Source    string   `yaml:"source,omitempty" json:"source,omitempty"`
	Digest    string   `yaml:"digest" json:"digest"`
	Platforms []string `yaml:"platforms,omitempty" json:"platforms,omitempty"`
}

// Package is a package in one of the site's OS repositories (debs/<target>, rpms/<target>).
type Package struct {
	Repo    string `yaml:"repo" json:"repo"` // the repository folder under files/, e.g. debs/debian-12
	Name    string `yaml:"name" json:"name"`
	Version string `yaml:"version" json:"version"`
	Arch    string `yaml:"arch,omitempty" json:"arch,omitempty"`
	SHA256  string `yaml:"sha256" json:"sha256"`
	Path    string `yaml:"path" json:"path"` // under the files root
}

// Marshal gives the file's bytes: lists sorted, so that two exports of one site are equal.
func (s *State) Marshal() ([]byte, error) {
	s.Schema = Schema
	sort.Slice(s.Files, func(i, j int) bool { return s.Files[i].Path < s.Files[j].Path })
	sort.Slice(s.Images, func(i, j int) bool { return s.Images[i].Reference < s.Images[j].Reference })
	sort.Strings(s.Blobs)
	sort.Slice(s.Packages, func(i, j int) bool {
		a, b := s.Packages[i], s.Packages[j]
		if a.Repo != b.Repo {
			return a.Repo < b.Repo
		}
		return a.Path < b.Path
	})
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(s); err != nil {
		return nil, err
	}
	return buf.Bytes(), enc.Close()
}

// Digest is the sha256 (hex) of the file's bytes, as its .sha256 file and a delta's base name it.
func Digest(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// Load reads a state file and, when FileName+".sha256" lies beside it, checks it. It returns the
// state and the file's digest (what a delta's base names).
func Load(path string) (*State, string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, "", fmt.Errorf("site state %s: %w", path, err)
	}
	digest := Digest(b)
	if sum, err := os.ReadFile(path + ".sha256"); err == nil {
		fields := strings.Fields(string(sum))
		if len(fields) == 0 || fields[0] != digest {
			return nil, "", fmt.Errorf("site state %s: its sha256 is %s, but %s.sha256 says %q: the file was changed or damaged on the way", path, digest, path, strings.Join(fields, " "))
		}
	} else if !os.IsNotExist(err) {
		return nil, "", fmt.Errorf("site state %s: %w", path, err)
	}
	var s State
	if err := yaml.Unmarshal(b, &s); err != nil {
		return nil, "", fmt.Errorf("site state %s: %w", path, err)
	}
	if s.Schema != Schema {
		return nil, "", fmt.Errorf("site state %s: schema %q, want %q", path, s.Schema, Schema)
	}
	s.index()
	return &s, digest, nil
}

func (s *State) index() {
	s.files = make(map[string]string, len(s.Files))
	for _, f := range s.Files {
		s.files[f.Path] = f.SHA256
	}
	s.blobs = make(map[string]struct{}, len(s.Blobs))
	for _, b := range s.Blobs {
		s.blobs[b] = struct{}{}
	}
	s.refs = make(map[string]Image, len(s.Images))
	for _, i := range s.Images {
		s.refs[i.Reference] = i
	}
}

// HasFile says whether the site serves path with this sha256 (hex).
func (s *State) HasFile(path, sha256hex string) bool {
	if s.files == nil {
		s.index()
	}
	got, ok := s.files[path]
	return ok && strings.EqualFold(got, sha256hex)
}

// HasBlob says whether the site's registry holds the blob ("sha256:<hex>").
func (s *State) HasBlob(digest string) bool {
	if s.blobs == nil {
		s.index()
	}
	_, ok := s.blobs[digest]
	return ok
}

// Image gives the image the site serves under reference (<repository>:<tag>, no host).
func (s *State) Image(reference string) (Image, bool) {
	if s.refs == nil {
		s.index()
	}
	i, ok := s.refs[reference]
	return i, ok
}

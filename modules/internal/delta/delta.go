// Package delta is the schema of delta.yaml, the file at the top of a delta bundle: the site state
// it was made against (its base), what it carries and what it relies on the site already holding.
// The download writes it (a delta is a bundle downloaded with a site state); the offline mirror
// reads it, checks that the site still holds everything it relies on (Check, naming each item
// that differs) and only then applies it.
package delta

import (
	"bytes"
	"fmt"
	"os"

	"gopkg.in/yaml.v3"
)

// Schema names the file format.
const Schema = "airgap.kubespray/delta/v1"

// FileName is the file at the top of a delta bundle.
const FileName = "delta.yaml"

// Delta is delta.yaml.
type Delta struct {
	Schema string `yaml:"schema" json:"schema"`
	// Base is the site state the delta was made against.
	Base Base `yaml:"base" json:"base"`
	// ReliesOn is what the delta leaves out because the base held it.
	ReliesOn ReliesOn `yaml:"relies_on" json:"relies_on"`
	// Carries sums up what the delta bundle holds.
	Carries Carries `yaml:"carries" json:"carries"`
}

// Base names the site state: its file's sha256, when it was written, and the site's views.
type Base struct {
	StateSHA256 string   `yaml:"state_sha256" json:"state_sha256"`
	Created     string   `yaml:"created" json:"created"`
	Site        string   `yaml:"site,omitempty" json:"site,omitempty"`
	Views       []string `yaml:"views,omitempty" json:"views,omitempty"`
}

// ReliesOn lists what the site must still hold for the delta to apply.
type ReliesOn struct {
	Files []File `yaml:"files" json:"files"`
	// Images whose blobs (all or some) the delta left out, each with those blobs: the image is
	// what a refusal names.
	Images []Image `yaml:"images" json:"images"`
}

// File is a manifest file the site serves (path under files/, sha256 hex).
type File struct {
	Path   string `yaml:"path" json:"path"`
	SHA256 string `yaml:"sha256" json:"sha256"`
}

// Image is a bundle image (its reference in the site's registry, <repository>:<tag>) whose
// blobs the delta leaves out.
type Image struct {
	Reference string   `yaml:"reference" json:"reference"`
	Digest    string   `yaml:"digest" json:"digest"`
	Blobs     []string `yaml:"blobs" json:"blobs"`
}

// Carries counts what the delta holds.
type Carries struct {
	Files        int   `yaml:"files" json:"files"`
	Images       int   `yaml:"images" json:"images"`
	Blobs        int   `yaml:"blobs" json:"blobs"`
	Bytes        int64 `yaml:"bytes" json:"bytes"`
	LeftOut      int   `yaml:"left_out_blobs" json:"left_out_blobs"`
	LeftOutBytes int64 `yaml:"left_out_bytes" json:"left_out_bytes"`
}

// Marshal gives delta.yaml's bytes.
func (d *Delta) Marshal() ([]byte, error) {
	d.Schema = Schema
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(d); err != nil {
		return nil, err
	}
	return buf.Bytes(), enc.Close()
}

// Load reads a delta.yaml.
func Load(path string) (*Delta, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("delta %s: %w", path, err)
	}
	var d Delta
	if err := yaml.Unmarshal(b, &d); err != nil {
		return nil, fmt.Errorf("delta %s: %w", path, err)
	}
	if d.Schema != Schema {
		return nil, fmt.Errorf("delta %s: schema %q, want %q", path, d.Schema, Schema)
	}
	return &d, nil
}

package bundleapply

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"
	"gopkg.in/yaml.v3"

	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/delta"
)

// AppliedSchema names the format of <bundle>/.airgap/applied.yaml.
const AppliedSchema = "airgap.kubespray/applied/v1"

// Applied is <bundle>/.airgap/applied.yaml: the deltas applied on the site's bundle, oldest first.
type Applied struct {
	Schema string        `yaml:"schema"`
	Deltas []AppliedItem `yaml:"deltas"`
}

// AppliedItem is one delta applied.
type AppliedItem struct {
	Delta       string   `yaml:"delta_sha256"`      // delta.yaml's sha256: the delta's name
	Base        string   `yaml:"base_state_sha256"` // the site state it was made against
	BaseCreated string   `yaml:"base_created,omitempty"`
	Views       []string `yaml:"views,omitempty"` // the site's views at its base
	Src         string   `yaml:"src"`             // where it was applied from
	Applied     string   `yaml:"applied"`         // RFC 3339, UTC
	Files       int      `yaml:"files"`
	Blobs       int      `yaml:"blobs"`
	Images      int      `yaml:"images"`
	Manifest    string   `yaml:"manifest,omitempty"` // the delta's manifest, kept (relative to the bundle)
}

// ReadApplied reads <bundle>/.airgap/applied.yaml (none: no delta applied yet).
func ReadApplied(bundle string) (*Applied, error) {
	b, err := readIn(bundle, AppliedFile)
	if errors.Is(err, fs.ErrNotExist) {
		return &Applied{Schema: AppliedSchema}, nil
	}
	if err != nil {
		return nil, err
	}
	var a Applied
	if err := yaml.Unmarshal(b, &a); err != nil {
		return nil, fmt.Errorf("parsing %s: %w", filepath.Join(bundle, AppliedFile), err)
	}
	if a.Schema != AppliedSchema {
		return nil, fmt.Errorf("%s: schema %q, want %q", filepath.Join(bundle, AppliedFile), a.Schema, AppliedSchema)
	}
	return &a, nil
}

// bookkeeping plans the files of <bundle>/.airgap/: the delta's delta.yaml, manifest.yaml and
// SHA256SUMS (with its signature and key) kept in deltas/<delta sha256>/, and the delta's record in applied.yaml (once).
func (p *plan) bookkeeping(d *delta.Delta, raw []byte) error {
	dir := path.Join(DeltasDir, p.rep.Delta)
	p.keepIfChanged(path.Join(dir, delta.FileName), raw)
	manifest, err := os.ReadFile(filepath.Join(p.opts.Src, "manifest.yaml"))
	switch {
	case err == nil:
		rel := path.Join(dir, "manifest.yaml")
		p.keepIfChanged(rel, manifest)
		p.rep.Manifest = filepath.Join(p.opts.Bundle, filepath.FromSlash(rel))
	case !errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("reading the delta's manifest: %w", err)
	}
	// The delta's sums and signature, when it has them: what it was checked against.
	for _, name := range []string{"SHA256SUMS", "SHA256SUMS.asc", "SHA256SUMS.key"} {
		b, err := os.ReadFile(filepath.Join(p.opts.Src, name))
		if err == nil {
			p.keepIfChanged(path.Join(dir, name), b)
		} else if !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("reading the delta's %s: %w", name, err)
		}
	}
	applied, err := ReadApplied(p.opts.Bundle)
	if err != nil {
		return err
	}
	for _, a := range applied.Deltas {
		if a.Delta == p.rep.Delta {
			return nil
		}
	}
	item := AppliedItem{Delta: p.rep.Delta, Base: d.Base.StateSHA256, BaseCreated: d.Base.Created, Views: d.Base.Views,
		Src: p.opts.Src, Applied: time.Now().UTC().Format(time.RFC3339), Files: p.rep.Applied.Files,
		Blobs: p.rep.Applied.Blobs, Images: p.rep.Applied.Images}
	if p.rep.Manifest != "" {
		item.Manifest = path.Join(dir, "manifest.yaml")
	}
	applied.Deltas = append(applied.Deltas, item)
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(applied); err != nil {
		return err
	}
	if err := enc.Close(); err != nil {
		return err
	}
	p.keep = append(p.keep, keptFile{rel: AppliedFile, body: buf.Bytes()})
	return nil
}

func (p *plan) keepIfChanged(rel string, body []byte) {
	if cur, err := readIn(p.opts.Bundle, rel); err == nil && bytes.Equal(cur, body) {
		return
	}
	p.keep = append(p.keep, keptFile{rel: rel, body: body})
}

// readIn reads rel under dir, never through a symbolic link leading out of it.
func readIn(dir, rel string) ([]byte, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, err
	}
	defer root.Close()
	return root.ReadFile(rel)
}

// writeKept writes the bookkeeping files, each to a temporary name renamed into place, through
// an os.Root on the bundle (a .airgap that is a symbolic link out of it is refused).
func (p *plan) writeKept() error {
	if len(p.keep) == 0 {
		return nil
	}
	root, err := os.OpenRoot(p.opts.Bundle)
	if err != nil {
		return err
	}
	defer root.Close()
	for _, k := range p.keep {
		if err := writeIn(root, k.rel, k.body); err != nil {
			return fmt.Errorf("writing %s: %w", filepath.Join(p.opts.Bundle, k.rel), err)
		}
	}
	return nil
}

func writeIn(root *os.Root, rel string, body []byte) error {
	if err := root.MkdirAll(path.Dir(rel), 0o755); err != nil {
		return err
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	tmp := path.Join(path.Dir(rel), ".tmp-"+hex.EncodeToString(b[:]))
	f, err := root.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	_, err = f.Write(body)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = root.Rename(tmp, rel)
	}
	if err != nil {
		_ = root.Remove(tmp)
	}
	return err
}

// freeBytes is the room this process has on dir's filesystem (dir or its nearest existing parent).
func freeBytes(dir string) (int64, error) {
	for {
		if _, err := os.Stat(dir); err == nil || filepath.Dir(dir) == dir {
			break
		}
		dir = filepath.Dir(dir)
	}
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return 0, fmt.Errorf("reading the free space of %s: %w", dir, err)
	}
	unit := st.Frsize
	if unit <= 0 {
		unit = st.Bsize
	}
	return int64(st.Bavail) * unit, nil
}

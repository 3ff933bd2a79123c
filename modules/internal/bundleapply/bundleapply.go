// Package bundleapply applies a delta bundle (a bundle downloaded against a site state, with a
// delta.yaml at its top) on top of the bundle an offline site's mirror serves: the delta's
// files into the site's files/, its image blobs and index entries into the site's OCI layout,
// its manifest kept under the site's .airgap/ folder, and a record of what was applied.
//
// Nothing is written before everything was checked: that the site still holds what the delta
// relies on (delta.Check against the site's state now, sitestate.Export), that every image the
// delta brings can be made whole from the delta, the site's layout or the registry's storage,
// and that the disk has room for what is copied. A delta applied before is applied again with
// no write (changed false). Every file appears by rename; nothing is written through a
// symbolic link found in the site's bundle.
package bundleapply

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/bundleimport"
	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/delta"
	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/ocistore"
	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/pool"
	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/progress"
	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/sitestate"
)

// Options says which delta goes on which site. Zero values are documented defaults.
type Options struct {
	Src         string // the delta bundle: delta.yaml, files/, images/, manifest.yaml
	Bundle      string // the site's bundle
	StorageDir  string // the registry's filesystem storage ("": a remote registry)
	Concurrency int    // files and blobs at once; if <= 0, 4
	Check       bool   // check and plan, write nothing
	// State is what the site holds; nil: sitestate.Export of Bundle and StorageDir, now.
	State *sitestate.State
}

// Counts is what an apply wrote (or, in check mode, would write).
type Counts struct {
	Files       int   `json:"files"`        // files placed in the site's files/
	Blobs       int   `json:"blobs"`        // blobs added to the site's layout
	FromStorage int   `json:"from_storage"` // of those, blobs the delta left out, taken from the registry's storage
	Images      int   `json:"images"`       // index entries added or changed in the site's layout
	Bytes       int64 `json:"bytes"`        // bytes copied
}

// Report is what an apply found and did.
type Report struct {
	Delta      string           // delta.yaml's sha256 (hex): the delta's name
	Base       string           // the site state's sha256 the delta was made against
	Applied    Counts           // written now (in check mode: would be)
	Mismatches []delta.Mismatch // what the site no longer holds as the delta's base had it
	Manifest   string           // where the delta's manifest.yaml is kept ("" when it has none)
	Changed    bool
	Lines      []string // one line per fact
}

// Errors an apply stops on, matched with errors.Is.
var (
	// ErrNotADelta: the folder has no delta.yaml.
	ErrNotADelta = errors.New("not a delta bundle")
	// ErrRefused: the site does not hold what the delta relies on, or the delta is incomplete;
	// the report's Mismatches name each item. Nothing was written.
	ErrRefused = errors.New("delta refused")
	// ErrNoSpace: the site's bundle lacks the room for what the apply copies. Nothing was written.
	ErrNoSpace = errors.New("not enough free space")
)

// Folders and files of the site's bookkeeping, under <bundle>/.airgap/ (a dot folder: never in
// SHA256SUMS).
const (
	StateDir    = ".airgap"
	DeltasDir   = StateDir + "/deltas"
	AppliedFile = StateDir + "/applied.yaml"
)

// spaceMargin is kept free beyond the bytes copied (folders, index.json, bookkeeping).
const spaceMargin = 16 << 20

// Apply applies the delta opts.Src on the site's bundle opts.Bundle.
func Apply(ctx context.Context, opts Options) (*Report, error) {
	if opts.Concurrency <= 0 {
		opts.Concurrency = 4
	}
	raw, err := os.ReadFile(filepath.Join(opts.Src, delta.FileName))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s has no %s (a full bundle is given as the bundle itself, not applied on one)", ErrNotADelta, opts.Src, delta.FileName)
	}
	if err != nil {
		return nil, fmt.Errorf("reading the delta: %w", err)
	}
	d, err := delta.Load(filepath.Join(opts.Src, delta.FileName))
	if err != nil {
		return nil, err
	}
	rep := &Report{Delta: sitestate.Digest(raw), Base: d.Base.StateSHA256, Mismatches: []delta.Mismatch{}}

	state := opts.State
	if state == nil {
		if state, err = sitestate.Export(ctx, sitestate.ExportOptions{Bundle: opts.Bundle, StorageDir: opts.StorageDir, Concurrency: opts.Concurrency}); err != nil {
			return nil, fmt.Errorf("describing what the site holds: %w", err)
		}
	}
	rep.Mismatches = delta.Check(d, state)

	p := &plan{opts: opts, rep: rep}
	defer p.close()
	if err := p.images(); err != nil {
		return rep, err
	}
	if len(rep.Mismatches) > 0 {
		return rep, refusal(rep)
	}
	if err := p.files(); err != nil {
		return rep, err
	}
	if err := p.bookkeeping(d, raw); err != nil {
		return rep, err
	}
	if err := p.space(); err != nil {
		return rep, err
	}
	rep.Changed = p.changed()
	if opts.Check || !rep.Changed {
		rep.Lines = p.lines()
		return rep, nil
	}
	if err := p.write(ctx); err != nil {
		return rep, err
	}
	rep.Lines = p.lines()
	return rep, nil
}

func refusal(rep *Report) error {
	msgs := make([]string, len(rep.Mismatches))
	for i, m := range rep.Mismatches {
		msgs[i] = m.Msg
	}
	return fmt.Errorf("%w: it was made for another state of the site (base %s), and the site now differs in %d items; nothing was written: %s",
		ErrRefused, short(rep.Base), len(msgs), strings.Join(msgs, "; "))
}

func short(sha string) string {
	if len(sha) > 12 {
		return sha[:12]
	}
	if sha == "" {
		return "unnamed"
	}
	return sha
}

// plan is what an apply will write, found before anything is.
type plan struct {
	opts Options
	rep  *Report

	site, src *ocistore.Store // the site's layout (nil: none yet), the delta's (nil: none)
	storage   *os.Root        // the registry's storage (nil: none)
	blobs     []blobCopy
	entries   []entryPut
	filesDir  *bundleimport.FilesDir
	placed    []filePlace
	copyBytes int64
	keep      []keptFile // the bookkeeping files to write, last
}

type blobCopy struct {
	digest      v1.Hash
	size        int64
	fromStorage bool
}

type entryPut struct {
	ref, sourceDigest string
	desc              v1.Descriptor
}

type filePlace struct{ rel, src, sha string }

type keptFile struct {
	rel  string // under the bundle
	body []byte
}

func (p *plan) close() {
	if p.storage != nil {
		p.storage.Close()
	}
	if p.filesDir != nil {
		p.filesDir.Close()
	}
}

func (p *plan) changed() bool {
	return len(p.blobs) > 0 || len(p.entries) > 0 || len(p.placed) > 0 || len(p.keep) > 0
}

// space fails when the bundle's filesystem lacks room for what is copied.
func (p *plan) space() error {
	if !p.changed() {
		return nil
	}
	need := p.copyBytes + spaceMargin
	free, err := freeBytes(p.opts.Bundle)
	if err != nil {
		return err
	}
	if need > free {
		return fmt.Errorf("%w on %s: the delta needs %s (%s copied, the rest a margin), %s are free: %s short; nothing was written",
			ErrNoSpace, p.opts.Bundle, progress.Bytes(need), progress.Bytes(p.copyBytes), progress.Bytes(free), progress.Bytes(need-free))
	}
	return nil
}

// write writes the plan: blobs (at once), then the index entries that need them, then files,
// then the bookkeeping (the record of the apply last).
func (p *plan) write(ctx context.Context) error {
	if p.site == nil && (len(p.blobs) > 0 || len(p.entries) > 0) {
		var err error
		if p.site, err = ocistore.Open(filepath.Join(p.opts.Bundle, "images"), true); err != nil {
			return err
		}
	}
	errs := make([]error, len(p.blobs))
	pool.Each(len(p.blobs), p.opts.Concurrency, func(i int) {
		if errs[i] = ctx.Err(); errs[i] == nil {
			errs[i] = p.copyBlob(p.blobs[i])
		}
	})
	if err := errors.Join(errs...); err != nil {
		return err
	}
	for _, e := range p.entries {
		if err := p.site.Put(e.ref, e.sourceDigest, e.desc); err != nil {
			return fmt.Errorf("adding %s to the site's layout: %w", e.ref, err)
		}
	}
	// Files one after the other: a delta carries few, and the folder is opened on the first.
	w := bundleimport.OpenFiles(filepath.Join(p.opts.Bundle, "files"), false, false)
	defer w.Close()
	for _, f := range p.placed {
		if err := ctx.Err(); err != nil {
			return err
		}
		if _, err := w.Place(f.rel, f.src, f.sha); err != nil {
			return fmt.Errorf("placing files/%s: %w", f.rel, err)
		}
	}
	return p.writeKept()
}

func (p *plan) lines() []string {
	c := p.rep.Applied
	verb := "applied"
	switch {
	case !p.rep.Changed:
		verb = "already applied"
	case p.opts.Check:
		verb = "would apply"
	}
	out := []string{fmt.Sprintf("delta %s (base %s) %s on %s: %d files, %d blobs (%d from the registry's storage), %d images, %s copied",
		short(p.rep.Delta), short(p.rep.Base), verb, p.opts.Bundle, c.Files, c.Blobs, c.FromStorage, c.Images, progress.Bytes(c.Bytes))}
	for _, f := range p.placed {
		out = append(out, "files/"+f.rel)
	}
	for _, e := range p.entries {
		out = append(out, "image "+e.ref+" "+e.desc.Digest.String())
	}
	return out
}

// files plans the delta's files/: each regular file not already at its path with its content.
// A symbolic link or special file in the delta refuses it (it would not be in its sums).
func (p *plan) files() error {
	top := filepath.Join(p.opts.Src, "files")
	switch fi, err := os.Lstat(top); {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case err != nil:
		return fmt.Errorf("reading the delta's files: %w", err)
	case !fi.IsDir():
		return fmt.Errorf("%w: the delta's files/ is not a folder (a symbolic link?), not applied: %s", ErrRefused, top)
	}
	var src []filePlace
	var odd []string
	err := filepath.WalkDir(top, func(fp string, de fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(top, fp)
		rel = filepath.ToSlash(rel)
		switch {
		case de.IsDir() || rel == ".":
			return nil
		case strings.HasPrefix(path.Base(rel), "."):
			return nil // partial downloads and temporary files, as the sums leave them out
		case !de.Type().IsRegular():
			odd = append(odd, rel)
			return nil
		}
		src = append(src, filePlace{rel: rel, src: fp})
		return nil
	})
	if err != nil {
		return fmt.Errorf("reading the delta's files: %w", err)
	}
	if len(odd) > 0 {
		sort.Strings(odd)
		return fmt.Errorf("%w: the delta's files/ holds what is not a regular file (a symbolic link or a special file), not applied: %s", ErrRefused, strings.Join(odd, ", "))
	}
	// Hashing (the delta's file, the site's file at its path) and planning, in check mode.
	p.filesDir = bundleimport.OpenFiles(filepath.Join(p.opts.Bundle, "files"), true, false)
	hashes := bundleimport.OpenFiles(top, true, false)
	defer hashes.Close()
	for _, f := range src {
		sha, err := hashes.Current(f.rel)
		if err != nil {
			return fmt.Errorf("reading the delta's files/%s: %w", f.rel, err)
		}
		cur, err := p.filesDir.Current(f.rel)
		if err != nil {
			return fmt.Errorf("the site's files/%s: %w", f.rel, err)
		}
		if cur == sha {
			continue
		}
		how, err := p.filesDir.Place(f.rel, f.src, sha)
		if err != nil {
			return fmt.Errorf("the site's files/%s: %w", f.rel, err)
		}
		if how == "copy" {
			fi, err := os.Stat(f.src)
			if err != nil {
				return err
			}
			p.copyBytes += fi.Size()
			p.rep.Applied.Bytes += fi.Size()
		}
		f.sha = sha
		p.placed = append(p.placed, f)
		p.rep.Applied.Files++
	}
	return nil
}

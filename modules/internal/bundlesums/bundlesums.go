// Package bundlesums writes a bundle's SHA256SUMS (the `sha256sum -c` format) from the digest
// records of modules/internal/verified: a file the fetch or image modules wrote, or that an
// earlier run hashed, is not read again, so a rerun over an unchanged bundle costs one stat and
// one extended-attribute read per file.
//
// The walk is the one the download role's former sha256sums.py made: every regular file under the
// bundle, dot files and dot folders left out (partial downloads, fingerprints, temporary files)
// and the top-level SHA256SUMS itself, each folder's files (sorted) before its subfolders
// (sorted). A symbolic link is never followed (one could point out of the bundle, and the bundle
// is carried to another machine without its target): it is left out and named, as is any other
// file that is not a regular file.
package bundlesums

import (
	"context"
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
	"sync/atomic"
	"syscall"

	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/atomicfile"
	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/pool"
	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/progress"
	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/verified"
)

// Name is the file written at the top of the bundle.
const Name = "SHA256SUMS"

// Options says which bundle and how.
type Options struct {
	Dir         string // the bundle folder
	Concurrency int    // files hashed at once (misses only)
	Check       bool   // write nothing (neither SHA256SUMS nor digest records)
	// Progress, when set, is told after each file hashed: files hashed so far, of how many misses, and bytes.
	Progress func(done, misses int, bytes int64)
}

// LeftOut is a file left out of SHA256SUMS.
type LeftOut struct {
	Path string `json:"path"` // relative to the bundle
	Why  string `json:"why"`
}

// Report is what a run found and did.
type Report struct {
	Path        string    // the SHA256SUMS file
	Files       int       // lines in SHA256SUMS
	Hashed      int       // files read this run (no valid digest record)
	Cached      int       // files whose digest came from their record
	BytesHashed int64     // bytes read this run
	Changed     bool      // SHA256SUMS changed (or, in check mode, would)
	LeftOut     []LeftOut // symbolic links and other non-regular files left out
	Before      string    // SHA256SUMS as it was ("" when absent)
	After       string    // SHA256SUMS as it is now (or would be)
}

// entry is one file of the bundle.
type entry struct {
	rel    string
	path   string
	fi     os.FileInfo
	sha256 string
	err    error
}

// Sum is one file of a walk with its sha256.
type Sum struct {
	Path   string // relative to the folder walked
	SHA256 string // lowercase hex
	Size   int64
}

// Files walks opts.Dir as Write does (every regular file but dot files and files in dot folders,
// each folder's files before its subfolders, a symbolic link never followed but named in the
// report's LeftOut) and gives each file's sha256: from its digest record while that is valid,
// else read (and recorded, unless opts.Check). Unlike Write, it keeps a top-level SHA256SUMS:
// the folder need not be a bundle. The report counts what was read; it writes no file.
func Files(ctx context.Context, opts Options) ([]Sum, *Report, error) {
	root := filepath.Clean(opts.Dir)
	files, rep, err := digests(ctx, root, opts, false)
	if err != nil {
		return nil, nil, err
	}
	out := make([]Sum, len(files))
	for i, e := range files {
		out[i] = Sum{Path: e.rel, SHA256: e.sha256, Size: e.fi.Size()}
	}
	return out, rep, nil
}

// Write walks opts.Dir and writes opts.Dir/SHA256SUMS when its content changes, atomically.
func Write(ctx context.Context, opts Options) (*Report, error) {
	root := filepath.Clean(opts.Dir)
	fi, err := os.Stat(root)
	if errors.Is(err, fs.ErrNotExist) && opts.Check {
		// a check run before the first real one: the earlier tasks would have made the folder
		return &Report{Path: filepath.Join(root, Name), Changed: true, LeftOut: []LeftOut{}}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("bundle folder %s: %w", root, err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("bundle folder %s is not a folder", root)
	}
	files, rep, err := digests(ctx, root, opts, true)
	if err != nil {
		return nil, err
	}
	rep.Path = filepath.Join(root, Name)

	var out strings.Builder
	for _, e := range files {
		out.WriteString(Line(e.sha256, e.rel))
	}
	rep.After = out.String()
	old, err := os.ReadFile(rep.Path)
	switch {
	case err == nil:
		rep.Before = string(old)
	case !errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("reading %s: %w", rep.Path, err)
	}
	rep.Changed = err != nil || rep.Before != rep.After
	if rep.Changed && !opts.Check {
		if err := atomicfile.Write(rep.Path, []byte(rep.After), 0o644); err != nil {
			return nil, err
		}
	}
	return rep, nil
}

// digests walks root (leaving out its top-level SHA256SUMS when skipSums) and finds every
// file's sha256: from its record, else read with opts.Concurrency files at once.
func digests(ctx context.Context, root string, opts Options, skipSums bool) ([]*entry, *Report, error) {
	rep := &Report{LeftOut: []LeftOut{}}
	var files []*entry
	if err := walk(root, "", skipSums, &files, rep); err != nil {
		return nil, nil, err
	}

	var misses []*entry
	for _, e := range files {
		if r, ok := verified.Lookup(e.path, e.fi); ok {
			e.sha256 = r.SHA256
			rep.Cached++
		} else {
			misses = append(misses, e)
		}
	}
	var done atomic.Int32
	var hashedBytes atomic.Int64
	pool.Each(len(misses), opts.Concurrency, func(i int) {
		e := misses[i]
		if ctx.Err() != nil {
			e.err = ctx.Err()
			return
		}
		var n int64
		e.sha256, n, e.err = hashFile(e.path, e.fi, !opts.Check)
		hashedBytes.Add(n)
		d := done.Add(1)
		if opts.Progress != nil {
			opts.Progress(int(d), len(misses), hashedBytes.Load())
		}
	})
	var errs []error
	for _, e := range misses {
		if e.err != nil {
			errs = append(errs, e.err)
		}
	}
	if len(errs) > 0 {
		return nil, nil, errors.Join(errs...)
	}
	rep.Hashed, rep.BytesHashed, rep.Files = len(misses), hashedBytes.Load(), len(files)
	return files, rep, nil
}

// walk lists dir's regular files (rel: dir relative to the root): its own files, sorted,
// then each subfolder's, sorted; the root's SHA256SUMS left out when skipSums.
func walk(root, rel string, skipSums bool, files *[]*entry, rep *Report) error {
	dir := filepath.Join(root, rel)
	des, err := os.ReadDir(dir) // sorted by name
	if err != nil {
		return fmt.Errorf("reading folder %s: %w", dir, err)
	}
	var subdirs []string
	for _, de := range des {
		name := de.Name()
		r := filepath.Join(rel, name)
		if strings.HasPrefix(name, ".") || (skipSums && rel == "" && name == Name) {
			continue
		}
		switch t := de.Type(); {
		case t&fs.ModeSymlink != 0:
			rep.LeftOut = append(rep.LeftOut, LeftOut{Path: r, Why: "symbolic link (not followed)"})
		case t.IsDir():
			subdirs = append(subdirs, r)
		case !t.IsRegular():
			rep.LeftOut = append(rep.LeftOut, LeftOut{Path: r, Why: "not a regular file"})
		case strings.ContainsRune(name, '\r'):
			// Older sha256sum -c cannot read a name holding a carriage return back.
			rep.LeftOut = append(rep.LeftOut, LeftOut{Path: r, Why: "its name holds a carriage return"})
		default:
			fi, err := de.Info() // an lstat: never follows
			if err != nil {
				return fmt.Errorf("reading %s: %w", filepath.Join(root, r), err)
			}
			*files = append(*files, &entry{rel: r, path: filepath.Join(root, r), fi: fi})
		}
	}
	sort.Strings(subdirs)
	for _, d := range subdirs {
		if err := walk(root, d, skipSums, files, rep); err != nil {
			return err
		}
	}
	return nil
}

// hashFile reads the file (never through a symbolic link that replaced it since the walk) and,
// when record is set and the file did not change while it was read, records its digest.
func hashFile(path string, walked os.FileInfo, record bool) (string, int64, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW, 0)
	if err != nil {
		return "", 0, fmt.Errorf("reading %s: %w", path, err)
	}
	defer f.Close()
	before, err := f.Stat()
	if err != nil {
		return "", 0, fmt.Errorf("reading %s: %w", path, err)
	}
	if !before.Mode().IsRegular() || !os.SameFile(before, walked) {
		return "", 0, fmt.Errorf("%s was replaced while the bundle was read: run again", path)
	}
	h := sha256.New()
	n, err := io.CopyBuffer(h, struct{ io.Reader }{f}, make([]byte, 1<<20))
	if err != nil {
		return "", n, fmt.Errorf("reading %s: %w", path, err)
	}
	after, err := f.Stat()
	if err != nil {
		return "", n, fmt.Errorf("reading %s: %w", path, err)
	}
	if n != after.Size() || after.Size() != before.Size() || !after.ModTime().Equal(before.ModTime()) || ctime(after) != ctime(before) {
		return "", n, fmt.Errorf("%s changed while it was read: run again", path)
	}
	sum := hex.EncodeToString(h.Sum(nil))
	if record {
		verified.Store(path, verified.Record{Size: n, SHA256: sum})
	}
	return sum, n, nil
}

func ctime(fi os.FileInfo) int64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return st.Ctim.Nano()
	}
	return 0
}

// Line is the `sha256sum` line of a file: "<hex>  <path>\n"; a path holding a backslash or a
// newline is escaped and the line starts with a backslash, as GNU sha256sum writes it.
func Line(sum, rel string) string {
	if !strings.ContainsAny(rel, "\\\n") {
		return sum + "  " + rel + "\n"
	}
	rel = strings.NewReplacer(`\`, `\\`, "\n", `\n`).Replace(rel)
	return `\` + sum + "  " + rel + "\n"
}

// DiffLimit is the size of SHA256SUMS (either side) beyond which a diff shows only the lines
// that differ, at most diffLines of each side.
const (
	DiffLimit = 256 << 10
	diffLines = 500
)

// DiffText is what a diff of SHA256SUMS shows: both contents whole when they are small, else
// only the lines of each side the other lacks (whole is then false).
func DiffText(before, after string) (b, a string, whole bool) {
	if len(before) <= DiffLimit && len(after) <= DiffLimit {
		return before, after, true
	}
	return onlyIn(before, after), onlyIn(after, before), false
}

// FileDiff is what a module's diff of a text file (SHA256SUMS, a site state) shows: DiffText's
// two sides, and the header both carry, the file's path, saying when only the lines that differ
// are shown.
func FileDiff(path, before, after string) (header, b, a string) {
	b, a, whole := DiffText(before, after)
	if !whole {
		return fmt.Sprintf("%s (over %s: only the lines that differ)", path, progress.Bytes(DiffLimit)), b, a
	}
	return path, b, a
}

// onlyIn is the lines of s that other lacks, in s's order, capped at diffLines.
func onlyIn(s, other string) string {
	have := map[string]bool{}
	for _, l := range strings.SplitAfter(other, "\n") {
		have[l] = true
	}
	var out strings.Builder
	n := 0
	for _, l := range strings.SplitAfter(s, "\n") {
		if l == "" || have[l] {
			continue
		}
		if n < diffLines {
			out.WriteString(l)
		}
		n++
	}
	if n > diffLines {
		fmt.Fprintf(&out, "... and %d more lines\n", n-diffLines)
	}
	return out.String()
}

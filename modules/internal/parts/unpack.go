package parts

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/pool"
	"gopkg.in/yaml.v3"
)

// UnpackOptions says which parts go into which bundle folder.
type UnpackOptions struct {
	Src         string // the folder holding the parts (any subset, any order)
	Dest        string // the bundle folder
	Concurrency int    // parts read at once; <= 0: one
	Check       bool   // report what would be unpacked; nothing is read but the parts' indexes
	// Free reports the free bytes at a path (nil: freespace.Of, the filesystem's); tests inject one.
	Free func(string) (int64, error)
	// OnPart, when set, is told after each part is unpacked (or fails).
	OnPart func(name string, err error)
}

// UnpackedPart is one part in the unpack's report.
type UnpackedPart struct {
	Name   string `json:"name"`
	Part   int    `json:"part"`
	Status string `json:"status"`
	Files  int    `json:"files"` // members written (files and chunks)
	Bytes  int64  `json:"bytes"`
}

// FailedItem is a part that could not be unpacked: damaged or refused.
type FailedItem struct {
	Part string `json:"part"`
	Msg  string `json:"msg"`
}

// UnpackReport is what an unpack did and what is still missing.
type UnpackReport struct {
	Dest        string         `json:"dest"`
	Bundle      string         `json:"bundle"`
	ID          string         `json:"id"`
	Total       int            `json:"total"`
	Parts       []UnpackedPart `json:"parts"`
	Missing     []string       `json:"missing"`      // parts neither here nor unpacked before
	FailedItems []FailedItem   `json:"failed_items"` // damaged or refused parts
	Assembled   []string       `json:"assembled"`    // files put together from their chunks this run
	Pending     []string       `json:"pending"`      // files that span parts not yet unpacked
	Files       int            `json:"files"`
	Bytes       int64          `json:"bytes"`
	Needed      int64          `json:"needed"` // bytes the parts to unpack write (the forecast)
	Free        int64          `json:"free"`
	Complete    bool           `json:"complete"` // every part is in and every file verified
	Changed     bool           `json:"changed"`  // a part was unpacked or a file put together (check mode: would be)
}

type partFile struct {
	name, path string
	n          int
	index      *Index
	indexErr   error
	expect     string // its sha256, from <part>.sha256 and PARTS.SHA256SUMS
	expectErr  error
}

// Unpack puts the parts found in opts.Src into the bundle folder opts.Dest. Each part's sha256 is
// checked before it is read; each file is written to a temporary name, checked against its
// sha256, then renamed into place; a file that spans parts is kept in chunks under
// <dest>/.airgap-unpack/ until all its chunks are in. A part unpacked before (its done marker
// holds its sha256) is skipped, so a rerun resumes.
func Unpack(ctx context.Context, opts UnpackOptions) (*UnpackReport, error) {
	src, dest := filepath.Clean(opts.Src), filepath.Clean(opts.Dest)
	_, err := zstdPath() // said before anything is read: the zstd command is needed
	if err != nil {
		return nil, err
	}
	found, err := findParts(ctx, src)
	if err != nil {
		return nil, err
	}
	rep := &UnpackReport{Dest: dest, Missing: []string{}, FailedItems: []FailedItem{}, Assembled: []string{}, Pending: []string{}}
	var ids []string
	byID := map[string][]string{}
	for _, p := range found {
		if p.index != nil {
			if byID[p.index.ID] == nil {
				ids = append(ids, p.index.ID)
			}
			byID[p.index.ID] = append(byID[p.index.ID], p.name)
		}
	}
	switch len(ids) {
	case 0: // each part is damaged or refused: say which
		rep.Bundle, _, rep.Total, _ = ParseName(found[0].name)
		for _, p := range found {
			_, _, err := unpackPart(ctx, nil, dest, "", p, "")
			status := StatusRefused
			if errors.Is(err, errDamaged) {
				status = StatusDamaged
			}
			rep.Parts = append(rep.Parts, UnpackedPart{Name: p.name, Part: p.n, Status: status})
			rep.FailedItems = append(rep.FailedItems, FailedItem{Part: p.name, Msg: err.Error()})
		}
		return rep, nil
	case 1:
		rep.ID = ids[0]
	default:
		var groups []string
		for _, id := range ids {
			groups = append(groups, fmt.Sprintf("pack %s: %s", id[:12], strings.Join(byID[id], ", ")))
		}
		return nil, fmt.Errorf("%s holds parts of more than one pack (unpack them from separate folders): %s", src, strings.Join(groups, "; "))
	}
	for _, p := range found {
		if p.index != nil {
			rep.Bundle, rep.Total = p.index.Bundle, p.index.Total
			break
		}
	}
	state := path.Join(StateDir, rep.ID[:16])

	// What was unpacked before; what there is to do
	var todo []*partFile
	rep.Parts = make([]UnpackedPart, len(found))
	for i, p := range found {
		rep.Parts[i] = UnpackedPart{Name: p.name, Part: p.n, Status: StatusWould}
		if p.expectErr == nil && doneBefore(dest, state, p.name, p.expect) {
			rep.Parts[i].Status = StatusDone
			continue
		}
		todo = append(todo, p)
		if p.index != nil {
			for _, m := range p.index.Members {
				rep.Needed += m.Size
				if m.Chunk > 0 {
					rep.Needed += m.Size // its chunk, then the file put together
				}
			}
		}
	}
	if rep.Free, err = forecast(opts.Free, dest, fmt.Sprintf("the %d part(s) to unpack", len(todo)), rep.Needed); err != nil {
		return nil, err
	}
	rep.Changed = len(todo) > 0
	if opts.Check {
		rep.Missing = missingParts(dest, state, rep.Bundle, rep.Total, found)
		return rep, nil
	}

	if err := os.MkdirAll(dest, 0o755); err != nil {
		return nil, err
	}
	root, err := os.OpenRoot(dest)
	if err != nil {
		return nil, err
	}
	defer root.Close()
	if err := root.MkdirAll(path.Join(state, "done"), 0o755); err != nil {
		return nil, err
	}
	var mu sync.Mutex
	pool.Each(len(todo), opts.Concurrency, func(j int) {
		p := todo[j]
		if ctx.Err() != nil {
			return
		}
		files, bytes, err := unpackPart(ctx, root, dest, state, p, rep.ID)
		mu.Lock()
		defer mu.Unlock()
		for i := range rep.Parts {
			if rep.Parts[i].Name != p.name {
				continue
			}
			rep.Parts[i].Files, rep.Parts[i].Bytes = files, bytes
			rep.Files += files
			rep.Bytes += bytes
			switch {
			case err == nil:
				rep.Parts[i].Status = StatusUnpacked
			case errors.Is(err, errDamaged):
				rep.Parts[i].Status = StatusDamaged
			default:
				rep.Parts[i].Status = StatusRefused
			}
		}
		if err != nil {
			rep.FailedItems = append(rep.FailedItems, FailedItem{Part: p.name, Msg: err.Error()})
		}
		if opts.OnPart != nil {
			opts.OnPart(p.name, err)
		}
	})
	sort.Slice(rep.FailedItems, func(a, b int) bool { return rep.FailedItems[a].Part < rep.FailedItems[b].Part })
	if err := ctx.Err(); err != nil {
		return rep, fmt.Errorf("unpack interrupted (a rerun resumes): %w", err)
	}
	assembled, pending, failed := assemble(ctx, root, dest, state)
	rep.Assembled, rep.Pending = assembled, pending
	rep.FailedItems = append(rep.FailedItems, failed...)
	rep.Missing = missingParts(dest, state, rep.Bundle, rep.Total, found)
	rep.Changed = len(rep.Assembled) > 0
	for _, p := range rep.Parts {
		rep.Changed = rep.Changed || p.Status == StatusUnpacked
	}
	rep.Complete = len(rep.Missing) == 0 && len(rep.FailedItems) == 0 && len(rep.Pending) == 0 && allDone(dest, state, rep.Bundle, rep.Total)
	return rep, nil
}

// findParts lists the part files in src, their indexes and their expected sums.
func findParts(ctx context.Context, src string) ([]*partFile, error) {
	ents, err := os.ReadDir(src)
	if err != nil {
		return nil, fmt.Errorf("reading the parts folder: %w", err)
	}
	sums := map[string]string{}
	if b, err := os.ReadFile(filepath.Join(src, SumsName)); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if f := strings.Fields(line); len(f) == 2 && len(f[0]) == 64 {
				sums[strings.TrimPrefix(f[1], "*")] = strings.ToLower(f[0])
			}
		}
	}
	var out []*partFile
	packs := map[string]bool{}
	for _, e := range ents {
		name, n, total, ok := ParseName(e.Name())
		if !ok || !e.Type().IsRegular() {
			continue
		}
		packs[fmt.Sprintf("%s (%d parts)", name, total)] = true
		p := &partFile{name: e.Name(), path: filepath.Join(src, e.Name()), n: n}
		p.expect, p.expectErr = expectedSum(p.path, sums[e.Name()])
		x, err := peekIndex(ctx, p.path)
		if err == nil {
			err = x.check(n, total)
		}
		if err != nil {
			p.indexErr = fmt.Errorf("%s: %w", p.name, err)
		} else {
			p.index = x
		}
		out = append(out, p)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s holds no part (<name>.part-NNNN-of-NNNN.tar.zst)", src)
	}
	if len(packs) > 1 {
		return nil, fmt.Errorf("%s holds parts of more than one pack (unpack them from separate folders): %s", src, strings.Join(sortedSet(packs), ", "))
	}
	sort.Slice(out, func(a, b int) bool { return out[a].n < out[b].n })
	return out, nil
}

func sortedSet(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// expectedSum is a part's sha256 from its .sha256 file and the PARTS.SHA256SUMS line; both,
// when present, must agree; one is needed.
func expectedSum(file, fromSums string) (string, error) {
	own, err := readSumFile(file + ".sha256")
	switch {
	case err == nil && fromSums != "" && own != fromSums:
		return "", fmt.Errorf("%w: %s.sha256 says %s, %s says %s", errDamaged, filepath.Base(file), own, SumsName, fromSums)
	case err == nil:
		return own, nil
	case fromSums != "":
		return fromSums, nil
	case errors.Is(err, fs.ErrNotExist):
		return "", fmt.Errorf("%w: no checksum: neither %s.sha256 nor a line in %s", errDamaged, filepath.Base(file), SumsName)
	default:
		return "", fmt.Errorf("%w: %v", errDamaged, err)
	}
}

// errDamaged marks a part whose bytes are not those packed.
var errDamaged = errors.New("damaged")

func markerPath(dest, state, name string) string {
	return filepath.Join(dest, filepath.FromSlash(state), "done", name)
}

func doneBefore(dest, state, name, sha string) bool {
	got, err := readSumFile(markerPath(dest, state, name))
	return err == nil && got == sha
}

// missingParts are the parts neither in src (whole or not) nor unpacked before, by name.
func missingParts(dest, state, bundle string, total int, found []*partFile) []string {
	here := map[int]bool{}
	for _, p := range found {
		here[p.n] = true
	}
	out := []string{}
	for n := 1; n <= total; n++ {
		name := PartName(bundle, n, total)
		if _, err := os.Stat(markerPath(dest, state, name)); err != nil && !here[n] {
			out = append(out, name)
		}
	}
	return out
}

func allDone(dest, state, bundle string, total int) bool {
	for n := 1; n <= total; n++ {
		if _, err := os.Stat(markerPath(dest, state, PartName(bundle, n, total))); err != nil {
			return false
		}
	}
	return true
}

// unpackPart checks the part's sha256, then writes its members: files in place, chunks under
// the state folder; last, its done marker.
func unpackPart(ctx context.Context, root *os.Root, dest, state string, p *partFile, id string) (int, int64, error) {
	if p.expectErr != nil {
		return 0, 0, p.expectErr
	}
	got, err := fileSHA256(ctx, p.path)
	if err != nil {
		return 0, 0, err
	}
	if got != p.expect {
		return 0, 0, fmt.Errorf("%w: sha256 %s, its checksum says %s: carry this part again", errDamaged, got, p.expect)
	}
	if p.indexErr != nil {
		return 0, 0, fmt.Errorf("%w: %v", errEscape, p.indexErr)
	}
	if p.index.ID != id {
		return 0, 0, fmt.Errorf("%w: it belongs to pack %s, not %s", errEscape, p.index.ID[:12], id[:12])
	}
	r, err := openPart(ctx, p.path)
	if err != nil {
		return 0, 0, err
	}
	defer r.abort()
	if _, err := r.readIndex(); err != nil {
		return 0, 0, err
	}
	var files int
	var bytes int64
	for _, m := range p.index.Members {
		h, err := r.Next()
		if err != nil {
			return files, bytes, fmt.Errorf("reading member %s: %w", m.Name, err)
		}
		if h.Name != m.Name || h.Size != m.Size || h.Typeflag != '0' {
			return files, bytes, fmt.Errorf("%w: member %q (%d bytes, type %c) where the index names %q (%d bytes, a file)", errEscape, h.Name, h.Size, h.Typeflag, m.Name, m.Size)
		}
		rel := m.Path
		if m.Chunk > 0 {
			dir := path.Join(state, chunkStem(m.Path))
			if err := writeChunkMeta(root, dir, m); err != nil {
				return files, bytes, err
			}
			rel = path.Join(dir, fmt.Sprintf("%020d", m.Offset))
		}
		if err := place(ctx, root, dest, rel, r, m.Size, m.SHA256); err != nil {
			return files, bytes, fmt.Errorf("%s: %w", m.Name, err)
		}
		files++
		bytes += m.Size
	}
	if h, err := r.Next(); err == nil {
		return files, bytes, fmt.Errorf("%w: member %q is not in the index", errEscape, h.Name)
	}
	if err := r.finish(); err != nil {
		return files, bytes, err
	}
	marker := path.Join(state, "done", p.name)
	if err := writeRoot(root, marker, []byte(sumLine(p.expect, p.name))); err != nil {
		return files, bytes, err
	}
	return files, bytes, nil
}

// escapes tells an os.Root refusal (a path leading out of the root, through a symbolic link).
func escapes(err error) bool {
	return err != nil && strings.Contains(err.Error(), "escapes from parent")
}

// tmpName is a temporary dot name beside rel.
func tmpName(rel string) string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return path.Join(path.Dir(rel), ".airgap-tmp-"+hex.EncodeToString(b[:]))
}

// place writes size bytes of r to rel (below the root): a temporary name, checked against sha,
// renamed into place.
func place(ctx context.Context, root *os.Root, dest, rel string, r io.Reader, size int64, sha string) error {
	if err := root.MkdirAll(path.Dir(rel), 0o755); err != nil {
		return leave(dest, rel, err)
	}
	tmp := tmpName(rel)
	f, err := root.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return leave(dest, rel, err)
	}
	h := sha256.New()
	_, err = io.CopyN(io.MultiWriter(f, h), ctxReader{ctx, r}, size)
	if err == nil {
		err = f.Chmod(0o644)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil && hex.EncodeToString(h.Sum(nil)) != sha {
		err = fmt.Errorf("%w: its bytes do not hash to the index's sha256 %s", errDamaged, sha)
	}
	if err == nil {
		err = leave(dest, rel, root.Rename(tmp, rel))
	}
	if err != nil {
		_ = root.Remove(tmp)
	}
	return err
}

func leave(dest, rel string, err error) error {
	if escapes(err) {
		return fmt.Errorf("%w: %s would leave %s (through a symbolic link)", errEscape, rel, dest)
	}
	return err
}

// writeRoot writes a small file below the root, atomically.
func writeRoot(root *os.Root, rel string, b []byte) error {
	tmp := tmpName(rel)
	if err := root.WriteFile(tmp, b, 0o644); err != nil {
		return err
	}
	if err := root.Rename(tmp, rel); err != nil {
		_ = root.Remove(tmp)
		return err
	}
	return nil
}

// chunkMeta names the file a chunk folder puts together.
type chunkMeta struct {
	Path   string `yaml:"path"`
	Size   int64  `yaml:"size"`
	SHA256 string `yaml:"sha256"`
	Chunks int    `yaml:"chunks"`
}

const chunkMetaName = "file.yaml"

func writeChunkMeta(root *os.Root, dir string, m Member) error {
	if err := root.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	b, err := yaml.Marshal(chunkMeta{Path: m.Path, Size: m.FileSize, SHA256: m.FileSHA256, Chunks: m.Chunks})
	if err != nil {
		return err
	}
	return writeRoot(root, path.Join(dir, chunkMetaName), b)
}

// assemble puts together each file whose chunks are all in: read in order, checked against the
// whole file's sha256, renamed into place; its chunks are then removed.
func assemble(ctx context.Context, root *os.Root, dest, state string) (assembled, pending []string, failed []FailedItem) {
	assembled, pending = []string{}, []string{}
	top := path.Join(state, "chunks")
	dirs, err := fs.ReadDir(root.FS(), top)
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			failed = append(failed, FailedItem{Part: top, Msg: err.Error()})
		}
		return
	}
	for _, d := range dirs {
		dir := path.Join(top, d.Name())
		b, err := root.ReadFile(path.Join(dir, chunkMetaName))
		var meta chunkMeta
		if err == nil {
			err = yaml.Unmarshal(b, &meta)
		}
		if err == nil {
			err = checkRel(meta.Path)
		}
		if err != nil {
			failed = append(failed, FailedItem{Part: dir, Msg: fmt.Sprintf("reading %s: %v", chunkMetaName, err)})
			continue
		}
		offsets, complete := chunkOffsets(root, dir, meta)
		if !complete {
			pending = append(pending, meta.Path)
			continue
		}
		if err := join(ctx, root, dest, dir, offsets, meta); err != nil {
			failed = append(failed, FailedItem{Part: meta.Path, Msg: err.Error()})
			continue
		}
		if err := root.RemoveAll(dir); err != nil {
			failed = append(failed, FailedItem{Part: dir, Msg: err.Error()})
			continue
		}
		assembled = append(assembled, meta.Path)
	}
	sort.Strings(assembled)
	sort.Strings(pending)
	return
}

// chunkOffsets are the chunk files' offsets, in order, and whether they cover the file.
func chunkOffsets(root *os.Root, dir string, meta chunkMeta) ([]int64, bool) {
	ents, err := fs.ReadDir(root.FS(), dir)
	if err != nil {
		return nil, false
	}
	var offs []int64
	var end int64
	for _, e := range ents { // sorted by name: the offsets are zero-padded
		off, err := strconv.ParseInt(e.Name(), 10, 64)
		if err != nil || !e.Type().IsRegular() {
			continue
		}
		fi, err := e.Info()
		if err != nil || off != end {
			return nil, false
		}
		offs = append(offs, off)
		end += fi.Size()
	}
	return offs, end == meta.Size && len(offs) == meta.Chunks
}

func join(ctx context.Context, root *os.Root, dest, dir string, offsets []int64, meta chunkMeta) error {
	pr, pw := io.Pipe()
	go func() {
		for _, off := range offsets {
			f, err := root.Open(path.Join(dir, fmt.Sprintf("%020d", off)))
			if err != nil {
				pw.CloseWithError(err)
				return
			}
			_, err = io.Copy(pw, f)
			f.Close()
			if err != nil {
				pw.CloseWithError(err)
				return
			}
		}
		pw.Close()
	}()
	err := place(ctx, root, dest, meta.Path, pr, meta.Size, meta.SHA256)
	pr.CloseWithError(io.ErrClosedPipe)
	return err
}

package parts

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/atomicfile"
	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/bundlesums"
	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/pool"
	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/verified"
	"gopkg.in/yaml.v3"
)

// PackOptions says which bundle goes where, in parts of what size.
type PackOptions struct {
	Src         string // the bundle folder
	Dest        string // the folder the parts are written to
	PartSize    int64  // the most bytes a part file holds
	Concurrency int    // parts written at once (one zstd each); <= 0: one
	Check       bool   // plan and report, write nothing
	// Free reports the free bytes at a path (nil: freespace.Of, the filesystem's); tests inject one.
	Free func(string) (int64, error)
}

// Part statuses.
const (
	StatusWritten    = "written"
	StatusUnchanged  = "unchanged"
	StatusWouldWrite = "would write"
	StatusUnpacked   = "unpacked"
	StatusDone       = "unpacked before"
	StatusWould      = "would unpack"
	StatusDamaged    = "damaged"
	StatusRefused    = "refused"
)

// PackedPart is one part in the pack's report.
type PackedPart struct {
	Name    string `json:"name"`
	Path    string `json:"path"`
	Size    int64  `json:"size"`   // the part file's bytes (0 in check mode)
	SHA256  string `json:"sha256"` // "" in check mode
	Members int    `json:"members"`
	Status  string `json:"status"`
}

// PackReport is what a pack did.
type PackReport struct {
	Dest     string                 `json:"dest"`
	Sums     string                 `json:"sums"` // PARTS.SHA256SUMS
	ID       string                 `json:"id"`
	Total    int                    `json:"total"`
	Files    int                    `json:"files"`
	Bytes    int64                  `json:"bytes"`    // the bundle's bytes packed
	Spanning []string               `json:"spanning"` // files split across parts
	Parts    []PackedPart           `json:"parts"`
	Removed  []string               `json:"removed"` // parts of an earlier pack of this bundle into another count
	LeftOut  []bundlesums.LeftOut   `json:"left_out"`
	Needed   int64                  `json:"needed"` // bytes the parts to write may take (the forecast)
	Free     int64                  `json:"free"`
	Changed  bool                   `json:"changed"`
	files    map[string]*bundleFile `json:"-"`
}

type bundleFile struct {
	rel, path string
	fi        os.FileInfo
	members   []*Member
	err       error
}

// plannedPart is a part's members and the tar bytes reserved for it (index included).
type plannedPart struct {
	members []*Member
	used    int64
}

// indexBase is the tar bytes reserved in every part for the index's header, its fixed fields
// (and its last block's padding) and the archive's end blocks.
const indexBase = block + 2*block + 2*block

// Pack writes opts.Src as parts into opts.Dest. A part already there for the same bundle (same
// id), whole (its sha256 matches its .sha256 file), is kept; the others are written, each to a
// temporary dot file renamed into place.
func Pack(ctx context.Context, opts PackOptions) (*PackReport, error) {
	src, dest := filepath.Clean(opts.Src), filepath.Clean(opts.Dest)
	if opts.PartSize < minPartSize {
		return nil, fmt.Errorf("part_size %d: a part holds at least %d bytes", opts.PartSize, minPartSize)
	}
	if fi, err := os.Stat(src); err != nil || !fi.IsDir() {
		return nil, fmt.Errorf("bundle folder %s: not a folder (%v)", src, err)
	}
	if inside(dest, src) {
		return nil, fmt.Errorf("dest %s lies inside the bundle %s: the parts would be packed next time", dest, src)
	}
	zstd, err := zstdPath()
	if err != nil {
		return nil, err
	}
	rep := &PackReport{Dest: dest, Sums: filepath.Join(dest, SumsName), Spanning: []string{}, Removed: []string{}, files: map[string]*bundleFile{}}
	files, leftOut, err := listBundle(src)
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("bundle folder %s holds no file to pack", src)
	}
	rep.LeftOut, rep.Files = leftOut, len(files)
	for _, f := range files {
		rep.files[f.rel] = f
	}
	budget := tarBudget(opts.PartSize)
	planned, err := plan(files, budget)
	if err != nil {
		return nil, err
	}
	if err := hashFiles(ctx, files, opts.Concurrency); err != nil {
		return nil, err
	}
	for _, f := range files {
		rep.Bytes += f.fi.Size()
		if len(f.members) > 1 {
			rep.Spanning = append(rep.Spanning, f.rel)
		}
	}
	rep.Total = len(planned)
	rep.ID = packID(files, opts.PartSize)
	name := filepath.Base(src)
	indexes := make([]*Index, len(planned))
	for i, p := range planned {
		x := &Index{Format: Format, Bundle: name, ID: rep.ID, Part: i + 1, Total: rep.Total, PartSize: opts.PartSize}
		for _, m := range p.members {
			x.Members = append(x.Members, *m)
		}
		indexes[i] = x
	}

	// What is there already, what goes
	rep.Parts = make([]PackedPart, len(planned))
	var todo []int
	for i, x := range indexes {
		pn := PartName(name, x.Part, x.Total)
		pp := PackedPart{Name: pn, Path: filepath.Join(dest, pn), Members: len(x.Members)}
		if sha, ok := keptPart(ctx, pp.Path, x); ok {
			fi, _ := os.Stat(pp.Path)
			pp.Size, pp.SHA256, pp.Status = fi.Size(), sha, StatusUnchanged
		} else {
			todo = append(todo, i)
			pp.Status = StatusWouldWrite
			rep.Needed += planned[i].used + planned[i].used/256 + frameSlack + 64
		}
		rep.Parts[i] = pp
	}
	stale, err := staleParts(dest, name, rep.Total)
	if err != nil {
		return nil, err
	}
	rep.Removed = stale
	if rep.Free, err = forecast(opts.Free, dest, fmt.Sprintf("the %d part(s) to write", len(todo)), rep.Needed); err != nil {
		return nil, err
	}
	sums := sumsText(rep.Parts)
	old, _ := os.ReadFile(rep.Sums)
	rep.Changed = len(todo) > 0 || len(stale) > 0 || string(old) != sums
	if opts.Check {
		return rep, nil
	}

	if err := os.MkdirAll(dest, 0o755); err != nil {
		return nil, err
	}
	for _, s := range stale {
		for _, p := range []string{s, s + ".sha256"} {
			if err := os.Remove(filepath.Join(dest, p)); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return nil, err
			}
		}
	}
	errs := make([]error, len(todo))
	pool.Each(len(todo), opts.Concurrency, func(j int) {
		i := todo[j]
		pp := &rep.Parts[i]
		size, sha, err := writePart(ctx, zstd, pp.Path, indexes[i], rep.files, budget, opts.PartSize)
		if err == nil {
			err = atomicfile.Write(pp.Path+".sha256", []byte(sumLine(sha, pp.Name)), 0o644)
		}
		if err != nil {
			errs[j] = fmt.Errorf("%s: %w", pp.Name, err)
			return
		}
		pp.Size, pp.SHA256, pp.Status = size, sha, StatusWritten
	})
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if err := atomicfile.Write(rep.Sums, []byte(sumsText(rep.Parts)), 0o644); err != nil {
		return nil, err
	}
	return rep, nil
}

// inside reports whether p is dir or lies below it.
func inside(p, dir string) bool {
	a, err1 := filepath.Abs(p)
	b, err2 := filepath.Abs(dir)
	if err1 != nil || err2 != nil {
		return false
	}
	return a == b || strings.HasPrefix(a, b+string(filepath.Separator))
}

// listBundle is every file of the bundle: SHA256SUMS, its signature and key first (so that part
// 1 carries them), then the files SHA256SUMS lists, in its order.
func listBundle(src string) ([]*bundleFile, []bundlesums.LeftOut, error) {
	walked, leftOut, err := bundlesums.List(src)
	if err != nil {
		return nil, nil, err
	}
	var out []*bundleFile
	top := map[string]bool{}
	for _, n := range []string{bundlesums.Name, bundlesums.Name + ".asc", bundlesums.Name + ".key"} {
		p := filepath.Join(src, n)
		if fi, err := os.Lstat(p); err == nil && fi.Mode().IsRegular() {
			out = append(out, &bundleFile{rel: n, path: p, fi: fi})
			top[n] = true
		}
	}
	for _, f := range walked {
		if !top[f.Rel] {
			out = append(out, &bundleFile{rel: f.Rel, path: f.Path, fi: f.Info})
		}
	}
	return out, leftOut, nil
}

// plan lays the files out in parts of at most budget tar bytes: in order, each part filled; a
// file that does not fit the room left is split there (when at least maxChunkRoom, or an eighth
// of a part, is left for its first chunk; else it starts the next part).
func plan(files []*bundleFile, budget int64) ([]*plannedPart, error) {
	minChunk := min(int64(maxChunkRoom), budget/8)
	cur := &plannedPart{used: indexBase}
	var parts []*plannedPart
	add := func(m *Member) {
		cur.members = append(cur.members, m)
		cur.used += headerCost(m.Name, m.Size) + roundUp(m.Size) + indexCost(*m)
	}
	for _, f := range files {
		size := f.fi.Size()
		var off int64
		chunk := 0
		for {
			room := budget - cur.used
			last := &Member{Name: f.rel, Path: f.rel, Size: size - off}
			if chunk > 0 {
				last = &Member{Name: ChunkName(f.rel, chunk+1), Path: f.rel, Size: size - off, Chunk: chunk + 1, Offset: off, FileSize: size}
			}
			if headerCost(last.Name, last.Size)+roundUp(last.Size)+indexCost(*last) <= room {
				add(last)
				f.members = append(f.members, last)
				break
			}
			c := &Member{Name: ChunkName(f.rel, chunk+1), Path: f.rel, Chunk: chunk + 1, Offset: off, FileSize: size}
			data := (room - headerCost(c.Name, size) - indexCost(*c)) / block * block
			if data >= minChunk {
				c.Size = data
				add(c)
				f.members = append(f.members, c)
				off += data
				chunk++
			} else if len(cur.members) == 0 {
				return nil, fmt.Errorf("%s: its name is too long for a part of %d bytes", f.rel, budget)
			}
			parts = append(parts, cur)
			cur = &plannedPart{used: indexBase}
		}
		for _, m := range f.members {
			if m.Chunk > 0 {
				m.Chunks = len(f.members)
			}
		}
	}
	if len(cur.members) > 0 {
		parts = append(parts, cur)
	}
	return parts, nil
}

// hashFiles sets every member's sha256 (and a chunk's file_sha256): a whole file's from its
// digest record when valid, else (and for every file that spans parts) by reading it once.
func hashFiles(ctx context.Context, files []*bundleFile, jobs int) error {
	pool.Each(len(files), jobs, func(i int) {
		f := files[i]
		if len(f.members) == 1 {
			if r, ok := verified.Lookup(f.path, f.fi); ok {
				f.members[0].SHA256 = r.SHA256
				return
			}
		}
		fh, err := os.OpenFile(f.path, os.O_RDONLY|syscall.O_NOFOLLOW, 0)
		if err != nil {
			f.err = err
			return
		}
		defer fh.Close()
		whole := sha256.New()
		for _, m := range f.members {
			h := sha256.New()
			if _, err := io.CopyN(io.MultiWriter(whole, h), ctxReader{ctx, fh}, m.Size); err != nil {
				f.err = fmt.Errorf("reading %s: %w", f.path, err)
				return
			}
			m.SHA256 = hex.EncodeToString(h.Sum(nil))
		}
		sum := hex.EncodeToString(whole.Sum(nil))
		for _, m := range f.members {
			if m.Chunk > 0 {
				m.FileSHA256 = sum
			}
		}
	})
	var errs []error
	for _, f := range files {
		errs = append(errs, f.err)
	}
	return errors.Join(errs...)
}

// packID names one pack: the files (path, size, sha256) and the part size.
func packID(files []*bundleFile, partSize int64) string {
	var b strings.Builder
	for _, f := range files {
		sum := f.members[0].SHA256
		if f.members[0].Chunk > 0 {
			sum = f.members[0].FileSHA256
		}
		fmt.Fprintf(&b, "%s %d %s\n", sum, f.fi.Size(), f.rel)
	}
	fmt.Fprintf(&b, "part_size %d\n", partSize)
	return sha256hex([]byte(b.String()))
}

// keptPart: the part file is there, its index is this one's, and it hashes to its .sha256.
func keptPart(ctx context.Context, file string, want *Index) (string, bool) {
	expect, err := readSumFile(file + ".sha256")
	if err != nil {
		return "", false
	}
	x, err := peekIndex(ctx, file)
	if err != nil || x.ID != want.ID || x.Part != want.Part || x.Total != want.Total {
		return "", false
	}
	got, err := fileSHA256(ctx, file)
	return got, err == nil && got == expect
}

// staleParts are the part files in dest of this bundle's name packed into another count.
func staleParts(dest, name string, total int) ([]string, error) {
	ents, err := os.ReadDir(dest)
	if errors.Is(err, fs.ErrNotExist) {
		return []string{}, nil
	}
	if err != nil {
		return nil, err
	}
	out := []string{}
	for _, e := range ents {
		if n, _, t, ok := ParseName(e.Name()); ok && n == name && t != total {
			out = append(out, e.Name())
		}
	}
	return out, nil
}

func sumLine(sha, name string) string { return sha + "  " + name + "\n" }

func sumsText(parts []PackedPart) string {
	var b strings.Builder
	for _, p := range parts {
		if p.SHA256 != "" {
			b.WriteString(sumLine(p.SHA256, p.Name))
		}
	}
	return b.String()
}

// readSumFile reads a one-line sha256sum file: the digest.
func readSumFile(p string) (string, error) {
	b, err := os.ReadFile(p)
	if err != nil {
		return "", err
	}
	f := strings.Fields(string(b))
	if len(f) < 1 || len(f[0]) != 64 {
		return "", fmt.Errorf("%s: not a sha256sum line", p)
	}
	return strings.ToLower(f[0]), nil
}

// countWriter counts what goes through.
type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// writePart writes one part: index, then members, tar through zstd into a temporary dot file
// beside file, renamed into place once complete and within partSize.
func writePart(ctx context.Context, zstd, file string, x *Index, files map[string]*bundleFile, budget, partSize int64) (int64, string, error) {
	idx, err := yaml.Marshal(x)
	if err != nil {
		return 0, "", err
	}
	tmp, err := os.CreateTemp(filepath.Dir(file), "."+filepath.Base(file)+".")
	if err != nil {
		return 0, "", err
	}
	done := false
	defer func() {
		if !done {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	cmd := exec.CommandContext(ctx, zstd, "-q", "-c", "-3")
	var stderr bytes.Buffer
	partHash := sha256.New()
	cmd.Stdout = io.MultiWriter(tmp, partHash)
	cmd.Stderr = &stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return 0, "", err
	}
	if err := cmd.Start(); err != nil {
		return 0, "", fmt.Errorf("running zstd: %w", err)
	}
	bw := bufio.NewWriterSize(stdin, 1<<20)
	cw := &countWriter{w: bw}
	werr := writeTar(ctx, cw, idx, x, files)
	if werr == nil {
		werr = bw.Flush()
	}
	stdin.Close()
	if werr != nil {
		cancel()
	}
	if err := cmd.Wait(); werr == nil && err != nil {
		werr = fmt.Errorf("zstd: %v: %s", err, strings.TrimSpace(stderr.String()))
	}
	if werr != nil {
		return 0, "", werr
	}
	if cw.n > budget {
		return 0, "", fmt.Errorf("the part's tar stream took %d bytes, over its planned %d (a bug)", cw.n, budget)
	}
	if err := tmp.Chmod(0o644); err != nil {
		return 0, "", err
	}
	if err := tmp.Sync(); err != nil {
		return 0, "", err
	}
	fi, err := tmp.Stat()
	if err != nil {
		return 0, "", err
	}
	if fi.Size() > partSize {
		return 0, "", fmt.Errorf("the part file took %d bytes, over part_size %d", fi.Size(), partSize)
	}
	if err := tmp.Close(); err != nil {
		return 0, "", err
	}
	if err := os.Rename(tmp.Name(), file); err != nil {
		return 0, "", err
	}
	done = true
	return fi.Size(), hex.EncodeToString(partHash.Sum(nil)), nil
}

// epoch is the index's modification time (parts of one bundle are the same bytes when packed again).
var epoch = time.Unix(0, 0)

func writeTar(ctx context.Context, w io.Writer, idx []byte, x *Index, files map[string]*bundleFile) error {
	tw := tar.NewWriter(w)
	if err := tw.WriteHeader(&tar.Header{Name: IndexName, Mode: 0o644, Size: int64(len(idx)), ModTime: epoch, Typeflag: tar.TypeReg}); err != nil {
		return err
	}
	if _, err := tw.Write(idx); err != nil {
		return err
	}
	for _, m := range x.Members {
		f := files[m.Path]
		if err := tw.WriteHeader(&tar.Header{Name: m.Name, Mode: 0o644, Size: m.Size, ModTime: f.fi.ModTime(), Typeflag: tar.TypeReg}); err != nil {
			return err
		}
		if err := copyMember(ctx, tw, f, m); err != nil {
			return err
		}
	}
	return tw.Close()
}

// copyMember copies the member's bytes of the file, checking they still hash as planned.
func copyMember(ctx context.Context, w io.Writer, f *bundleFile, m Member) error {
	fh, err := os.OpenFile(f.path, os.O_RDONLY|syscall.O_NOFOLLOW, 0)
	if err != nil {
		return err
	}
	defer fh.Close()
	h := sha256.New()
	if _, err := io.CopyN(io.MultiWriter(w, h), ctxReader{ctx, io.NewSectionReader(fh, m.Offset, m.Size)}, m.Size); err != nil {
		if errors.Is(err, io.EOF) {
			return fmt.Errorf("%s shrank while it was packed", f.path)
		}
		return fmt.Errorf("packing %s: %w", f.path, err)
	}
	if hex.EncodeToString(h.Sum(nil)) != m.SHA256 {
		return fmt.Errorf("%s changed while it was packed", f.path)
	}
	return nil
}

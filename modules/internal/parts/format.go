// Package parts turns a bundle folder into numbered parts that fit a medium (DVD, USB stick) and
// back: each part is a complete zstd-compressed tar archive on its own, led by an index member
// that describes it, with its own sha256 beside it, so that a damaged part is named by itself and
// only it is carried again. A file larger than the room left in a part spans parts as chunks,
// each with its own sha256, reassembled and checked against the whole file's sha256 on unpack.
//
// The format (docs/day-two.md, "Parts for media"):
//
//	<name>.part-0001-of-0005.tar.zst   a zstd frame holding a tar archive:
//	    .airgap-part.yaml              the index (Index): bundle, id, part, total, members
//	    SHA256SUMS, files/..., ...     whole files, under their bundle path
//	    .airgap-chunks/<path>.chunk-0002  a piece of a file that spans parts
//	<name>.part-0001-of-0005.tar.zst.sha256   `sha256sum` line of the part file
//	PARTS.SHA256SUMS                   the same lines for every part
//
// Compression is the zstd command (Debian's zstd package), run as a streaming filter; archives
// are written and read with archive/tar.
package parts

import (
	"errors"
	"fmt"
	"path"
	"regexp"
	"strconv"
	"strings"

	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/tarfile"
)

// Names of the format.
const (
	Format     = "airgap-kubespray-parts/1" // Index.Format
	IndexName  = ".airgap-part.yaml"        // the first member of every part
	ChunkDir   = ".airgap-chunks"           // members holding a piece of a file that spans parts
	SumsName   = "PARTS.SHA256SUMS"         // beside the parts: every part's sha256
	StateDir   = ".airgap-unpack"           // under an unpack's dest: done markers and chunks
	partSuffix = ".tar.zst"
)

// Index is a part's first member: what the part holds, so that a part describes itself.
type Index struct {
	Format   string   `yaml:"format"`
	Bundle   string   `yaml:"bundle"`    // the bundle folder's name when it was packed
	ID       string   `yaml:"id"`        // sha256 over the packed files (path, size, sha256) and part_size
	Part     int      `yaml:"part"`      // this part's number, from 1
	Total    int      `yaml:"total"`     // how many parts the bundle was packed into
	PartSize int64    `yaml:"part_size"` // bytes, the most any part file holds
	Members  []Member `yaml:"members"`   // in the order of the archive, after the index
}

// Member is a file, or a chunk of a file, in a part.
type Member struct {
	Name   string `yaml:"name"`   // the tar member name
	Path   string `yaml:"path"`   // the file's path in the bundle
	Size   int64  `yaml:"size"`   // the member's bytes
	SHA256 string `yaml:"sha256"` // of the member's bytes
	// A chunk's place in its file; zero for a whole file.
	Chunk      int    `yaml:"chunk,omitempty"` // from 1
	Chunks     int    `yaml:"chunks,omitempty"`
	Offset     int64  `yaml:"offset,omitempty"`
	FileSize   int64  `yaml:"file_size,omitempty"`
	FileSHA256 string `yaml:"file_sha256,omitempty"`
}

// PartName is the file name of part n of total for a bundle called name.
func PartName(name string, n, total int) string {
	return fmt.Sprintf("%s.part-%04d-of-%04d%s", name, n, total, partSuffix)
}

var partRe = regexp.MustCompile(`^(.+)\.part-([0-9]{4,})-of-([0-9]{4,})\.tar\.zst$`)

// ParseName splits a part's file name; ok is false for any other name.
func ParseName(file string) (name string, n, total int, ok bool) {
	m := partRe.FindStringSubmatch(file)
	if m == nil {
		return "", 0, 0, false
	}
	n, err1 := strconv.Atoi(m[2])
	total, err2 := strconv.Atoi(m[3])
	if err1 != nil || err2 != nil || n < 1 || n > total {
		return "", 0, 0, false
	}
	return m[1], n, total, true
}

// ChunkName is the member name of chunk c of the file at rel.
func ChunkName(rel string, c int) string { return fmt.Sprintf("%s/%s.chunk-%04d", ChunkDir, rel, c) }

// ParseSize reads a size: bytes, or a number with K, M, G or T (binary: 1K = 1024 bytes; an
// optional trailing "B" or "iB" is accepted, so 4G, 4GB and 4GiB are all 4 * 2^30).
func ParseSize(s string) (int64, error) {
	t := strings.TrimSpace(s)
	u := strings.ToUpper(t)
	u = strings.TrimSuffix(strings.TrimSuffix(u, "B"), "I")
	mult := int64(1)
	if n := len(u); n > 0 {
		if i := strings.IndexByte("KMGT", u[n-1]); i >= 0 {
			mult = int64(1) << (10 * (i + 1))
			u = u[:n-1]
		}
	}
	v, err := strconv.ParseInt(strings.TrimSpace(u), 10, 64)
	if err != nil || v <= 0 || v > (1<<62)/mult {
		return 0, fmt.Errorf("size %q: want a positive number of bytes, or one with K, M, G or T (binary units), e.g. 4G or 700M", s)
	}
	return v * mult, nil
}

// errEscape marks a member name or path that would land outside the bundle.
var errEscape = errors.New("refused")

// checkRel is the rule for a path a part names: a relative slash path (tarfile.Clean, the
// import's rule: no absolute path, no "..", no NUL or backslash) already in its clean form, and
// no dot component (a bundle's dot files are never packed, and the unpack's own state lives in a
// dot folder).
func checkRel(p string) error {
	rel, ok := tarfile.Clean(p)
	if !ok || rel != p || rel == "" {
		return fmt.Errorf("%w: %q is an absolute path, holds .. or is not a clean relative path", errEscape, p)
	}
	for _, c := range strings.Split(rel, "/") {
		if strings.HasPrefix(c, ".") {
			return fmt.Errorf("%w: %q has a dot component (%s)", errEscape, p, c)
		}
	}
	return nil
}

// check validates an index read from a part: the format, the numbers, every member's names.
func (x *Index) check(n, total int) error {
	if x.Format != Format {
		return fmt.Errorf("index format %q, want %q", x.Format, Format)
	}
	if x.Part != n || x.Total != total {
		return fmt.Errorf("the index says part %d of %d, the file name part %d of %d", x.Part, x.Total, n, total)
	}
	if len(x.ID) != 64 {
		return fmt.Errorf("index id %q is not a sha256", x.ID)
	}
	for _, m := range x.Members {
		if err := checkRel(m.Path); err != nil {
			return err
		}
		want := m.Path
		if m.Chunk > 0 {
			want = ChunkName(m.Path, m.Chunk)
			if m.Offset < 0 || m.Size < 0 || m.Offset+m.Size > m.FileSize || m.Chunk > m.Chunks || len(m.FileSHA256) != 64 {
				return fmt.Errorf("%s: chunk %d of %d at %d+%d does not fit a file of %d bytes", m.Path, m.Chunk, m.Chunks, m.Offset, m.Size, m.FileSize)
			}
		}
		if m.Name != want || len(m.SHA256) != 64 || m.Size < 0 {
			return fmt.Errorf("%w: member %q for %q (want %q, a size and a sha256)", errEscape, m.Name, m.Path, want)
		}
	}
	return nil
}

// Budget rules: a part's tar stream is planned to at most tarBudget(part_size) bytes, so that
// even data zstd cannot compress (it then grows by at most ZSTD_COMPRESSBOUND: 1/256 of the input,
// plus 64 bytes, plus the frame header) gives a part file no bigger than part_size.
const (
	block        = 512
	frameSlack   = 4096
	minPartSize  = 64 << 10
	maxChunkRoom = 1 << 20 // a chunk is started in the room left when at least this (or budget/8) is left
)

func tarBudget(partSize int64) int64 { return (partSize - frameSlack - 64) * 256 / 257 }

func roundUp(n int64) int64 { return (n + block - 1) / block * block }

// headerCost is the tar bytes a member's header takes: one block, plus a PAX record (a header
// block and its data) when the name is long or not ASCII or the size is 8 GiB or more.
func headerCost(name string, size int64) int64 {
	long := len(name) > 100 || size >= 1<<33
	for i := 0; i < len(name) && !long; i++ {
		long = name[i] >= 0x80
	}
	if long {
		return 2*block + roundUp(int64(len(name))+128)
	}
	return block
}

// indexCost bounds the bytes a member's entry adds to the index (YAML).
func indexCost(m Member) int64 {
	return 400 + 2*int64(len(m.Name)+len(m.Path))
}

// chunkStem is the folder of a file's chunks under the unpack's state.
func chunkStem(rel string) string { return path.Join("chunks", sha256hex([]byte(rel))) }

// Package tarfile opens tar archives, gzip- or bzip2-compressed or not, and turns member names
// into safe relative paths: the one rule for every archive the collection reads (docker save
// and nerdctl save archives, contrib/offline's offline-files.tar.gz, kubespray-offline's
// folders packed up).
package tarfile

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/bzip2"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

// ErrCompression is returned (wrapped) when an archive starts like gzip but its header does
// not read.
var ErrCompression = errors.New("not a readable compressed archive")

// Reader reads one archive's members.
type Reader struct {
	*tar.Reader
	// Size is the archive file's size on disk (compressed), for caps on what it unpacks to.
	Size int64
	f    *os.File
}

// Open opens the archive at path, detecting gzip and bzip2 by their magic bytes.
func Open(path string) (*Reader, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	br := bufio.NewReaderSize(f, 1<<20)
	magic, _ := br.Peek(3)
	var r io.Reader = br
	switch {
	case bytes.HasPrefix(magic, []byte{0x1f, 0x8b}):
		gz, err := gzip.NewReader(br)
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("%w: gzip: %v", ErrCompression, err)
		}
		r = gz
	case bytes.Equal(magic, []byte("BZh")):
		r = bzip2.NewReader(br)
	}
	return &Reader{Reader: tar.NewReader(r), Size: fi.Size(), f: f}, nil
}

// Close closes the archive file.
func (r *Reader) Close() error { return r.f.Close() }

// Clean turns a member's name into a relative slash path ("./a//b/" -> "a/b", "./" -> "");
// ok is false for an absolute path, a ".." component, NUL or a backslash.
func Clean(name string) (rel string, ok bool) {
	if strings.HasPrefix(name, "/") || strings.ContainsAny(name, "\x00\\") {
		return "", false
	}
	var parts []string
	for _, p := range strings.Split(name, "/") {
		switch p {
		case "", ".":
			continue
		case "..":
			return "", false
		}
		parts = append(parts, p)
	}
	return strings.Join(parts, "/"), true
}

// Regular reports whether a member is a regular file (old archives' types included).
func Regular(h *tar.Header) bool {
	return h.Typeflag == tar.TypeReg || h.Typeflag == tar.TypeRegA || h.Typeflag == tar.TypeCont //nolint:staticcheck // old archives
}

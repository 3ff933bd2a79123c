package fetch

import (
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"os"
	"strings"
)

// Checksum is an expected digest: an algorithm and its lowercase hex value.
type Checksum struct {
	Algo string // "sha256" or "sha512"
	Hex  string
}

// ParseChecksum reads "sha256:<hex>" or "sha512:<hex>"; a bare hex string is taken by its
// length, as Kubespray stores bare sha256 values. An empty string means no checksum.
func ParseChecksum(s string) (Checksum, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return Checksum{}, nil
	}
	algo, val, found := strings.Cut(s, ":")
	if !found {
		algo, val = "", s
	}
	val = strings.ToLower(val)
	if algo == "" {
		switch len(val) {
		case sha256.Size * 2:
			algo = "sha256"
		case sha512.Size * 2:
			algo = "sha512"
		}
	}
	want := map[string]int{"sha256": sha256.Size * 2, "sha512": sha512.Size * 2}[strings.ToLower(algo)]
	if want == 0 {
		return Checksum{}, fmt.Errorf("checksum %q: want sha256:<hex> or sha512:<hex>", s)
	}
	if _, err := hex.DecodeString(val); err != nil || len(val) != want {
		return Checksum{}, fmt.Errorf("checksum %q: not a %s hex digest", s, algo)
	}
	return Checksum{Algo: strings.ToLower(algo), Hex: val}, nil
}

// IsZero reports whether no checksum was given.
func (c Checksum) IsZero() bool { return c.Hex == "" }

func (c Checksum) String() string { return c.Algo + ":" + c.Hex }

// digests is what hashing a file gives: always its sha256, and the expected algorithm's
// digest when that is another one.
type digests struct {
	size   int64
	sha256 string
	other  string
}

func (d digests) matches(c Checksum) bool {
	switch c.Algo {
	case "":
		return true
	case "sha256":
		return d.sha256 == c.Hex
	default:
		return d.other == c.Hex
	}
}

func (d digests) value(c Checksum) string {
	if c.Algo == "" || c.Algo == "sha256" {
		return "sha256:" + d.sha256
	}
	return c.Algo + ":" + d.other
}

func hashFile(path string, c Checksum) (digests, error) {
	f, err := os.Open(path)
	if err != nil {
		return digests{}, err
	}
	defer f.Close()
	return hashReader(f, path, c)
}

// hashOpen hashes an open file from its first byte.
func hashOpen(f *os.File, c Checksum) (digests, error) {
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return digests{}, localErr(err)
	}
	return hashReader(f, f.Name(), c)
}

func hashReader(f io.Reader, path string, c Checksum) (digests, error) {
	h256 := sha256.New()
	var w io.Writer = h256
	var other hash.Hash
	if c.Algo == "sha512" {
		other = sha512.New()
		w = io.MultiWriter(h256, other)
	}
	buf := make([]byte, 1<<20)
	n, err := io.CopyBuffer(w, struct{ io.Reader }{f}, buf) // hide WriterTo: use buf
	if err != nil {
		return digests{}, fmt.Errorf("hashing %s: %w", path, err)
	}
	d := digests{size: n, sha256: hex.EncodeToString(h256.Sum(nil))}
	if other != nil {
		d.other = hex.EncodeToString(other.Sum(nil))
	}
	return d, nil
}

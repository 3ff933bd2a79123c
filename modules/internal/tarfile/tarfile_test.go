package tarfile_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/tarfile"
)

func TestClean(t *testing.T) {
	for in, want := range map[string]string{"./a//b/": "a/b", "a/./b": "a/b", "./": "", "x": "x"} {
		if got, ok := tarfile.Clean(in); !ok || got != want {
			t.Errorf("Clean(%q) = %q, %v; want %q", in, got, ok, want)
		}
	}
	for _, in := range []string{"/etc/passwd", "a/../../b", "..", "a\\b", "a\x00b"} {
		if got, ok := tarfile.Clean(in); ok {
			t.Errorf("Clean(%q) = %q, accepted", in, got)
		}
	}
}

func TestOpenDetectsCompression(t *testing.T) {
	var plain bytes.Buffer
	tw := tar.NewWriter(&plain)
	if err := tw.WriteHeader(&tar.Header{Name: "./m", Mode: 0o644, Size: 2, Typeflag: tar.TypeReg}); err != nil {
		t.Fatal(err)
	}
	tw.Write([]byte("hi"))
	tw.Close()
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(plain.Bytes())
	zw.Close()
	dir := t.TempDir()
	for name, b := range map[string][]byte{"plain.tar": plain.Bytes(), "a.tar.gz": gz.Bytes()} {
		p := filepath.Join(dir, name)
		os.WriteFile(p, b, 0o644)
		r, err := tarfile.Open(p)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		h, err := r.Next()
		if err != nil || h.Name != "./m" || !tarfile.Regular(h) || r.Size != int64(len(b)) {
			t.Errorf("%s: first member %+v, %v, size %d", name, h, err, r.Size)
		}
		r.Close()
	}
	p := filepath.Join(dir, "broken.tar.gz")
	os.WriteFile(p, []byte{0x1f, 0x8b, 0, 0}, 0o644)
	if _, err := tarfile.Open(p); !errors.Is(err, tarfile.ErrCompression) {
		t.Errorf("a broken gzip header: %v, want ErrCompression", err)
	}
}

package imagepull

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/ocistore"
)

// saveImage writes a small random image as a docker-save tarball at path, tagged ref.
func saveImage(t *testing.T, path, ref string) {
	t.Helper()
	img, err := random.Image(4<<10, 2)
	if err != nil {
		t.Fatal(err)
	}
	tag, err := name.NewTag(ref)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := tarball.WriteToFile(path, tag, img); err != nil {
		t.Fatal(err)
	}
}

// Relative dest and src, as a playbook passes them: the import works (issue 12, item 12).
func TestImportWithRelativePaths(t *testing.T) {
	t.Chdir(t.TempDir())
	saveImage(t, filepath.Join("bundle", "images", "pause.tar"), "registry.k8s.io/pause:3.10.1")
	// The work folder of an import killed two hours ago: removed by the next import.
	if err := os.MkdirAll(filepath.Join(".import-killed", "x-1"), 0o755); err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-2 * time.Hour)
	_ = os.Chtimes(".import-killed", old, old)
	for _, dest := range []string{"layout", "./layout2", "sub/../layout3"} {
		store, err := ocistore.Open(dest, true)
		if err != nil {
			t.Fatal(err)
		}
		rep, err := Import(context.Background(), store, []string{"bundle/images/pause.tar", "./bundle/images"}, false)
		if err != nil {
			t.Fatal(err)
		}
		if len(rep.Images) != 2 || rep.Images[0].Status != StatusImported || rep.Images[1].Status != StatusSkipped {
			t.Fatalf("dest %s: images = %+v, want imported then skipped", dest, rep.Images)
		}
		if _, ok, _ := store.Lookup("registry.k8s.io/pause:3.10.1"); !ok {
			t.Errorf("dest %s: the image is not in index.json", dest)
		}
	}
	if left, _ := filepath.Glob(".import-*"); len(left) != 0 {
		t.Errorf("work folders left: %v", left)
	}
}

// writeBomb writes a gzipped tarball whose one member is size bytes of zeros: it compresses a
// thousandfold.
func writeBomb(t *testing.T, path, member string, size int64) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zw := gzip.NewWriter(f)
	tw := tar.NewWriter(zw)
	if err := tw.WriteHeader(&tar.Header{Name: member, Typeflag: tar.TypeReg, Mode: 0o644, Size: size}); err != nil {
		t.Fatal(err)
	}
	zeros := make([]byte, 1<<20)
	for n := int64(0); n < size; n += int64(len(zeros)) {
		if _, err := tw.Write(zeros[:min(int64(len(zeros)), size-n)]); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
}

// An archive that declares far more than it can hold (a gzip bomb, a sparse file) is refused
// with the member named, and nothing big is written (issue 12, low items).
func TestImportCapsWhatIsExtracted(t *testing.T) {
	slack := ExtractSlack
	ExtractSlack = 1 << 20 // 64 MiB by default; a smaller bomb keeps the test fast
	t.Cleanup(func() { ExtractSlack = slack })
	dir := t.TempDir()
	bomb := filepath.Join(dir, "bomb.tar.gz")
	writeBomb(t, bomb, "layers/huge/layer.tar", 24<<20)
	if fi, _ := os.Stat(bomb); fi.Size() > 200<<10 {
		t.Fatalf("the bomb is %d bytes: not a bomb", fi.Size())
	}
	store, err := ocistore.Open(filepath.Join(dir, "layout"), true)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	rep, err := Import(context.Background(), store, []string{bomb}, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Images) != 1 || rep.Images[0].Status != StatusFailed || !errors.Is(rep.Images[0].Err(), ErrTooLarge) ||
		!strings.Contains(rep.Images[0].Msg, "layers/huge/layer.tar") || !strings.Contains(rep.Images[0].Msg, bomb) {
		t.Fatalf("images = %+v, want one failure naming the archive and the member", rep.Images)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %v", d)
	}
	var big []string
	_ = filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err == nil && fi.Mode().IsRegular() && fi.Size() > 1<<20 {
			big = append(big, p)
		}
		return nil
	})
	if len(big) > 0 {
		t.Errorf("unpacked before being refused: %v", big)
	}
}

// A full disk while unpacking reads as a full disk naming the path, not as a corrupt archive.
func TestImportReportsDiskFull(t *testing.T) {
	if _, err := os.Stat("/dev/full"); err != nil {
		t.Skip("no /dev/full")
	}
	dir := t.TempDir()
	saveImage(t, filepath.Join(dir, "pause.tar"), "registry.k8s.io/pause:3.10.1")
	orig := createFile
	t.Cleanup(func() { createFile = orig })
	var first string
	createFile = func(name string) (*os.File, error) {
		if first == "" {
			first = name
		}
		return os.OpenFile("/dev/full", os.O_WRONLY, 0)
	}
	store, err := ocistore.Open(filepath.Join(dir, "layout"), true)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := Import(context.Background(), store, []string{filepath.Join(dir, "pause.tar")}, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Images) != 1 || !errors.Is(rep.Images[0].Err(), ocistore.ErrDiskFull) ||
		strings.Contains(rep.Images[0].Msg, "corrupt") || !strings.Contains(rep.Images[0].Msg, first) {
		t.Fatalf("images = %+v, want one disk-full failure naming %s", rep.Images, first)
	}
}

package regstore_test

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/regstore"
)

func digestOf(t *testing.T, b []byte) v1.Hash {
	t.Helper()
	h, _, err := v1.SHA256(strings.NewReader(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// The paths are distribution's (registry/storage/paths.go), relative to rootdirectory.
func TestPathsAreTheRegistrys(t *testing.T) {
	d := v1.Hash{Algorithm: "sha256", Hex: "ab" + strings.Repeat("0", 62)}
	hex := d.Hex
	for got, want := range map[string]string{
		regstore.BlobPath(d):                        "docker/registry/v2/blobs/sha256/ab/" + hex + "/data",
		regstore.LayerLink("calico/node", d):        "docker/registry/v2/repositories/calico/node/_layers/sha256/" + hex + "/link",
		regstore.RevisionLink("pause", d):           "docker/registry/v2/repositories/pause/_manifests/revisions/sha256/" + hex + "/link",
		regstore.TagCurrent("pause", "3.10"):        "docker/registry/v2/repositories/pause/_manifests/tags/3.10/current/link",
		regstore.TagIndexLink("x/pause", "3.10", d): "docker/registry/v2/repositories/x/pause/_manifests/tags/3.10/index/sha256/" + hex + "/link",
	} {
		if got != want {
			t.Errorf("got %s, want %s", got, want)
		}
	}
}

// A link holds "sha256:<hex>" and nothing else; it is written once; no temporary file stays.
func TestLinkHoldsTheDigestAndIsWrittenOnce(t *testing.T) {
	dir := t.TempDir()
	s, err := regstore.Open(dir, true)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	d := digestOf(t, []byte("manifest"))
	p := regstore.TagCurrent("pause", "3.10")
	if wrote, err := s.Link(p, d); err != nil || !wrote {
		t.Fatalf("Link: wrote %v, %v", wrote, err)
	}
	b, err := os.ReadFile(filepath.Join(dir, p))
	if err != nil || string(b) != d.String() {
		t.Fatalf("link holds %q (%v), want %q", b, err, d.String())
	}
	fi, _ := os.Stat(filepath.Join(dir, p))
	if wrote, err := s.Link(p, d); err != nil || wrote {
		t.Fatalf("second Link: wrote %v, %v; want nothing written", wrote, err)
	}
	if fi2, _ := os.Stat(filepath.Join(dir, p)); !fi2.ModTime().Equal(fi.ModTime()) {
		t.Error("the unchanged link was rewritten")
	}
	if got, ok, err := s.ReadLink(p); err != nil || !ok || got != d {
		t.Errorf("ReadLink: %v %v %v", got, ok, err)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, ".airgap-tmp", "tmp-*")); len(left) != 0 {
		t.Errorf("temporary files left: %v", left)
	}
	// PutBytes refuses content that is not its digest.
	if _, err := s.PutBytes(d, []byte("other")); err == nil {
		t.Error("PutBytes stored content under another digest")
	}
}

// A symlink inside the storage that leads out of it is refused: nothing is written outside.
func TestSymlinkOutOfTheStorageIsRefused(t *testing.T) {
	dir, outside := t.TempDir(), t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "docker", "registry"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(dir, "docker", "registry", "v2")); err != nil {
		t.Fatal(err)
	}
	s, err := regstore.Open(dir, true)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	b := []byte("content")
	d := digestOf(t, b)
	if _, err := s.Link(regstore.LayerLink("pause", d), d); err == nil {
		t.Error("a link was written through a symlink leading out")
	}
	if _, err := s.PutBytes(d, b); err == nil {
		t.Error("a blob was written through a symlink leading out")
	}
	src := filepath.Join(t.TempDir(), "blob")
	_ = os.WriteFile(src, b, 0o644)
	if _, _, err := s.PutBlob(src, d, int64(len(b)), true); err == nil {
		t.Error("a blob was linked through a symlink leading out")
	}
	if ents, _ := os.ReadDir(outside); len(ents) != 0 {
		t.Errorf("written outside the storage: %v", ents)
	}
}

// On one filesystem a blob is a hard link (same inode, made readable by others); without
// hard links it is a copy; either way it is not written twice. A killed run's temporary file
// is removed by the next Open.
func TestPutBlobLinksOrCopies(t *testing.T) {
	dir := t.TempDir()
	stale := filepath.Join(dir, ".airgap-tmp", "tmp-killed")
	_ = os.MkdirAll(filepath.Dir(stale), 0o755)
	_ = os.WriteFile(stale, []byte("half"), 0o644)
	s, err := regstore.Open(dir, true)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Error("the temporary file of a killed run was not removed")
	}
	src := filepath.Join(dir, "..", filepath.Base(dir)+"-src")
	t.Cleanup(func() { os.Remove(src) })
	b := []byte("layer content")
	if err := os.WriteFile(src, b, 0o600); err != nil {
		t.Fatal(err)
	}
	d := digestOf(t, b)
	if !s.SameFilesystem(src) {
		t.Fatal("a file beside the storage is not on its filesystem")
	}
	how, n, err := s.PutBlob(src, d, int64(len(b)), true)
	if err != nil || how != regstore.Linked || n != 0 {
		t.Fatalf("PutBlob: %v %d %v; want linked", how, n, err)
	}
	var a, c syscall.Stat_t
	_ = syscall.Stat(src, &a)
	_ = syscall.Stat(filepath.Join(dir, regstore.BlobPath(d)), &c)
	if a.Ino != c.Ino {
		t.Error("the blob is not a hard link of the source")
	}
	if a.Mode&0o044 != 0o044 {
		t.Errorf("the linked blob has mode %o: the registry's user cannot read it", a.Mode&0o777)
	}
	if how, _, err := s.PutBlob(src, d, int64(len(b)), true); err != nil || how != regstore.Present {
		t.Errorf("second PutBlob: %v %v; want present", how, err)
	}
	b2 := []byte("another layer")
	src2 := filepath.Join(t.TempDir(), "blob")
	_ = os.WriteFile(src2, b2, 0o600)
	d2 := digestOf(t, b2)
	how, _, err = s.PutBlob(src2, d2, int64(len(b2)), false)
	if err != nil || (how != regstore.Copied && how != regstore.Cloned) {
		t.Fatalf("PutBlob without links: %v %v", how, err)
	}
	got, _ := os.ReadFile(filepath.Join(dir, regstore.BlobPath(d2)))
	fi, _ := os.Stat(filepath.Join(dir, regstore.BlobPath(d2)))
	if string(got) != string(b2) || fi.Mode().Perm() != 0o644 {
		t.Errorf("copied blob: %q mode %o", got, fi.Mode().Perm())
	}
	if !s.HasBlob(d2, int64(len(b2))) || s.HasBlob(d2, 1) {
		t.Error("HasBlob does not check the size")
	}
}

// Reading a storage that does not exist yet (check mode) finds nothing and writes nothing.
func TestReadingAMissingStorage(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "not-yet")
	s, err := regstore.Open(dir, false)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, _, ok, err := s.Tag("pause", "3.10"); ok || err != nil {
		t.Errorf("Tag: %v %v", ok, err)
	}
	if free, err := s.Free(); err != nil || free <= 0 {
		t.Errorf("Free: %d %v", free, err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Error("reading created the storage folder")
	}
}

// A copy that fails half way (the source is shorter than its size) leaves nothing at the
// final path and no temporary file.
func TestFailedCopyLeavesNothing(t *testing.T) {
	dir := t.TempDir()
	s, err := regstore.Open(dir, true)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	b := []byte("truncated layer")
	src := filepath.Join(t.TempDir(), "blob")
	_ = os.WriteFile(src, b, 0o644)
	d := digestOf(t, append(b, "more"...))
	if _, _, err := s.PutBlob(src, d, int64(len(b))+4, false); err == nil {
		t.Fatal("a short copy succeeded")
	}
	if _, err := os.Stat(filepath.Join(dir, regstore.BlobPath(d))); !os.IsNotExist(err) {
		t.Error("a partial blob is visible at its final path")
	}
	if left, _ := filepath.Glob(filepath.Join(dir, ".airgap-tmp", "tmp-*")); len(left) != 0 {
		t.Errorf("temporary files left: %v", left)
	}
}

package bundleapply_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/bundleapply"
	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/delta"
	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/imagepush"
	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/ocistore"
	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/ocistore/ocistoretest"
	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/regstore"
	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/sitestate"
)

const (
	oldRef = "quay.io/example/old:1.0"
	newRef = "quay.io/example/new:2.0"
	// their references in the site's registry (imagename's default mapping strips the host)
	oldSite = "example/old:1.0"
	newSite = "example/new:2.0"
)

func layer(t *testing.T, size int64) v1.Layer {
	t.Helper()
	l, err := random.Layer(size, types.DockerLayer)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func image(t *testing.T, layers ...v1.Layer) v1.Image {
	t.Helper()
	img, err := mutate.AppendLayers(empty.Image, layers...)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", "amd64"
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		t.Fatal(err)
	}
	return img
}

func digestOf(t *testing.T, x interface{ Digest() (v1.Hash, error) }) v1.Hash {
	t.Helper()
	d, err := x.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func write(t *testing.T, p string, b []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// fill fills the registry storage from the layout, as the mirror does.
func fill(t *testing.T, store *ocistore.Store, dir string) *imagepush.Report {
	t.Helper()
	entries, err := imagepush.FromLayout(store, nil)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := imagepush.Fill(context.Background(), entries, imagepush.FillOptions{Dir: dir, Layout: store})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rep.Images {
		if r.Status == imagepush.StatusFailed {
			t.Fatalf("fill: %s", r.Msg)
		}
	}
	return rep
}

// snapshot is every entry of a tree with its mode, size and content digest.
func snapshot(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, _ := d.Info()
		v := fmt.Sprint(fi.Mode(), fi.Size())
		if fi.Mode().IsRegular() {
			b, _ := os.ReadFile(p)
			v += " " + sha(b)
		}
		out[p] = v
		return nil
	})
	return out
}

// world is a site (bundle with files and a layout, a registry storage filled from it) and a
// delta made against it: one new file, one new image sharing the old image's base layer, which
// the delta leaves out.
type world struct {
	bundle, storage, src string
	oldImg, newImg       v1.Image
	base                 v1.Layer
	oldFile, newFile     []byte
	state                *sitestate.State
	delta                *delta.Delta
}

func newWorld(t *testing.T) *world {
	t.Helper()
	dir := t.TempDir()
	w := &world{bundle: filepath.Join(dir, "site"), storage: filepath.Join(dir, "storage"), src: filepath.Join(dir, "delta"),
		oldFile: []byte("kubelet v1.33"), newFile: []byte("kubelet v1.34")}
	w.base = layer(t, 32<<10)
	w.oldImg = image(t, w.base, layer(t, 8<<10))
	w.newImg = image(t, w.base, layer(t, 8<<10))

	write(t, filepath.Join(w.bundle, "files", "dl.k8s.io/v1.33.0/kubelet"), w.oldFile)
	write(t, filepath.Join(w.bundle, "manifest.yaml"), []byte("kubespray_version: v2.30.0\n"))
	site := ocistoretest.WriteLayout(t, filepath.Join(w.bundle, "images"), map[string]any{oldRef: w.oldImg})
	fill(t, site, w.storage)

	write(t, filepath.Join(w.src, "files", "dl.k8s.io/v1.34.0/kubelet"), w.newFile)
	write(t, filepath.Join(w.src, "manifest.yaml"), []byte("kubespray_version: v2.31.0\n"))
	write(t, filepath.Join(w.src, "SHA256SUMS"), []byte("sums\n"))
	// The delta carries both images' manifests and configs (the old one is in both views), and
	// leaves out the layers the site's registry holds, as the delta download does.
	src := ocistoretest.WriteLayout(t, filepath.Join(w.src, "images"), map[string]any{oldRef: w.oldImg, newRef: w.newImg})
	baseDigest := digestOf(t, w.base)
	oldLayers, _ := w.oldImg.Layers()
	oldTop := digestOf(t, oldLayers[1])
	for _, d := range []v1.Hash{baseDigest, oldTop} {
		if err := os.Remove(src.BlobPath(d)); err != nil {
			t.Fatal(err)
		}
	}
	oldDigest := digestOf(t, w.oldImg)
	w.delta = &delta.Delta{
		Base: delta.Base{StateSHA256: strings.Repeat("5", 64), Views: []string{"v2.30"}},
		ReliesOn: delta.ReliesOn{
			Files: []delta.File{{Path: "dl.k8s.io/v1.33.0/kubelet", SHA256: sha(w.oldFile)}},
			Images: []delta.Image{
				{Reference: newSite, Digest: digestOf(t, w.newImg).String(), Blobs: []string{baseDigest.String()}},
				{Reference: oldSite, Digest: oldDigest.String(), Blobs: []string{baseDigest.String(), oldTop.String()}},
			},
		},
	}
	b, err := w.delta.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(w.src, delta.FileName), b)

	cfg, _ := w.oldImg.ConfigName()
	w.state = &sitestate.State{
		Files:  []sitestate.File{{Path: "dl.k8s.io/v1.33.0/kubelet", SHA256: sha(w.oldFile), Size: int64(len(w.oldFile))}},
		Images: []sitestate.Image{{Reference: oldSite, Source: oldRef, Digest: oldDigest.String()}},
		Blobs:  []string{oldDigest.String(), cfg.String(), baseDigest.String(), oldTop.String()},
	}
	return w
}

func (w *world) apply(t *testing.T, check bool) (*bundleapply.Report, error) {
	t.Helper()
	return bundleapply.Apply(context.Background(), bundleapply.Options{Src: w.src, Bundle: w.bundle, StorageDir: w.storage, Check: check, State: w.state})
}

func tagOf(t *testing.T, storage, repo, tag string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(storage, regstore.TagCurrent(repo, tag)))
	if err != nil {
		return ""
	}
	return string(b)
}

// Check mode plans and writes nothing; the apply merges files, blobs and the index entry; a
// fill of the merged layout then serves the old and the new tag; a rerun is a no-op.
func TestApplyThenFillServesOldAndNew(t *testing.T) {
	w := newWorld(t)
	before := snapshot(t, w.bundle)
	rep, err := w.apply(t, true)
	if err != nil {
		t.Fatal(err)
	}
	want := bundleapply.Counts{Files: 1, Blobs: 3, Images: 1} // the new image's manifest, config and own layer
	if got := rep.Applied; got.Files != want.Files || got.Blobs != want.Blobs || got.Images != want.Images || !rep.Changed {
		t.Fatalf("check: %+v changed=%v, want %+v", got, rep.Changed, want)
	}
	if after := snapshot(t, w.bundle); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Fatalf("check mode wrote:\nbefore %v\nafter  %v", before, after)
	}

	rep, err = w.apply(t, false)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Applied.Files != 1 || rep.Applied.Blobs != 3 || rep.Applied.FromStorage != 0 || rep.Applied.Images != 1 || !rep.Changed {
		t.Fatalf("apply: %+v", rep)
	}
	if b, err := os.ReadFile(filepath.Join(w.bundle, "files", "dl.k8s.io/v1.34.0/kubelet")); err != nil || string(b) != string(w.newFile) {
		t.Errorf("new file: %q, %v", b, err)
	}
	if b, err := os.ReadFile(filepath.Join(w.bundle, "files", "dl.k8s.io/v1.33.0/kubelet")); err != nil || string(b) != string(w.oldFile) {
		t.Errorf("old file: %q, %v", b, err)
	}
	site, err := ocistore.Open(filepath.Join(w.bundle, "images"), false)
	if err != nil {
		t.Fatal(err)
	}
	entries, _ := site.Entries()
	if len(entries) != 2 || entries[0].Ref != newRef || entries[1].Ref != oldRef {
		t.Fatalf("merged index: %+v", entries)
	}
	kept, err := os.ReadFile(rep.Manifest)
	if err != nil || string(kept) != "kubespray_version: v2.31.0\n" || rep.Manifest != filepath.Join(w.bundle, ".airgap", "deltas", rep.Delta, "manifest.yaml") {
		t.Errorf("kept manifest %s: %q %v", rep.Manifest, kept, err)
	}
	if b, err := os.ReadFile(filepath.Join(filepath.Dir(rep.Manifest), "SHA256SUMS")); err != nil || string(b) != "sums\n" {
		t.Errorf("kept SHA256SUMS: %q %v", b, err)
	}
	applied, err := bundleapply.ReadApplied(w.bundle)
	if err != nil || len(applied.Deltas) != 1 || applied.Deltas[0].Delta != rep.Delta || applied.Deltas[0].Images != 1 || applied.Deltas[0].Base != w.delta.Base.StateSHA256 {
		t.Fatalf("applied.yaml: %+v %v", applied, err)
	}

	// The mirror fills the storage from the merged layout: both tags served.
	fill(t, site, w.storage)
	if got := tagOf(t, w.storage, "example/old", "1.0"); got != digestOf(t, w.oldImg).String() {
		t.Errorf("old tag = %q", got)
	}
	if got := tagOf(t, w.storage, "example/new", "2.0"); got != digestOf(t, w.newImg).String() {
		t.Errorf("new tag = %q", got)
	}

	// A rerun writes nothing.
	before = snapshot(t, w.bundle)
	rep, err = w.apply(t, false)
	if err != nil || rep.Changed || rep.Applied != (bundleapply.Counts{}) {
		t.Fatalf("rerun: %+v %v", rep, err)
	}
	if after := snapshot(t, w.bundle); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Errorf("the rerun wrote")
	}
}

// A blob the delta left out that the site's bundle lacks too (pruned) comes from the registry's
// storage, verified: the merged layout is whole.
func TestApplyTakesLeftOutBlobsFromTheStorage(t *testing.T) {
	w := newWorld(t)
	site, _ := ocistore.Open(filepath.Join(w.bundle, "images"), false)
	base := digestOf(t, w.base)
	if err := os.Remove(site.BlobPath(base)); err != nil {
		t.Fatal(err)
	}
	rep, err := w.apply(t, false)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Applied.Blobs != 4 || rep.Applied.FromStorage != 1 {
		t.Errorf("applied = %+v, want 4 blobs, 1 from the storage", rep.Applied)
	}
	size, _ := w.base.Size()
	if err := site.Verify(base, size); err != nil {
		t.Error(err)
	}
}

// An image removed from the site after the delta was made: refused, naming it; nothing written.
// A delta whose new image lacks a blob nothing holds: refused, naming the image and the blob.
func TestApplyRefusesAndWritesNothing(t *testing.T) {
	t.Run("image the delta relies on is gone", func(t *testing.T) {
		w := newWorld(t)
		w.state.Images = nil
		before := snapshot(t, w.bundle)
		rep, err := w.apply(t, false)
		if !errors.Is(err, bundleapply.ErrRefused) || !strings.Contains(err.Error(), "the site no longer serves "+oldSite) {
			t.Fatalf("err = %v", err)
		}
		if len(rep.Mismatches) != 1 || rep.Mismatches[0].Item != oldSite || rep.Mismatches[0].Kind != delta.KindImage {
			t.Errorf("mismatches = %+v", rep.Mismatches)
		}
		if after := snapshot(t, w.bundle); fmt.Sprint(after) != fmt.Sprint(before) {
			t.Errorf("a refused delta wrote")
		}
	})
	t.Run("blob nothing holds", func(t *testing.T) {
		w := newWorld(t)
		site, _ := ocistore.Open(filepath.Join(w.bundle, "images"), false)
		base := digestOf(t, w.base)
		os.Remove(site.BlobPath(base))
		os.RemoveAll(filepath.Join(w.storage, filepath.Dir(regstore.BlobPath(base))))
		before := snapshot(t, w.bundle)
		rep, err := w.apply(t, false)
		if !errors.Is(err, bundleapply.ErrRefused) || len(rep.Mismatches) != 1 || rep.Mismatches[0].Item != newRef ||
			!strings.Contains(rep.Mismatches[0].Msg, base.String()) {
			t.Fatalf("err = %v, mismatches = %+v", err, rep.Mismatches)
		}
		if after := snapshot(t, w.bundle); fmt.Sprint(after) != fmt.Sprint(before) {
			t.Errorf("a refused delta wrote")
		}
	})
	t.Run("a symbolic link in the delta's files", func(t *testing.T) {
		w := newWorld(t)
		if err := os.Symlink("/etc/passwd", filepath.Join(w.src, "files", "passwd")); err != nil {
			t.Fatal(err)
		}
		before := snapshot(t, w.bundle)
		if _, err := w.apply(t, false); !errors.Is(err, bundleapply.ErrRefused) || !strings.Contains(err.Error(), "passwd") {
			t.Fatalf("err = %v", err)
		}
		if after := snapshot(t, w.bundle); fmt.Sprint(after) != fmt.Sprint(before) {
			t.Errorf("a refused delta wrote")
		}
	})
	t.Run("not a delta", func(t *testing.T) {
		w := newWorld(t)
		os.Remove(filepath.Join(w.src, delta.FileName))
		if _, err := w.apply(t, false); !errors.Is(err, bundleapply.ErrNotADelta) || !strings.Contains(err.Error(), w.src) {
			t.Errorf("err = %v", err)
		}
	})
}

// A symbolic link in the site's files/ is never written through: a folder link pointing out
// refuses the file (before anything is written), a link at the file's own path is replaced.
func TestApplyNeverWritesThroughALink(t *testing.T) {
	outside := t.TempDir()
	write(t, filepath.Join(outside, "kubelet"), []byte("outside"))

	w := newWorld(t)
	os.MkdirAll(filepath.Join(w.bundle, "files", "dl.k8s.io"), 0o755)
	if err := os.Symlink(outside, filepath.Join(w.bundle, "files", "dl.k8s.io", "v1.34.0")); err != nil {
		t.Fatal(err)
	}
	before := snapshot(t, w.bundle)
	if _, err := w.apply(t, false); err == nil || !strings.Contains(err.Error(), "dl.k8s.io/v1.34.0/kubelet") {
		t.Fatalf("err = %v", err)
	}
	if after := snapshot(t, w.bundle); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Errorf("wrote after refusing a link")
	}

	w = newWorld(t)
	os.MkdirAll(filepath.Join(w.bundle, "files", "dl.k8s.io", "v1.34.0"), 0o755)
	if err := os.Symlink(filepath.Join(outside, "kubelet"), filepath.Join(w.bundle, "files", "dl.k8s.io", "v1.34.0", "kubelet")); err != nil {
		t.Fatal(err)
	}
	if _, err := w.apply(t, false); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Lstat(filepath.Join(w.bundle, "files", "dl.k8s.io", "v1.34.0", "kubelet"))
	if err != nil || !fi.Mode().IsRegular() {
		t.Errorf("the link was not replaced by the file: %v %v", fi, err)
	}
	if b, _ := os.ReadFile(filepath.Join(outside, "kubelet")); string(b) != "outside" {
		t.Errorf("written through the link: %q", b)
	}
}

// Against the state sitestate.Export gives: the delta applies (its new image relies on a layer
// the storage holds); an image removed from the registry's storage after the delta was made
// refuses it, naming the image, and nothing is written.
func TestApplyAgainstTheExportedState(t *testing.T) {
	w := newWorld(t)
	w.state = nil
	rep, err := w.apply(t, false)
	if err != nil || rep.Applied.Images != 1 || len(rep.Mismatches) != 0 {
		t.Fatalf("apply: %+v %v", rep, err)
	}

	w = newWorld(t)
	w.state = nil
	if err := os.RemoveAll(filepath.Join(w.storage, regstore.RepoPath("example/old"))); err != nil {
		t.Fatal(err)
	}
	before := snapshot(t, w.bundle)
	rep, err = w.apply(t, false)
	if !errors.Is(err, bundleapply.ErrRefused) || len(rep.Mismatches) != 1 || rep.Mismatches[0].Item != oldSite ||
		!strings.Contains(err.Error(), "the site no longer serves "+oldSite) {
		t.Fatalf("err = %v, report %+v", err, rep)
	}
	if after := snapshot(t, w.bundle); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Errorf("a refused delta wrote")
	}
}

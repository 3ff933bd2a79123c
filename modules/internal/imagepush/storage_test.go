package imagepush_test

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/imagename"
	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/imagepush"
	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/ocistore"
	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/ocistore/ocistoretest"
	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/regstore"
	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/tagmerge"
)

func imageOn(t *testing.T, arch string, layers ...v1.Layer) v1.Image {
	t.Helper()
	img, err := mutate.AppendLayers(empty.Image, layers...)
	if err != nil {
		t.Fatal(err)
	}
	return withPlatform(t, img, arch)
}

func layer(t *testing.T, size int64) v1.Layer {
	t.Helper()
	l, err := random.Layer(size, types.DockerLayer)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func fill(t *testing.T, store *ocistore.Store, dir string, opts imagepush.FillOptions) *imagepush.Report {
	t.Helper()
	entries, err := imagepush.FromLayout(store, nil)
	if err != nil {
		t.Fatal(err)
	}
	opts.Dir, opts.Layout = dir, store
	rep, err := imagepush.Fill(context.Background(), entries, opts)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func link(t *testing.T, dir, p string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, p))
	if err != nil {
		return ""
	}
	return string(b)
}

// snapshot is every file of a tree with its size, mode and mtime.
func snapshot(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, _ := d.Info()
		out[p] = fmt.Sprint(fi.Mode(), fi.ModTime(), fi.Size())
		return nil
	})
	return out
}

// A fill writes what the registry writes: blobs once (hard links on one filesystem), layer
// links for layers and configs, revision links for every manifest (an index's children
// too), tags; names as mapping and namespace give them. A rerun writes nothing.
func TestFillWritesTheRegistrysStorage(t *testing.T) {
	base := layer(t, 64<<10)
	proxy := imageOn(t, "amd64", base, layer(t, 32<<10))
	apiserver := imageOn(t, "amd64", base, layer(t, 32<<10))
	amd, arm := imageOn(t, "amd64", layer(t, 16<<10)), imageOn(t, "arm64", layer(t, 16<<10))
	idx := mutate.AppendManifests(empty.Index,
		mutate.IndexAddendum{Add: amd, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}}},
		mutate.IndexAddendum{Add: arm, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "arm64"}}})
	work := t.TempDir()
	store := ocistoretest.WriteLayout(t, filepath.Join(work, "layout"), map[string]any{
		"registry.k8s.io/kube-proxy:v1.35.4":     proxy,
		"registry.k8s.io/kube-apiserver:v1.35.4": apiserver,
		"registry.k8s.io/pause:3.10.1":           idx,
	})
	dir := filepath.Join(work, "storage")
	opts := imagepush.FillOptions{Mapping: imagename.Mapping{Mode: imagename.Strip, Namespace: "x"}}
	rep := fill(t, store, dir, opts)
	if rep.Count(imagepush.StatusPushed) != 3 || !rep.Changed() {
		t.Fatalf("report %+v: want 3 written", rep.Images)
	}
	// 9 distinct blobs: the shared base, 2 own layers, 2 configs; the index's 2 layers, 2 configs.
	if tot := rep.Totals(); tot["linked"] != 9 || tot["copied"] != 0 || rep.Bytes != 0 {
		t.Errorf("totals %v, bytes %d: want 9 hard-linked, nothing copied", tot, rep.Bytes)
	}
	for _, c := range []struct {
		repo, tag string
		img       any
	}{{"x/kube-proxy", "v1.35.4", proxy}, {"x/kube-apiserver", "v1.35.4", apiserver}, {"x/pause", "3.10.1", idx}} {
		d, _ := c.img.(interface{ Digest() (v1.Hash, error) }).Digest()
		if got := link(t, dir, regstore.TagCurrent(c.repo, c.tag)); got != d.String() {
			t.Errorf("%s:%s current link %q, want %s", c.repo, c.tag, got, d)
		}
		for _, p := range []string{regstore.TagIndexLink(c.repo, c.tag, d), regstore.RevisionLink(c.repo, d)} {
			if got := link(t, dir, p); got != d.String() {
				t.Errorf("%s holds %q, want %s", p, got, d)
			}
		}
	}
	for _, img := range []v1.Image{amd, arm} {
		d, _ := img.Digest()
		cd, _ := img.ConfigName()
		ls, _ := img.Layers()
		ld, _ := ls[0].Digest()
		for _, p := range []string{regstore.RevisionLink("x/pause", d), regstore.LayerLink("x/pause", cd), regstore.LayerLink("x/pause", ld)} {
			if link(t, dir, p) == "" {
				t.Errorf("%s is missing", p)
			}
		}
	}
	bd, _ := base.Digest()
	var a, b syscall.Stat_t
	_ = syscall.Stat(store.BlobPath(bd), &a)
	_ = syscall.Stat(filepath.Join(dir, regstore.BlobPath(bd)), &b)
	if a.Ino != b.Ino {
		t.Error("the shared layer is not a hard link of the layout's blob")
	}
	before := snapshot(t, dir)
	again := fill(t, store, dir, opts)
	if again.Changed() || again.Count(imagepush.StatusSkipped) != 3 {
		t.Errorf("rerun %+v: want all skipped", again.Images)
	}
	after := snapshot(t, dir)
	for p, v := range before {
		if after[p] != v && !strings.Contains(p, ".airgap-tmp") {
			t.Errorf("rerun changed %s", p)
		}
	}
	if len(after) != len(before) {
		t.Errorf("rerun added files: %d before, %d after", len(before), len(after))
	}
}

// A corrupt blob fails its image, naming the blob; nothing of that image is written.
func TestFillCorruptBlobWritesNothingOfItsImage(t *testing.T) {
	own := layer(t, 32<<10)
	bad := imageOn(t, "amd64", own)
	good := imageOn(t, "amd64", layer(t, 32<<10))
	work := t.TempDir()
	store := ocistoretest.WriteLayout(t, filepath.Join(work, "layout"), map[string]any{
		"quay.io/calico/node:v3.31.5": bad, "registry.k8s.io/pause:3.10.1": good})
	d, _ := own.Digest()
	p := store.BlobPath(d)
	b, _ := os.ReadFile(p)
	b[len(b)/2] ^= 0xff
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(work, "storage")
	rep := fill(t, store, dir, imagepush.FillOptions{})
	for _, r := range rep.Images {
		switch r.Source {
		case "quay.io/calico/node:v3.31.5":
			if r.Status != imagepush.StatusFailed || !errors.Is(r.Err(), imagepush.ErrVerify) || !strings.Contains(r.Msg, d.String()) {
				t.Errorf("corrupt image %+v: want failed naming %s", r, d)
			}
		default:
			if r.Status != imagepush.StatusPushed {
				t.Errorf("%s %+v: want written", r.Source, r)
			}
		}
	}
	if _, err := os.Stat(filepath.Join(dir, regstore.RepoPath("calico/node"))); !os.IsNotExist(err) {
		t.Error("the corrupt image's repository was created")
	}
	cd, _ := bad.ConfigName()
	for _, h := range []v1.Hash{d, cd} {
		if _, err := os.Stat(filepath.Join(dir, regstore.BlobPath(h))); !os.IsNotExist(err) {
			t.Errorf("blob %s of the corrupt image was written", h)
		}
	}
}

// amd64 then arm64 into one tag: an index of both, and each bundle's own manifest stays
// pullable by digest. The same platform with other content fails naming both digests,
// unless on_existing is overwrite.
func TestFillMergesPlatformsIntoOneTag(t *testing.T) {
	work := t.TempDir()
	dir := filepath.Join(work, "storage")
	amd, arm, other := imageOn(t, "amd64", layer(t, 8<<10)), imageOn(t, "arm64", layer(t, 8<<10)), imageOn(t, "amd64", layer(t, 8<<10))
	ref := "registry.k8s.io/pause:3.10.1"
	fill(t, ocistoretest.WriteLayout(t, filepath.Join(work, "amd"), map[string]any{ref: amd}), dir, imagepush.FillOptions{})
	armStore := ocistoretest.WriteLayout(t, filepath.Join(work, "arm"), map[string]any{ref: arm})
	rep := fill(t, armStore, dir, imagepush.FillOptions{})
	if rep.Count(imagepush.StatusPushed) != 1 {
		t.Fatalf("arm64 fill %+v", rep.Images)
	}
	s, _ := regstore.Open(dir, false)
	defer s.Close()
	cur, raw, ok, err := s.Tag("pause", "3.10.1")
	if err != nil || !ok {
		t.Fatal(err)
	}
	im, err := v1.ParseIndexManifest(strings.NewReader(string(raw)))
	if err != nil {
		t.Fatalf("the tag holds no index: %v", err)
	}
	want := map[string]bool{}
	for _, img := range []v1.Image{amd, arm} {
		d, _ := img.Digest()
		want[d.String()] = true
		if link(t, dir, regstore.RevisionLink("pause", d)) != d.String() {
			t.Errorf("%s is not pullable by digest", d)
		}
	}
	for _, m := range im.Manifests {
		delete(want, m.Digest.String())
	}
	if len(want) != 0 || link(t, dir, regstore.RevisionLink("pause", cur)) != cur.String() {
		t.Errorf("merged index %s lacks %v", raw, want)
	}
	if again := fill(t, armStore, dir, imagepush.FillOptions{}); again.Changed() {
		t.Errorf("refill of the merged platform %+v: want skipped", again.Images)
	}
	otherStore := ocistoretest.WriteLayout(t, filepath.Join(work, "other"), map[string]any{ref: other})
	rep = fill(t, otherStore, dir, imagepush.FillOptions{})
	od, _ := other.Digest()
	ad, _ := amd.Digest()
	r := rep.Images[0]
	if r.Status != imagepush.StatusFailed || !errors.Is(r.Err(), tagmerge.ErrConflict) || !strings.Contains(r.Msg, od.String()) || !strings.Contains(r.Msg, ad.String()) {
		t.Errorf("same platform, other content: %+v; want failed naming %s and %s", r, ad, od)
	}
	if got, _, _, _ := s.Tag("pause", "3.10.1"); got != cur {
		t.Error("a refused fill moved the tag")
	}
	rep = fill(t, otherStore, dir, imagepush.FillOptions{OnExisting: tagmerge.Overwrite})
	if got, _, _, _ := s.Tag("pause", "3.10.1"); rep.Images[0].Status != imagepush.StatusPushed || got != od {
		t.Errorf("overwrite %+v: tag at %s, want %s", rep.Images[0], got, od)
	}
}

// Check mode plans and writes nothing, not even the storage folder.
func TestFillDryRunWritesNothing(t *testing.T) {
	work := t.TempDir()
	store := ocistoretest.WriteLayout(t, filepath.Join(work, "layout"), map[string]any{"registry.k8s.io/pause:3.10.1": imageOn(t, "amd64", layer(t, 8<<10))})
	dir := filepath.Join(work, "storage")
	rep := fill(t, store, dir, imagepush.FillOptions{DryRun: true})
	if rep.Count(imagepush.StatusWouldPush) != 1 || rep.Images[0].Target != "pause:3.10.1" {
		t.Errorf("dry run %+v: want would_push to pause:3.10.1", rep.Images)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Error("a dry run created the storage")
	}
}

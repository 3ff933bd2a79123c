//go:build registry

package registry_test

import (
	"context"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// singlePlatformLayout writes an OCI layout holding one image for linux/arch under the
// original reference ref (as offline_image_pull names it) and returns its folder and digest.
func singlePlatformLayout(t *testing.T, ref, arch string) (string, v1.Hash) {
	t.Helper()
	dir := t.TempDir()
	d := writeLayout(t, dir, map[string]any{ref: ociImage(t, arch, ociLayer(t, 64<<10), ociLayer(t, 64<<10))})
	return dir, d[ref]
}

// filteredIndexLayout writes a layout holding, under ref, an index of the one image digest of
// the layout from.
func filteredIndexLayout(t *testing.T, ref, from string, digest v1.Hash) string {
	t.Helper()
	src, err := layout.FromPath(from)
	if err != nil {
		t.Fatal(err)
	}
	img, err := src.Image(digest)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	idx := mutate.AppendManifests(mutate.IndexMediaType(empty.Index, types.OCIImageIndex),
		mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: cf.Platform()}})
	dir := t.TempDir()
	writeLayout(t, dir, map[string]any{ref: idx})
	return dir
}

// servedPlatforms reads what ref serves: platform -> manifest digest.
func servedPlatforms(t *testing.T, reg *registry, ref string) (v1.Hash, map[string]v1.Hash) {
	t.Helper()
	desc, err := remote.Get(reg.ref(t, ref), reg.remoteOpts(t)...)
	if err != nil {
		t.Fatalf("reading %s: %v", ref, err)
	}
	out := map[string]v1.Hash{}
	if !desc.MediaType.IsIndex() {
		img, err := desc.Image()
		if err != nil {
			t.Fatal(err)
		}
		cf, err := img.ConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		out[cf.Platform().String()] = desc.Digest
		return desc.Digest, out
	}
	idx, err := desc.ImageIndex()
	if err != nil {
		t.Fatal(err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range im.Manifests {
		out[m.Platform.String()] = m.Digest
	}
	return desc.Digest, out
}

// TestPushMergesPlatforms: an amd64-only bundle then an arm64-only bundle pushed over HTTP
// into one tag leave an index of both; the same platform with other content fails naming both
// digests, unless on_existing is overwrite.
func TestPushMergesPlatforms(t *testing.T) {
	reg := startRegistry(t, true, "pusher", "s3cret")
	ctx := context.Background()
	const src = "registry.k8s.io/pause:3.10.1"
	tag := reg.host + "/pause:3.10.1"
	amd, amdDigest := singlePlatformLayout(t, src, "amd64")
	arm, armDigest := singlePlatformLayout(t, src, "arm64")

	push := func(dir string, extra ...string) result {
		return run(t, ctx, "offline_image_push", append(append([]string{"--src", dir}, reg.pushFlags()...), extra...)...)
	}
	if r := push(amd); r.code != 0 || r.totals()["pushed"] != float64(1) {
		t.Fatalf("amd64 push: exit %d: %s", r.code, r.stdout)
	}
	r := push(arm)
	if r.code != 0 || r.totals()["pushed"] != float64(1) {
		t.Fatalf("arm64 push: exit %d: %s", r.code, r.stdout)
	}
	tagDigest, served := servedPlatforms(t, reg, tag)
	if served["linux/amd64"] != amdDigest || served["linux/arm64"] != armDigest || len(served) != 2 {
		t.Fatalf("the tag serves %v, want linux/amd64=%s and linux/arm64=%s", served, amdDigest, armDigest)
	}
	img := r.json["images"].([]any)[0].(map[string]any)
	if img["tag_digest"] != tagDigest.String() || img["digest"] != armDigest.String() {
		t.Errorf("arm64 push reported digest %v, tag_digest %v; want %s and the merged %s", img["digest"], img["tag_digest"], armDigest, tagDigest)
	}
	// The bundle's own manifests stay pullable by digest.
	for _, d := range []v1.Hash{amdDigest, armDigest} {
		if _, err := remote.Get(reg.ref(t, reg.host+"/pause@"+d.String()), reg.remoteOpts(t)...); err != nil {
			t.Errorf("pause@%s: %v", d, err)
		}
	}
	// offline_verify accepts the merged index for either bundle: it lists the bundle's manifest.
	for _, dir := range []string{amd, arm} {
		args := []string{"--images", "[{source: " + tag + "}]", "--bundle-images", dir, "--ca-path", reg.caPath(),
			"--auth", "[{registry: " + reg.host + ", username: pusher, password: s3cret}]"}
		if v := run(t, ctx, "offline_verify", args...); v.code != 0 || v.totals()["digests"] != float64(1) || v.totals()["failed"] != float64(0) {
			t.Errorf("verify of %s against the merged tag: exit %d: %s", dir, v.code, v.stdout)
		}
	}
	// A bundle holding an index of the arm64 image only (as a pull for one platform writes it):
	// the tag serves all of it already, so nothing is written, and verify reads the bundle's
	// own index from the layout (the registry never got it) to accept the tag.
	filtered := filteredIndexLayout(t, src, arm, armDigest)
	if r := push(filtered); r.code != 0 || r.totals()["skipped"] != float64(1) {
		t.Errorf("filtered index over the merged tag: exit %d: %s", r.code, r.stdout)
	}
	args := []string{"--images", "[{source: " + tag + "}]", "--bundle-images", filtered, "--ca-path", reg.caPath(),
		"--auth", "[{registry: " + reg.host + ", username: pusher, password: s3cret}]"}
	if v := run(t, ctx, "offline_verify", args...); v.code != 0 || v.totals()["digests"] != float64(1) {
		t.Errorf("verify of the filtered index against the merged tag: exit %d: %s", v.code, v.stdout)
	}
	// Either bundle again: nothing to do.
	for _, dir := range []string{amd, arm} {
		if r := push(dir); r.code != 0 || r.json["changed"] != false || r.totals()["skipped"] != float64(1) {
			t.Errorf("rerun of %s: exit %d, %s", dir, r.code, r.stdout)
		}
	}

	// Other content for linux/amd64: refused, both digests named, the tag unchanged.
	other, otherDigest := singlePlatformLayout(t, src, "amd64")
	r = push(other)
	if r.code == 0 || r.totals()["failed"] != float64(1) {
		t.Fatalf("conflicting push: exit %d: %s", r.code, r.stdout)
	}
	msg := r.json["failed_items"].([]any)[0].(map[string]any)["msg"].(string)
	for _, want := range []string{amdDigest.String(), otherDigest.String(), "linux/amd64", "overwrite"} {
		if !strings.Contains(msg, want) {
			t.Errorf("conflict message %q does not name %s", msg, want)
		}
	}
	if now, _ := servedPlatforms(t, reg, tag); now != tagDigest {
		t.Errorf("a refused push changed the tag: %s, was %s", now, tagDigest)
	}
	// A tag serving the bundle already is left alone whatever the mode; other content fails
	// with fail and is left alone with skip.
	for _, c := range []struct {
		dir, mode       string
		failed, skipped float64
	}{{amd, "fail", 0, 1}, {amd, "skip", 0, 1}, {other, "fail", 1, 0}, {other, "skip", 0, 1}} {
		r = push(c.dir, "--on-existing", c.mode)
		if r.totals()["failed"] != c.failed || r.totals()["skipped"] != c.skipped {
			t.Errorf("on_existing %s, %s over the merged index: %s", c.mode, c.dir, r.stdout)
		}
		if c.failed == 1 && !strings.Contains(r.stdout, otherDigest.String()) {
			t.Errorf("on_existing fail does not name the bundle's digest %s: %s", otherDigest, r.stdout)
		}
	}
	if r = push(other, "--on-existing", "overwrite"); r.code != 0 || r.totals()["pushed"] != float64(1) {
		t.Fatalf("overwrite: exit %d: %s", r.code, r.stdout)
	}
	if now, _ := servedPlatforms(t, reg, tag); now != otherDigest {
		t.Errorf("after overwrite the tag serves %s, want %s", now, otherDigest)
	}
}

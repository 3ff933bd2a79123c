package delta_test

import (
	"context"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/bundlesums"
	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/delta"
	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/fetch"
	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/imagename"
	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/imagepull"
	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/mirror"
	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/ocistore"
	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/regclient"
	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/sitestate"
	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/verify"
)

func size(t *testing.T, f func() (int64, error)) int64 {
	t.Helper()
	n, err := f()
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// A bundle pulled against a site state: delta.yaml names the state, the file and layers the
// bundle relies on (by the site's names), and counts what it carries, each number computed here
// from the images and files themselves. An unchanged rerun writes nothing; a bundle lacking
// something the site does not hold is refused naming it; without a state delta.yaml goes.
func TestWriteDeltaOfABundlePulledAgainstASiteState(t *testing.T) {
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(srv.Close)
	host := strings.TrimPrefix(srv.URL, "http://")
	one, err := random.Image(2048, 3)
	if err != nil {
		t.Fatal(err)
	}
	extra, err := random.Layer(1024, types.DockerLayer)
	if err != nil {
		t.Fatal(err)
	}
	two, err := mutate.AppendLayers(one, extra)
	if err != nil {
		t.Fatal(err)
	}
	// registry.k8s.io's images, pulled through the stand-in (as through a pull-through cache)
	srcOne, srcTwo := "registry.k8s.io/site/one:1", "registry.k8s.io/site/two:1"
	mirrors := []mirror.Mirror{{Prefix: "registry.k8s.io", Replace: host + "/registry.k8s.io"}}
	for src, img := range map[string]v1.Image{srcOne: one, srcTwo: two} {
		ref, _ := name.ParseReference(mirror.Rewrite(src, mirrors))
		if err := remote.Write(ref, img); err != nil {
			t.Fatal(err)
		}
	}
	layers, err := one.Layers()
	if err != nil {
		t.Fatal(err)
	}
	digest := func(f func() (v1.Hash, error)) v1.Hash {
		d, err := f()
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	held := []string{digest(layers[0].Digest).String(), digest(layers[1].Digest).String()}
	sort.Strings(held)
	heldBytes := size(t, layers[0].Size) + size(t, layers[1].Size)

	// The bundle: one file fetched, one the site serves; the images pulled against the state.
	bundle := t.TempDir()
	kept, served := []byte("carried file\n"), []byte("a file the site serves\n")
	items := []fetch.Item{
		{URL: "https://example.org/kept.txt", Checksum: sha(kept)},
		{URL: "https://example.org/served.txt", Checksum: sha(served)},
	}
	if err := os.MkdirAll(filepath.Join(bundle, "files", "example.org"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(bundle, "files", "example.org", "kept.txt"), kept, 0o644); err != nil {
		t.Fatal(err)
	}
	d1 := digest(one.Digest)
	state := &sitestate.State{Created: "2026-11-01T10:00:00Z", Site: "dc1",
		Views:  []sitestate.View{{Name: "v2.30.0"}},
		Files:  []sitestate.File{{Path: "example.org/served.txt", SHA256: strings.TrimPrefix(sha(served), "sha256:"), Size: int64(len(served))}},
		Images: []sitestate.Image{{Reference: "mirrored/one:1", Source: srcOne, Digest: d1.String()}},
		Blobs:  held,
	}
	b, err := state.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	statePath := filepath.Join(t.TempDir(), sitestate.FileName)
	if err := os.WriteFile(statePath, b, 0o644); err != nil {
		t.Fatal(err)
	}
	site, stateSHA, err := sitestate.Load(statePath)
	if err != nil {
		t.Fatal(err)
	}
	store, err := ocistore.Open(filepath.Join(bundle, "images"), true)
	if err != nil {
		t.Fatal(err)
	}
	c, err := regclient.New(regclient.Options{Insecure: []string{host}, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	rep, err := imagepull.Pull(context.Background(), store, []imagepull.Image{{Source: srcOne}, {Source: srcTwo}},
		imagepull.Options{Client: c, Site: site, Mirrors: mirrors})
	if err != nil || len(rep.Failures()) > 0 {
		t.Fatalf("pull: %v %v", err, rep.FailedItems())
	}

	// Expected, from the images and files themselves.
	var carriedBytes int64
	carried := map[v1.Hash]bool{}
	for _, img := range []v1.Image{one, two} {
		carried[digest(img.Digest)] = true
		carriedBytes += size(t, img.Size)
		cfg := digest(img.ConfigName)
		if !carried[cfg] {
			raw, _ := img.RawConfigFile()
			carried[cfg] = true
			carriedBytes += int64(len(raw))
		}
	}
	for _, l := range []v1.Layer{layers[2], extra} {
		carried[digest(l.Digest)] = true
		carriedBytes += size(t, l.Size)
	}
	want := &delta.Delta{Schema: delta.Schema,
		Base: delta.Base{StateSHA256: stateSHA, Created: "2026-11-01T10:00:00Z", Site: "dc1", Views: []string{"v2.30.0"}},
		ReliesOn: delta.ReliesOn{
			Files: []delta.File{{Path: "example.org/served.txt", SHA256: strings.TrimPrefix(sha(served), "sha256:")}},
			Images: []delta.Image{
				// the site's name for an image it holds; where the mirror pushes one it does not (strip)
				{Reference: "site/two:1", Digest: digest(two.Digest).String(), Blobs: held},
				{Reference: "mirrored/one:1", Digest: d1.String(), Blobs: held},
			}},
		Carries: delta.Carries{Files: 1, Images: 2, Blobs: len(carried), Bytes: int64(len(kept)) + carriedBytes,
			LeftOut: 2, LeftOutBytes: heldBytes + int64(len(served))},
	}
	sort.Slice(want.ReliesOn.Images, func(i, j int) bool { return want.ReliesOn.Images[i].Reference < want.ReliesOn.Images[j].Reference })

	opts := delta.WriteOptions{Bundle: bundle, Files: items, Site: site, StateSHA256: stateSHA}
	check := opts
	check.Check = true
	w, err := delta.Write(check)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(w.Path); !w.Changed || !os.IsNotExist(err) {
		t.Fatalf("check mode: changed %v, file %v: want changed, nothing written", w.Changed, err)
	}
	w, err = delta.Write(opts)
	if err != nil {
		t.Fatal(err)
	}
	if !w.Changed || !reflect.DeepEqual(w.Delta, want) {
		t.Fatalf("delta (changed %v):\n%+v\nwant\n%+v", w.Changed, w.Delta, want)
	}
	onDisk, err := delta.Load(filepath.Join(bundle, delta.FileName))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(onDisk, want) {
		t.Fatalf("delta.yaml:\n%+v\nwant\n%+v", onDisk, want)
	}
	if raw, err := os.ReadFile(w.Path); err == nil && testing.Verbose() {
		t.Logf("%s:\n%s", w.Path, raw)
	}
	if w.Redundant != (delta.Redundant{}) {
		t.Errorf("redundant %+v in a bundle downloaded from empty", w.Redundant)
	}
	if w, err = delta.Write(opts); err != nil || w.Changed {
		t.Fatalf("rerun: changed %v, %v", w.Changed, err)
	}

	// What else reads the bundle reads the sparse one: verify's bundle digests (manifests only)
	// and SHA256SUMS (delta.yaml listed).
	mirrorRef := "mirror.example:5000/site/two:1"
	vimgs := []verify.Image{{Name: "two", Ref: mirrorRef}}
	if n, err := verify.ExpectBundle(vimgs, store.Root(), imagename.Mapping{}); err != nil || n != 1 || vimgs[0].Digest != digest(two.Digest).String() {
		t.Errorf("verify.ExpectBundle on the sparse layout: %d images, %v, digest %s", n, err, vimgs[0].Digest)
	}
	sums, err := bundlesums.Write(context.Background(), bundlesums.Options{Dir: bundle})
	if err != nil || !strings.Contains(sums.After, "  delta.yaml\n") || len(sums.LeftOut) != 0 {
		t.Errorf("SHA256SUMS over the delta: %v\n%s", err, sums.After)
	}

	// The kept file gone (neither in the bundle nor at the site): refused, naming it, delta.yaml untouched.
	keptPath := filepath.Join(bundle, "files", "example.org", "kept.txt")
	if err := os.Rename(keptPath, keptPath+".away"); err != nil {
		t.Fatal(err)
	}
	if _, err := delta.Write(opts); err == nil || !strings.Contains(err.Error(), "example.org/kept.txt") {
		t.Errorf("a bundle lacking a file the site does not serve: %v", err)
	}
	if w, err := delta.Write(check); err != nil || !w.Changed || len(w.Pending) != 1 || !strings.Contains(w.Pending[0], "example.org/kept.txt") {
		t.Errorf("check mode, where the download fetched nothing, names what is pending: %+v, %v", w, err)
	}
	if err := os.Rename(keptPath+".away", keptPath); err != nil {
		t.Fatal(err)
	}
	// A config blob gone: refused, naming the image.
	cfg := digest(two.ConfigName)
	cfgPath := store.BlobPath(cfg)
	if err := os.Rename(cfgPath, cfgPath+".away"); err != nil {
		t.Fatal(err)
	}
	if _, err := delta.Write(opts); err == nil || !strings.Contains(err.Error(), srcTwo) || !strings.Contains(err.Error(), cfg.String()) {
		t.Errorf("a bundle lacking a config: %v", err)
	}
	if err := os.Rename(cfgPath+".away", cfgPath); err != nil {
		t.Fatal(err)
	}

	// A full bundle: delta.yaml removed (check mode first leaves it).
	full := delta.WriteOptions{Bundle: bundle, Files: items}
	full.Check = true
	if w, err = delta.Write(full); err != nil || !w.Changed || w.Delta != nil {
		t.Fatalf("full, check mode: %+v %v", w, err)
	}
	if _, err := os.Stat(w.Path); err != nil {
		t.Fatalf("check mode removed delta.yaml: %v", err)
	}
	full.Check = false
	if w, err = delta.Write(full); err != nil || !w.Changed {
		t.Fatalf("full: %+v %v", w, err)
	}
	if _, err := os.Stat(w.Path); !os.IsNotExist(err) {
		t.Fatalf("full bundle kept delta.yaml: %v", err)
	}
	if w, err = delta.Write(full); err != nil || w.Changed {
		t.Fatalf("full rerun: %+v %v", w, err)
	}
}

func sha(b []byte) string {
	return "sha256:" + sitestate.Digest(b)
}

package imagepush_test

import (
	"context"
	"errors"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/imagename"
	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/imagepull"
	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/imagepush"
	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/mirror"
	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/ocistore"
	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/regclient"
)

// countingRegistry is go-containerregistry's in-memory registry, counting blob GETs and PUTs.
type countingRegistry struct {
	*httptest.Server
	blobGets, blobPuts, mounts atomic.Int64
}

func newRegistry(t *testing.T) *countingRegistry {
	r := &countingRegistry{}
	h := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		switch {
		case req.Method == http.MethodGet && strings.Contains(req.URL.Path, "/blobs/sha256:"):
			r.blobGets.Add(1)
		case req.Method == http.MethodPost && req.URL.Query().Get("mount") != "":
			r.mounts.Add(1)
		case req.Method == http.MethodPut && strings.Contains(req.URL.Path, "/blobs/uploads/"):
			r.blobPuts.Add(1)
		}
		h.ServeHTTP(w, req)
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *countingRegistry) host() string { return strings.TrimPrefix(r.URL, "http://") }

// upstreamSet pushes three images sharing a base layer, plus a two-platform index, under
// upstream-like names below the test registry ("<host>/registry.k8s.io/...").
func upstreamSet(t *testing.T, up *countingRegistry) (map[string]v1.Hash, v1.Layer) {
	t.Helper()
	base, err := random.Layer(200<<10, types.DockerLayer)
	if err != nil {
		t.Fatal(err)
	}
	digests := map[string]v1.Hash{}
	for _, src := range []string{"registry.k8s.io/kube-apiserver:v1.35.4", "registry.k8s.io/kube-proxy:v1.35.4", "quay.io/calico/node:v3.31.5"} {
		own, _ := random.Layer(100<<10, types.DockerLayer)
		img, err := mutate.AppendLayers(empty.Image, base, own)
		if err != nil {
			t.Fatal(err)
		}
		img = withPlatform(t, img, "amd64")
		ref, _ := name.ParseReference(up.host() + "/" + src)
		if err := remote.Write(ref, img); err != nil {
			t.Fatal(err)
		}
		digests[src], _ = img.Digest()
	}
	var adds []mutate.IndexAddendum
	for _, arch := range []string{"amd64", "arm64"} {
		img, _ := random.Image(50<<10, 1)
		img = withPlatform(t, img, arch)
		adds = append(adds, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: arch}}})
	}
	idx := mutate.AppendManifests(empty.Index, adds...)
	ref, _ := name.ParseReference(up.host() + "/docker.io/library/nginx:1.28")
	if err := remote.WriteIndex(ref, idx); err != nil {
		t.Fatal(err)
	}
	digests["docker.io/library/nginx:1.28"], _ = idx.Digest()
	return digests, base
}

// withPlatform sets the image config's OS and architecture, keeping its rootfs.
func withPlatform(t *testing.T, img v1.Image, arch string) v1.Image {
	t.Helper()
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", arch
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func client(t *testing.T) *regclient.Client {
	c, err := regclient.New(regclient.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func pull(t *testing.T, up *countingRegistry, store *ocistore.Store, images []imagepull.Image, platforms ...v1.Platform) *imagepull.Report {
	t.Helper()
	rep, err := imagepull.Pull(context.Background(), store, images, imagepull.Options{
		Client: client(t), Platforms: platforms, Retries: 0,
		Mirrors: []mirror.Mirror{
			{Prefix: "registry.k8s.io", Replace: up.host() + "/registry.k8s.io"},
			{Prefix: "quay.io", Replace: up.host() + "/quay.io"},
			{Prefix: "docker.io", Replace: up.host() + "/docker.io"},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func TestPullPushRoundTrip(t *testing.T) {
	up := newRegistry(t)
	digests, _ := upstreamSet(t, up)
	store, err := ocistore.Open(filepath.Join(t.TempDir(), "layout"), true)
	if err != nil {
		t.Fatal(err)
	}
	var images []imagepull.Image
	for src := range digests {
		images = append(images, imagepull.Image{Source: src})
	}
	rep := pull(t, up, store, images)
	if rep.Count(imagepull.StatusPulled) != 4 {
		t.Fatalf("pulled %d of 4: %+v", rep.Count(imagepull.StatusPulled), rep.Failures())
	}
	// The shared base layer is stored once: 3 images x (base + own + config + manifest) - 2.
	blobs, _ := os.ReadDir(filepath.Join(store.Root(), "blobs", "sha256"))
	var names []string
	for _, b := range blobs {
		names = append(names, b.Name()[:8])
	}
	if want := 3*4 - 2 + 3; len(blobs) != want { // + nginx amd64 image: layer, config, manifest
		t.Errorf("%d blobs in the layout, want %d: %v", len(blobs), want, names)
	}
	// One platform asked for: the two-platform index is stored as its amd64 image.
	for _, r := range rep.Images {
		if r.Source == "docker.io/library/nginx:1.28" {
			if r.MediaType == string(types.OCIImageIndex) || r.SourceDigest != digests[r.Source].String() || len(r.Platforms) != 1 {
				t.Errorf("nginx = %+v", r)
			}
		} else if r.Digest != digests[r.Source].String() {
			t.Errorf("%s stored as %s, upstream %s", r.Source, r.Digest, digests[r.Source])
		}
	}
	entries, _ := store.Entries()
	for _, e := range entries {
		if e.Descriptor.Annotations[ocistore.AnnotationRefName] != e.Ref || e.Descriptor.Annotations[ocistore.AnnotationContainerdName] != e.Ref {
			t.Errorf("entry %s lacks its reference annotations: %v", e.Ref, e.Descriptor.Annotations)
		}
	}

	// A rerun with nothing new asks for no blob.
	gets := up.blobGets.Load()
	rep = pull(t, up, store, images)
	if rep.Changed() || rep.Count(imagepull.StatusSkipped) != 4 || up.blobGets.Load() != gets {
		t.Fatalf("rerun: changed=%v skipped=%d blob GETs=%d", rep.Changed(), rep.Count(imagepull.StatusSkipped), up.blobGets.Load()-gets)
	}

	// Push everything, mapped as Kubespray expects.
	dst := newRegistry(t)
	entriesToPush, err := imagepush.FromLayout(store, nil)
	if err != nil {
		t.Fatal(err)
	}
	prep, err := imagepush.Push(context.Background(), entriesToPush, imagepush.Options{Registry: dst.host(), Client: client(t)})
	if err != nil {
		t.Fatal(err)
	}
	if prep.Count(imagepush.StatusPushed) != 4 {
		t.Fatalf("pushed %d: %+v", prep.Count(imagepush.StatusPushed), prep.Failures())
	}
	// Each blob is uploaded once (this in-memory registry shares blobs across repositories;
	// mounts are checked against the real registry in tests/registry).
	if n := dst.blobPuts.Load(); n != 9 {
		t.Errorf("%d blob uploads, want 9 (the unique layers and configs)", n)
	}
	for _, r := range prep.Images {
		want, _ := imagename.Mapping{}.Target(dst.host(), r.Source)
		if r.Target != want {
			t.Errorf("%s went to %s, want %s", r.Source, r.Target, want)
		}
		ref, _ := name.ParseReference(r.Target)
		desc, err := remote.Head(ref)
		if err != nil || desc.Digest.String() != r.Digest {
			t.Errorf("%s: %v %v, want digest %s", r.Target, desc, err, r.Digest)
		}
		if r.Source != "docker.io/library/nginx:1.28" && r.Digest != digests[r.Source].String() {
			t.Errorf("%s was pushed as %s, upstream %s: digests must survive", r.Source, r.Digest, digests[r.Source])
		}
	}
	puts := dst.blobPuts.Load()
	prep, err = imagepush.Push(context.Background(), entriesToPush, imagepush.Options{Registry: dst.host(), Client: client(t)})
	if err != nil || prep.Changed() || prep.Count(imagepush.StatusSkipped) != 4 || dst.blobPuts.Load() != puts {
		t.Fatalf("push rerun: %v changed=%v skipped=%d puts=%d", err, prep.Changed(), prep.Count(imagepush.StatusSkipped), dst.blobPuts.Load()-puts)
	}
}

func TestPullKeepsPinnedIndexWholeAndChecksPins(t *testing.T) {
	up := newRegistry(t)
	digests, _ := upstreamSet(t, up)
	store, _ := ocistore.Open(filepath.Join(t.TempDir(), "layout"), true)
	nginx := digests["docker.io/library/nginx:1.28"].String()
	rep := pull(t, up, store, []imagepull.Image{
		{Source: "docker.io/library/nginx:1.28", Digest: nginx},
		{Source: "quay.io/calico/node:v3.31.5", Digest: "sha256:" + strings.Repeat("0", 64)},
	})
	got := map[string]imagepull.Result{}
	for _, r := range rep.Images {
		got[r.Source] = r
	}
	if r := got["docker.io/library/nginx:1.28"]; r.Status != imagepull.StatusPulled || r.Digest != nginx || len(r.Platforms) != 2 {
		t.Errorf("pinned index = %+v, want stored whole with its digest", r)
	}
	if r := got["quay.io/calico/node:v3.31.5"]; r.Status != imagepull.StatusFailed || !errors.Is(r.Err(), imagepull.ErrDigestMismatch) {
		t.Errorf("wrong pin = %+v, want ErrDigestMismatch", r)
	}
	// Two platforms: a filtered index.
	store2, _ := ocistore.Open(filepath.Join(t.TempDir(), "layout"), true)
	rep = pull(t, up, store2, []imagepull.Image{{Source: "nginx:1.28"}},
		v1.Platform{OS: "linux", Architecture: "amd64"}, v1.Platform{OS: "linux", Architecture: "arm64"})
	if r := rep.Images[0]; r.Status != imagepull.StatusPulled || len(r.Platforms) != 2 || r.Source != "docker.io/library/nginx:1.28" {
		t.Errorf("two platforms = %+v", r)
	}
}

func TestPushRefusesCorruptBlob(t *testing.T) {
	up := newRegistry(t)
	digests, base := upstreamSet(t, up)
	store, _ := ocistore.Open(filepath.Join(t.TempDir(), "layout"), true)
	pull(t, up, store, []imagepull.Image{{Source: "registry.k8s.io/kube-proxy:v1.35.4"}, {Source: "nginx:1.28"}})
	d, _ := base.Digest()
	blob := store.BlobPath(d)
	b, _ := os.ReadFile(blob)
	b[len(b)/2] ^= 0xff
	if err := os.WriteFile(blob, b, 0o644); err != nil {
		t.Fatal(err)
	}
	entries, _ := imagepush.FromLayout(store, nil)
	dst := newRegistry(t)
	rep, err := imagepush.Push(context.Background(), entries, imagepush.Options{Registry: dst.host(), Client: client(t), Retries: 2})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rep.Images {
		switch r.Source {
		case "registry.k8s.io/kube-proxy:v1.35.4":
			if r.Status != imagepush.StatusFailed || !errors.Is(r.Err(), imagepush.ErrVerify) || !strings.Contains(r.Msg, d.String()) || r.Attempts != 1 {
				t.Errorf("corrupt image = %+v, want failed once, naming %s", r, d)
			}
		default:
			if r.Status != imagepush.StatusPushed {
				t.Errorf("%s = %+v, want pushed", r.Source, r)
			}
		}
	}
	if dst.blobPuts.Load() > 3 {
		t.Errorf("%d blob uploads: only nginx's 2 blobs (+config) should have gone", dst.blobPuts.Load())
	}
	_ = digests
}

func TestImportDockerSave(t *testing.T) {
	dir := t.TempDir()
	img, _ := random.Image(64<<10, 2)
	tag, _ := name.NewTag("registry.k8s.io/pause:3.10.1")
	path := filepath.Join(dir, "pause.tar")
	if err := tarball.WriteToFile(path, tag, img); err != nil {
		t.Fatal(err)
	}
	store, _ := ocistore.Open(filepath.Join(dir, "layout"), true)
	rep, err := imagepull.Import(context.Background(), store, []string{path}, false)
	if err != nil || rep.Count(imagepull.StatusImported) != 1 {
		t.Fatalf("import: %v %+v", err, rep)
	}
	rep, _ = imagepull.Import(context.Background(), store, []string{path}, false)
	if rep.Changed() || rep.Count(imagepull.StatusSkipped) != 1 {
		t.Errorf("re-import changed: %+v", rep.Images)
	}
	// The imported image keeps its layers' content (diff IDs).
	entries, _ := imagepush.FromLayout(store, nil)
	dst := newRegistry(t)
	prep, err := imagepush.Push(context.Background(), entries, imagepush.Options{Registry: dst.host(), Client: client(t)})
	if err != nil || prep.Count(imagepush.StatusPushed) != 1 {
		t.Fatalf("push: %v %+v", err, prep)
	}
	ref, _ := name.ParseReference(dst.host() + "/pause:3.10.1")
	pushed, err := remote.Image(ref)
	if err != nil {
		t.Fatal(err)
	}
	wantCfg, _ := img.ConfigName()
	gotCfg, _ := pushed.ConfigName()
	if wantCfg != gotCfg {
		t.Errorf("config %s, want %s (the image ID must survive the import)", gotCfg, wantCfg)
	}
	// A truncated tarball fails, naming it.
	b, _ := os.ReadFile(path)
	bad := filepath.Join(dir, "truncated.tar")
	_ = os.WriteFile(bad, b[:len(b)/2], 0o644)
	rep, _ = imagepull.Import(context.Background(), store, []string{bad}, false)
	if len(rep.Failures()) != 1 || !strings.Contains(rep.Failures()[0].Msg, bad) {
		t.Errorf("truncated tarball: %+v", rep.Images)
	}
}

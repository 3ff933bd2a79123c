package verify_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/imagename"
	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/ocistore"
	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/regclient"
	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/verify"
)

// newRegistry starts a registry (go-containerregistry's) and returns its host:port.
func newRegistry(t *testing.T) string {
	reg := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(reg.Close)
	return strings.TrimPrefix(reg.URL, "http://")
}

func TestCheckNamesWhatIsMissingOrWrong(t *testing.T) {
	files := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/github.com/kubelet" {
			_, _ = io.WriteString(w, "kubelet")
			return
		}
		http.NotFound(w, r)
	}))
	defer files.Close()
	host := newRegistry(t)
	img, _ := random.Image(1024, 1)
	cf, _ := img.ConfigFile()
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", "amd64"
	img, _ = mutate.ConfigFile(img, cf)
	ref, _ := name.ParseReference(host + "/pause:3.10")
	if err := remote.Write(ref, img); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte("kubelet"))
	client, _ := regclient.New(regclient.Options{})
	results := verify.Check(context.Background(), []verify.File{
		{Name: "kubelet", URL: files.URL + "/github.com/kubelet", Checksum: "sha256:" + hex.EncodeToString(sum[:])},
		{Name: "kubeadm", URL: files.URL + "/github.com/kubeadm"},
		{Name: "kubectl", URL: files.URL + "/github.com/kubelet", Checksum: strings.Repeat("0", 64)},
	}, []verify.Image{
		{Name: "pause", Ref: host + "/pause:3.10", Platforms: []string{"linux/amd64"}},
		{Name: "coredns", Ref: host + "/coredns/coredns:v1.12"},
		{Name: "pause-arm", Ref: host + "/pause:3.10", Platforms: []string{"linux/amd64", "linux/arm64"}},
	}, verify.Options{HTTP: http.DefaultClient, Registry: client})
	want := map[string]string{"kubelet": "", "kubeadm": "404", "kubectl": "Kubespray expects sha256:000",
		"pause": "", "coredns": "not in the registry", "pause-arm": "no image for linux/arm64"}
	for _, r := range results {
		w := want[r.Name]
		if (w == "") != r.OK || !strings.Contains(r.Detail, w) {
			t.Errorf("%s: ok=%v detail=%q, want %q", r.Name, r.OK, r.Detail, w)
		}
	}
}

// An image pushed under a bundle image's tag is caught by its manifest digest, named with both
// digests; an image the bundle holds unchanged, and one it does not hold, pass.
func TestCheckComparesDigestsWithTheBundle(t *testing.T) {
	host := newRegistry(t)
	bundled, _ := random.Image(512, 1)
	swapped, _ := random.Image(512, 1)
	coredns, _ := random.Image(512, 1)
	dir := t.TempDir()
	lp, err := layout.Write(dir, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	for ref, img := range map[string]v1.Image{"registry.k8s.io/pause:3.10.1": bundled, "registry.k8s.io/coredns/coredns:v1.12.1": coredns} {
		if err := lp.AppendImage(img, layout.WithAnnotations(map[string]string{ocistore.AnnotationRefName: ref})); err != nil {
			t.Fatal(err)
		}
	}
	for ref, img := range map[string]v1.Image{"/pause:3.10.1": swapped, "/coredns/coredns:v1.12.1": coredns, "/other:1": swapped} {
		r, _ := name.ParseReference(host + ref)
		if err := remote.Write(r, img); err != nil {
			t.Fatal(err)
		}
	}
	images := []verify.Image{
		{Name: "pause", Ref: host + "/pause:3.10.1"},
		{Name: "coredns", Ref: host + "/coredns/coredns:v1.12.1"},
		{Name: "other", Ref: host + "/other:1"},
		{Name: "upstream", Ref: "registry.k8s.io/pause:3.10.1"},
	}
	n, err := verify.ExpectBundle(images, dir, imagename.Mapping{})
	if err != nil {
		t.Fatal(err)
	}
	want, _ := bundled.Digest()
	got, _ := swapped.Digest()
	if n != 2 || images[0].Digest != want.String() || images[3].Digest != "" {
		t.Fatalf("ExpectBundle: %d images, %+v", n, images)
	}
	client, _ := regclient.New(regclient.Options{})
	results := verify.Check(context.Background(), nil, images[:3], verify.Options{Registry: client})
	if results[0].OK || !strings.Contains(results[0].Detail, got.String()) || !strings.Contains(results[0].Detail, want.String()) {
		t.Errorf("pause: ok=%v detail=%q, want both %s and %s", results[0].OK, results[0].Detail, got, want)
	}
	for _, r := range results[1:] {
		if !r.OK {
			t.Errorf("%s: %q", r.Name, r.Detail)
		}
	}
}

// Platforms are matched by the shared rule (ggcr's Satisfies): a variant asked for must be
// served, a platform without one matches any variant, and a malformed one is named.
func TestCheckMatchesPlatformVariants(t *testing.T) {
	host := newRegistry(t)
	amd, _ := random.Image(256, 1)
	arm, _ := random.Image(256, 1)
	idx := mutate.AppendManifests(empty.Index,
		mutate.IndexAddendum{Add: amd, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}}},
		mutate.IndexAddendum{Add: arm, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "arm", Variant: "v7"}}})
	ref, _ := name.ParseReference(host + "/multi:1")
	if err := remote.WriteIndex(ref, idx); err != nil {
		t.Fatal(err)
	}
	client, _ := regclient.New(regclient.Options{})
	want := map[string]string{"linux/arm/v7": "", "linux/arm": "", "linux/amd64": "",
		"linux/arm/v6": "no image for linux/arm/v6", "linux": `platform "linux"`}
	var images []verify.Image
	for p := range want {
		images = append(images, verify.Image{Name: p, Ref: host + "/multi:1", Platforms: []string{p}})
	}
	for _, r := range verify.Check(context.Background(), nil, images, verify.Options{Registry: client}) {
		w := want[r.Name]
		if (w == "") != r.OK || !strings.Contains(r.Detail, w) {
			t.Errorf("%s: ok=%v detail=%q, want %q", r.Name, r.OK, r.Detail, w)
		}
	}
}

package imagepushmod_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/module"
	imagepushmod "github.com/airgap-kubespray/airgap.kubespray/modules/offline_image_push"
)

// One docker-save tarball of three is truncated: the two others are pushed, the broken one is
// reported by name, and the module fails at the end (issue 12, low items).
func TestOneBrokenTarballDoesNotStopThePush(t *testing.T) {
	dir := t.TempDir()
	var src []string
	for _, ref := range []string{"registry.k8s.io/pause:3.10.1", "quay.io/calico/node:v3.31.5", "docker.io/library/nginx:1.28"} {
		img, err := random.Image(8<<10, 1)
		if err != nil {
			t.Fatal(err)
		}
		tag, _ := name.NewTag(ref)
		p := filepath.Join(dir, strings.NewReplacer("/", "_", ":", "_").Replace(ref)+".tar")
		if err := tarball.WriteToFile(p, tag, img); err != nil {
			t.Fatal(err)
		}
		src = append(src, p)
	}
	broken := src[1]
	b, _ := os.ReadFile(broken)
	if err := os.WriteFile(broken, b[:len(b)/2], 0o644); err != nil {
		t.Fatal(err)
	}
	// The temporary layout of a push killed two hours ago: removed by this one.
	killed := filepath.Join(dir, ".airgap-push-killed")
	if err := os.MkdirAll(filepath.Join(killed, "blobs"), 0o755); err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-2 * time.Hour)
	_ = os.Chtimes(killed, old, old)
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	var out, errOut bytes.Buffer
	args := []string{"--registry", host, "--insecure-registries", host, "--retries", "0"}
	for _, s := range src {
		args = append(args, "--src", s)
	}
	code := module.Execute(context.Background(), imagepushmod.Module, args, &out, &errOut)
	var res struct {
		Failed      bool                `json:"failed"`
		Msg         string              `json:"msg"`
		Totals      map[string]any      `json:"totals"`
		FailedItems []map[string]string `json:"failed_items"`
	}
	if err := json.Unmarshal(out.Bytes(), &res); err != nil {
		t.Fatalf("%v\n%s%s", err, out.String(), errOut.String())
	}
	if code == 0 || !res.Failed || res.Totals["pushed"] != float64(2) || len(res.FailedItems) != 1 ||
		!strings.Contains(res.FailedItems[0]["msg"], broken) {
		t.Fatalf("exit %d, result %+v; want 2 pushed, the broken tarball named, failed", code, res)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, ".*")); len(left) != 0 {
		t.Errorf("temporary folders left beside the tarballs: %v", left)
	}
	for _, repo := range []string{"pause:3.10.1", "library/nginx:1.28"} {
		ref, _ := name.ParseReference(host + "/" + repo)
		if _, err := remote.Head(ref); err != nil {
			t.Errorf("%s is not in the registry: %v", repo, err)
		}
	}
}

// storage_dir is one of registry, archive and storage_dir; with it the result names the
// storage (not a registry) and counts the blobs linked and copied.
func TestStorageDirIsOneOfThreeTargets(t *testing.T) {
	dir := t.TempDir()
	img, err := random.Image(8<<10, 1)
	if err != nil {
		t.Fatal(err)
	}
	tag, _ := name.NewTag("registry.k8s.io/pause:3.10.1")
	tarPath := filepath.Join(dir, "pause.tar")
	if err := tarball.WriteToFile(tarPath, tag, img); err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	code := module.Execute(context.Background(), imagepushmod.Module,
		[]string{"--src", tarPath, "--registry", "127.0.0.1:1", "--storage-dir", filepath.Join(dir, "s")}, &out, &errOut)
	if code == 0 || !strings.Contains(out.String(), "exactly one of registry, archive and storage_dir") {
		t.Errorf("registry and storage_dir both given: exit %d, %s", code, out.String())
	}
	out.Reset()
	storage := filepath.Join(dir, "storage")
	code = module.Execute(context.Background(), imagepushmod.Module, []string{"--src", tarPath, "--storage-dir", storage}, &out, &errOut)
	var res struct {
		Changed    bool           `json:"changed"`
		StorageDir string         `json:"storage_dir"`
		Registry   *string        `json:"registry"`
		Totals     map[string]any `json:"totals"`
	}
	if err := json.Unmarshal(out.Bytes(), &res); err != nil || code != 0 {
		t.Fatalf("exit %d: %v\n%s%s", code, err, out.String(), errOut.String())
	}
	if !res.Changed || res.StorageDir != storage || res.Registry != nil || res.Totals["pushed"] != float64(1) ||
		res.Totals["linked"].(float64)+res.Totals["copied"].(float64) != 2 {
		t.Errorf("result %+v: want storage_dir named, one image written, its 2 blobs linked or copied", res)
	}
	if _, err := os.Stat(filepath.Join(storage, "docker/registry/v2/repositories/pause/_manifests/tags/3.10.1/current/link")); err != nil {
		t.Errorf("the tag is not in the storage: %v", err)
	}
}

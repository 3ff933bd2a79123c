package imagepush_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/imagepull"
	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/imagepush"
	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/ocistore"
)

func TestArchiveWritesOnePlatformForLoad(t *testing.T) {
	up := newRegistry(t)
	digests, base := upstreamSet(t, up)
	store, _ := ocistore.Open(filepath.Join(t.TempDir(), "layout"), true)
	// nginx pinned by digest: the layout keeps its whole two-platform index.
	pull(t, up, store, []imagepull.Image{
		{Source: "docker.io/library/nginx:1.28", Digest: digests["docker.io/library/nginx:1.28"].String()},
		{Source: "registry.k8s.io/kube-proxy:v1.35.4"},
	})
	entries, err := imagepush.FromLayout(store, []string{"docker.io/library/nginx:1.28"})
	if err != nil || len(entries) != 1 {
		t.Fatalf("FromLayout = %v, %v", entries, err)
	}
	path := filepath.Join(t.TempDir(), "nginx.tar")
	arm := v1.Platform{OS: "linux", Architecture: "arm64"}
	if changed, err := imagepush.Archive(entries[0], arm, path, true); err != nil || !changed {
		t.Fatalf("dry run = %v, %v; want changed", changed, err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatalf("dry run wrote %s", path)
	}
	if changed, err := imagepush.Archive(entries[0], arm, path, false); err != nil || !changed {
		t.Fatalf("Archive = %v, %v; want changed", changed, err)
	}
	// The tarball holds the arm64 image under its original tag, as docker/podman/nerdctl load it.
	tag, _ := name.NewTag("docker.io/library/nginx:1.28")
	img, err := tarball.ImageFromPath(path, &tag)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil || cf.Architecture != "arm64" {
		t.Fatalf("config = %+v, %v; want arm64", cf, err)
	}
	idx := entries[0].Taggable.(v1.ImageIndex)
	im, _ := idx.IndexManifest()
	for _, m := range im.Manifests {
		if m.Platform.Architecture == "arm64" {
			want, _ := idx.Image(m.Digest)
			wantCfg, _ := want.ConfigName()
			gotCfg, _ := img.ConfigName()
			if wantCfg != gotCfg {
				t.Errorf("config digest %s, want %s", gotCfg, wantCfg)
			}
		}
	}
	// A rerun leaves the file alone.
	fi, _ := os.Stat(path)
	if changed, err := imagepush.Archive(entries[0], arm, path, false); err != nil || changed {
		t.Fatalf("rerun = %v, %v; want unchanged", changed, err)
	}
	if fi2, _ := os.Stat(path); !fi2.ModTime().Equal(fi.ModTime()) {
		t.Errorf("rerun rewrote %s", path)
	}
	// A platform the index lacks is named.
	if _, err := imagepush.Archive(entries[0], v1.Platform{OS: "linux", Architecture: "s390x"}, path, false); err == nil || !strings.Contains(err.Error(), "no image for linux/s390x") {
		t.Errorf("s390x: %v", err)
	}

	// A corrupt blob fails, naming it, and the tarball in place is kept.
	entries, _ = imagepush.FromLayout(store, []string{"registry.k8s.io/kube-proxy:v1.35.4"})
	kp := filepath.Join(filepath.Dir(path), "kube-proxy.tar")
	if err := os.WriteFile(kp, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	d, _ := base.Digest()
	b, _ := os.ReadFile(store.BlobPath(d))
	b[len(b)/2] ^= 0xff
	if err := os.WriteFile(store.BlobPath(d), b, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := imagepush.Archive(entries[0], v1.Platform{OS: "linux", Architecture: "amd64"}, kp, false); err == nil || !strings.Contains(err.Error(), d.String()) {
		t.Errorf("corrupt blob: %v, want an error naming %s", err, d)
	}
	if old, _ := os.ReadFile(kp); string(old) != "old" {
		t.Errorf("the tarball in place was replaced after a failure")
	}
	left, _ := filepath.Glob(filepath.Join(filepath.Dir(path), ".*"))
	if len(left) != 0 {
		t.Errorf("temporary files left: %v", left)
	}
}

//go:build registry

// offline_image_push --storage-dir: the registry's filesystem storage filled from a layout,
// then served by real registries started on it: Debian's docker-registry (distribution 2.8)
// and distribution v3 (tests/lib/tools.sh registry).

package registry_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

const refName = "org.opencontainers.image.ref.name"

// ociImage is an image with OCI media types (skopeo 1.9 copies those into an OCI layout
// as they are) for linux/arch, made of layers.
func ociImage(t *testing.T, arch string, layers ...v1.Layer) v1.Image {
	t.Helper()
	img, err := mutate.AppendLayers(mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON), layers...)
	if err != nil {
		t.Fatal(err)
	}
	return platform(t, img, arch)
}

func ociLayer(t *testing.T, size int64) v1.Layer {
	t.Helper()
	l, err := random.Layer(size, types.OCILayer)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// writeLayout adds images (reference -> v1.Image or v1.ImageIndex) to the OCI layout dir as
// offline_image_pull names them, and returns reference -> digest.
func writeLayout(t *testing.T, dir string, images map[string]any) map[string]v1.Hash {
	t.Helper()
	lp, err := layout.FromPath(dir)
	if err != nil {
		if lp, err = layout.Write(dir, empty.Index); err != nil {
			t.Fatal(err)
		}
	}
	out := map[string]v1.Hash{}
	for ref, x := range images {
		ann := layout.WithAnnotations(map[string]string{refName: ref})
		switch x := x.(type) {
		case v1.Image:
			err = lp.AppendImage(x, ann)
			out[ref], _ = x.Digest()
		case v1.ImageIndex:
			err = lp.AppendIndex(x, ann)
			out[ref], _ = x.Digest()
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// kubesprayLayout is a Kubespray-like set: images sharing a base layer, one two-platform index.
func kubesprayLayout(t *testing.T, dir string) map[string]v1.Hash {
	t.Helper()
	base := ociLayer(t, 96<<10)
	idx := mutate.AppendManifests(empty.Index,
		mutate.IndexAddendum{Add: ociImage(t, "amd64", base, ociLayer(t, 16<<10)), Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}}},
		mutate.IndexAddendum{Add: ociImage(t, "arm64", ociLayer(t, 16<<10)), Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "arm64"}}})
	return writeLayout(t, dir, map[string]any{
		"registry.k8s.io/kube-apiserver:v1.35.4": ociImage(t, "amd64", base, ociLayer(t, 32<<10)),
		"registry.k8s.io/kube-proxy:v1.35.4":     ociImage(t, "amd64", base, ociLayer(t, 32<<10)),
		"quay.io/calico/node:v3.31.5":            ociImage(t, "amd64", base, ociLayer(t, 32<<10)),
		"registry.k8s.io/pause:3.10":             idx,
	})
}

// storageRegistry is a registry (Debian's 2.8, or bin) serving the storage work/data.
func storageRegistry(t *testing.T, work, bin string) string {
	t.Helper()
	port := strings.TrimSpace(sh(t, "free-port"))
	cmd := exec.Command(filepath.Join(repoRoot, "tests", "lib", "registry.sh"), "start", work, port)
	cmd.Env = append(os.Environ(), "AIRGAP_REGISTRY_BIN="+bin)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("starting %s on %s: %v\n%s", bin, work, err, out)
	}
	t.Cleanup(func() { sh(t, "stop", work) })
	return "127.0.0.1:" + port
}

func registryV3(t *testing.T) string {
	t.Helper()
	out, err := exec.Command(filepath.Join(repoRoot, "tests", "lib", "tools.sh"), "registry").Output()
	if err != nil {
		t.Fatalf("tests/lib/tools.sh registry: %v", err)
	}
	return strings.TrimSpace(string(out))
}

func needSkopeo(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("skopeo"); err != nil {
		t.Skip("skopeo is not installed (tests/setup-host.sh installs it)")
	}
}

// served checks that host serves repo (name:tag) with digest want, by skopeo inspect --raw,
// and that a full skopeo copy --all of it into an OCI layout succeeds.
func served(t *testing.T, host, repo string, want v1.Hash) {
	t.Helper()
	raw, err := exec.Command("skopeo", "inspect", "--raw", "--tls-verify=false", "docker://"+host+"/"+repo).Output()
	if err != nil {
		t.Errorf("skopeo inspect %s/%s: %v", host, repo, err)
		return
	}
	if got := "sha256:" + sha256hex(raw); got != want.String() {
		t.Errorf("%s/%s serves %s, want %s", host, repo, got, want)
	}
	dst := filepath.Join(t.TempDir(), "copy")
	cp := exec.Command("skopeo", "copy", "--all", "--src-tls-verify=false", "docker://"+host+"/"+repo, "oci:"+dst+":"+repo)
	if out, err := cp.CombinedOutput(); err != nil {
		t.Errorf("skopeo copy --all %s/%s: %v\n%s", host, repo, err, out)
	}
}

func fillArgs(src, storage string, extra ...string) []string {
	return append([]string{"--src", src, "--storage-dir", storage}, extra...)
}

// tree is every path under dir with its inode, size and mtime.
func tree(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || strings.Contains(p, ".airgap-tmp") {
			return nil
		}
		fi, _ := d.Info()
		st := fi.Sys().(*syscall.Stat_t)
		out[p] = fmt.Sprint(st.Ino, fi.Size(), fi.ModTime().UnixNano())
		return nil
	})
	return out
}

func inode(t *testing.T, p string) uint64 {
	t.Helper()
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Sys().(*syscall.Stat_t).Ino
}

func blobPath(storage string, d v1.Hash) string {
	return filepath.Join(storage, "docker", "registry", "v2", "blobs", "sha256", d.Hex[:2], d.Hex, "data")
}

// The filled storage is served by distribution 2.8 and 3.x with every original digest; the
// blobs are hard links of the layout's; a rerun writes nothing; a registry keeps serving
// while a second fill adds an image, and serves the new one without a restart.
func TestStorageServedByBothRegistries(t *testing.T) {
	needSkopeo(t)
	v3 := registryV3(t)
	ctx := context.Background()
	src := filepath.Join(t.TempDir(), "layout")
	images := kubesprayLayout(t, src)
	work := t.TempDir()
	storage := filepath.Join(work, "data")
	r := run(t, ctx, "offline_image_push", fillArgs(src, storage)...)
	if r.code != 0 || r.json["changed"] != true || r.totals()["pushed"] != float64(len(images)) {
		t.Fatalf("fill: exit %d: %s%s", r.code, r.stdout, r.stderr)
	}
	// 3 own layers + 3 configs + the base; the index's 2 images: 2 own layers + 2 configs.
	if tot := r.totals(); tot["linked"] != float64(11) || tot["copied"] != float64(0) || tot["bytes"] != float64(0) {
		t.Errorf("totals %v: want 11 blobs hard-linked, none copied", tot)
	}
	var linked int
	_ = filepath.WalkDir(filepath.Join(src, "blobs", "sha256"), func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			h := v1.Hash{Algorithm: "sha256", Hex: d.Name()}
			var m struct{ SchemaVersion int }
			if b, _ := os.ReadFile(p); json.Unmarshal(b, &m) == nil && m.SchemaVersion == 2 {
				return nil // a manifest: written from its (small) bytes
			}
			if fi, err := os.Stat(blobPath(storage, h)); err == nil {
				if inode(t, p) != fi.Sys().(*syscall.Stat_t).Ino {
					t.Errorf("blob %s is a second copy, not a hard link", h)
				}
				linked++
			}
		}
		return nil
	})
	if linked < 11 {
		t.Errorf("%d layers and configs of the layout are in the storage, want 11", linked)
	}
	before := tree(t, storage)
	again := run(t, ctx, "offline_image_push", fillArgs(src, storage)...)
	if again.code != 0 || again.json["changed"] != false || again.totals()["skipped"] != float64(len(images)) {
		t.Errorf("rerun: exit %d: %s", again.code, again.stdout)
	}
	if after := tree(t, storage); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Error("the rerun changed the storage")
	}
	repos := map[string]string{ // where Kubespray looks (mapping: strip)
		"registry.k8s.io/kube-apiserver:v1.35.4": "kube-apiserver:v1.35.4",
		"registry.k8s.io/kube-proxy:v1.35.4":     "kube-proxy:v1.35.4",
		"quay.io/calico/node:v3.31.5":            "calico/node:v3.31.5",
		"registry.k8s.io/pause:3.10":             "pause:3.10",
	}
	for i, bin := range []string{"/usr/bin/docker-registry", v3} {
		host := storageRegistry(t, work, bin)
		for ref, repo := range repos {
			served(t, host, repo, images[ref])
		}
		// Added while it runs: served at once.
		ref := fmt.Sprintf("registry.k8s.io/coredns/coredns:v1.12.%d", i)
		added := writeLayout(t, src, map[string]any{ref: ociImage(t, "amd64", ociLayer(t, 8<<10))})
		if r := run(t, ctx, "offline_image_push", fillArgs(src, storage)...); r.code != 0 || r.totals()["pushed"] != float64(1) {
			t.Errorf("fill while %s serves: exit %d: %s", bin, r.code, r.stdout)
		}
		served(t, host, strings.TrimPrefix(ref, "registry.k8s.io/"), added[ref])
		sh(t, "stop", work)
	}
}

// namespace puts every image below it; the registry serves them there.
func TestStorageNamespace(t *testing.T) {
	needSkopeo(t)
	src := filepath.Join(t.TempDir(), "layout")
	images := kubesprayLayout(t, src)
	work := t.TempDir()
	storage := filepath.Join(work, "data")
	if r := run(t, context.Background(), "offline_image_push", fillArgs(src, storage, "--namespace", "x")...); r.code != 0 {
		t.Fatalf("fill: exit %d: %s", r.code, r.stdout)
	}
	host := storageRegistry(t, work, "/usr/bin/docker-registry")
	served(t, host, "x/pause:3.10", images["registry.k8s.io/pause:3.10"])
	served(t, host, "x/calico/node:v3.31.5", images["quay.io/calico/node:v3.31.5"])
	if _, err := os.Stat(filepath.Join(storage, "docker", "registry", "v2", "repositories", "pause")); !os.IsNotExist(err) {
		t.Error("an image was written outside the namespace")
	}
}

// A corrupt blob in the layout is named; nothing of its image is written.
func TestStorageCorruptBlob(t *testing.T) {
	src := filepath.Join(t.TempDir(), "layout")
	own := ociLayer(t, 32<<10)
	bad := ociImage(t, "amd64", own)
	writeLayout(t, src, map[string]any{"registry.k8s.io/pause:3.10": bad, "quay.io/calico/node:v3.31.5": ociImage(t, "amd64", ociLayer(t, 32<<10))})
	d, _ := own.Digest()
	p := filepath.Join(src, "blobs", "sha256", d.Hex)
	b, _ := os.ReadFile(p)
	b[100] ^= 0xff
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	storage := filepath.Join(t.TempDir(), "data")
	r := run(t, context.Background(), "offline_image_push", fillArgs(src, storage)...)
	items, _ := r.json["failed_items"].([]any)
	if r.code == 0 || len(items) != 1 || !strings.Contains(fmt.Sprint(items[0]), d.String()) || !strings.Contains(r.json["msg"].(string), d.String()) {
		t.Fatalf("fill: exit %d: %s; want the corrupt blob %s named", r.code, r.stdout, d)
	}
	if _, err := os.Stat(filepath.Join(storage, "docker", "registry", "v2", "repositories", "pause")); !os.IsNotExist(err) {
		t.Error("the corrupt image's repository was created")
	}
	cd, _ := bad.ConfigName()
	for _, h := range []v1.Hash{d, cd} {
		if _, err := os.Stat(blobPath(storage, h)); !os.IsNotExist(err) {
			t.Errorf("blob %s of the corrupt image was written", h)
		}
	}
}

// mountTmpfs mounts a tmpfs of size at a new folder, or skips the test.
func mountTmpfs(t *testing.T, size string) string {
	t.Helper()
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size, "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs (needs root, or a container allowing mounts): %v %s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("umount", dir).Run() })
	return dir
}

// Across filesystems the blobs are copied (the registry serves them all the same); a storage
// without the space fails before writing anything, naming needed, free and the shortfall.
func TestStorageAcrossFilesystems(t *testing.T) {
	needSkopeo(t)
	src := filepath.Join(t.TempDir(), "layout")
	images := kubesprayLayout(t, src)
	work := mountTmpfs(t, "64m")
	storage := filepath.Join(work, "data")
	r := run(t, context.Background(), "offline_image_push", fillArgs(src, storage)...)
	if tot := r.totals(); r.code != 0 || tot["copied"] != float64(11) || tot["linked"] != float64(0) || tot["bytes"].(float64) < 96<<10 {
		t.Fatalf("fill onto a tmpfs: exit %d: %s", r.code, r.stdout)
	}
	host := storageRegistry(t, work, "/usr/bin/docker-registry")
	served(t, host, "pause:3.10", images["registry.k8s.io/pause:3.10"])
	served(t, host, "kube-proxy:v1.35.4", images["registry.k8s.io/kube-proxy:v1.35.4"])

	small := mountTmpfs(t, "4m")
	r = run(t, context.Background(), "offline_image_push", fillArgs(src, filepath.Join(small, "data"))...)
	msg, _ := r.json["msg"].(string)
	if r.code == 0 || !strings.Contains(msg, "needs") || !strings.Contains(msg, "free") || !strings.Contains(msg, "short") {
		t.Errorf("fill onto a full disk: exit %d: %s; want needed, free and the shortfall named", r.code, r.stdout)
	}
	if _, err := os.Stat(filepath.Join(small, "data", "docker")); !os.IsNotExist(err) {
		t.Error("something was written before the space check failed")
	}
}

// amd64-only then arm64-only bundles of one tag: the registry serves an index of both; the
// same platform with other content fails, naming both digests, unless on_existing: overwrite.
func TestStoragePlatformMerge(t *testing.T) {
	needSkopeo(t)
	ctx := context.Background()
	work := t.TempDir()
	storage := filepath.Join(work, "data")
	const ref = "registry.k8s.io/pause:3.10"
	amdSrc, armSrc, otherSrc := filepath.Join(t.TempDir(), "amd"), filepath.Join(t.TempDir(), "arm"), filepath.Join(t.TempDir(), "other")
	amd := writeLayout(t, amdSrc, map[string]any{ref: ociImage(t, "amd64", ociLayer(t, 8<<10))})[ref]
	arm := writeLayout(t, armSrc, map[string]any{ref: ociImage(t, "arm64", ociLayer(t, 8<<10))})[ref]
	other := writeLayout(t, otherSrc, map[string]any{ref: ociImage(t, "amd64", ociLayer(t, 8<<10))})[ref]
	for _, s := range []string{amdSrc, armSrc} {
		if r := run(t, ctx, "offline_image_push", fillArgs(s, storage)...); r.code != 0 {
			t.Fatalf("fill %s: exit %d: %s", s, r.code, r.stdout)
		}
	}
	r := run(t, ctx, "offline_image_push", fillArgs(otherSrc, storage)...)
	if msg := fmt.Sprint(r.json["msg"]); r.code == 0 || !strings.Contains(msg, amd.String()) || !strings.Contains(msg, other.String()) {
		t.Errorf("same platform, other content: exit %d: %s; want failed naming %s and %s", r.code, r.stdout, amd, other)
	}
	host := storageRegistry(t, work, "/usr/bin/docker-registry")
	raw, err := exec.Command("skopeo", "inspect", "--raw", "--tls-verify=false", "docker://"+host+"/pause:3.10").Output()
	if err != nil {
		t.Fatal(err)
	}
	var idx v1.IndexManifest
	if err := json.Unmarshal(raw, &idx); err != nil || len(idx.Manifests) != 2 {
		t.Fatalf("the tag serves %s; want an index of two", raw)
	}
	got := map[v1.Hash]string{}
	for _, m := range idx.Manifests {
		got[m.Digest] = m.Platform.Architecture
	}
	if got[amd] != "amd64" || got[arm] != "arm64" {
		t.Errorf("merged index %s; want %s (amd64) and %s (arm64)", raw, amd, arm)
	}
	served(t, host, "pause:3.10", v1.Hash{Algorithm: "sha256", Hex: sha256hex(raw)})
	served(t, host, "pause@"+arm.String(), arm)
	// on_existing: overwrite points the tag at the bundle's manifest (served at once).
	if r := run(t, ctx, "offline_image_push", fillArgs(otherSrc, storage, "--on-existing", "overwrite")...); r.code != 0 {
		t.Fatalf("fill with overwrite: exit %d: %s", r.code, r.stdout)
	}
	served(t, host, "pause:3.10", other)
}

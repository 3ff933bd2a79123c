// Package sitestatetest builds an offline site for the tests of the site state export and its
// module: a bundle (files with an apt and a yum repository, an OCI layout, manifest.yaml) and
// the registry storage imagepush.Fill writes from that layout, with what an export of it must
// give, computed from the images and files themselves.
package sitestatetest

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/zstdcmd"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/imagepush"
	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/ocistore/ocistoretest"
	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/sitestate"
)

// Site is a site on disk and what its export must hold.
type Site struct {
	Bundle, Storage string
	Files           []sitestate.File    // every regular file under files/, sorted by path
	Images          []sitestate.Image   // every tag of the storage, sorted by reference
	Blobs           []string            // every blob of the storage (layers, configs, manifests), sorted
	Packages        []sitestate.Package // sorted by repo, path
	Outside         string              // the file files/outside links to (outside the bundle)
}

// Sum is the sha256 (hex) of b.
func Sum(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// New builds a site in a fresh temporary folder.
func New(t *testing.T) *Site {
	t.Helper()
	work := t.TempDir()
	s := &Site{Bundle: filepath.Join(work, "bundle"), Storage: filepath.Join(work, "storage"), Outside: filepath.Join(work, "secret")}
	write(t, s.Outside, []byte("not the site's"))

	// files/: served files, an apt and a yum repository; a dot file and symbolic links left out.
	deb := []byte("a deb")
	rpm := []byte("an rpm")
	packages := fmt.Sprintf("Package: containerd\nVersion: 1.7.24-1\nArchitecture: amd64\nDescription: a runtime\n with a long text\n"+
		"Filename: ./containerd_1.7.24-1_amd64.deb\nSize: %d\nSHA256: %s\n\n", len(deb), Sum(deb))
	primary := fmt.Sprintf(`<?xml version="1.0" encoding="UTF-8"?>
<metadata xmlns="http://linux.duke.edu/metadata/common" xmlns:rpm="http://linux.duke.edu/metadata/rpm" packages="1">
<package type="rpm"><name>conntrack-tools</name><arch>x86_64</arch><version epoch="1" ver="1.4.7" rel="2.el9"/>
<checksum type="sha256" pkgid="YES">%s</checksum><summary>x</summary><location href="Packages/conntrack-tools-1.4.7-2.el9.x86_64.rpm"/></package>
</metadata>
`, Sum(rpm))
	zprimary, err := zstdcmd.Compress([]byte(primary))
	if err != nil {
		t.Fatal(err)
	}
	repomd := `<?xml version="1.0" encoding="UTF-8"?>
<repomd xmlns="http://linux.duke.edu/metadata/repo"><data type="primary"><location href="repodata/abc-primary.xml.zst"/></data></repomd>
`
	var gz bytes.Buffer
	gw := gzip.NewWriter(&gz)
	_, _ = gw.Write([]byte(packages))
	_ = gw.Close()
	files := map[string][]byte{
		"dl.k8s.io/release/v1.35.4/bin/linux/amd64/kubelet": bytes.Repeat([]byte("k"), 1<<20),
		"github.com/etcd-io/etcd/releases/etcd.tar.gz":      []byte("etcd"),
		"empty":                      {},
		"debs/debian-12/Packages.gz": gz.Bytes(),
		"debs/debian-12/containerd_1.7.24-1_amd64.deb":                 deb,
		"rpms/rocky-9/repodata/repomd.xml":                             []byte(repomd),
		"rpms/rocky-9/repodata/abc-primary.xml.zst":                    zprimary,
		"rpms/rocky-9/Packages/conntrack-tools-1.4.7-2.el9.x86_64.rpm": rpm,
	}
	for rel, b := range files {
		write(t, filepath.Join(s.Bundle, "files", rel), b)
		s.Files = append(s.Files, sitestate.File{Path: rel, SHA256: Sum(b), Size: int64(len(b))})
	}
	sort.Slice(s.Files, func(i, j int) bool { return s.Files[i].Path < s.Files[j].Path })
	write(t, filepath.Join(s.Bundle, "files", ".kubelet.partial"), []byte("left out"))
	symlink(t, s.Outside, filepath.Join(s.Bundle, "files", "outside"))
	symlink(t, filepath.Dir(s.Outside), filepath.Join(s.Bundle, "files", "outside-dir"))
	s.Packages = []sitestate.Package{
		{Repo: "debs/debian-12", Name: "containerd", Version: "1.7.24-1", Arch: "amd64", SHA256: Sum(deb), Path: "debs/debian-12/containerd_1.7.24-1_amd64.deb"},
		{Repo: "rpms/rocky-9", Name: "conntrack-tools", Version: "1:1.4.7-2.el9", Arch: "x86_64", SHA256: Sum(rpm), Path: "rpms/rocky-9/Packages/conntrack-tools-1.4.7-2.el9.x86_64.rpm"},
	}
	write(t, filepath.Join(s.Bundle, "manifest.yaml"), []byte("version: 1\ngenerator: airgap.kubespray.manifest\nkube_version: 1.35.4\nfiles: []\nimages: []\n"))

	// images/: a single-platform image and a two-platform index sharing a layer.
	base := randomLayer(t, 4<<10)
	pause := imageOn(t, "amd64", "", base)
	amd, arm := imageOn(t, "amd64", "", base, randomLayer(t, 2<<10)), imageOn(t, "arm64", "v8", randomLayer(t, 2<<10))
	node := mutate.AppendManifests(empty.Index,
		mutate.IndexAddendum{Add: amd, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}}},
		mutate.IndexAddendum{Add: arm, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "arm64", Variant: "v8"}}})
	store := ocistoretest.WriteLayout(t, filepath.Join(s.Bundle, "images"), map[string]any{
		"registry.k8s.io/pause:3.10.1": pause,
		"quay.io/calico/node:v3.31.5":  node,
	})
	entries, err := imagepush.FromLayout(store, nil)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := imagepush.Fill(context.Background(), entries, imagepush.FillOptions{Dir: s.Storage, Layout: store})
	if err != nil || rep.Count(imagepush.StatusPushed) != 2 {
		t.Fatalf("fill: %v %+v", err, rep)
	}
	pd, _ := pause.Digest()
	nd, _ := node.Digest()
	s.Images = []sitestate.Image{
		{Reference: "calico/node:v3.31.5", Source: "quay.io/calico/node:v3.31.5", Digest: nd.String(), Platforms: []string{"linux/amd64", "linux/arm64/v8"}},
		{Reference: "pause:3.10.1", Source: "registry.k8s.io/pause:3.10.1", Digest: pd.String(), Platforms: []string{"linux/amd64"}},
	}
	blobs := map[string]bool{nd.String(): true}
	for _, img := range []v1.Image{pause, amd, arm} {
		d, _ := img.Digest()
		c, _ := img.ConfigName()
		blobs[d.String()], blobs[c.String()] = true, true
		ls, _ := img.Layers()
		for _, l := range ls {
			ld, _ := l.Digest()
			blobs[ld.String()] = true
		}
	}
	for b := range blobs {
		s.Blobs = append(s.Blobs, b)
	}
	sort.Strings(s.Blobs)
	return s
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

func symlink(t *testing.T, target, p string) {
	t.Helper()
	if err := os.Symlink(target, p); err != nil {
		t.Fatal(err)
	}
}

func randomLayer(t *testing.T, size int64) v1.Layer {
	t.Helper()
	l, err := random.Layer(size, types.DockerLayer)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func imageOn(t *testing.T, arch, variant string, layers ...v1.Layer) v1.Image {
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
	cf.OS, cf.Architecture, cf.Variant = "linux", arch, variant
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		t.Fatal(err)
	}
	return img
}

// Snapshot is every file of a tree with its mode, mtime and size (what a writer would change).
func Snapshot(t *testing.T, dirs ...string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, dir := range dirs {
		_ = filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
			if err != nil {
				return err
			}
			out[p] = fmt.Sprint(fi.Mode(), fi.ModTime(), fi.Size())
			return nil
		})
	}
	return out
}

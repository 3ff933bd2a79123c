package imageset_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"encoding/pem"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/airgap-kubespray/airgap.kubespray/tests/tools/imageset/internal/imageset"
)

const tinyScale = 0.001

func TestParseName(t *testing.T) {
	tests := []struct {
		name, in                      string
		upstream, kso, contrib, cList string
	}{
		{"kubernetes", "registry.k8s.io/kube-apiserver:v1.35.4", "registry.k8s.io/kube-apiserver:v1.35.4",
			"registry.k8s.io_kube-apiserver-v1.35.4.tar.gz", "registry.k8s.io-kube-apiserver-v1.35.4.tar", "kube-apiserver:v1.35.4"},
		{"nested path", "quay.io/calico/node:v3.31.5", "quay.io/calico/node:v3.31.5",
			"quay.io_calico_node-v3.31.5.tar.gz", "quay.io-calico-node-v3.31.5.tar", "calico/node:v3.31.5"},
		{"docker hub library", "docker.io/library/nginx:1.28.2-alpine", "docker.io/library/nginx:1.28.2-alpine",
			"docker.io_library_nginx-1.28.2-alpine.tar.gz", "docker.io-library-nginx-1.28.2-alpine.tar", "library/nginx:1.28.2-alpine"},
		{"docker hub short name", "nginx:1.28", "docker.io/library/nginx:1.28",
			"nginx-1.28.tar.gz", "nginx-1.28.tar", "nginx:1.28"},
		{"docker hub user", "flannel/flannel:v0.27.3", "docker.io/flannel/flannel:v0.27.3",
			"flannel_flannel-v0.27.3.tar.gz", "flannel-flannel-v0.27.3.tar", "flannel/flannel:v0.27.3"},
		{"no tag", "registry.k8s.io/pause", "registry.k8s.io/pause:latest",
			"registry.k8s.io_pause.tar.gz", "registry.k8s.io-pause.tar", "pause"},
		{"digest dropped", "registry.k8s.io/pause:3.10@sha256:" + strings.Repeat("a", 64), "registry.k8s.io/pause:3.10",
			"registry.k8s.io_pause-3.10.tar.gz", "registry.k8s.io-pause-3.10.tar", "pause:3.10"},
		{"other host kept", "example.com:5000/team/app:1", "example.com:5000/team/app:1",
			"example.com-5000_team_app-1.tar.gz", "example.com-5000-team-app-1.tar", "example.com:5000/team/app:1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			n, err := imageset.ParseName(tc.in)
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range []struct{ what, got, want string }{
				{"Upstream", n.Upstream(), tc.upstream},
				{"KubesprayOfflineFile", n.KubesprayOfflineFile(), tc.kso},
				{"ContribFile", n.ContribFile(), tc.contrib},
				{"ContribListName", n.ContribListName(), tc.cList},
			} {
				if c.got != c.want {
					t.Errorf("%s = %q, want %q", c.what, c.got, c.want)
				}
			}
		})
	}
	if _, err := imageset.ParseName("UPPER/case:1"); err == nil {
		t.Error("ParseName accepted an upper-case repository")
	}
}

func TestReadNames(t *testing.T) {
	in := "# kubespray images.list\nregistry.k8s.io/pause:3.10.1\n\n  quay.io/calico/node:v3.31.5  \nregistry.k8s.io/pause:3.10.1\n"
	got, err := imageset.ReadNames(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"registry.k8s.io/pause:3.10.1", "quay.io/calico/node:v3.31.5"}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("ReadNames = %q, want %q", got, want)
	}
}

// TestGenerate builds the built-in set at a tiny scale, pushes it to an in-memory registry and
// writes the bundles, then reads everything back.
func TestGenerate(t *testing.T) {
	reg := newRegistry(t)
	out := t.TempDir()
	sum, err := imageset.Generate(context.Background(), imageset.Options{
		BuildOptions: imageset.BuildOptions{Scale: tinyScale, Seed: 7},
		Registry:     reg,
		Out:          out,
	})
	if err != nil {
		t.Fatal(err)
	}
	m := readManifest(t, out)
	if len(m.Images) != len(imageset.Builtin()) || sum.Images != len(m.Images) {
		t.Fatalf("%d images in imageset.json, summary says %d, want %d", len(m.Images), sum.Images, len(imageset.Builtin()))
	}
	if sum.Push == nil || sum.Push.Pushed != len(m.Images) {
		t.Errorf("push result %+v, want %d pushed", sum.Push, len(m.Images))
	}

	t.Run("shared bases", func(t *testing.T) {
		users := map[string]map[string]bool{} // base -> layer digests
		count := map[string]int{}
		own := map[string]string{}
		for _, im := range m.Images {
			for _, l := range im.Layers {
				if l.Base == "" {
					if other, ok := own[l.Digest]; ok {
						t.Errorf("own layer %s of %s is also in %s", l.Digest, im.Ref, other)
					}
					own[l.Digest] = im.Ref
					continue
				}
				if users[l.Base] == nil {
					users[l.Base] = map[string]bool{}
				}
				users[l.Base][l.Digest] = true
				count[l.Base]++
			}
		}
		for _, b := range []string{"distroless-static", "debian-base", "alpine", "calico-base", "go-runner"} {
			if len(users[b]) != 1 {
				t.Errorf("base %s has %d digests, want 1", b, len(users[b]))
			}
			if count[b] < 2 {
				t.Errorf("base %s is used by %d images, want several", b, count[b])
			}
		}
		if count["distroless-static"] < 5 {
			t.Errorf("distroless-static is under %d images, want most Kubernetes images", count["distroless-static"])
		}
		if sum.Stats.SharedLayers < 5 {
			t.Errorf("%d shared layers, want at least 5", sum.Stats.SharedLayers)
		}
	})

	t.Run("registry", func(t *testing.T) {
		for _, im := range m.Images {
			ref, err := name.ParseReference(reg + "/" + im.Upstream)
			if err != nil {
				t.Fatal(err)
			}
			img, err := remote.Image(ref)
			if err != nil {
				t.Fatalf("%s: %v", ref, err)
			}
			checkImage(t, ref.String(), img, im.Digest, im.Layers)
		}
	})

	t.Run("lists", func(t *testing.T) {
		want := strings.Join(imageset.Builtin(), "\n") + "\n"
		for _, p := range []string{imageset.ListFile, filepath.Join(imageset.KubesprayOfflineDir, imageset.ListFile)} {
			got, err := os.ReadFile(filepath.Join(out, p))
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != want {
				t.Errorf("%s = %q, want %q", p, got, want)
			}
		}
	})

	t.Run("kubespray-offline", func(t *testing.T) {
		entries, err := os.ReadDir(filepath.Join(out, imageset.KubesprayOfflineDir))
		if err != nil {
			t.Fatal(err)
		}
		if len(entries) != len(m.Images)+1 { // + images.list
			t.Errorf("%d files in %s, want %d", len(entries), imageset.KubesprayOfflineDir, len(m.Images)+1)
		}
		for _, im := range m.Images {
			path := gunzipTo(t, filepath.Join(out, im.Files.KubesprayOffline))
			checkSave(t, path, im.Ref, im.Platforms[0].Digest, im.Layers)
		}
	})

	t.Run("contrib-offline", func(t *testing.T) {
		dir := t.TempDir()
		names := untarGz(t, filepath.Join(out, imageset.ContribArchive), dir)
		if names[0] != "./container-images/" || names[len(names)-1] != "./container-images/container-images.txt" {
			t.Errorf("archive members %q: want ./container-images/ first and the list last", names)
		}
		txt, err := os.ReadFile(filepath.Join(dir, "container-images", "container-images.txt"))
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSuffix(string(txt), "\n"), "\n")
		if len(lines) != len(m.Images) {
			t.Fatalf("%d lines in container-images.txt, want %d", len(lines), len(m.Images))
		}
		for i, im := range m.Images {
			file := strings.TrimPrefix(im.Files.Contrib, "./container-images/")
			if want := file + "  " + im.Files.ContribListName; lines[i] != want {
				t.Errorf("line %d = %q, want %q", i, lines[i], want)
			}
			checkSave(t, filepath.Join(dir, "container-images", file), im.Ref, im.Platforms[0].Digest, im.Layers)
		}
		if len(m.Extras) != 1 {
			t.Fatalf("%d extras, want registry:latest", len(m.Extras))
		}
		checkSave(t, filepath.Join(dir, "container-images", "registry-latest.tar"), "registry:latest",
			m.Extras[0].Digest, m.Extras[0].Layers)
	})
}

func TestDeterminism(t *testing.T) {
	names := []string{"registry.k8s.io/kube-apiserver:v1.35.4", "registry.k8s.io/kube-scheduler:v1.35.4", "nginx:1.28"}
	gen := func(seed int64) string {
		out := t.TempDir()
		_, err := imageset.Generate(context.Background(), imageset.Options{
			BuildOptions: imageset.BuildOptions{Names: names, Scale: tinyScale, Seed: seed},
			Out:          out,
		})
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	a, b, c := gen(1), gen(1), gen(2)
	for _, p := range []string{imageset.ManifestFile, imageset.ContribArchive,
		filepath.Join(imageset.KubesprayOfflineDir, "registry.k8s.io_kube-apiserver-v1.35.4.tar.gz")} {
		if !bytes.Equal(readFile(t, filepath.Join(a, p)), readFile(t, filepath.Join(b, p))) {
			t.Errorf("%s differs between two runs with the same seed", p)
		}
	}
	ma, mc := readManifest(t, a), readManifest(t, c)
	for i := range ma.Images {
		if ma.Images[i].Digest == mc.Images[i].Digest {
			t.Errorf("%s has the same digest with seeds 1 and 2", ma.Images[i].Ref)
		}
	}
}

// TestReuse runs twice on the same cache, output folder and registry: the second run generates
// no layer, rewrites no bundle and pushes nothing.
func TestReuse(t *testing.T) {
	reg := newRegistry(t)
	o := imageset.Options{
		BuildOptions: imageset.BuildOptions{
			Names: []string{"quay.io/calico/node:v3.31.5", "quay.io/calico/cni:v3.31.5"}, Scale: tinyScale,
			CacheDir: t.TempDir(),
		},
		Registry: reg,
		Out:      t.TempDir(),
	}
	first, err := imageset.Generate(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	second, err := imageset.Generate(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if first.Stats.GeneratedLayers == 0 || second.Stats.GeneratedLayers != 0 ||
		second.Stats.CachedLayers != first.Stats.GeneratedLayers {
		t.Errorf("layers generated/cached: first %d/%d, second %d/%d", first.Stats.GeneratedLayers,
			first.Stats.CachedLayers, second.Stats.GeneratedLayers, second.Stats.CachedLayers)
	}
	if first.Bundles.Reused || !second.Bundles.Reused {
		t.Errorf("bundles reused: first %v, second %v", first.Bundles.Reused, second.Bundles.Reused)
	}
	if second.Push.Pushed != 0 || second.Push.Present != 2 {
		t.Errorf("second push %+v, want everything present", *second.Push)
	}
}

func TestPlatforms(t *testing.T) {
	reg := newRegistry(t)
	out := t.TempDir()
	_, err := imageset.Generate(context.Background(), imageset.Options{
		BuildOptions: imageset.BuildOptions{
			Names:     []string{"registry.k8s.io/kube-proxy:v1.35.4", "registry.k8s.io/pause:3.10.1"},
			Scale:     tinyScale,
			Platforms: []string{"linux/amd64", "linux/arm64"},
		},
		Registry: reg,
		Out:      out,
	})
	if err != nil {
		t.Fatal(err)
	}
	m := readManifest(t, out)
	for _, im := range m.Images {
		ref, err := name.ParseReference(reg + "/" + im.Upstream)
		if err != nil {
			t.Fatal(err)
		}
		idx, err := remote.Index(ref)
		if err != nil {
			t.Fatalf("%s: %v", ref, err)
		}
		d, _ := idx.Digest()
		if d.String() != im.Digest {
			t.Errorf("%s: index digest %s, want %s", ref, d, im.Digest)
		}
		mf, err := idx.IndexManifest()
		if err != nil {
			t.Fatal(err)
		}
		if len(mf.Manifests) != 2 || len(im.Platforms) != 2 {
			t.Fatalf("%s: %d manifests, %d platforms, want 2", ref, len(mf.Manifests), len(im.Platforms))
		}
		for i, desc := range mf.Manifests {
			if desc.Platform == nil || desc.Platform.String() != im.Platforms[i].Platform || desc.Digest.String() != im.Platforms[i].Digest {
				t.Errorf("%s: manifest %d is %v %s, want %s %s", ref, i, desc.Platform, desc.Digest,
					im.Platforms[i].Platform, im.Platforms[i].Digest)
			}
			img, err := idx.Image(desc.Digest)
			if err != nil {
				t.Fatal(err)
			}
			cf, err := img.ConfigFile()
			if err != nil {
				t.Fatal(err)
			}
			if cf.Platform().String() != im.Platforms[i].Platform {
				t.Errorf("%s: config says %s, want %s", ref, cf.Platform(), im.Platforms[i].Platform)
			}
		}
		if im.Platforms[0].Layers[0].Digest == im.Platforms[1].Layers[0].Digest {
			t.Errorf("%s: amd64 and arm64 share layer %s", ref, im.Platforms[0].Layers[0].Digest)
		}
		// The bundles carry the first platform.
		checkSave(t, gunzipTo(t, filepath.Join(out, im.Files.KubesprayOffline)), im.Ref, im.Platforms[0].Digest, im.Platforms[0].Layers)
	}
}

// TestPushTLS pushes to a registry behind TLS on 127.0.0.1, which go-containerregistry would
// otherwise talk plain HTTP to.
func TestPushTLS(t *testing.T) {
	srv := httptest.NewTLSServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(srv.Close)
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o644); err != nil {
		t.Fatal(err)
	}
	host := strings.TrimPrefix(srv.URL, "https://")
	names := []string{"registry.k8s.io/pause:3.10.1"}

	tests := []struct {
		name    string
		ca      string
		wantErr bool
	}{
		{"with the CA", ca, false},
		{"without the CA", "", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := imageset.Generate(context.Background(), imageset.Options{
				BuildOptions: imageset.BuildOptions{Names: names, Scale: tinyScale},
				Registry:     host,
				Push:         imageset.PushOptions{TLSCA: tc.ca},
			})
			if (err != nil) != tc.wantErr {
				t.Fatalf("Generate: %v, want error %v", err, tc.wantErr)
			}
			if err != nil {
				t.Logf("error as expected: %v", err)
			}
		})
	}
	req, _ := http.NewRequest(http.MethodHead, srv.URL+"/v2/registry.k8s.io/pause/manifests/3.10.1", nil)
	req.Header.Set("Accept", "application/vnd.docker.distribution.manifest.v2+json")
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("HEAD manifest over TLS: %s", resp.Status)
	}
}

func newRegistry(t *testing.T) string {
	t.Helper()
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

func readManifest(t *testing.T, dir string) *imageset.Manifest {
	t.Helper()
	var m imageset.Manifest
	if err := json.Unmarshal(readFile(t, filepath.Join(dir, imageset.ManifestFile)), &m); err != nil {
		t.Fatal(err)
	}
	return &m
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// checkSave reads a docker-archive tarball back and compares it with imageset.json.
func checkSave(t *testing.T, path, ref, digest string, layers []imageset.LayerInfo) {
	t.Helper()
	tag, err := name.NewTag(ref)
	if err != nil {
		t.Fatal(err)
	}
	img, err := tarball.ImageFromPath(path, &tag)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	checkImage(t, path, img, digest, layers)
}

func checkImage(t *testing.T, what string, img v1.Image, digest string, layers []imageset.LayerInfo) {
	t.Helper()
	d, err := img.Digest()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	if d.String() != digest {
		t.Errorf("%s: digest %s, want %s", what, d, digest)
	}
	ls, err := img.Layers()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	if len(ls) != len(layers) {
		t.Fatalf("%s: %d layers, want %d", what, len(ls), len(layers))
	}
	for i, l := range ls {
		ld, _ := l.Digest()
		size, _ := l.Size()
		if ld.String() != layers[i].Digest || size != layers[i].Size {
			t.Errorf("%s: layer %d is %s (%d bytes), want %s (%d bytes)", what, i, ld, size, layers[i].Digest, layers[i].Size)
		}
	}
}

// gunzipTo decompresses a per-image bundle into a temporary docker-archive file.
func gunzipTo(t *testing.T, path string) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	dst := filepath.Join(t.TempDir(), strings.TrimSuffix(filepath.Base(path), ".gz"))
	w, err := os.Create(dst)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if _, err := io.Copy(w, zr); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return dst
}

// untarGz extracts a tar.gz into dir and returns its member names in order.
func untarGz(t *testing.T, path, dir string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(zr)
	var names []string
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return names
		}
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, h.Name)
		dst := filepath.Join(dir, filepath.Clean(h.Name))
		if h.Typeflag == tar.TypeDir {
			if err := os.MkdirAll(dst, 0o755); err != nil {
				t.Fatal(err)
			}
			continue
		}
		w, err := os.Create(dst)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(w, tr); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

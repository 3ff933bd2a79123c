//go:build registry

// Tests of offline_image_pull and offline_image_push against the real CNCF distribution
// registry (Debian's docker-registry) on 127.0.0.1, driven through the module binary's CLI:
// plain HTTP, TLS with a test CA, TLS with htpasswd auth, and the faults users hit.
//
//	go test -tags registry -count=1 ./tests/registry/     (make test-registry)
package registry_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

var (
	repoRoot string
	binDir   string // offline_image_pull, offline_image_push and offline_verify: links to one airgap binary
)

func TestMain(m *testing.M) {
	wd, _ := os.Getwd()
	repoRoot = filepath.Clean(filepath.Join(wd, "..", ".."))
	dir, err := os.MkdirTemp("", "airgap-registry-test-")
	if err != nil {
		panic(err)
	}
	binDir = dir
	bin := filepath.Join(dir, "airgap")
	build := exec.Command("go", "build", "-o", bin, "./modules/airgap")
	build.Dir = repoRoot
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building the module binary: %v\n%s", err, out)
		os.Exit(1)
	}
	for _, n := range []string{"offline_image_pull", "offline_image_push", "offline_verify"} {
		if err := os.Symlink(bin, filepath.Join(dir, n)); err != nil {
			panic(err)
		}
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// registry is a docker-registry started through tests/lib/registry.sh.
type registry struct {
	work, host string
	tls        bool
	user, pass string
	port       string
}

func startRegistry(t *testing.T, tlsOn bool, user, pass string) *registry {
	t.Helper()
	r := &registry{work: t.TempDir(), tls: tlsOn, user: user, pass: pass}
	r.port = strings.TrimSpace(sh(t, "free-port"))
	r.host = "127.0.0.1:" + r.port
	r.start(t)
	t.Cleanup(func() { sh(t, "stop", r.work) })
	return r
}

func (r *registry) start(t *testing.T) {
	t.Helper()
	args := []string{"start", r.work, r.port}
	if r.tls {
		args = append(args, "--tls")
	}
	if r.user != "" {
		args = append(args, "--htpasswd", r.user+":"+r.pass)
	}
	sh(t, args...)
}

func (r *registry) stop(t *testing.T) { sh(t, "stop", r.work) }

func (r *registry) caPath() string { return filepath.Join(r.work, "tls", "ca.pem") }

// pushFlags are the flags offline_image_push needs to reach this registry.
func (r *registry) pushFlags() []string {
	f := []string{"--registry", r.host}
	if r.tls {
		f = append(f, "--ca-path", r.caPath())
	} else {
		f = append(f, "--insecure-registries", r.host)
	}
	if r.user != "" {
		f = append(f, "--auth", fmt.Sprintf("[{registry: %q, username: %q, password: %q}]", r.host, r.user, r.pass))
	}
	return f
}

// remoteOpts lets the test itself read the registry (with the CA and credentials).
func (r *registry) remoteOpts(t *testing.T) []remote.Option {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if r.tls {
		pem, err := os.ReadFile(r.caPath())
		if err != nil {
			t.Fatal(err)
		}
		pool := x509.NewCertPool()
		pool.AppendCertsFromPEM(pem)
		tr.TLSClientConfig = &tls.Config{RootCAs: pool}
	}
	opts := []remote.Option{remote.WithTransport(tr)}
	if r.user != "" {
		opts = append(opts, remote.WithAuth(&authn.Basic{Username: r.user, Password: r.pass}))
	}
	return opts
}

func (r *registry) ref(t *testing.T, s string) name.Reference {
	t.Helper()
	var opts []name.Option
	if !r.tls {
		opts = append(opts, name.Insecure)
	}
	ref, err := name.ParseReference(s, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return ref
}

func sh(t *testing.T, args ...string) string {
	t.Helper()
	cmd := exec.Command(filepath.Join(repoRoot, "tests", "lib", "registry.sh"), args...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("registry.sh %v: %v\n%s", args, err, out)
	}
	return string(out)
}

// result is what a module binary printed and how it exited.
type result struct {
	code           int
	stdout, stderr string
	json           map[string]any
}

func run(t *testing.T, ctx context.Context, module string, args ...string) result {
	t.Helper()
	cmd := exec.CommandContext(ctx, filepath.Join(binDir, module), args...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	r := result{stdout: out.String(), stderr: errOut.String()}
	if ee, ok := err.(*exec.ExitError); ok {
		r.code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("running %s: %v", module, err)
	}
	if jerr := json.Unmarshal(out.Bytes(), &r.json); jerr != nil {
		t.Fatalf("%s printed no JSON result (exit %d): %v\nstdout: %s\nstderr: %s", module, r.code, jerr, r.stdout, r.stderr)
	}
	return r
}

func (r result) totals() map[string]any { m, _ := r.json["totals"].(map[string]any); return m }

// upstreamImages pushes a Kubespray-like set (a shared base layer, one two-platform index)
// to up under "<up>/<original host>/<path>" and returns original reference -> digest.
func upstreamImages(t *testing.T, up *registry, layerSize int64) map[string]v1.Hash {
	t.Helper()
	base, err := random.Layer(layerSize, types.DockerLayer)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]v1.Hash{}
	for _, src := range []string{"registry.k8s.io/kube-apiserver:v1.35.4", "registry.k8s.io/kube-proxy:v1.35.4",
		"registry.k8s.io/pause:3.10.1", "quay.io/calico/node:v3.31.5"} {
		own, _ := random.Layer(layerSize/2, types.DockerLayer)
		img, err := mutate.AppendLayers(empty.Image, base, own)
		if err != nil {
			t.Fatal(err)
		}
		img = platform(t, img, "amd64")
		if err := remote.Write(up.ref(t, up.host+"/"+src), img, up.remoteOpts(t)...); err != nil {
			t.Fatal(err)
		}
		out[src], _ = img.Digest()
	}
	var adds []mutate.IndexAddendum
	for _, arch := range []string{"amd64", "arm64"} {
		img, _ := mutate.AppendLayers(empty.Image, base)
		img = platform(t, img, arch)
		adds = append(adds, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: arch}}})
	}
	idx := mutate.AppendManifests(empty.Index, adds...)
	if err := remote.WriteIndex(up.ref(t, up.host+"/docker.io/library/nginx:1.28.2-alpine"), idx, up.remoteOpts(t)...); err != nil {
		t.Fatal(err)
	}
	out["docker.io/library/nginx:1.28.2-alpine"], _ = idx.Digest()
	return out
}

func platform(t *testing.T, img v1.Image, arch string) v1.Image {
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

// pullAll pulls the upstream set into a new layout, through mirrors, and returns its folder.
func pullAll(t *testing.T, up *registry, images map[string]v1.Hash) string {
	t.Helper()
	dir := t.TempDir()
	list := filepath.Join(dir, "images.list")
	var lines []string
	for src := range images {
		lines = append(lines, src)
	}
	if err := os.WriteFile(list, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	layout := filepath.Join(dir, "layout")
	args := []string{"--list", list, "--dest", layout, "--insecure-registries", up.host}
	for _, h := range []string{"registry.k8s.io", "quay.io", "docker.io"} {
		args = append(args, "--registry-mirrors", fmt.Sprintf("{prefix: %s, replace: %s/%s}", h, up.host, h))
	}
	r := run(t, context.Background(), "offline_image_pull", args...)
	if r.code != 0 || r.totals()["pulled"] != float64(len(images)) {
		t.Fatalf("pull: exit %d: %s", r.code, r.stdout)
	}
	return layout
}

// targets maps an original reference to where strip puts it.
func target(host, src string) string {
	for _, h := range []string{"registry.k8s.io/", "quay.io/", "docker.io/"} {
		src = strings.TrimPrefix(src, h)
	}
	return host + "/" + src
}

func TestPushToEachKindOfRegistry(t *testing.T) {
	up := startRegistry(t, false, "", "")
	images := upstreamImages(t, up, 256<<10)
	layout := pullAll(t, up, images)
	for _, tc := range []struct {
		name       string
		tls        bool
		user, pass string
	}{
		{"plain HTTP", false, "", ""},
		{"TLS with a test CA", true, "", ""},
		{"TLS with htpasswd", true, "admin", "s3cret-Pa55"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			reg := startRegistry(t, tc.tls, tc.user, tc.pass)
			r := run(t, context.Background(), "offline_image_push", append([]string{"--src", layout}, reg.pushFlags()...)...)
			if r.code != 0 || r.totals()["pushed"] != float64(len(images)) {
				t.Fatalf("push: exit %d: %s", r.code, r.stdout)
			}
			if tc.pass != "" && strings.Contains(r.stdout+r.stderr, tc.pass) {
				t.Error("the password appears in the output")
			}
			for src, digest := range images {
				desc, err := remote.Head(reg.ref(t, target(reg.host, src)), reg.remoteOpts(t)...)
				if err != nil {
					t.Errorf("%s: %v", src, err)
					continue
				}
				if src != "docker.io/library/nginx:1.28.2-alpine" && desc.Digest != digest {
					t.Errorf("%s: digest %s in the registry, %s upstream", src, desc.Digest, digest)
				}
			}
			// The shared base layer went once and was mounted into the other repositories.
			if b := r.totals()["bytes"].(float64); b > float64(256<<10)*1.5+float64(len(images))*float64(128<<10)*1.2+200<<10 {
				t.Errorf("%.0f bytes uploaded: the shared base layer was sent more than once", b)
			}
			r = run(t, context.Background(), "offline_image_push", append([]string{"--src", layout}, reg.pushFlags()...)...)
			if r.code != 0 || r.json["changed"] != false || r.totals()["skipped"] != float64(len(images)) {
				t.Fatalf("rerun: exit %d: %s", r.code, r.stdout)
			}
		})
	}
}

func TestRegistryKilledMidPush(t *testing.T) {
	up := startRegistry(t, false, "", "")
	images := upstreamImages(t, up, 48<<20) // big enough that the push is still running when killed
	layout := pullAll(t, up, images)
	reg := startRegistry(t, false, "", "")

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	done := make(chan result, 1)
	go func() {
		done <- run(t, ctx, "offline_image_push", append([]string{"--src", layout, "--retries", "0", "-j", "2"}, reg.pushFlags()...)...)
	}()
	// Kill the registry once uploads are under way.
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if du(t, filepath.Join(reg.work, "data")) > 8<<20 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	reg.stop(t)
	r := <-done
	if r.code == 0 || r.json["failed"] != true {
		t.Fatalf("push with the registry killed: exit %d: %s", r.code, r.stdout)
	}
	msg, _ := r.json["msg"].(string)
	t.Logf("killed mid-push: exit %d, totals %v, msg: %.300s", r.code, r.totals(), msg)
	network := false
	for _, e := range []string{"connection refused", "EOF", "reset", "broken pipe"} {
		network = network || strings.Contains(msg, e)
	}
	if !strings.Contains(msg, reg.host) || !network || strings.Contains(msg, "_state=") {
		t.Errorf("failure message is not clear about the registry: %s", msg)
	}

	reg.start(t) // same storage: what was uploaded is there
	r = run(t, context.Background(), "offline_image_push", append([]string{"--src", layout}, reg.pushFlags()...)...)
	if r.code != 0 || r.totals()["failed"] != float64(0) {
		t.Fatalf("rerun after restart: exit %d: %s", r.code, r.stdout)
	}
	// Every image pulls back with its original digests.
	back := t.TempDir()
	args := []string{"--dest", back, "--insecure-registries", reg.host, "--platforms", "linux/amd64,linux/arm64"}
	for src := range images {
		args = append(args, "--images", fmt.Sprintf("{source: %q}", target(reg.host, src)))
	}
	pr := run(t, context.Background(), "offline_image_pull", args...)
	if pr.code != 0 {
		t.Fatalf("pulling back: %s", pr.stdout)
	}
	for _, img := range pr.json["images"].([]any) {
		m := img.(map[string]any)
		for src, digest := range images {
			if target(reg.host, src) == m["source"] && m["source_digest"] != digest.String() && !strings.Contains(src, "nginx") {
				t.Errorf("%s pulled back as %s, originally %s", src, m["source_digest"], digest)
			}
		}
	}
}

func TestCorruptBlobIsNotPushed(t *testing.T) {
	up := startRegistry(t, false, "", "")
	images := upstreamImages(t, up, 256<<10)
	layout := pullAll(t, up, images)
	// Corrupt pause's own layer (the last layer of its manifest).
	var index v1.IndexManifest
	b, _ := os.ReadFile(filepath.Join(layout, "index.json"))
	_ = json.Unmarshal(b, &index)
	var layer v1.Hash
	for _, d := range index.Manifests {
		if d.Annotations["org.opencontainers.image.ref.name"] == "registry.k8s.io/pause:3.10.1" {
			raw, _ := os.ReadFile(filepath.Join(layout, "blobs", "sha256", d.Digest.Hex))
			var m v1.Manifest
			_ = json.Unmarshal(raw, &m)
			layer = m.Layers[len(m.Layers)-1].Digest
		}
	}
	p := filepath.Join(layout, "blobs", "sha256", layer.Hex)
	data, _ := os.ReadFile(p)
	data[100] ^= 0xff
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	reg := startRegistry(t, false, "", "")
	r := run(t, context.Background(), "offline_image_push", append([]string{"--src", layout}, reg.pushFlags()...)...)
	if r.code == 0 || r.totals()["failed"] != float64(1) || r.totals()["pushed"] != float64(len(images)-1) {
		t.Fatalf("push: exit %d: %s", r.code, r.stdout)
	}
	if msg := r.json["msg"].(string); !strings.Contains(msg, layer.String()) || !strings.Contains(msg, "pause") {
		t.Errorf("the message does not name the corrupt blob and image: %s", msg)
	}
	if _, err := remote.Head(reg.ref(t, reg.host+"/pause:3.10.1"), reg.remoteOpts(t)...); err == nil {
		t.Error("the image with a corrupt blob is in the registry")
	}
	if _, err := remote.Layer(reg.ref(t, reg.host+"/pause@"+layer.String()).Context().Digest(layer.String()), reg.remoteOpts(t)...); err == nil {
		l, _ := remote.Layer(reg.ref(t, reg.host+"/pause@"+layer.String()).Context().Digest(layer.String()), reg.remoteOpts(t)...)
		if rc, err := l.Compressed(); err == nil {
			rc.Close()
			t.Error("the corrupt blob was uploaded")
		}
	}
}

func TestWrongPassword(t *testing.T) {
	up := startRegistry(t, false, "", "")
	images := upstreamImages(t, up, 64<<10)
	layout := pullAll(t, up, images)
	reg := startRegistry(t, true, "admin", "right-Pa55")
	const wrong = "wrong-Pa55-xyzzy"
	args := []string{"--src", layout, "--registry", reg.host, "--ca-path", reg.caPath(),
		"--auth", fmt.Sprintf("[{registry: %q, username: admin, password: %q}]", reg.host, wrong), "--retries", "2"}
	start := time.Now()
	r := run(t, context.Background(), "offline_image_push", args...)
	if r.code == 0 || r.totals()["failed"] != float64(len(images)) {
		t.Fatalf("push with a wrong password: exit %d: %s", r.code, r.stdout)
	}
	if strings.Contains(r.stdout+r.stderr, wrong) {
		t.Fatal("the password appears in the output")
	}
	if msg := r.json["msg"].(string); !strings.Contains(msg, "refused the credentials") || !strings.Contains(msg, "401") {
		t.Errorf("not a clear auth error: %s", msg)
	}
	if time.Since(start) > 20*time.Second {
		t.Errorf("an auth failure was retried (%v)", time.Since(start))
	}
}

func TestTruncatedImportTarball(t *testing.T) {
	dir := t.TempDir()
	img, _ := random.Image(1<<20, 2)
	tag, _ := name.NewTag("registry.k8s.io/pause:3.10.1")
	good := filepath.Join(dir, "pause.tar")
	if err := tarball.WriteToFile(good, tag, img); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(good)
	bad := filepath.Join(dir, "registry.k8s.io_pause_3.10.1.tar")
	if err := os.WriteFile(bad, b[:len(b)*2/3], 0o644); err != nil {
		t.Fatal(err)
	}
	r := run(t, context.Background(), "offline_image_pull", "--archives", bad, "--dest", filepath.Join(dir, "layout"))
	if r.code == 0 || !strings.Contains(r.json["msg"].(string), bad) {
		t.Fatalf("truncated import: exit %d: %s", r.code, r.stdout)
	}
}

func du(t *testing.T, dir string) int64 {
	var n int64
	_ = filepath.Walk(dir, func(_ string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() {
			n += fi.Size()
		}
		return nil
	})
	return n
}

// The layout's index.json names images the way other tools look them up. skopeo 1.9 (Debian
// 12) only reads entries with OCI media types; Docker-typed entries are kept as they are, so
// their digests survive (see docs/images.md).
func TestLayoutReadableBySkopeo(t *testing.T) {
	skopeo, err := exec.LookPath("skopeo")
	if err != nil {
		t.Skip("skopeo is not installed (tests/setup-host.sh installs it)")
	}
	up := startRegistry(t, false, "", "")
	layer, _ := random.Layer(128<<10, types.OCILayer)
	img, err := mutate.AppendLayers(mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON), layer)
	if err != nil {
		t.Fatal(err)
	}
	img = platform(t, img, "amd64")
	const src = "registry.k8s.io/pause:3.10.1"
	if err := remote.Write(up.ref(t, up.host+"/"+src), img, up.remoteOpts(t)...); err != nil {
		t.Fatal(err)
	}
	want, _ := img.Digest()
	layout := pullAll(t, up, map[string]v1.Hash{src: want})

	out, err := exec.Command(skopeo, "inspect", "--raw", "oci:"+layout+":"+src).Output()
	if err != nil {
		t.Fatalf("skopeo inspect oci:%s:%s: %v", layout, src, err)
	}
	if got := (v1.Hash{Algorithm: "sha256", Hex: sha256hex(out)}); got != want {
		t.Errorf("skopeo reads %s, want %s", got, want)
	}
	reg := startRegistry(t, false, "", "")
	cp := exec.Command(skopeo, "copy", "--dest-tls-verify=false", "oci:"+layout+":"+src, "docker://"+reg.host+"/pause:3.10.1")
	if b, err := cp.CombinedOutput(); err != nil {
		t.Fatalf("skopeo copy from the layout: %v\n%s", err, b)
	}
	if desc, err := remote.Head(reg.ref(t, reg.host+"/pause:3.10.1"), reg.remoteOpts(t)...); err != nil || desc.Digest != want {
		t.Errorf("after skopeo copy: %v %v, want %s", desc, err, want)
	}
}

func sha256hex(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// Bundles made the existing tools' ways import into the layout: kubespray-offline's
// images/*.tar.gz and contrib/offline's container-images.tar.gz, made by tests/tools/imageset.
func TestImportExistingBundles(t *testing.T) {
	set := t.TempDir()
	gen := exec.Command("go", "run", "./tests/tools/imageset", "--out", set, "--scale", "0.002")
	gen.Dir = repoRoot
	if b, err := gen.CombinedOutput(); err != nil {
		t.Fatalf("generating the bundles: %v\n%s", err, b)
	}
	var catalog struct {
		Images []struct {
			Ref string `json:"ref"`
		} `json:"images"`
	}
	b, err := os.ReadFile(filepath.Join(set, "imageset.json"))
	if err != nil || json.Unmarshal(b, &catalog) != nil || len(catalog.Images) == 0 {
		t.Fatalf("reading imageset.json: %v", err)
	}
	for _, bundle := range []string{
		filepath.Join(set, "kubespray-offline", "images"),
		filepath.Join(set, "contrib-offline", "container-images.tar.gz"),
	} {
		t.Run(filepath.Base(bundle), func(t *testing.T) {
			layout := filepath.Join(t.TempDir(), "layout")
			r := run(t, context.Background(), "offline_image_pull", "--archives", bundle, "--dest", layout)
			if r.code != 0 || r.totals()["imported"] != float64(len(catalog.Images)) {
				t.Fatalf("import: exit %d: %.2000s", r.code, r.stdout)
			}
			var index v1.IndexManifest
			b, _ := os.ReadFile(filepath.Join(layout, "index.json"))
			_ = json.Unmarshal(b, &index)
			names := map[string]bool{}
			for _, d := range index.Manifests {
				names[d.Annotations["org.opencontainers.image.ref.name"]] = true
			}
			for _, img := range catalog.Images {
				if !names[img.Ref] {
					t.Errorf("%s is not in the layout under its original name", img.Ref)
				}
			}
			again := run(t, context.Background(), "offline_image_pull", "--archives", bundle, "--dest", layout)
			if again.code != 0 || again.json["changed"] != false {
				t.Errorf("importing twice changed the layout: %.1000s", again.stdout)
			}
			reg := startRegistry(t, false, "", "")
			pr := run(t, context.Background(), "offline_image_push", append([]string{"--src", layout}, reg.pushFlags()...)...)
			if pr.code != 0 || pr.totals()["pushed"] != float64(len(catalog.Images)) {
				t.Fatalf("push: exit %d: %.2000s", pr.code, pr.stdout)
			}
		})
	}
}

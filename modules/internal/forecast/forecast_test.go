package forecast_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/fetch"
	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/forecast"
	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/freespace"
	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/imagepull"
	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/mirror"
	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/ocistore"
	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/regclient"
	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/sitestate"
)

// fileServer answers HEAD as real servers do, each path its own way, and counts requests.
type fileServer struct {
	*httptest.Server
	mu       sync.Mutex
	requests map[string][]string // path -> methods seen
}

func newFileServer(t *testing.T) *fileServer {
	s := &fileServer{requests: map[string][]string{}}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.requests[r.URL.Path] = append(s.requests[r.URL.Path], r.Method)
		s.mu.Unlock()
		switch r.URL.Path {
		case "/sized": // HEAD with a Content-Length
			w.Header().Set("Content-Length", "1000")
			if r.Method == http.MethodGet {
				_, _ = w.Write(make([]byte, 1000))
			}
		case "/no-head": // HEAD refused; a ranged GET gives the total
			if r.Method == http.MethodHead {
				http.Error(w, "no", http.StatusMethodNotAllowed)
				return
			}
			w.Header().Set("Content-Range", "bytes 0-0/5000")
			w.Header().Set("Content-Length", "1")
			w.WriteHeader(http.StatusPartialContent)
			_, _ = w.Write([]byte{0})
		case "/no-length": // neither HEAD nor GET tell the length (a streamed answer)
			w.WriteHeader(http.StatusOK)
			w.(http.Flusher).Flush()
			if r.Method == http.MethodGet {
				_, _ = w.Write([]byte("streamed"))
			}
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *fileServer) seen(path string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests[path]
}

func sha(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// Files: a size from the item asks nothing; HEAD's Content-Length, else a ranged GET's total;
// a file verified in place and one the site holds count 0 and ask nothing; a size nobody
// tells is listed unknown and counted 0; url_mirrors lead to the server, paths follow the
// original URLs; nothing is written.
func TestFilesSizedByItemHeadOrRangeAndSkippedInPlace(t *testing.T) {
	s := newFileServer(t)
	bundle := filepath.Join(t.TempDir(), "bundle")
	inPlace := []byte("already here")
	if err := os.MkdirAll(filepath.Join(bundle, "files", "up.example"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(bundle, "files", "up.example", "in-place"), inPlace, 0o644); err != nil {
		t.Fatal(err)
	}
	held := strings.Repeat("f", 64)
	items := []fetch.Item{
		{URL: "https://up.example/sized"},
		{URL: "https://up.example/no-head"},
		{URL: "https://up.example/no-length"},
		{URL: "https://up.example/known"},
		{URL: "https://up.example/in-place", Checksum: "sha256:" + sha(inPlace)},
		{URL: "https://up.example/held", Checksum: "sha256:" + held},
	}
	sizes := []int64{-1, -1, -1, 7, -1, -1}
	site := &sitestate.State{Files: []sitestate.File{{Path: "up.example/held", SHA256: held}}}
	rep, err := forecast.Forecast(context.Background(), forecast.Options{
		Bundle: bundle, Files: items, Sizes: sizes, Site: site,
		Fetch: fetch.Options{Mirrors: []mirror.Mirror{{Prefix: "https://up.example", Replace: s.URL}}},
		Free:  func(string) (int64, error) { return 1 << 40, nil },
	})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]struct {
		status string
		bytes  int64
	}{
		"up.example/sized": {fetch.NeedToFetch, 1000}, "up.example/no-head": {fetch.NeedToFetch, 5000},
		"up.example/no-length": {fetch.NeedUnknown, 0}, "up.example/known": {fetch.NeedToFetch, 7},
		"up.example/in-place": {fetch.NeedInPlace, 0}, "up.example/held": {fetch.NeedSite, 0},
	}
	for _, n := range rep.Files {
		if w := want[n.Path]; n.Status != w.status || n.Bytes != w.bytes {
			t.Errorf("%s: %s %d bytes, want %s %d (%s)", n.Path, n.Status, n.Bytes, w.status, w.bytes, n.Msg)
		}
	}
	if rep.FilesBytes != 6007 || rep.Needed != 6007 || rep.ImagesBytes != 0 || rep.Short != 0 || rep.Err() != nil {
		t.Errorf("files %d, needed %d, images %d, short %d, err %v; want 6007 needed, none short",
			rep.FilesBytes, rep.Needed, rep.ImagesBytes, rep.Short, rep.Err())
	}
	if len(rep.Unknown) != 1 || rep.Unknown[0].Name != "https://up.example/no-length" || !strings.Contains(rep.Unknown[0].Msg, "no Content-Length") {
		t.Errorf("unknown = %+v, want the no-length file, saying why", rep.Unknown)
	}
	for path, methods := range map[string]string{"/sized": "HEAD", "/no-head": "HEAD GET", "/known": "", "/in-place": "", "/held": ""} {
		if got := strings.Join(s.seen(path), " "); got != methods {
			t.Errorf("%s: requests %q, want %q", path, got, methods)
		}
	}
	if _, err := os.Stat(filepath.Join(bundle, "files", ".partial")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the forecast wrote %s/files/.partial (%v)", bundle, err)
	}
}

// standIn is go-containerregistry's in-memory registry.
func standIn(t *testing.T) string {
	reg := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	s := httptest.NewServer(reg)
	t.Cleanup(s.Close)
	return strings.TrimPrefix(s.URL, "http://")
}

// blobSizes are an image's manifest, config and layers, by digest.
func blobSizes(t *testing.T, img v1.Image) (map[v1.Hash]int64, []v1.Descriptor) {
	t.Helper()
	m, err := img.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := img.RawManifest()
	d, _ := img.Digest()
	out := map[v1.Hash]int64{d: int64(len(raw)), m.Config.Digest: m.Config.Size}
	for _, l := range m.Layers {
		out[l.Digest] = l.Size
	}
	return out, m.Layers
}

func sum(m map[v1.Hash]int64) (n int64) {
	for _, v := range m {
		n += v
	}
	return n
}

// Images: of an index of two platforms only the wanted one counts (its manifest, config and
// layers); a layer already in the layout and a layer the site holds do not; an image the
// layout has, unchanged upstream, counts 0.
func TestImagesCountTheWantedPlatformsBlobsTheLayoutAndSiteLack(t *testing.T) {
	host := standIn(t)
	amd, err := random.Image(4096, 3)
	if err != nil {
		t.Fatal(err)
	}
	arm, err := random.Image(8192, 2)
	if err != nil {
		t.Fatal(err)
	}
	idx := mutate.AppendManifests(empty.Index,
		mutate.IndexAddendum{Add: amd, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}}},
		mutate.IndexAddendum{Add: arm, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "arm64"}}})
	ref, err := name.ParseReference(host + "/multi/arch:1")
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.WriteIndex(ref, idx); err != nil {
		t.Fatal(err)
	}
	client, err := regclient.New(regclient.Options{Insecure: []string{host}})
	if err != nil {
		t.Fatal(err)
	}
	bundle := filepath.Join(t.TempDir(), "bundle")
	images := []imagepull.Image{{Source: host + "/multi/arch:1"}}
	run := func(site *sitestate.State) *forecast.Report {
		t.Helper()
		rep, err := forecast.Forecast(context.Background(), forecast.Options{
			Bundle: bundle, Images: images, Site: site,
			Pull: imagepull.Options{Client: client, Platforms: []v1.Platform{{OS: "linux", Architecture: "amd64"}}},
			Free: func(string) (int64, error) { return 1 << 40, nil },
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(rep.Unknown) != 0 {
			t.Fatalf("unknown: %+v", rep.Unknown)
		}
		return rep
	}
	want, layers := blobSizes(t, amd)
	if rep := run(nil); rep.ImagesBytes != sum(want) || rep.Images[0].Blobs != len(want) || rep.Images[0].Status != imagepull.NeedToPull {
		t.Fatalf("no layout: %d bytes in %d blobs (%s), want amd64's %d in %d", rep.ImagesBytes, rep.Images[0].Blobs,
			rep.Images[0].Status, sum(want), len(want))
	}
	if _, err := os.Stat(bundle); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the forecast created %s (%v)", bundle, err)
	}

	// One layer already in the layout, another held by the site.
	store, err := ocistore.Open(filepath.Join(bundle, "images"), true)
	if err != nil {
		t.Fatal(err)
	}
	l0, err := amd.LayerByDigest(layers[0].Digest)
	if err != nil {
		t.Fatal(err)
	}
	rc, _ := l0.Compressed()
	if _, err := store.WriteBlob(layers[0].Digest, layers[0].Size, rc); err != nil {
		t.Fatal(err)
	}
	rc.Close()
	site := &sitestate.State{Blobs: []string{layers[1].Digest.String()}}
	delete(want, layers[0].Digest)
	delete(want, layers[1].Digest)
	if rep := run(site); rep.ImagesBytes != sum(want) || rep.Images[0].Blobs != len(want) {
		t.Errorf("a layer in the layout, one at the site: %d bytes in %d blobs, want %d in %d", rep.ImagesBytes,
			rep.Images[0].Blobs, sum(want), len(want))
	}

	// Pulled: nothing left to count.
	pulled, err := imagepull.Pull(context.Background(), store, images, imagepull.Options{Client: client})
	if err != nil || pulled.Images[0].Status != imagepull.StatusPulled {
		t.Fatalf("pull: %v %+v", err, pulled)
	}
	if rep := run(nil); rep.ImagesBytes != 0 || rep.Images[0].Status != imagepull.NeedInPlace {
		t.Errorf("after the pull: %d bytes, %s; want 0, in_place", rep.ImagesBytes, rep.Images[0].Status)
	}
}

// Too little room: the report says short, naming needed, free and the shortfall in bytes, and
// the forecast wrote nothing (the bundle folder does not exist).
func TestShortFailsNamingNeededFreeAndShortfall(t *testing.T) {
	s := newFileServer(t)
	bundle := filepath.Join(t.TempDir(), "new", "bundle")
	var asked string
	rep, err := forecast.Forecast(context.Background(), forecast.Options{
		Bundle: bundle, Files: []fetch.Item{{URL: s.URL + "/sized"}},
		Free: func(dir string) (int64, error) { asked = dir; return 400, nil },
	})
	if err != nil {
		t.Fatal(err)
	}
	err = rep.Err()
	if !errors.Is(err, forecast.ErrShort) || rep.Short != 600 || rep.Needed != 1000 || rep.Free != 400 {
		t.Fatalf("err %v, short %d, needed %d, free %d; want ErrShort, 600 short", err, rep.Short, rep.Needed, rep.Free)
	}
	for _, part := range []string{bundle, "(1000 bytes)", "(400 bytes)", "(600 bytes) short"} {
		if !strings.Contains(err.Error(), part) {
			t.Errorf("%q does not name %q", err, part)
		}
	}
	if asked != bundle {
		t.Errorf("free space asked for %s, want %s", asked, bundle)
	}
	if _, err := os.Stat(filepath.Dir(bundle)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the forecast created %s (%v)", filepath.Dir(bundle), err)
	}
}

// Free space of a folder not yet created is its nearest existing parent's; df agrees on a
// real file system within what other writers change meanwhile.
func TestFreeSpaceOfAFolderToBe(t *testing.T) {
	dir := t.TempDir()
	have, err := freespace.Of(dir)
	if err != nil || have <= 0 {
		t.Fatalf("free space of %s: %d, %v", dir, have, err)
	}
	if got := freespace.Existing(filepath.Join(dir, "a", "b")); got != dir {
		t.Errorf("Existing = %s, want %s", got, dir)
	}
	toBe, err := freespace.Of(filepath.Join(dir, "a", "b"))
	if err != nil || toBe <= 0 || abs(toBe-have) > 64<<20 {
		t.Errorf("free space of a folder to be: %d (%v), of its parent %d", toBe, err, have)
	}
}

func abs(n int64) int64 {
	if n < 0 {
		return -n
	}
	return n
}

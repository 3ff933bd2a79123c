package imagepull_test

import (
	"context"
	"errors"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/imagepull"
	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/ocistore"
	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/regclient"
)

// standIn is go-containerregistry's in-memory registry behind a handler the test steers.
type standIn struct {
	*httptest.Server
	stalls    atomic.Int64 // blob GETs still to stall (half the body, then silence)
	status    atomic.Int64 // if set, every manifest request is answered with it
	manifests atomic.Int64 // manifest requests seen
	release   chan struct{}
}

func newStandIn(t *testing.T) *standIn {
	s := &standIn{release: make(chan struct{})}
	reg := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.Contains(r.URL.Path, "/manifests/") {
			s.manifests.Add(1)
			if c := s.status.Load(); c != 0 {
				http.Error(w, `{"errors":[{"code":"UNKNOWN","message":"steered"}]}`, int(c))
				return
			}
		}
		if r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/blobs/sha256:") && s.stalls.Add(-1) >= 0 {
			rec := httptest.NewRecorder()
			reg.ServeHTTP(rec, r)
			body := rec.Body.Bytes()
			w.Header().Set("Content-Length", strconv.Itoa(len(body)))
			w.WriteHeader(rec.Code)
			_, _ = w.Write(body[:len(body)/2])
			w.(http.Flusher).Flush()
			select { // a proxy holding the connection mid-body
			case <-r.Context().Done():
			case <-s.release:
			}
			return
		}
		reg.ServeHTTP(w, r)
	}))
	t.Cleanup(func() { close(s.release); s.Close() })
	return s
}

func (s *standIn) host() string { return strings.TrimPrefix(s.URL, "http://") }

// push puts a small random image at repo:tag and returns its digest.
func (s *standIn) push(t *testing.T, repoTag string) v1.Hash {
	t.Helper()
	img, err := random.Image(64<<10, 2)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := name.ParseReference(s.host() + "/" + repoTag)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref, img); err != nil {
		t.Fatal(err)
	}
	d, _ := img.Digest()
	return d
}

func client(t *testing.T, s *standIn, timeout time.Duration) *regclient.Client {
	c, err := regclient.New(regclient.Options{Insecure: []string{s.host()}, Timeout: timeout})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// A registry (or proxy) that sends half a blob and then holds the connection: the pull fails
// within the timeout, naming the image; the next attempt pulls it whole (issue 12, item 13).
func TestPullFailsOnAStalledBodyAndCanBeRetried(t *testing.T) {
	s := newStandIn(t)
	src := s.host() + "/stall/me:1"
	want := s.push(t, "stall/me:1")
	store, err := ocistore.Open(filepath.Join(t.TempDir(), "layout"), true)
	if err != nil {
		t.Fatal(err)
	}
	c := client(t, s, 500*time.Millisecond)
	s.stalls.Store(1)
	start := time.Now()
	rep, err := imagepull.Pull(context.Background(), store, []imagepull.Image{{Source: src}}, imagepull.Options{Client: c})
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Fatalf("took %v: the stall timeout did not fire", d)
	}
	r := rep.Images[0]
	if r.Status != imagepull.StatusFailed || !errors.Is(r.Err(), regclient.ErrStalled) || !strings.Contains(r.Msg, src) {
		t.Fatalf("result = %+v, want a stall failure naming %s", r, src)
	}
	if left, _ := filepath.Glob(filepath.Join(store.Root(), "blobs", "sha256", ".partial-*")); len(left) != 0 {
		t.Errorf("partial blobs left: %v", left)
	}
	// Stalled once more, then whole: the retry inside one run gets it.
	s.stalls.Store(1)
	rep, err = imagepull.Pull(context.Background(), store, []imagepull.Image{{Source: src}},
		imagepull.Options{Client: c, Retries: 1, Backoff: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if r := rep.Images[0]; r.Status != imagepull.StatusPulled || r.Attempts != 2 || r.Digest != want.String() {
		t.Fatalf("retry: %+v, want pulled %s on the second attempt", r, want)
	}
	if d, ok, _ := store.Lookup(src); !ok || d.Digest != want {
		t.Fatalf("index.json: %v %v", d.Digest, ok)
	}
	if err := store.Verify(want, -1); err != nil {
		t.Fatal(err)
	}
}

// Retries happen at one level (the image), never multiplied by request retries, and not at
// all for permanent errors (issue 12, low items).
func TestRetriesAtOneLevelAndNotForPermanentErrors(t *testing.T) {
	s := newStandIn(t)
	store, err := ocistore.Open(filepath.Join(t.TempDir(), "layout"), true)
	if err != nil {
		t.Fatal(err)
	}
	c := client(t, s, 5*time.Second)
	pull := func(src string) imagepull.Result {
		t.Helper()
		rep, err := imagepull.Pull(context.Background(), store, []imagepull.Image{{Source: src}},
			imagepull.Options{Client: c, Retries: 2, Backoff: time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		return rep.Images[0]
	}
	for _, tc := range []struct {
		status   int
		attempts int
	}{{http.StatusServiceUnavailable, 3}, {http.StatusTooManyRequests, 3}, {http.StatusNotFound, 1}, {http.StatusBadRequest, 1}} {
		s.status.Store(int64(tc.status))
		s.manifests.Store(0)
		r := pull(s.host() + "/some/image:1")
		if r.Status != imagepull.StatusFailed || r.Attempts != tc.attempts || s.manifests.Load() != int64(tc.attempts) {
			t.Errorf("HTTP %d: status %s, %d attempts, %d manifest requests; want failed after %d of each",
				tc.status, r.Status, r.Attempts, s.manifests.Load(), tc.attempts)
		}
	}
	s.status.Store(0)
	s.manifests.Store(0)
	if r := pull("../../../etc/passwd:x"); r.Status != imagepull.StatusFailed || r.Attempts != 1 ||
		!strings.Contains(r.Msg, "../../../etc/passwd:x") || s.manifests.Load() != 0 {
		t.Errorf("bad name: %+v after %d requests; want one failed attempt naming it, no request", r, s.manifests.Load())
	}
}

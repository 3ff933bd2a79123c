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
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/registry"

	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/imagename"
	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/imagepull"
	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/imagepush"
	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/ocistore"
	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/regclient"
)

// One image whose manifest blob is gone, and one whose name is "../../../etc/passwd:x": the
// other images are pushed, each broken one fails alone with its name, and no request leaves
// /v2/ (issue 12, low items).
func TestPushGoesOnPastBrokenImages(t *testing.T) {
	up := newRegistry(t)
	upstreamSet(t, up)
	store, _ := ocistore.Open(filepath.Join(t.TempDir(), "layout"), true)
	pull(t, up, store, []imagepull.Image{{Source: "registry.k8s.io/kube-proxy:v1.35.4"},
		{Source: "registry.k8s.io/kube-apiserver:v1.35.4"}, {Source: "nginx:1.28"}})
	gone, ok, _ := store.Lookup("registry.k8s.io/kube-apiserver:v1.35.4")
	if !ok {
		t.Fatal("kube-apiserver was not pulled")
	}
	if err := os.Remove(store.BlobPath(gone.Digest)); err != nil {
		t.Fatal(err)
	}
	nginx, _, _ := store.Lookup("docker.io/library/nginx:1.28")
	const evil = "../../../etc/passwd:x"
	if err := store.Put(evil, "", nginx); err != nil {
		t.Fatal(err)
	}
	entries, err := imagepush.FromLayout(store, nil)
	if err != nil {
		t.Fatalf("FromLayout: %v; want the broken entries returned, not the whole layout refused", err)
	}
	var mu sync.Mutex
	var outside []string
	reg := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	dst := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v2/" && !strings.HasPrefix(r.URL.Path, "/v2/") || strings.Contains(r.URL.Path, "..") {
			mu.Lock()
			outside = append(outside, r.URL.Path)
			mu.Unlock()
		}
		reg.ServeHTTP(w, r)
	}))
	defer dst.Close()
	c, _ := regclient.New(regclient.Options{Insecure: []string{strings.TrimPrefix(dst.URL, "http://")}})
	rep, err := imagepush.Push(context.Background(), entries, imagepush.Options{Registry: strings.TrimPrefix(dst.URL, "http://"),
		Client: c, Retries: 2, Backoff: time.Millisecond})
	if err != nil {
		t.Fatalf("Push: %v; want per-image failures", err)
	}
	got := map[string]imagepush.Result{}
	for _, r := range rep.Images {
		got[r.Source] = r
	}
	for _, src := range []string{"registry.k8s.io/kube-proxy:v1.35.4", "docker.io/library/nginx:1.28"} {
		if got[src].Status != imagepush.StatusPushed {
			t.Errorf("%s = %+v, want pushed", src, got[src])
		}
	}
	for src, want := range map[string]string{"registry.k8s.io/kube-apiserver:v1.35.4": gone.Digest.Hex, evil: "invalid image reference"} {
		r := got[src]
		if r.Status != imagepush.StatusFailed || r.Attempts != 1 || !strings.HasPrefix(r.Msg, src) || !strings.Contains(r.Msg, want) {
			t.Errorf("%s = %+v, want failed once, named, saying %q", src, r, want)
		}
	}
	if len(rep.Failures()) != 2 {
		t.Errorf("%d failures, want 2", len(rep.Failures()))
	}
	if len(outside) > 0 {
		t.Errorf("requests outside /v2/: %v", outside)
	}
	if !errors.Is(got[evil].Err(), imagename.ErrInvalid) {
		t.Errorf("bad name: %v, want ErrInvalid", got[evil].Err())
	}
}

// A layout whose index.json is null, or lists no images, is an error naming the layout, not
// an empty push that succeeds.
func TestPushRefusesALayoutWithoutImages(t *testing.T) {
	for _, index := range []string{"null", `{"schemaVersion":2,"manifests":[]}`} {
		root := filepath.Join(t.TempDir(), "layout")
		if _, err := ocistore.Open(root, true); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, "index.json"), []byte(index), 0o644); err != nil {
			t.Fatal(err)
		}
		store, err := ocistore.Open(root, false)
		if err != nil {
			t.Fatal(err)
		}
		entries, err := imagepush.FromLayout(store, nil)
		if err == nil || !strings.Contains(err.Error(), root) || !strings.Contains(err.Error(), "no images") {
			t.Errorf("index.json %s: FromLayout = %d entries, %v; want an error naming %s", index, len(entries), err, root)
		}
	}
}

// A registry dropping uploads, or answering them with 503, gets one request per blob and
// attempt (retries are not multiplied by request retries); one answering 400 gets one
// attempt only.
func TestPushRetriesAtOneLevel(t *testing.T) {
	up := newRegistry(t)
	upstreamSet(t, up)
	store, _ := ocistore.Open(filepath.Join(t.TempDir(), "layout"), true)
	pull(t, up, store, []imagepull.Image{{Source: "nginx:1.28"}})
	entries, err := imagepush.FromLayout(store, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ status, attempts int }{{-1, 3}, {http.StatusServiceUnavailable, 3}, {http.StatusBadRequest, 1}} {
		var mu sync.Mutex
		posts := 0
		reg := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
		dst := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodPost && strings.Contains(r.URL.Path, "/blobs/uploads/") {
				mu.Lock()
				posts++
				mu.Unlock()
				if tc.status < 0 { // the connection drops before any answer
					conn, _, _ := w.(http.Hijacker).Hijack()
					conn.Close()
					return
				}
				http.Error(w, `{"errors":[{"code":"UNKNOWN","message":"steered"}]}`, tc.status)
				return
			}
			reg.ServeHTTP(w, r)
		}))
		host := strings.TrimPrefix(dst.URL, "http://")
		c, _ := regclient.New(regclient.Options{Insecure: []string{host}})
		rep, err := imagepush.Push(context.Background(), entries, imagepush.Options{Registry: host, Client: c,
			Concurrency: 1, Retries: 2, Backoff: time.Millisecond})
		dst.Close()
		if err != nil {
			t.Fatal(err)
		}
		blobs := len(entries[0].Blobs)
		r := rep.Images[0]
		// Each attempt tries every blob once (the first failure does not stop the others).
		if r.Status != imagepush.StatusFailed || r.Attempts != tc.attempts || posts != tc.attempts*blobs {
			t.Errorf("HTTP %d: %s after %d attempts and %d upload requests; want %d attempts, %d requests",
				tc.status, r.Status, r.Attempts, posts, tc.attempts, tc.attempts*blobs)
		}
	}
}

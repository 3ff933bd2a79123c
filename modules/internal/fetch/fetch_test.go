package fetch_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/fetch"
	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/mirror"
)

func blob(t *testing.T, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

func sum(b []byte) string {
	h := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(h[:])
}

// upstream serves files by path with Range support (http.ServeContent) and counts requests.
type upstream struct {
	mu    sync.Mutex
	files map[string][]byte
	hits  atomic.Int64
	srv   *httptest.Server
}

func newUpstream(t *testing.T, files map[string][]byte) *upstream {
	u := &upstream{files: files}
	u.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u.hits.Add(1)
		u.mu.Lock()
		b, ok := u.files[r.URL.Path]
		u.mu.Unlock()
		if !ok {
			http.NotFound(w, r)
			return
		}
		http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(b))
	}))
	t.Cleanup(u.srv.Close)
	return u
}

// seedPartial leaves a partial download for rel behind, as an interrupted run would.
func seedPartial(t *testing.T, dest, rel string, data []byte) {
	t.Helper()
	part := fetch.PartialPath(dest, rel)
	if err := os.MkdirAll(filepath.Dir(part), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(part, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func opts(dest string) fetch.Options {
	return fetch.Options{Dest: dest, Retries: 2, Backoff: 10 * time.Millisecond}
}

func readFile(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestFetchLayoutAndRerun(t *testing.T) {
	a, b := blob(t, 300<<10), blob(t, 1<<20)
	up := newUpstream(t, map[string][]byte{"/release/v1/bin/kubelet": a, "/x/b.tgz": b})
	dest := t.TempDir()
	items := []fetch.Item{
		{URL: up.srv.URL + "/release/v1/bin/kubelet", Checksum: sum(a)},
		{URL: up.srv.URL + "/x/b.tgz", Checksum: sum(b), Path: "custom/b.tgz"},
	}
	rep, err := fetch.Fetch(context.Background(), items, opts(dest))
	if err != nil {
		t.Fatal(err)
	}
	host := strings.TrimPrefix(up.srv.URL, "http://")
	want := filepath.Join(dest, host, "release/v1/bin/kubelet")
	if rep.Items[0].Dest != want || rep.Items[0].Status != fetch.StatusFetched {
		t.Fatalf("item 0 = %+v, want fetched at %s", rep.Items[0], want)
	}
	if !bytes.Equal(readFile(t, want), a) || !bytes.Equal(readFile(t, filepath.Join(dest, "custom/b.tgz")), b) {
		t.Fatal("content differs from upstream")
	}
	if fi, _ := os.Stat(want); fi.Mode().Perm() != 0o644 {
		t.Errorf("mode = %v, want 0644", fi.Mode().Perm())
	}
	if !rep.Changed() || rep.Totals.Fetched != 2 || rep.Totals.Bytes != int64(len(a)+len(b)) {
		t.Errorf("totals = %+v", rep.Totals)
	}
	if entries, _ := os.ReadDir(filepath.Join(dest, ".partial")); len(entries) != 0 {
		t.Errorf("partial files left behind: %v", entries)
	}

	hits := up.hits.Load()
	rep, err = fetch.Fetch(context.Background(), items, opts(dest))
	if err != nil {
		t.Fatal(err)
	}
	if rep.Changed() || rep.Totals.Skipped != 2 || up.hits.Load() != hits {
		t.Fatalf("rerun: changed=%v totals=%+v requests=%d, want a no-op with no requests",
			rep.Changed(), rep.Totals, up.hits.Load()-hits)
	}
	if rep.Items[0].SHA256 != strings.TrimPrefix(sum(a), "sha256:") {
		t.Errorf("skipped item sha256 = %q", rep.Items[0].SHA256)
	}

	// The rerun trusted a digest record; a changed file must not be trusted.
	corrupt := append([]byte(nil), a...)
	corrupt[0] ^= 0xff
	if err := os.WriteFile(want, corrupt, 0o644); err != nil {
		t.Fatal(err)
	}
	rep, err = fetch.Fetch(context.Background(), items, opts(dest))
	if err != nil {
		t.Fatal(err)
	}
	if it := rep.Items[0]; it.Status != fetch.StatusFetched || !it.Replaced || !bytes.Equal(readFile(t, want), a) {
		t.Fatalf("corrupted file not fetched again: %+v", it)
	}
}

func TestFetchReplacesWrongContentAndForce(t *testing.T) {
	a := blob(t, 64<<10)
	up := newUpstream(t, map[string][]byte{"/a": a})
	dest := t.TempDir()
	items := []fetch.Item{{URL: up.srv.URL + "/a", Checksum: sum(a), Path: "a"}}
	if err := os.WriteFile(filepath.Join(dest, "a"), []byte("stale"), 0o644); err != nil {
		t.Fatal(err)
	}
	rep, _ := fetch.Fetch(context.Background(), items, opts(dest))
	if rep.Items[0].Status != fetch.StatusFetched || !rep.Items[0].Replaced || !bytes.Equal(readFile(t, filepath.Join(dest, "a")), a) {
		t.Fatalf("stale file not replaced: %+v", rep.Items[0])
	}
	o := opts(dest)
	o.Force = true
	hits := up.hits.Load()
	rep, _ = fetch.Fetch(context.Background(), items, o)
	if rep.Items[0].Status != fetch.StatusFetched || up.hits.Load() == hits {
		t.Fatalf("force did not fetch again: %+v", rep.Items[0])
	}
}

func TestFetchResumesAfterDroppedConnection(t *testing.T) {
	data := blob(t, 2<<20)
	var ranges []string
	var mu sync.Mutex
	first := true
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		ranges = append(ranges, r.Method+" "+r.Header.Get("Range"))
		drop := first && r.Method == http.MethodGet
		if drop {
			first = false
		}
		mu.Unlock()
		if drop {
			// Promise the whole file, send half, then cut the connection.
			w.Header().Set("Content-Length", fmt.Sprint(len(data)))
			w.WriteHeader(http.StatusOK)
			_, _ = w.Write(data[:len(data)/2])
			w.(http.Flusher).Flush()
			conn, _, err := w.(http.Hijacker).Hijack()
			if err == nil {
				conn.Close()
			}
			return
		}
		http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(data))
	}))
	defer srv.Close()
	dest := t.TempDir()
	rep, err := fetch.Fetch(context.Background(), []fetch.Item{{URL: srv.URL + "/f", Checksum: sum(data), Path: "f"}}, opts(dest))
	if err != nil {
		t.Fatal(err)
	}
	it := rep.Items[0]
	if it.Status != fetch.StatusFetched || !it.Resumed || it.Attempts != 2 {
		t.Fatalf("item = %+v, want fetched after one resume; requests %v", it, ranges)
	}
	if !bytes.Equal(readFile(t, filepath.Join(dest, "f")), data) {
		t.Fatal("resumed file differs from upstream")
	}
	last := ranges[len(ranges)-1]
	if !strings.HasPrefix(last, "GET bytes=") || last == "GET bytes=0-" {
		t.Errorf("last request %q, want a GET with a Range from the partial size", last)
	}
	if rep.Totals.Bytes >= int64(len(data)+len(data)/2) {
		t.Errorf("received %d bytes for a %d byte file: the resume re-downloaded", rep.Totals.Bytes, len(data))
	}
}

func TestFetchRestartsWhenRangeIgnored(t *testing.T) {
	data := blob(t, 512<<10)
	for _, advertise := range []bool{false, true} {
		t.Run(fmt.Sprintf("accept-ranges=%v", advertise), func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if advertise {
					w.Header().Set("Accept-Ranges", "bytes")
				}
				w.Header().Set("Content-Length", fmt.Sprint(len(data)))
				if r.Method == http.MethodGet {
					_, _ = w.Write(data) // always the whole file, never 206
				}
			}))
			defer srv.Close()
			dest := t.TempDir()
			seedPartial(t, dest, "f", data[:1000])
			o := opts(dest)
			o.Retries = 0
			rep, err := fetch.Fetch(context.Background(), []fetch.Item{{URL: srv.URL + "/f", Checksum: sum(data), Path: "f"}}, o)
			if err != nil {
				t.Fatal(err)
			}
			if rep.Items[0].Status != fetch.StatusFetched {
				t.Fatalf("item = %+v", rep.Items[0])
			}
			if !bytes.Equal(readFile(t, filepath.Join(dest, "f")), data) {
				t.Fatal("file is not the upstream file")
			}
		})
	}
}

func TestFetchFailures(t *testing.T) {
	good := blob(t, 10<<10)
	var fiveHundreds atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/flaky":
			if fiveHundreds.Add(1) == 1 {
				http.Error(w, "busy", http.StatusInternalServerError)
				return
			}
			_, _ = w.Write(good)
		case "/good":
			_, _ = w.Write(good)
		case "/stall":
			w.Header().Set("Content-Length", "100000")
			w.Header().Set("Accept-Ranges", "bytes")
			if r.Method == http.MethodHead {
				return
			}
			_, _ = w.Write(good[:10])
			w.(http.Flusher).Flush()
			select {
			case <-r.Context().Done():
			case <-time.After(5 * time.Second):
			}
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	client, err := fetch.NewHTTPClient(fetch.ClientOptions{Timeout: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	dest := t.TempDir()
	o := opts(dest)
	o.Client = client
	o.Retries = 1
	wrong := strings.Repeat("ab", 32)
	items := []fetch.Item{
		{URL: srv.URL + "/missing", Path: "missing"},
		{URL: srv.URL + "/flaky", Checksum: sum(good), Path: "flaky"},
		{URL: srv.URL + "/good", Checksum: "sha256:" + wrong, Path: "mismatch"},
		{URL: srv.URL + "/stall", Path: "stall"},
		{URL: srv.URL + "/good", Checksum: "md5:abc", Path: "badsum"},
	}
	start := time.Now()
	rep, err := fetch.Fetch(context.Background(), items, o)
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 4*time.Second {
		t.Errorf("took %v: the stall timeout did not fire", d)
	}
	byPath := map[string]fetch.ItemResult{}
	for _, it := range rep.Items {
		byPath[it.Path] = it
	}
	check := func(path string, status fetch.Status, msgHas ...string) {
		t.Helper()
		it := byPath[path]
		if it.Status != status {
			t.Errorf("%s: status %s (%s), want %s", path, it.Status, it.Msg, status)
		}
		for _, s := range msgHas {
			if !strings.Contains(it.Msg, s) {
				t.Errorf("%s: msg %q lacks %q", path, it.Msg, s)
			}
		}
	}
	check("missing", fetch.StatusFailed, srv.URL+"/missing", "404")
	check("flaky", fetch.StatusFetched)
	check("mismatch", fetch.StatusFailed, srv.URL+"/good", "expected sha256:"+wrong, "got "+sum(good))
	check("stall", fetch.StatusFailed, "stalled")
	check("badsum", fetch.StatusFailed, "md5:abc")
	if byPath["missing"].Attempts != 1 {
		t.Errorf("404 was retried: %d attempts", byPath["missing"].Attempts)
	}
	if byPath["flaky"].Attempts != 2 {
		t.Errorf("flaky: %d attempts, want 2", byPath["flaky"].Attempts)
	}
	if !errors.Is(byPath["mismatch"].Err(), fetch.ErrChecksumMismatch) || !errors.Is(byPath["stall"].Err(), fetch.ErrStalled) {
		t.Errorf("errors not matchable: %v / %v", byPath["mismatch"].Err(), byPath["stall"].Err())
	}
	for _, p := range []string{"missing", "mismatch", "stall", fetch.PartialPath(dest, "mismatch")} {
		if _, err := os.Stat(filepath.Join(dest, p)); err == nil {
			t.Errorf("%s exists after a failure", p)
		}
	}
	if rep.Totals.Failed != 4 || len(rep.Failures()) != 4 || !strings.Contains(rep.Summary(), "failed 4 of 5") {
		t.Errorf("totals %+v, summary %q", rep.Totals, rep.Summary())
	}
}

func TestFetchRejectsPathEscapes(t *testing.T) {
	up := newUpstream(t, map[string][]byte{"/f": []byte("x")})
	base := t.TempDir()
	dest := filepath.Join(base, "dest")
	outside := filepath.Join(base, "outside")
	for _, d := range []string{dest, outside} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(outside, filepath.Join(dest, "link")); err != nil {
		t.Fatal(err)
	}
	items := []fetch.Item{
		{URL: up.srv.URL + "/../../etc/passwd"},
		{URL: up.srv.URL + "/%2e%2e/%2e%2e/x"},
		{URL: up.srv.URL + "/f", Path: "../escape"},
		{URL: up.srv.URL + "/f", Path: "/etc/passwd"},
		{URL: up.srv.URL + "/f", Path: "a/../../b"},
		{URL: up.srv.URL + "/f", Path: "link/f"},
		{URL: up.srv.URL + "/f", Path: ".partial/f"},
		{URL: "file:///etc/passwd"},
	}
	rep, err := fetch.Fetch(context.Background(), items, opts(dest))
	if err != nil {
		t.Fatal(err)
	}
	for i, it := range rep.Items {
		if it.Status != fetch.StatusFailed {
			t.Errorf("item %d (%s %s) = %s, want failed", i, items[i].URL, items[i].Path, it.Status)
		}
		if !strings.Contains(it.Msg, items[i].URL) || !errors.Is(it.Err(), fetch.ErrUnsafePath) && i < 7 {
			t.Errorf("item %d: msg %q should name the URL (and be ErrUnsafePath)", i, it.Msg)
		}
	}
	if entries, _ := os.ReadDir(outside); len(entries) != 0 {
		t.Errorf("wrote outside dest: %v", entries)
	}
	if up.hits.Load() != 0 {
		t.Errorf("%d requests for rejected items", up.hits.Load())
	}
}

func TestFetchManyConcurrently(t *testing.T) {
	const n, conc = 50, 8
	var cur, peak atomic.Int64
	files := map[string][]byte{}
	for i := 0; i < n; i++ {
		files[fmt.Sprintf("/f%02d", i)] = blob(t, 16<<10+i)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c := cur.Add(1)
		defer cur.Add(-1)
		for {
			p := peak.Load()
			if c <= p || peak.CompareAndSwap(p, c) {
				break
			}
		}
		time.Sleep(20 * time.Millisecond)
		_, _ = w.Write(files[r.URL.Path])
	}))
	defer srv.Close()
	var items []fetch.Item
	for p, b := range files {
		items = append(items, fetch.Item{URL: srv.URL + p, Checksum: sum(b)})
	}
	o := opts(t.TempDir())
	o.Concurrency = conc
	var progressed atomic.Bool
	o.OnProgress = func(p fetch.Progress) {
		if p.Items == n {
			progressed.Store(true)
		}
	}
	rep, err := fetch.Fetch(context.Background(), items, o)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Totals.Fetched != n {
		t.Fatalf("fetched %d of %d: %s", rep.Totals.Fetched, n, rep.Summary())
	}
	if p := peak.Load(); p < 2 || p > conc {
		t.Errorf("peak concurrency %d, want 2..%d", p, conc)
	}
	for i, it := range rep.Items {
		if it.URL != items[i].URL || !bytes.Equal(readFile(t, it.Dest), files[strings.TrimPrefix(it.URL, srv.URL)]) {
			t.Fatalf("item %d out of order or wrong content", i)
		}
	}
	if !progressed.Load() {
		t.Error("OnProgress never called")
	}
}

func TestFetchDryRunWritesNothing(t *testing.T) {
	up := newUpstream(t, map[string][]byte{"/f": []byte("x")})
	dest := filepath.Join(t.TempDir(), "not-yet")
	o := opts(dest)
	o.DryRun = true
	rep, err := fetch.Fetch(context.Background(), []fetch.Item{{URL: up.srv.URL + "/f"}}, o)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Items[0].Status != fetch.StatusWouldFetch || !rep.Changed() {
		t.Fatalf("item = %+v", rep.Items[0])
	}
	if _, err := os.Stat(dest); !os.IsNotExist(err) {
		t.Errorf("dry run created %s", dest)
	}
	if up.hits.Load() != 0 {
		t.Errorf("dry run made %d requests", up.hits.Load())
	}
}

func TestFetchMirrorsAuthHeadersDuplicates(t *testing.T) {
	data := []byte("payload")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		user, pass, ok := r.BasicAuth()
		if !ok || user != "u" || pass != "p" || r.Header.Get("X-Token") != "t" {
			http.Error(w, "denied", http.StatusUnauthorized)
			return
		}
		if r.URL.Path != "/cache/dl.k8s.io/v1/kubectl" {
			http.NotFound(w, r)
			return
		}
		_, _ = w.Write(data)
	}))
	defer srv.Close()
	dest := t.TempDir()
	o := opts(dest)
	o.Mirrors = []mirror.Mirror{{Prefix: "https://dl", Replace: "http://wrong"}, {Prefix: "https://dl.k8s.io", Replace: srv.URL + "/cache/dl.k8s.io"}}
	o.Username, o.Password = "u", "p"
	o.Header = http.Header{"X-Token": {"t"}}
	item := fetch.Item{URL: "https://dl.k8s.io/v1/kubectl", Checksum: sum(data)}
	rep, err := fetch.Fetch(context.Background(), []fetch.Item{item, item, {URL: "https://dl.k8s.io/other", Path: "dl.k8s.io/v1/kubectl"}}, o)
	if err != nil {
		t.Fatal(err)
	}
	if it := rep.Items[0]; it.Status != fetch.StatusFetched || it.Path != "dl.k8s.io/v1/kubectl" || it.FetchURL != srv.URL+"/cache/dl.k8s.io/v1/kubectl" {
		t.Fatalf("item = %+v", it)
	}
	if rep.Items[1].Status != fetch.StatusSkipped {
		t.Errorf("duplicate item = %+v, want skipped", rep.Items[1])
	}
	if !errors.Is(rep.Items[2].Err(), fetch.ErrConflict) {
		t.Errorf("conflicting item = %+v, want ErrConflict", rep.Items[2])
	}
}

func TestPathFor(t *testing.T) {
	for in, want := range map[string]string{
		"https://dl.k8s.io/release/v1.35.4/bin/linux/amd64/kubelet":                                 "dl.k8s.io/release/v1.35.4/bin/linux/amd64/kubelet",
		"https://github.com/etcd-io/etcd/releases/download/v3.5.21/etcd-v3.5.21-linux-amd64.tar.gz": "github.com/etcd-io/etcd/releases/download/v3.5.21/etcd-v3.5.21-linux-amd64.tar.gz",
		"http://127.0.0.1:8080//a//b?x=1":                                                           "127.0.0.1:8080/a/b",
		"https://GET.helm.sh/helm-v3.18.4-linux-amd64.tar.gz":                                       "get.helm.sh/helm-v3.18.4-linux-amd64.tar.gz",
	} {
		got, err := fetch.PathFor(in)
		if err != nil || got != want {
			t.Errorf("PathFor(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"https://h/", "https://h", "ftp://h/f", "https://h/a/../../b", "/relative", "https://h/a%00b"} {
		if got, err := fetch.PathFor(bad); err == nil {
			t.Errorf("PathFor(%q) = %q, want an error", bad, got)
		}
	}
}

func TestParseChecksum(t *testing.T) {
	hex64 := strings.Repeat("a", 64)
	for in, want := range map[string]string{"sha256:" + hex64: "sha256:" + hex64, strings.ToUpper(hex64): "sha256:" + hex64, "": ":"} {
		c, err := fetch.ParseChecksum(in)
		if err != nil || c.String() != want {
			t.Errorf("ParseChecksum(%q) = %q, %v; want %q", in, c, err, want)
		}
	}
	for _, bad := range []string{"sha256:abc", "md5:" + hex64, "sha256:" + strings.Repeat("z", 64)} {
		if _, err := fetch.ParseChecksum(bad); err == nil {
			t.Errorf("ParseChecksum(%q) accepted", bad)
		}
	}
}

func TestCredentialsStayOnTheItemsHost(t *testing.T) {
	data := blob(t, 64<<10)
	var leaked atomic.Int64
	cdn := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "" || r.Header.Get("X-Token") != "" {
			leaked.Add(1)
		}
		http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(data))
	}))
	defer cdn.Close()
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, _, ok := r.BasicAuth(); !ok || r.Header.Get("X-Token") != "t" {
			http.Error(w, "denied", http.StatusUnauthorized)
			return
		}
		http.Redirect(w, r, cdn.URL+r.URL.Path, http.StatusFound)
	}))
	defer origin.Close()

	dest := t.TempDir()
	// A partial file makes the download resume: a GET with a Range, redirected to the CDN.
	seedPartial(t, dest, "f", data[:1000])
	o := opts(dest)
	o.Username, o.Password, o.Header = "u", "p", http.Header{"X-Token": {"t"}}
	items := []fetch.Item{{URL: origin.URL + "/f", Checksum: sum(data), Path: "f"}, {URL: origin.URL + "/g", Checksum: sum(data), Path: "g"}}
	rep, err := fetch.Fetch(context.Background(), items, o)
	if err != nil {
		t.Fatal(err)
	}
	for _, it := range rep.Items {
		if it.Status != fetch.StatusFetched {
			t.Fatalf("item = %+v", it)
		}
	}
	if n := leaked.Load(); n != 0 {
		t.Errorf("%d requests to the redirect target carried the credentials", n)
	}
}

// retries: N means N+1 HTTP attempts in all against a server that always answers a retryable
// error: the download loop is the only level that retries (the shared HTTP transport sends
// each request once), so retries are never multiplied.
func TestRetriesAreNotMultiplied(t *testing.T) {
	for _, status := range []int{http.StatusServiceUnavailable, http.StatusTooManyRequests} {
		var hits atomic.Int64
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			hits.Add(1)
			http.Error(w, "busy", status)
		}))
		for _, retries := range []int{0, 1, 3} {
			hits.Store(0)
			o := opts(t.TempDir())
			o.Retries, o.Backoff = retries, time.Millisecond
			rep, err := fetch.Fetch(context.Background(), []fetch.Item{{URL: srv.URL + "/f", Path: "f"}}, o)
			if err != nil {
				t.Fatal(err)
			}
			it := rep.Items[0]
			if it.Status != fetch.StatusFailed || it.Attempts != retries+1 || hits.Load() != int64(retries+1) {
				t.Errorf("HTTP %d, retries %d: %s after %d attempts and %d requests; want failed after %d of each",
					status, retries, it.Status, it.Attempts, hits.Load(), retries+1)
			}
		}
		srv.Close()
	}
}

package fetch_test

// Tests for issue 12: writes confined to dest, one download per item at a time across
// processes, credentials scoped on scheme/host/port, resumes that never splice two upstream
// versions, orphaned partial files cleaned, permanent errors not retried.

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/fetch"
)

// TestPartialSymlinksStayInDest: links planted under dest/.partial never make a write land
// outside dest, nor put a link at the final path.
func TestPartialSymlinksStayInDest(t *testing.T) {
	data := blob(t, 256<<10)
	up := newUpstream(t, map[string][]byte{"/f": data})
	for _, tc := range []struct {
		name     string
		checksum string
		plant    func(t *testing.T, dest, outside string)
	}{
		{"linked partial folder", sum(data), func(t *testing.T, dest, outside string) {
			if err := os.Symlink(outside, filepath.Join(dest, ".partial")); err != nil {
				t.Fatal(err)
			}
		}},
		{"linked partial file with checksum", sum(data), func(t *testing.T, dest, outside string) {
			plantPartialLink(t, dest, outside, data[:1000])
		}},
		{"linked partial file without checksum", "", func(t *testing.T, dest, outside string) {
			plantPartialLink(t, dest, outside, data[:1000])
		}},
		{"hard-linked partial file", sum(data), func(t *testing.T, dest, outside string) {
			target := filepath.Join(outside, "victim")
			if err := os.WriteFile(target, data[:1000], 0o644); err != nil {
				t.Fatal(err)
			}
			part := fetch.PartialPath(dest, "f")
			if err := os.MkdirAll(filepath.Dir(part), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.Link(target, part); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			base := t.TempDir()
			dest, outside := filepath.Join(base, "dest"), filepath.Join(base, "outside")
			for _, d := range []string{dest, outside} {
				if err := os.MkdirAll(d, 0o755); err != nil {
					t.Fatal(err)
				}
			}
			tc.plant(t, dest, outside)
			before := snapshot(t, outside)
			rep, err := fetch.Fetch(context.Background(), []fetch.Item{{URL: up.srv.URL + "/f", Checksum: tc.checksum, Path: "f"}}, opts(dest))
			if err != nil {
				t.Fatal(err)
			}
			if after := snapshot(t, outside); after != before {
				t.Errorf("the fetch wrote outside dest: before %q, after %q", before, after)
			}
			it := rep.Items[0]
			if it.Status != fetch.StatusFailed || !errors.Is(it.Err(), fetch.ErrUnsafePath) || !strings.Contains(it.Msg, ".partial") {
				t.Errorf("item = %s %q, want failed with ErrUnsafePath naming .partial", it.Status, it.Msg)
			}
			if fi, err := os.Lstat(filepath.Join(dest, "f")); err == nil {
				t.Errorf("final path holds a %v", fi.Mode())
			}
		})
	}
}

// plantPartialLink makes the item's partial file a link to a file outside dest.
func plantPartialLink(t *testing.T, dest, outside string, content []byte) {
	t.Helper()
	target := filepath.Join(outside, "victim")
	if err := os.WriteFile(target, content, 0o644); err != nil {
		t.Fatal(err)
	}
	part := fetch.PartialPath(dest, "f")
	if err := os.MkdirAll(filepath.Dir(part), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, part); err != nil {
		t.Fatal(err)
	}
}

// snapshot names every file below dir with its size and sha256.
func snapshot(t *testing.T, dir string) string {
	t.Helper()
	var b strings.Builder
	_ = filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil || fi.IsDir() {
			return err
		}
		c, _ := os.ReadFile(p)
		fmt.Fprintf(&b, "%s %d %s\n", strings.TrimPrefix(p, dir), fi.Size(), sum(c))
		return nil
	})
	return b.String()
}

// The helper process: one Fetch run, its report as JSON on stdout.
const helperEnv = "FETCH_TEST_HELPER"

func TestHelperFetchProcess(t *testing.T) {
	if os.Getenv(helperEnv) == "" {
		t.Skip("only run as a helper process")
	}
	var items []fetch.Item
	if err := json.Unmarshal([]byte(os.Getenv(helperEnv)), &items); err != nil {
		t.Fatal(err)
	}
	fmt.Println("started")
	rep, err := fetch.Fetch(context.Background(), items, opts(os.Getenv("FETCH_TEST_DEST")))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(rep)
	fmt.Printf("REPORT %s\n", b)
}

type helperRun struct {
	cmd     *exec.Cmd
	stderr  bytes.Buffer
	mu      sync.Mutex
	lines   []string
	started chan struct{}
	done    chan error
}

func (h *helperRun) output() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return strings.Join(h.lines, "\n") + "\n" + h.stderr.String()
}

func startHelper(t *testing.T, dest string, items []fetch.Item) *helperRun {
	t.Helper()
	b, _ := json.Marshal(items)
	h := &helperRun{started: make(chan struct{}), done: make(chan error, 1)}
	h.cmd = exec.Command(os.Args[0], "-test.run=^TestHelperFetchProcess$", "-test.v")
	h.cmd.Env = append(os.Environ(), helperEnv+"="+string(b), "FETCH_TEST_DEST="+dest)
	stdout, err := h.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	h.cmd.Stderr = &h.stderr
	if err := h.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		once := sync.Once{}
		for sc.Scan() {
			if sc.Text() == "started" {
				once.Do(func() { close(h.started) })
			}
			h.mu.Lock()
			h.lines = append(h.lines, sc.Text())
			h.mu.Unlock()
		}
		h.done <- h.cmd.Wait()
	}()
	return h
}

func (h *helperRun) report(t *testing.T) fetch.Report {
	t.Helper()
	select {
	case err := <-h.done:
		if err != nil {
			t.Fatalf("helper: %v\n%s", err, h.output())
		}
	case <-time.After(30 * time.Second):
		_ = h.cmd.Process.Kill()
		t.Fatalf("helper hangs:\n%s", h.output())
	}
	for _, line := range strings.Split(h.output(), "\n") {
		if js, ok := strings.CutPrefix(line, "REPORT "); ok {
			var rep fetch.Report
			if err := json.Unmarshal([]byte(js), &rep); err != nil {
				t.Fatal(err)
			}
			return rep
		}
	}
	t.Fatalf("no report from helper:\n%s", h.output())
	return fetch.Report{}
}

// TestTwoProcessesOneDest: a second run on the same dest while the first is downloading
// waits for it, then finds the verified file in place; the file is upstream's, byte for byte.
func TestTwoProcessesOneDest(t *testing.T) {
	data := blob(t, 3<<20)
	for _, checksum := range []string{"", sum(data)} {
		t.Run(fmt.Sprintf("checksum=%v", checksum != ""), func(t *testing.T) {
			var gets atomic.Int64
			firstStarted, release := make(chan struct{}), make(chan struct{})
			var releaseOnce sync.Once
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.Method != http.MethodGet {
					http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(data))
					return
				}
				if gets.Add(1) > 1 {
					// A second download while the first is running: let both race.
					releaseOnce.Do(func() { close(release) })
					http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(data))
					return
				}
				w.Header().Set("Content-Length", fmt.Sprint(len(data)))
				_, _ = w.Write(data[:len(data)/2])
				w.(http.Flusher).Flush()
				close(firstStarted)
				<-release
				time.Sleep(50 * time.Millisecond)
				_, _ = w.Write(data[len(data)/2:])
			}))
			defer srv.Close()
			dest := t.TempDir()
			items := []fetch.Item{{URL: srv.URL + "/big", Checksum: checksum, Path: "big"}}
			a := startHelper(t, dest, items)
			select {
			case <-firstStarted:
			case <-time.After(20 * time.Second):
				t.Fatalf("first run never started its download:\n%s", a.output())
			}
			b := startHelper(t, dest, items)
			select {
			case <-b.started:
			case <-time.After(20 * time.Second):
				t.Fatal("second run never started")
			}
			time.Sleep(300 * time.Millisecond) // let the second run reach the item
			releaseOnce.Do(func() { close(release) })
			ra, rb := a.report(t), b.report(t)

			got := readFile(t, filepath.Join(dest, "big"))
			if len(got) != len(data) || sum(got) != sum(data) {
				t.Errorf("final file: %d bytes, %s; want %d bytes, %s", len(got), sum(got), len(data), sum(data))
			}
			statuses := string(ra.Items[0].Status) + "+" + string(rb.Items[0].Status)
			if statuses != "fetched+skipped" {
				t.Errorf("statuses %s (%q / %q), want fetched+skipped", statuses, ra.Items[0].Msg, rb.Items[0].Msg)
			}
			want := hex.EncodeToString(func() []byte { h := sha256.Sum256(data); return h[:] }())
			for _, r := range []fetch.Report{ra, rb} {
				if r.Items[0].SHA256 != want {
					t.Errorf("report sha256 %s, want %s", r.Items[0].SHA256, want)
				}
			}
			if n := gets.Load(); n != 1 {
				t.Errorf("%d downloads of one file, want 1", n)
			}
			if left, _ := os.ReadDir(filepath.Join(dest, ".partial")); len(left) != 0 {
				t.Errorf("left in .partial: %v", left)
			}
		})
	}
}

// TestConcurrentFetchersOneDest: the same, with two fetches in one process.
func TestConcurrentFetchersOneDest(t *testing.T) {
	data := blob(t, 2<<20)
	var gets atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gets.Add(1)
		w.Header().Set("Content-Length", fmt.Sprint(len(data)))
		for i := 0; i < len(data); i += 256 << 10 {
			_, _ = w.Write(data[i : i+256<<10])
			w.(http.Flusher).Flush()
			time.Sleep(10 * time.Millisecond)
		}
	}))
	defer srv.Close()
	dest := t.TempDir()
	items := []fetch.Item{{URL: srv.URL + "/big", Path: "big"}}
	reps := make([]*fetch.Report, 2)
	var wg sync.WaitGroup
	for i := range reps {
		wg.Add(1)
		go func() {
			defer wg.Done()
			reps[i], _ = fetch.Fetch(context.Background(), items, opts(dest))
		}()
	}
	wg.Wait()
	if got := readFile(t, filepath.Join(dest, "big")); !bytes.Equal(got, data) {
		t.Errorf("final file %d bytes, %s; want %s", len(got), sum(got), sum(data))
	}
	for _, r := range reps {
		if r == nil || r.Items[0].Status == fetch.StatusFailed {
			t.Fatalf("report %+v", r)
		}
	}
	if n := gets.Load(); n != 1 {
		t.Errorf("%d downloads, want 1", n)
	}
}

// TestCredentialsNotSentAfterSchemeDowngrade: an https URL redirected to http on the same host
// name (default ports) must not carry basic auth or headers in clear text.
func TestCredentialsNotSentAfterSchemeDowngrade(t *testing.T) {
	data := []byte("payload")
	var leaked atomic.Int64
	plain := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "" || r.Header.Get("X-Token") != "" {
			leaked.Add(1)
		}
		_, _ = w.Write(data)
	}))
	defer plain.Close()
	secure := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, _, ok := r.BasicAuth(); !ok || r.Header.Get("X-Token") != "t" {
			http.Error(w, "denied", http.StatusUnauthorized)
			return
		}
		http.Redirect(w, r, "http://example.com"+r.URL.Path, http.StatusFound)
	}))
	defer secure.Close()
	// example.com:443 is the TLS server (its certificate names example.com), example.com:80
	// the plain one.
	addrs := map[string]string{"example.com:443": secure.Listener.Addr().String(), "example.com:80": plain.Listener.Addr().String()}
	tr := &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: secure.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs},
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			if a, ok := addrs[addr]; ok {
				addr = a
			}
			return (&net.Dialer{}).DialContext(ctx, network, addr)
		},
	}
	o := opts(t.TempDir())
	o.Client = &http.Client{Transport: tr}
	o.Username, o.Password, o.Header = "u", "p", http.Header{"X-Token": {"t"}}
	rep, err := fetch.Fetch(context.Background(), []fetch.Item{{URL: "https://example.com/f", Path: "f"}}, o)
	if err != nil {
		t.Fatal(err)
	}
	if it := rep.Items[0]; it.Status != fetch.StatusFetched {
		t.Fatalf("item = %+v", it)
	}
	if n := leaked.Load(); n != 0 {
		t.Errorf("%d clear-text requests carried the credentials", n)
	}
}

// changing serves one file whose content can be swapped, with ETag/Last-Modified as asked; the
// first GET of each version can be cut half-way.
type changing struct {
	mu        sync.Mutex
	data      []byte
	etag      string
	lastMod   time.Time
	cutNext   bool
	range206  bool // answer every Range request with 206 from byte 0 (a broken proxy)
	noIfRange bool // answer every Range request with 206 as asked, ignoring If-Range
	requests  []string
	validator bool
}

func (c *changing) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c.mu.Lock()
	data, etag, lm, cut, broken, noIfRange := c.data, c.etag, c.lastMod, c.cutNext, c.range206, c.noIfRange
	c.cutNext = false
	c.requests = append(c.requests, r.Method+" range="+r.Header.Get("Range")+" if-range="+r.Header.Get("If-Range"))
	c.mu.Unlock()
	if etag != "" {
		w.Header().Set("ETag", etag)
	}
	if cut {
		w.Header().Set("Content-Length", fmt.Sprint(len(data)))
		_, _ = w.Write(data[:len(data)/2])
		w.(http.Flusher).Flush()
		if conn, _, err := w.(http.Hijacker).Hijack(); err == nil {
			conn.Close()
		}
		return
	}
	if broken && r.Header.Get("Range") != "" {
		w.Header().Set("Content-Range", fmt.Sprintf("bytes 0-%d/%d", len(data)-1, len(data)))
		w.Header().Set("Content-Length", fmt.Sprint(len(data)))
		w.WriteHeader(http.StatusPartialContent)
		_, _ = w.Write(data)
		return
	}
	if noIfRange && r.Header.Get("If-Range") != "" {
		r.Header.Del("If-Range")
	}
	http.ServeContent(w, r, "", lm, bytes.NewReader(data))
}

// interruptedRun serves c, whose first answer is cut half-way, and fetches it once into a new
// dest without retries: that run must fail. It returns what a second run needs.
func interruptedRun(t *testing.T, c *changing) (dest string, items []fetch.Item, o fetch.Options) {
	t.Helper()
	srv := httptest.NewServer(c)
	t.Cleanup(srv.Close)
	dest = t.TempDir()
	o = opts(dest)
	o.Retries = 0
	items = []fetch.Item{{URL: srv.URL + "/f", Path: "f"}}
	rep, err := fetch.Fetch(context.Background(), items, o)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Items[0].Status != fetch.StatusFailed {
		t.Fatalf("first run = %+v, want a failure (cut connection)", rep.Items[0])
	}
	return dest, items, o
}

// TestResumeNeverSplicesVersions: without a checksum, a partial download of one upstream
// version is never completed with bytes of another.
func TestResumeNeverSplicesVersions(t *testing.T) {
	v1, v2 := blob(t, 1<<20), blob(t, 1<<20)
	for _, tc := range []struct {
		name      string
		etag      string
		lastMod   time.Time
		broken    bool
		noIfRange bool
	}{
		{name: "etag", etag: `"v1"`},
		{name: "last-modified", lastMod: time.Now().Add(-time.Hour).Truncate(time.Second)},
		{name: "no validator"},
		{name: "206 from byte zero", etag: `"v1"`, broken: true},
		{name: "If-Range ignored", etag: `"v1"`, noIfRange: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := &changing{data: v1, etag: tc.etag, lastMod: tc.lastMod, cutNext: true}
			dest, items, o := interruptedRun(t, c)
			want := v1
			c.mu.Lock()
			c.noIfRange = tc.noIfRange
			if tc.broken {
				c.range206 = true
			} else {
				c.data = v2
				want = v2
				if tc.etag != "" {
					c.etag = `"v2"`
				}
				if !tc.lastMod.IsZero() {
					c.lastMod = tc.lastMod.Add(time.Minute)
				}
			}
			c.mu.Unlock()
			rep, err := fetch.Fetch(context.Background(), items, o)
			if err != nil {
				t.Fatal(err)
			}
			if rep.Items[0].Status != fetch.StatusFetched {
				t.Fatalf("second run = %+v; requests %v", rep.Items[0], c.requests)
			}
			if got := readFile(t, filepath.Join(dest, "f")); !bytes.Equal(got, want) {
				t.Errorf("file is %d bytes %s, want upstream's %s; requests %v", len(got), sum(got), sum(want), c.requests)
			}
		})
	}
}

// TestResumeWithValidatorStillResumes: an unchanged upstream with an ETag is resumed, not
// fetched again from byte zero.
func TestResumeWithValidatorStillResumes(t *testing.T) {
	data := blob(t, 1<<20)
	c := &changing{data: data, etag: `"v1"`, cutNext: true}
	srv := httptest.NewServer(c)
	defer srv.Close()
	dest := t.TempDir()
	o := opts(dest)
	o.Retries = 1
	rep, err := fetch.Fetch(context.Background(), []fetch.Item{{URL: srv.URL + "/f", Path: "f"}}, o)
	if err != nil {
		t.Fatal(err)
	}
	if it := rep.Items[0]; it.Status != fetch.StatusFetched || !it.Resumed {
		t.Fatalf("item = %+v; requests %v", it, c.requests)
	}
	if !bytes.Equal(readFile(t, filepath.Join(dest, "f")), data) {
		t.Error("resumed file differs")
	}
	last := c.requests[len(c.requests)-1]
	if !strings.Contains(last, fmt.Sprintf("range=bytes=%d-", len(data)/2)) || !strings.Contains(last, `if-range="v1"`) {
		t.Errorf("last request %q, want a Range from the partial size with If-Range", last)
	}
}

// TestOrphanedPartialsCleaned: partial downloads that no item of the run owns are removed
// (with their validator and lock files) once old; a fresh one (another item list may resume
// it) and a file no item makes stay.
func TestOrphanedPartialsCleaned(t *testing.T) {
	data := []byte("payload")
	up := newUpstream(t, map[string][]byte{"/f": data})
	c := &changing{data: blob(t, 64<<10), etag: `"v1"`, cutNext: true}
	cut := httptest.NewServer(c)
	defer cut.Close()
	dest := t.TempDir()
	// An interrupted run leaves a partial download and its validator behind...
	o := opts(dest)
	o.Retries = 0
	if rep, _ := fetch.Fetch(context.Background(), []fetch.Item{{URL: cut.URL + "/x", Path: "old/orphan"}}, o); rep.Items[0].Status != fetch.StatusFailed {
		t.Fatalf("setup: %+v", rep.Items[0])
	}
	partial := filepath.Join(dest, ".partial")
	// ... and a SIGKILL its lock file; all of it a week ago.
	lock := filepath.Join(partial, filepath.Base(fetch.PartialPath(dest, "old/orphan"))[:16]+".lock")
	if err := os.WriteFile(lock, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(partial)
	if len(entries) < 2 {
		t.Fatalf("setup: .partial holds %v, want a partial file, its validator and its lock", entries)
	}
	stale := time.Now().Add(-8 * 24 * time.Hour)
	for _, e := range entries {
		if err := os.Chtimes(filepath.Join(partial, e.Name()), stale, stale); err != nil {
			t.Fatal(err)
		}
	}
	seedPartial(t, dest, "fresh/orphan", []byte("recent"))
	foreign := filepath.Join(partial, "README")
	if err := os.WriteFile(foreign, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(foreign, stale, stale); err != nil {
		t.Fatal(err)
	}

	rep, err := fetch.Fetch(context.Background(), []fetch.Item{{URL: up.srv.URL + "/f", Path: "f"}}, opts(dest))
	if err != nil || rep.Items[0].Status != fetch.StatusFetched {
		t.Fatalf("%v %+v", err, rep)
	}
	var left []string
	entries, _ = os.ReadDir(partial)
	for _, e := range entries {
		left = append(left, e.Name())
	}
	want := []string{filepath.Base(fetch.PartialPath(dest, "fresh/orphan")), "README"} // ReadDir sorts
	if fmt.Sprint(left) != fmt.Sprint(want) {
		t.Errorf(".partial holds %v, want %v", left, want)
	}
}

// TestFlippedByteWithOldMtimeIsNotTrusted: a file rewritten in place with its mtime restored
// is hashed again, found wrong and fetched again.
func TestFlippedByteWithOldMtimeIsNotTrusted(t *testing.T) {
	data := blob(t, 64<<10)
	up := newUpstream(t, map[string][]byte{"/f": data})
	dest := t.TempDir()
	items := []fetch.Item{{URL: up.srv.URL + "/f", Checksum: sum(data), Path: "f"}}
	if _, err := fetch.Fetch(context.Background(), items, opts(dest)); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dest, "f")
	fi, _ := os.Stat(p)
	time.Sleep(200 * time.Millisecond) // past the digest record's ctime window
	bad := append([]byte(nil), data...)
	bad[100] ^= 1
	if err := os.WriteFile(p, bad, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(p, fi.ModTime(), fi.ModTime()); err != nil {
		t.Fatal(err)
	}
	rep, err := fetch.Fetch(context.Background(), items, opts(dest))
	if err != nil {
		t.Fatal(err)
	}
	if it := rep.Items[0]; it.Status != fetch.StatusFetched || !it.Replaced {
		t.Errorf("item = %s replaced=%v, want fetched again", it.Status, it.Replaced)
	}
	if !bytes.Equal(readFile(t, p), data) {
		t.Error("file is still corrupt")
	}
}

// TestCompletePartialChecksItsVersion: a partial file as long as the remote one is taken as
// complete (grab then asks HEAD only) when the remote file is the version it was started from,
// and fetched again when upstream changed to another content of the same size.
func TestCompletePartialChecksItsVersion(t *testing.T) {
	v1, v2 := blob(t, 256<<10), blob(t, 256<<10)
	for _, changed := range []bool{false, true} {
		t.Run(fmt.Sprintf("changed=%v", changed), func(t *testing.T) {
			c := &changing{data: v1, etag: `"v1"`, cutNext: true}
			dest, items, o := interruptedRun(t, c)
			// The interrupted run stored "v1" as validator; its partial file now holds all of v1.
			if err := os.WriteFile(fetch.PartialPath(dest, "f"), v1, 0o600); err != nil {
				t.Fatal(err)
			}
			want := v1
			c.mu.Lock()
			if changed {
				c.data, c.etag, want = v2, `"v2"`, v2
			}
			c.requests = nil
			c.mu.Unlock()
			rep, err := fetch.Fetch(context.Background(), items, o)
			if err != nil {
				t.Fatal(err)
			}
			if it := rep.Items[0]; it.Status != fetch.StatusFetched || it.Resumed == changed {
				t.Fatalf("second run = %+v, want fetched, resumed=%v; requests %v", it, !changed, c.requests)
			}
			if got := readFile(t, filepath.Join(dest, "f")); !bytes.Equal(got, want) {
				t.Errorf("file is %s, want upstream's %s; requests %v", sum(got), sum(want), c.requests)
			}
			if !changed && (len(c.requests) != 1 || !strings.HasPrefix(c.requests[0], "HEAD ")) {
				t.Errorf("requests %v, want one HEAD (the partial file is complete)", c.requests)
			}
		})
	}
}

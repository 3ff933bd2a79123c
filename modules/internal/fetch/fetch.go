// Package fetch downloads files into a folder laid out as <host>/<url path>: in parallel,
// resuming partial downloads, verifying checksums, and placing each file atomically.
//
// A download is written under <dest>/.partial/, verified, then renamed into place, so the
// final path only ever holds a complete, verified file. A file already in place whose checksum
// matches is skipped without any network request.
package fetch

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cavaliergopher/grab/v3"

	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/mirror"
	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/progress"
)

// partialDir holds downloads in progress, below the destination folder so that the final
// rename never crosses file systems.
const partialDir = ".partial"

// Item is one file to fetch.
type Item struct {
	URL      string `json:"url"`
	Checksum string `json:"checksum,omitempty"` // "sha256:<hex>", or empty to skip verification
	Path     string `json:"path,omitempty"`     // relative to the destination; default PathFor(URL)
}

// Options configure Fetch. Zero values are documented defaults.
type Options struct {
	Dest        string        // destination folder, created if missing
	Concurrency int           // parallel downloads; if <= 0, 4
	Retries     int           // further attempts after a failed one; if < 0, 0
	Backoff     time.Duration // wait before the first retry, doubled after each; if <= 0, 1s
	Client      *http.Client  // if nil, NewHTTPClient(ClientOptions{})
	// Header, and HTTP basic auth from Username and Password, are sent only to the hosts the
	// items are fetched from (after Mirrors), never to a host a redirect leads to.
	Header   http.Header
	Username string
	Password string
	Mirrors  []mirror.Mirror
	Mode     os.FileMode // permissions of fetched files; if 0, 0644
	Force    bool        // fetch again even when a verified file is in place
	DryRun   bool        // check mode: report what would be fetched, write nothing
	// OnProgress, if set, is called about twice a second while downloads run.
	OnProgress func(Progress)
}

// Progress is a snapshot of a running Fetch.
type Progress struct {
	Items  int   // items in all
	Done   int   // items finished, whatever their status
	Failed int   // items failed so far
	Bytes  int64 // bytes received so far
	Active []string
}

// Status is what happened to one item.
type Status string

// Item statuses.
const (
	StatusFetched    Status = "fetched"
	StatusSkipped    Status = "skipped"     // already in place and verified (or no checksum to verify)
	StatusFailed     Status = "failed"      // see Msg
	StatusWouldFetch Status = "would_fetch" // DryRun only
)

// ItemResult reports one item.
type ItemResult struct {
	URL      string  `json:"url"`
	FetchURL string  `json:"fetch_url,omitempty"` // the URL after mirrors, when it differs
	Path     string  `json:"path"`                // relative to the destination
	Dest     string  `json:"dest"`                // absolute path of the file
	Status   Status  `json:"status"`
	Size     int64   `json:"size"`
	SHA256   string  `json:"sha256,omitempty"`
	Resumed  bool    `json:"resumed,omitempty"`  // continued a partial download
	Replaced bool    `json:"replaced,omitempty"` // a file with other content was in place
	Attempts int     `json:"attempts,omitempty"`
	Seconds  float64 `json:"seconds,omitempty"`
	Msg      string  `json:"msg,omitempty"`
	err      error
}

// Err is the item's error, if it failed.
func (r ItemResult) Err() error { return r.err }

// Report is the result of Fetch.
type Report struct {
	Items  []ItemResult `json:"items"`
	Totals Totals       `json:"totals"`
}

// Totals sums a Report up.
type Totals struct {
	Items   int     `json:"items"`
	Fetched int     `json:"fetched"`
	Skipped int     `json:"skipped"`
	Failed  int     `json:"failed"`
	Bytes   int64   `json:"bytes"` // bytes downloaded
	Seconds float64 `json:"seconds"`
}

// Fetch downloads every item into opts.Dest. It tries every item before returning; item
// failures are reported in the Report, and the error is only for problems that stop all work
// (a destination that cannot be created, a cancelled context).
func Fetch(ctx context.Context, items []Item, opts Options) (*Report, error) {
	start := time.Now()
	f, err := newFetcher(opts)
	if err != nil {
		return nil, err
	}
	rep := &Report{Items: make([]ItemResult, len(items))}
	jobs := f.plan(items, rep.Items)
	f.scopeCredentials(items, jobs)

	stopProgress := f.watch(len(items))
	work := make(chan int)
	var wg sync.WaitGroup
	for w := 0; w < f.opts.Concurrency; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				f.run(ctx, items[i], &rep.Items[i])
				f.done.Add(1)
				if rep.Items[i].Status == StatusFailed {
					f.failed.Add(1)
				}
			}
		}()
	}
	for _, i := range jobs {
		work <- i
	}
	close(work)
	wg.Wait()
	stopProgress()
	f.resolveDuplicates(rep.Items)

	rep.Totals = Totals{Items: len(items), Seconds: time.Since(start).Seconds()}
	for i := range rep.Items {
		r := &rep.Items[i]
		switch r.Status {
		case StatusFetched:
			rep.Totals.Fetched++
		case StatusSkipped:
			rep.Totals.Skipped++
		case StatusFailed:
			rep.Totals.Failed++
		}
	}
	rep.Totals.Bytes = f.received.Load()
	if ctx.Err() != nil {
		return rep, fmt.Errorf("fetching: %w", ctx.Err())
	}
	return rep, nil
}

type fetcher struct {
	opts     Options
	dest     string
	grab     *grab.Client
	received atomic.Int64 // bytes of finished transfers
	done     atomic.Int64
	failed   atomic.Int64
	mu       sync.Mutex
	active   map[*grab.Response]string
	dupOf    map[int]int // item index -> index of the first item with the same path
}

func newFetcher(opts Options) (*fetcher, error) {
	if opts.Dest == "" {
		return nil, errors.New("dest is empty")
	}
	dest, err := filepath.Abs(opts.Dest)
	if err != nil {
		return nil, fmt.Errorf("resolving dest: %w", err)
	}
	if opts.Concurrency <= 0 {
		opts.Concurrency = 4
	}
	if opts.Retries < 0 {
		opts.Retries = 0
	}
	if opts.Backoff <= 0 {
		opts.Backoff = time.Second
	}
	if opts.Mode == 0 {
		opts.Mode = 0o644
	}
	if opts.Client == nil {
		if opts.Client, err = NewHTTPClient(ClientOptions{}); err != nil {
			return nil, err
		}
	}
	if !opts.DryRun {
		if err := os.MkdirAll(dest, 0o755); err != nil {
			return nil, fmt.Errorf("creating dest: %w", err)
		}
	}
	g := grab.NewClient()
	g.HTTPClient = opts.Client
	g.UserAgent = "airgap.kubespray-offline_file_fetch"
	g.BufferSize = 256 << 10
	return &fetcher{opts: opts, dest: dest, grab: g, active: map[*grab.Response]string{}, dupOf: map[int]int{}}, nil
}

// plan resolves every item's path, fails the unsafe and conflicting ones, and returns the
// indexes left to run. Items repeating an earlier item's URL and path share its result.
func (f *fetcher) plan(items []Item, results []ItemResult) []int {
	first := map[string]int{}
	var jobs []int
	for i, it := range items {
		r := &results[i]
		r.URL = it.URL
		rel, err := itemPath(it)
		if err == nil {
			r.Path = rel
			if r.Dest, err = within(f.dest, rel); err != nil {
				err = fmt.Errorf("%s: %w", it.URL, err)
			}
		}
		if err == nil {
			if j, seen := first[rel]; seen {
				if items[j].URL == it.URL && items[j].Checksum == it.Checksum {
					f.dupOf[i] = j
					continue
				}
				err = fmt.Errorf("%s: path %s is also the destination of %s: %w", it.URL, rel, items[j].URL, ErrConflict)
			} else {
				first[rel] = i
			}
		}
		if err != nil {
			r.fail(err)
			continue
		}
		jobs = append(jobs, i)
	}
	return jobs
}

// scopeCredentials makes the client add Header and basic auth to requests for the hosts of
// the items' fetch URLs only.
func (f *fetcher) scopeCredentials(items []Item, jobs []int) {
	if len(f.opts.Header) == 0 && f.opts.Username == "" && f.opts.Password == "" {
		return
	}
	hosts := map[string]bool{}
	for _, i := range jobs {
		if u, err := url.Parse(mirror.Rewrite(items[i].URL, f.opts.Mirrors)); err == nil {
			hosts[u.Host] = true
		}
	}
	c := *f.opts.Client
	c.Transport = &scoped{next: c.Transport, hosts: hosts, header: f.opts.Header,
		user: f.opts.Username, pass: f.opts.Password}
	f.grab.HTTPClient = &c
}

func itemPath(it Item) (string, error) {
	if it.URL == "" {
		return "", errors.New("item has no url")
	}
	if it.Path != "" {
		rel, err := CleanPath(it.Path)
		if err != nil {
			return "", fmt.Errorf("%s: %w", it.URL, err)
		}
		return rel, nil
	}
	return PathFor(it.URL) // its errors name the URL
}

func (f *fetcher) resolveDuplicates(results []ItemResult) {
	for i, j := range f.dupOf {
		r := results[j]
		r.URL = results[i].URL
		if r.Status == StatusFetched {
			r.Status = StatusSkipped // fetched once, for the first of the two
		}
		results[i] = r
	}
}

func (r *ItemResult) fail(err error) {
	r.Status, r.err, r.Msg = StatusFailed, err, err.Error()
}

// run handles one item: skip it if in place and verified, else download and place it.
func (f *fetcher) run(ctx context.Context, it Item, r *ItemResult) {
	start := time.Now()
	defer func() { r.Seconds = time.Since(start).Seconds() }()
	sum, err := ParseChecksum(it.Checksum)
	if err != nil {
		r.fail(fmt.Errorf("%s: %w", it.URL, err))
		return
	}
	fetchURL := mirror.Rewrite(it.URL, f.opts.Mirrors)
	if fetchURL != it.URL {
		r.FetchURL = fetchURL
	}

	if fi, err := os.Lstat(r.Dest); err == nil {
		if !fi.Mode().IsRegular() {
			r.fail(fmt.Errorf("%s: %s exists and is not a regular file", it.URL, r.Dest))
			return
		}
		d, err := verifiedDigests(r.Dest, fi, sum, f.opts.DryRun)
		if err != nil {
			r.fail(fmt.Errorf("%s: %w", it.URL, err))
			return
		}
		if d.matches(sum) && !f.opts.Force {
			r.Status, r.Size, r.SHA256 = StatusSkipped, d.size, d.sha256
			return
		}
		r.Replaced = !d.matches(sum)
	}
	if f.opts.DryRun {
		r.Status = StatusWouldFetch
		return
	}
	if ctx.Err() != nil {
		r.fail(fmt.Errorf("%s: %w", it.URL, ctx.Err()))
		return
	}
	d, err := f.download(ctx, it, fetchURL, r, sum)
	if err != nil {
		r.fail(err)
		return
	}
	if err := f.place(f.partial(r.Path), r.Dest, d); err != nil {
		r.fail(fmt.Errorf("%s: %w", it.URL, err))
		return
	}
	r.Status, r.Size, r.SHA256 = StatusFetched, d.size, d.sha256
}

func (f *fetcher) partial(rel string) string { return PartialPath(f.dest, rel) }

// PartialPath is where the file for rel (a path in the layout) is downloaded to before it is
// verified: one flat folder <dest>/.partial, so nothing is left to clean up, with a name
// derived from rel, so that an interrupted download resumes on the next run.
func PartialPath(dest, rel string) string {
	h := sha256.Sum256([]byte(rel))
	return filepath.Join(dest, partialDir, hex.EncodeToString(h[:8])+"-"+path.Base(rel))
}

// download fetches into the partial file, retrying with exponential backoff, and returns the
// digests of the verified partial file.
func (f *fetcher) download(ctx context.Context, it Item, fetchURL string, r *ItemResult, sum Checksum) (digests, error) {
	part := f.partial(r.Path)
	if err := os.MkdirAll(filepath.Dir(part), 0o755); err != nil {
		return digests{}, fmt.Errorf("%s: creating partial folder: %w", it.URL, err)
	}
	delay := f.opts.Backoff
	var last error
	for attempt := 0; attempt <= f.opts.Retries; attempt++ {
		if attempt > 0 {
			select {
			case <-ctx.Done():
				return digests{}, fmt.Errorf("%s: %w", it.URL, ctx.Err())
			case <-time.After(delay):
			}
			delay *= 2
		}
		r.Attempts++
		resumed, err := f.transfer(ctx, fetchURL, part)
		r.Resumed = r.Resumed || resumed
		if err == nil {
			d, herr := hashFile(part, sum)
			switch {
			case herr != nil:
				err = herr
			case d.matches(sum):
				return d, nil
			default:
				_ = os.Remove(part)
				err = fmt.Errorf("%w: expected %s, got %s", ErrChecksumMismatch, sum, d.value(sum))
				if !resumed {
					return digests{}, fmt.Errorf("%s: %w", it.URL, err)
				}
				// A resumed file may hold stale bytes from an older upstream: start over once more.
			}
		}
		last = err
		if !retryable(err) || ctx.Err() != nil {
			break
		}
	}
	return digests{}, fmt.Errorf("%s: %w", it.URL, last)
}

// transfer runs one HTTP download into part, resuming what part already holds. When the
// server answers a resume request with the whole file, or the partial file is longer than the
// remote one, it starts over from byte zero at once.
func (f *fetcher) transfer(ctx context.Context, rawURL, part string) (resumed bool, err error) {
	for try := 0; try < 2; try++ {
		resp, err := f.get(ctx, rawURL, part)
		if errors.Is(err, ErrRangeIgnored) || errors.Is(err, grab.ErrBadLength) {
			_ = os.Remove(part)
			continue
		}
		return resp.DidResume, err
	}
	return false, fmt.Errorf("%w, twice", ErrRangeIgnored)
}

func (f *fetcher) get(ctx context.Context, rawURL, part string) (*grab.Response, error) {
	req, err := grab.NewRequest(part, rawURL)
	if err != nil {
		return nil, fmt.Errorf("building request: %w", err)
	}
	req = req.WithContext(ctx)
	req.BeforeCopy = func(resp *grab.Response) error {
		if resp.DidResume && resp.HTTPResponse.StatusCode != http.StatusPartialContent {
			return ErrRangeIgnored
		}
		return nil
	}
	resp := f.grab.Do(req)
	f.track(resp, rawURL)
	<-resp.Done
	f.untrack(resp)
	return resp, resp.Err()
}

// retryable tells transient failures (network, 5xx, 408, 429, a stall, a bad resume) from
// permanent ones (other 4xx, a checksum mismatch on a fresh download, an unsafe path).
func retryable(err error) bool {
	var sc grab.StatusCodeError
	if errors.As(err, &sc) {
		code := int(sc)
		return code >= 500 || code == http.StatusRequestTimeout || code == http.StatusTooManyRequests
	}
	return !errors.Is(err, ErrUnsafePath) && !errors.Is(err, context.Canceled)
}

// place moves a verified partial file to its final path.
func (f *fetcher) place(part, final string, d digests) error {
	if err := os.Chmod(part, f.opts.Mode); err != nil {
		return fmt.Errorf("setting mode: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(final), 0o755); err != nil {
		return fmt.Errorf("creating folder: %w", err)
	}
	if err := os.Rename(part, final); err != nil {
		return fmt.Errorf("placing file: %w", err)
	}
	remember(final, d)
	return nil
}

func (f *fetcher) track(resp *grab.Response, url string) {
	f.mu.Lock()
	f.active[resp] = url
	f.mu.Unlock()
}

func (f *fetcher) untrack(resp *grab.Response) {
	f.mu.Lock()
	delete(f.active, resp)
	f.received.Add(newBytes(resp))
	f.mu.Unlock()
}

// newBytes is what a transfer received in this run: grab counts resumed bytes as complete.
func newBytes(resp *grab.Response) int64 {
	n := resp.BytesComplete()
	if !resp.DidResume {
		return n
	}
	h := resp.HTTPResponse
	if h == nil || h.Request == nil || h.Request.Method == http.MethodHead || h.ContentLength < 0 {
		return 0 // the partial file was already complete: nothing was transferred
	}
	return n - (resp.Size() - h.ContentLength)
}

// watch calls OnProgress periodically until the returned stop function is called.
func (f *fetcher) watch(items int) (stop func()) {
	if f.opts.OnProgress == nil {
		return func() {}
	}
	return progress.Tick(func() { f.opts.OnProgress(f.snapshot(items)) })
}

func (f *fetcher) snapshot(items int) Progress {
	p := Progress{Items: items, Done: int(f.done.Load()), Failed: int(f.failed.Load())}
	f.mu.Lock()
	defer f.mu.Unlock()
	p.Bytes = f.received.Load()
	for resp, url := range f.active {
		p.Bytes += newBytes(resp)
		p.Active = append(p.Active, url)
	}
	return p
}

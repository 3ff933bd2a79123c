// Package fetch downloads files into a folder laid out as <host>/<url path>: in parallel,
// resuming partial downloads, verifying checksums, and placing each file atomically.
//
// A download is written under <dest>/.partial/, verified, then renamed into place, so the
// final path only ever holds a complete, verified file. A file already in place whose checksum
// matches is skipped without any network request. Every write goes through an os.Root on dest,
// and one item is downloaded by one run at a time (a lock per item, across processes).
//
// The transfers themselves are grab's (github.com/cavaliergopher/grab/v3): it writes to the
// partial file through the name of its open descriptor (see fdPath), and the resume policy
// (If-Range, which answers may continue a partial file) is this package's (transfer.go).
//
// Retries are per item, in download only (Options.Retries: N retries, N+1 attempts in all);
// the HTTP client (package httpclient) sends each request once.
package fetch

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/mirror"
	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/pool"
	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/progress"
	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/report"
	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/sitestate"
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
	// Header and credentials are scoped on scheme, host and port: an https URL redirected
	// to http on the same host does not send them in clear text.
	Header   http.Header
	Username string
	Password string
	Mirrors  []mirror.Mirror
	Mode     os.FileMode // permissions of fetched files; if 0, 0644
	Force    bool        // fetch again even when a verified file is in place
	DryRun   bool        // check mode: report what would be fetched, write nothing
	// Site, if set, is what the offline site already serves: an item it serves (SiteHolds) is
	// not fetched when nothing is at its path, and reported StatusHeld (a delta bundle).
	Site *sitestate.State
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
type Status = report.Status

// Item statuses.
const (
	StatusFetched    Status = "fetched"
	StatusSkipped    Status = "skipped"     // already in place and verified (or no checksum to verify)
	StatusFailed     Status = report.Failed // see Msg
	StatusWouldFetch Status = "would_fetch" // DryRun only
	StatusHeld       Status = "held"        // not fetched: the site serves it (Options.Site)
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
	Held    int     `json:"held"` // left out: the site serves them (Options.Site)
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
	defer f.close()
	rep := &Report{Items: make([]ItemResult, len(items))}
	jobs := f.plan(items, rep.Items)
	f.scopeCredentials(items, jobs)
	f.cleanOrphans(ctx, rep.Items, jobs)

	stopProgress := f.watch(len(items))
	pool.Each(len(jobs), f.opts.Concurrency, func(k int) {
		i := jobs[k]
		f.run(ctx, items[i], &rep.Items[i])
		f.done.Add(1)
		if rep.Items[i].Status == StatusFailed {
			f.failed.Add(1)
		}
	})
	stopProgress()
	f.resolveDuplicates(rep.Items)

	l := report.List[ItemResult](rep.Items)
	rep.Totals = Totals{Items: len(items), Fetched: l.Count(StatusFetched), Skipped: l.Count(StatusSkipped),
		Held: l.Count(StatusHeld), Failed: l.Count(StatusFailed), Bytes: f.received.Load(), Seconds: time.Since(start).Seconds()}
	if ctx.Err() != nil {
		return rep, fmt.Errorf("fetching: %w", ctx.Err())
	}
	return rep, nil
}

type fetcher struct {
	opts     Options
	dest     string
	root     *os.Root // dest; nil in a dry run
	client   *http.Client
	received atomic.Int64 // bytes of finished transfers
	done     atomic.Int64
	failed   atomic.Int64
	mu       sync.Mutex
	active   map[*transfer]bool
	dupOf    map[int]int // item index -> index of the first item with the same path

	sizesOnce sync.Once
	sizes     map[string]int64 // the site's file sizes by path (Options.Site)

	partOnce sync.Once
	part     *os.Root // dest/.partial
	partErr  error
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
	f := &fetcher{opts: opts, dest: dest, client: opts.Client, active: map[*transfer]bool{}, dupOf: map[int]int{}}
	if opts.Site != nil {
		opts.Site.HasFile("", "") // builds the state's lookups here, before items run at once
	}
	if !opts.DryRun {
		if err := os.MkdirAll(dest, 0o755); err != nil {
			return nil, fmt.Errorf("creating dest: %w", err)
		}
		if f.root, err = os.OpenRoot(dest); err != nil {
			return nil, fmt.Errorf("opening dest: %w", err)
		}
	}
	return f, nil
}

func (f *fetcher) close() {
	if f.part != nil {
		f.part.Close()
	}
	if f.root != nil {
		f.root.Close()
	}
}

// partialRoot opens <dest>/.partial once, for every item of the run.
func (f *fetcher) partialRoot() (*os.Root, error) {
	f.partOnce.Do(func() { f.part, f.partErr = openPartialDir(f.root) })
	return f.part, f.partErr
}

// cleanOrphans removes old partial downloads no item of this run owns (see orphanAge). It
// never creates .partial, and leaves it alone if it is not a plain folder.
func (f *fetcher) cleanOrphans(ctx context.Context, results []ItemResult, jobs []int) {
	if f.root == nil {
		return
	}
	if fi, err := f.root.Lstat(partialDir); err != nil || !fi.IsDir() {
		return
	}
	pr, err := f.partialRoot()
	if err != nil {
		return
	}
	owned := map[string]bool{}
	for _, i := range jobs {
		owned[keyOf(partialName(results[i].Path))] = true
	}
	cleanOrphans(ctx, pr, owned)
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

// scopeCredentials makes the client add Header and basic auth to requests for the origins
// (scheme, host, port) of the items' fetch URLs only.
func (f *fetcher) scopeCredentials(items []Item, jobs []int) {
	if len(f.opts.Header) == 0 && f.opts.Username == "" && f.opts.Password == "" {
		return
	}
	origins := map[string]bool{}
	for _, i := range jobs {
		if u, err := url.Parse(mirror.Rewrite(items[i].URL, f.opts.Mirrors)); err == nil {
			origins[origin(u)] = true
		}
	}
	c := *f.opts.Client
	c.Transport = &scoped{next: c.Transport, origins: origins, header: f.opts.Header,
		user: f.opts.Username, pass: f.opts.Password}
	f.client = &c
}

// ItemPath is where Fetch places the item, relative to the destination: its path, else PathFor(url).
func ItemPath(it Item) (string, error) { return itemPath(it) }

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

	if f.held(it, r) {
		return
	}
	if done, err := f.inPlace(it, r, sum, f.opts.Force); done || err != nil {
		if err != nil {
			r.fail(err)
		}
		return
	}
	if f.opts.DryRun {
		r.Status = StatusWouldFetch
		return
	}
	if ctx.Err() != nil {
		r.fail(fmt.Errorf("%s: %w", it.URL, ctx.Err()))
		return
	}
	pr, err := f.partialRoot()
	if err != nil {
		r.fail(fmt.Errorf("%s: %w", it.URL, err))
		return
	}
	// One run at a time downloads and places an item: a second run waits here, then finds
	// the file the first one placed.
	name := partialName(r.Path)
	lock, waited, err := lockItem(ctx, pr, keyOf(name), true)
	if err != nil {
		r.fail(fmt.Errorf("%s: %w", it.URL, err))
		return
	}
	defer lock.release()
	if waited {
		if done, err := f.inPlace(it, r, sum, false); done || err != nil {
			if err != nil {
				r.fail(err)
			}
			return
		}
	}
	part, err := openPartialFile(pr, name)
	if err != nil {
		r.fail(fmt.Errorf("%s: %w", it.URL, err))
		return
	}
	defer part.Close()
	d, err := f.download(ctx, it, fetchURL, r, sum, part, name)
	if err != nil {
		r.fail(err)
		return
	}
	if err := f.place(part, name, r.Path, d); err != nil {
		r.fail(fmt.Errorf("%s: %w", it.URL, err))
		return
	}
	r.Status, r.Size, r.SHA256 = StatusFetched, d.size, d.sha256
}

// held reports the item StatusHeld when the site serves it and nothing is at its path: a file
// already there is kept and treated as usual (verified, or replaced), so that what the bundle
// holds at an item's path is always the item's content.
func (f *fetcher) held(it Item, r *ItemResult) bool {
	if f.opts.Site == nil {
		return false
	}
	if _, sha, ok := SiteHolds(f.opts.Site, it); ok {
		if _, err := os.Lstat(r.Dest); errors.Is(err, fs.ErrNotExist) {
			r.Status, r.SHA256, r.Size = StatusHeld, sha, f.siteSize(r.Path)
			return true
		}
	}
	return false
}

// siteSize is the size the site state gives the file at path (0 when it gives none).
func (f *fetcher) siteSize(path string) int64 {
	f.sizesOnce.Do(func() {
		f.sizes = make(map[string]int64, len(f.opts.Site.Files))
		for _, sf := range f.opts.Site.Files {
			f.sizes[sf.Path] = sf.Size
		}
	})
	return f.sizes[path]
}

// SiteHolds is the one rule of which files a delta bundle leaves out: the site serves the item's
// file at the item's path (as Fetch places it) with the item's sha256. An item without a sha256
// checksum (none, or sha512 only) is never held: the site state names files by sha256.
func SiteHolds(site *sitestate.State, it Item) (path, sha256hex string, held bool) {
	sum, err := ParseChecksum(it.Checksum)
	if site == nil || err != nil || sum.Algo != "sha256" {
		return "", "", false
	}
	path, err = itemPath(it)
	if err != nil {
		return "", "", false
	}
	return path, sum.Hex, site.HasFile(path, sum.Hex)
}

// inPlace checks the file at the item's final path: done (and r skipped) if it is there and
// verified, unless force. r.Replaced tells whether another content is there.
func (f *fetcher) inPlace(it Item, r *ItemResult, sum Checksum, force bool) (done bool, err error) {
	fi, err := os.Lstat(r.Dest)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("%s: %w", it.URL, err)
	}
	if !fi.Mode().IsRegular() {
		return false, fmt.Errorf("%s: %s exists and is not a regular file", it.URL, r.Dest)
	}
	d, err := verifiedDigests(r.Dest, fi, sum, f.opts.DryRun)
	if err != nil {
		return false, fmt.Errorf("%s: %w", it.URL, err)
	}
	if d.matches(sum) && !force {
		r.Status, r.Size, r.SHA256, r.Replaced = StatusSkipped, d.size, d.sha256, false
		return true, nil
	}
	r.Replaced = !d.matches(sum)
	return false, nil
}

// download fetches into the open partial file, retrying with exponential backoff, and returns
// the digests of the verified partial file.
func (f *fetcher) download(ctx context.Context, it Item, fetchURL string, r *ItemResult, sum Checksum, part *os.File, name string) (digests, error) {
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
		resumed, err := f.transfer(ctx, fetchURL, part, name, sum)
		r.Resumed = r.Resumed || resumed
		if err == nil {
			d, herr := hashOpen(part, sum)
			switch {
			case herr != nil:
				err = herr
			case d.matches(sum):
				return d, nil
			default:
				err = fmt.Errorf("%w: expected %s, got %s", ErrChecksumMismatch, sum, d.value(sum))
				if !resumed {
					removePartial(f.part, name)
					return digests{}, fmt.Errorf("%s: %w", it.URL, err)
				}
				// A resumed file may hold stale bytes from an older upstream: start over once more.
				if terr := truncate(part); terr != nil {
					return digests{}, fmt.Errorf("%s: %w", it.URL, terr)
				}
				_ = writeValidator(f.part, name, "")
			}
		}
		last = err
		if !retryable(err) || ctx.Err() != nil {
			break
		}
	}
	if errors.Is(last, ErrChecksumMismatch) {
		removePartial(f.part, name) // nothing there is worth resuming
	}
	return digests{}, fmt.Errorf("%s: %w", it.URL, last)
}

// transfer runs one HTTP download into part, accounting for it in the progress.
func (f *fetcher) transfer(ctx context.Context, rawURL string, part *os.File, name string, sum Checksum) (bool, error) {
	t := &transfer{url: rawURL}
	f.mu.Lock()
	f.active[t] = true
	f.mu.Unlock()
	defer func() {
		f.mu.Lock()
		delete(f.active, t)
		f.received.Add(t.bytes())
		f.mu.Unlock()
	}()
	return f.fetchInto(ctx, t, part, name, sum)
}

// retryable tells transient failures (network, 5xx, 408, 429, a stall, a bad resume) from
// permanent ones (other 4xx, a checksum mismatch on a fresh download, an unsafe path, and
// what the local file system refuses: a full disk, a denied write, a bad path).
func retryable(err error) bool {
	var sc StatusError
	if errors.As(err, &sc) {
		code := int(sc)
		return code >= 500 || code == http.StatusRequestTimeout || code == http.StatusTooManyRequests
	}
	var local localError
	if errors.As(err, &local) {
		return false
	}
	for _, errno := range permanentErrnos {
		if errors.Is(err, errno) {
			return false
		}
	}
	return !errors.Is(err, ErrUnsafePath) && !errors.Is(err, context.Canceled)
}

var permanentErrnos = []error{syscall.ENOSPC, syscall.EDQUOT, syscall.EFBIG, syscall.EACCES, syscall.EPERM,
	syscall.EROFS, syscall.ENOTDIR, syscall.EISDIR, syscall.ELOOP, syscall.ENAMETOOLONG}

// place moves the verified partial file (open as part, named name in .partial) to rel, the
// item's path, through dest's root: neither the rename nor the folders it needs can land
// outside dest. The final path then holds the very file that was verified, or nothing.
func (f *fetcher) place(part *os.File, name, rel string, d digests) error {
	if err := part.Chmod(f.opts.Mode); err != nil {
		return fmt.Errorf("setting mode: %w", err)
	}
	held, err := part.Stat()
	if err != nil {
		return err
	}
	final := filepath.FromSlash(rel)
	if err := f.root.MkdirAll(filepath.Dir(final), 0o755); err != nil {
		return fmt.Errorf("creating folder: %w", err)
	}
	if err := f.root.Rename(filepath.Join(partialDir, name), final); err != nil {
		return fmt.Errorf("placing file: %w", err)
	}
	if now, err := f.root.Lstat(final); err != nil || !os.SameFile(now, held) {
		_ = f.root.Remove(final)
		return fmt.Errorf("%s was swapped while it was placed: refused: %w", filepath.Join(f.dest, final), ErrUnsafePath)
	}
	_ = writeValidator(f.part, name, "")
	remember(filepath.Join(f.dest, final), d)
	return nil
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
	for t := range f.active {
		p.Bytes += t.bytes()
		p.Active = append(p.Active, t.url)
	}
	return p
}

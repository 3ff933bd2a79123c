package fetch

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/mirror"
	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/pool"
	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/sitestate"
)

// Need is what fetching one item would add to the destination, as Needs forecasts it.
type Need struct {
	URL   string `json:"url"`
	Path  string `json:"path"`
	Bytes int64  `json:"bytes"` // 0 when in place or held by the site, or when the size is unknown
	// Status: "in_place" (verified at its path: Fetch skips it), "site" (the site holds it),
	// "to_fetch" (its size known), "unknown" (to fetch, its size unknown: see Msg).
	Status string `json:"status"`
	Msg    string `json:"msg,omitempty"`
}

// Need statuses.
const (
	NeedInPlace = "in_place"
	NeedSite    = "site"
	NeedToFetch = "to_fetch"
	NeedUnknown = "unknown"
)

// Needs forecasts, without writing anything, how many bytes Fetch(ctx, items, opts) would
// add under opts.Dest: nothing for an item verified in place (the check Fetch skips by) or one
// the site holds; else sizes[i] when it is >= 0 (a size the caller knows, e.g. from the
// manifest), else the Content-Length the server answers a HEAD request with (after Mirrors, with
// Header and credentials scoped as Fetch scopes them). A server that refuses HEAD or sends no
// length is asked for the first byte (Range: bytes=0-0) and its Content-Range total is taken.
// Items whose size stays unknown are reported with status NeedUnknown. An item repeating an
// earlier one's path counts once. Items that Fetch would refuse (unsafe paths, conflicts) are
// reported unknown with the reason.
func Needs(ctx context.Context, items []Item, sizes []int64, site *sitestate.State, opts Options) ([]Need, error) {
	opts.DryRun = true // nothing written: no folders, no digest records
	f, err := newFetcher(opts)
	if err != nil {
		return nil, err
	}
	defer f.close()
	results := make([]ItemResult, len(items))
	jobs := f.plan(items, results)
	f.scopeCredentials(items, jobs)
	needs := make([]Need, len(items))
	for i := range items {
		needs[i] = Need{URL: items[i].URL, Path: results[i].Path, Status: NeedInPlace}
		if results[i].Status == StatusFailed {
			needs[i].Status, needs[i].Msg = NeedUnknown, results[i].Msg
		}
	}
	pool.Each(len(jobs), f.opts.Concurrency, func(k int) {
		i := jobs[k]
		size := int64(-1)
		if i < len(sizes) {
			size = sizes[i]
		}
		f.need(ctx, items[i], &results[i], size, site, &needs[i])
	})
	for i, j := range f.dupOf { // fetched once, for the first of them
		needs[i] = needs[j]
		needs[i].URL, needs[i].Bytes = items[i].URL, 0
	}
	if ctx.Err() != nil {
		return needs, fmt.Errorf("forecasting: %w", ctx.Err())
	}
	return needs, nil
}

func (f *fetcher) need(ctx context.Context, it Item, r *ItemResult, size int64, site *sitestate.State, n *Need) {
	sum, err := ParseChecksum(it.Checksum)
	if err != nil {
		n.Status, n.Msg = NeedUnknown, fmt.Sprintf("%s: %v", it.URL, err)
		return
	}
	if done, err := f.inPlace(it, r, sum, f.opts.Force); err != nil {
		n.Status, n.Msg = NeedUnknown, err.Error()
		return
	} else if done {
		return
	}
	if _, _, held := SiteHolds(site, it); site != nil && held {
		n.Status = NeedSite
		return
	}
	if size < 0 {
		size, err = f.remoteSize(ctx, mirror.Rewrite(it.URL, f.opts.Mirrors))
		if err != nil {
			n.Status, n.Msg = NeedUnknown, fmt.Sprintf("%s: size unknown: %v", it.URL, err)
			return
		}
	}
	n.Status, n.Bytes = NeedToFetch, size
}

// remoteSize asks the server how big the file at rawURL is: HEAD, else the first byte.
func (f *fetcher) remoteSize(ctx context.Context, rawURL string) (int64, error) {
	size, headErr := f.headSize(ctx, rawURL)
	if headErr == nil {
		return size, nil
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Range", "bytes=0-0")
	resp, err := f.client.Do(req)
	if err != nil {
		return 0, fmt.Errorf("%v; GET of the first byte: %w", headErr, err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<10))
	if resp.StatusCode == http.StatusPartialContent {
		if _, total, ok := strings.Cut(resp.Header.Get("Content-Range"), "/"); ok {
			if n, err := strconv.ParseInt(strings.TrimSpace(total), 10, 64); err == nil && n >= 0 {
				return n, nil
			}
		}
	}
	return 0, fmt.Errorf("%v; GET of the first byte answered %s without a total size", headErr, resp.Status)
}

// headSize is the Content-Length a HEAD request is answered with.
func (f *fetcher) headSize(ctx context.Context, rawURL string) (int64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodHead, rawURL, nil)
	if err != nil {
		return 0, err
	}
	resp, err := f.client.Do(req)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("HEAD answered %s", resp.Status)
	}
	if resp.ContentLength < 0 {
		return 0, fmt.Errorf("HEAD answered no Content-Length")
	}
	return resp.ContentLength, nil
}

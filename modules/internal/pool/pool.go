// Package pool runs per-item work on a bounded number of goroutines: the one worker pool that
// fetch, imagepull, imagepush and verify share (golang.org/x/sync/errgroup with SetLimit).
//
// The work function records its item's result, error included, in the item's own slot (an
// index into the caller's slice): one failing item never stops the others, and results keep
// the input order whatever order the work finishes in.
package pool

import "golang.org/x/sync/errgroup"

// Each calls f(0), ..., f(n-1), at most limit at once (1 if limit <= 0), and returns when
// every call has.
func Each(n, limit int, f func(i int)) {
	if limit <= 0 {
		limit = 1
	}
	var g errgroup.Group
	g.SetLimit(limit)
	for i := 0; i < n; i++ {
		g.Go(func() error {
			f(i)
			return nil
		})
	}
	_ = g.Wait() // f reports per item; no call returns an error
}

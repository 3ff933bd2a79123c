// Package progress draws a one-line progress display on a terminal.
package progress

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Line redraws a single status line in place on a terminal.
type Line struct {
	w         io.Writer
	start     time.Time
	lastBytes int64
	lastTime  time.Time
	width     int
}

// NewLine returns a Line drawing on w, or nil when w is nil; a nil *Line draws nothing.
func NewLine(w io.Writer) *Line {
	if w == nil {
		return nil
	}
	now := time.Now()
	return &Line{w: w, start: now, lastTime: now}
}

// Update redraws the line: items done of total, bytes so far, the current rate and a note.
func (l *Line) Update(done, total, failed int, bytes int64, note string) {
	if l == nil {
		return
	}
	now := time.Now()
	rate := 0.0
	if dt := now.Sub(l.lastTime).Seconds(); dt > 0 {
		rate = float64(bytes-l.lastBytes) / dt
	}
	l.lastBytes, l.lastTime = bytes, now
	s := fmt.Sprintf("[%d/%d] %s  %s/s  %s", done, total, Bytes(bytes), Bytes(int64(rate)),
		now.Sub(l.start).Truncate(time.Second))
	if failed > 0 {
		s += fmt.Sprintf("  %d failed", failed)
	}
	if note != "" {
		s += "  " + note
	}
	if len(s) > 100 {
		s = s[:97] + "..."
	}
	pad := ""
	if l.width > len(s) {
		pad = strings.Repeat(" ", l.width-len(s))
	}
	l.width = len(s)
	fmt.Fprintf(l.w, "\r%s%s", s, pad)
}

// Done ends the line.
func (l *Line) Done() {
	if l != nil {
		fmt.Fprintln(l.w)
	}
}

// Bytes formats n in binary units.
func Bytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// Tick calls report about twice a second until the returned stop function is called, and
// once more then, so that the last report shows the end state.
func Tick(report func()) (stop func()) {
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(500 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-done:
				report()
				return
			case <-t.C:
				report()
			}
		}
	}()
	return func() { close(done); <-finished }
}

// Counts is a snapshot of a job over many items.
type Counts struct {
	Items, Done, Failed int
	Bytes               int64
}

// Counter counts finished and failed items and transferred bytes, from many goroutines.
type Counter struct {
	done, failed, bytes atomic.Int64
}

// Finish counts one item as done, and as failed too when failed is true.
func (c *Counter) Finish(failed bool) {
	if failed {
		c.failed.Add(1)
	}
	c.done.Add(1)
}

// AddBytes counts n more bytes transferred.
func (c *Counter) AddBytes(n int64) { c.bytes.Add(n) }

// Bytes is the bytes counted so far.
func (c *Counter) Bytes() int64 { return c.bytes.Load() }

// Watch calls report with the counts (of items in all) about twice a second until the
// returned stop function is called; with a nil report it does nothing.
func (c *Counter) Watch(items int, report func(Counts)) (stop func()) {
	if report == nil {
		return func() {}
	}
	return Tick(func() {
		report(Counts{Items: items, Done: int(c.done.Load()), Failed: int(c.failed.Load()), Bytes: c.bytes.Load()})
	})
}

// Hashed is the progress callback of files read concurrently (done of total, bytes so far), drawn
// on w one update at a time as "hashed"; nil when w is nil. stop ends the line.
func Hashed(w io.Writer) (update func(done, total int, bytes int64), stop func()) {
	if w == nil {
		return nil, func() {}
	}
	line := NewLine(w)
	var mu sync.Mutex
	return func(done, total int, bytes int64) {
		mu.Lock()
		defer mu.Unlock()
		line.Update(done, total, 0, bytes, "hashed")
	}, line.Done
}

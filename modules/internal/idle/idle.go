// Package idle bounds silence on HTTP response bodies: the one rule file downloads and
// registry clients share. A response whose body sends nothing for longer than the timeout is
// cancelled, and reading it returns an error that matches ErrStalled.
package idle

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// ErrStalled: a server (or a proxy between) sent no data for longer than the timeout.
var ErrStalled = errors.New("transfer stalled")

// Transport wraps next so that every response body read through it fails with ErrStalled
// after timeout without data. Connecting and waiting for headers are next's to bound.
func Transport(next http.RoundTripper, timeout time.Duration) http.RoundTripper {
	return &transport{next: next, idle: timeout}
}

type transport struct {
	next http.RoundTripper
	idle time.Duration
}

func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx, cancel := context.WithCancel(req.Context())
	resp, err := t.next.RoundTrip(req.WithContext(ctx))
	if err != nil {
		cancel()
		return nil, err
	}
	// Scheme, host and path only: a redirect to object storage carries signatures in its query.
	b := &body{ReadCloser: resp.Body, cancel: cancel, idle: t.idle, url: req.URL.Scheme + "://" + req.URL.Host + req.URL.Path}
	b.timer = time.AfterFunc(t.idle, func() {
		b.stalled.Store(true)
		cancel()
	})
	resp.Body = b
	return resp, nil
}

type body struct {
	io.ReadCloser
	cancel  context.CancelFunc
	idle    time.Duration
	url     string
	timer   *time.Timer
	stalled atomic.Bool
	once    sync.Once
}

func (b *body) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if n > 0 {
		b.timer.Reset(b.idle)
	}
	if err != nil && err != io.EOF && b.stalled.Load() {
		return n, fmt.Errorf("%w: no data for %s from %s", ErrStalled, b.idle, b.url)
	}
	return n, err
}

func (b *body) Close() error {
	err := b.ReadCloser.Close()
	b.once.Do(func() {
		b.timer.Stop()
		b.cancel()
	})
	return err
}

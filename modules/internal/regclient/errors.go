package regclient

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/imagename"
)

// ErrStalled: a registry (or a proxy) sent no data for longer than the timeout.
var ErrStalled = errors.New("transfer stalled")

// Permanent reports whether an error will not go away by trying again: a bad image name, a
// registry answer of 4xx other than 408 and 429, a full disk, a cancelled run. It is the one
// rule pull and push retry by.
func Permanent(err error) bool {
	if err == nil {
		return false
	}
	var terr *transport.Error
	if errors.As(err, &terr) {
		c := terr.StatusCode
		return c >= 400 && c < 500 && c != http.StatusRequestTimeout && c != http.StatusTooManyRequests
	}
	var bad *name.ErrBadName
	return errors.As(err, &bad) || errors.Is(err, imagename.ErrInvalid) ||
		errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) || errors.Is(err, context.Canceled)
}

// idleTimeout cancels a request whose response body sends nothing for longer than idle: the
// same rule as file downloads (modules/internal/fetch), kept here because registry clients
// are built here.
type idleTimeout struct {
	next http.RoundTripper
	idle time.Duration
}

func (t *idleTimeout) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx, cancel := context.WithCancel(req.Context())
	resp, err := t.next.RoundTrip(req.WithContext(ctx))
	if err != nil {
		cancel()
		return nil, err
	}
	// Scheme, host and path only: a redirect to object storage carries signatures in its query.
	b := &idleBody{ReadCloser: resp.Body, cancel: cancel, idle: t.idle, url: req.URL.Scheme + "://" + req.URL.Host + req.URL.Path}
	b.timer = time.AfterFunc(t.idle, func() {
		b.stalled.Store(true)
		cancel()
	})
	resp.Body = b
	return resp, nil
}

type idleBody struct {
	io.ReadCloser
	cancel  context.CancelFunc
	idle    time.Duration
	url     string
	timer   *time.Timer
	stalled atomic.Bool
	once    sync.Once
}

func (b *idleBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if n > 0 {
		b.timer.Reset(b.idle)
	}
	if err != nil && err != io.EOF && b.stalled.Load() {
		return n, fmt.Errorf("%w: no data for %s from %s", ErrStalled, b.idle, b.url)
	}
	return n, err
}

func (b *idleBody) Close() error {
	err := b.ReadCloser.Close()
	b.once.Do(func() {
		b.timer.Stop()
		b.cancel()
	})
	return err
}

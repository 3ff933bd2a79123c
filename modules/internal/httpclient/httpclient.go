// Package httpclient builds the one HTTP transport the network modules share, for file
// downloads (fetch, verify, probe) and registry requests (regclient) alike: proxies from the
// environment (HTTPS_PROXY, HTTP_PROXY, NO_PROXY), TLS from tlsconf, the idle (stall) rule
// from idle, and timeouts on connecting, the TLS handshake and response headers.
//
// It never asks for compressed transfer encodings: byte ranges and digests must refer to the
// content itself. Requests are sent once; retrying is the caller's, at one level.
package httpclient

import (
	"crypto/x509"
	"net"
	"net/http"
	"time"

	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/idle"
	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/tlsconf"
)

// DefaultTimeout is used when Options.Timeout is not set.
const DefaultTimeout = 60 * time.Second

// Options configure the transport. Zero values are safe defaults: TLS verification on,
// system CA pool, proxies from the environment.
type Options struct {
	// Timeout bounds connecting, waiting for response headers and any silence while reading
	// the body (a stalled server); a big file may take longer than Timeout in total.
	// If <= 0, DefaultTimeout.
	Timeout time.Duration
	// Insecure turns TLS certificate verification off.
	Insecure bool
	// CAPath names a PEM file of extra CA certificates to trust, beside the system pool.
	CAPath string
	// RootCAs, if set, is the only pool trusted: the system pool and CAPath are not used
	// (a node's own trust store, read from under its root).
	RootCAs *x509.CertPool
	// MaxConnsPerHost, if > 0, caps connections to one host.
	MaxConnsPerHost int
	// MaxIdleConnsPerHost is how many idle connections to one host are kept; if <= 0, 16.
	MaxIdleConnsPerHost int
}

// Transport returns the shared round tripper: an http.Transport with the options' TLS and
// timeouts, wrapped so that a response body silent for longer than Timeout fails with
// idle.ErrStalled.
func Transport(o Options) (http.RoundTripper, error) {
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.MaxIdleConnsPerHost <= 0 {
		o.MaxIdleConnsPerHost = 16
	}
	tlsConf, err := tlsconf.New(o.CAPath, o.Insecure)
	if err != nil {
		return nil, err
	}
	if o.RootCAs != nil {
		tlsConf.RootCAs = o.RootCAs
	}
	dialer := &net.Dialer{Timeout: o.Timeout, KeepAlive: 30 * time.Second}
	tr := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           dialer.DialContext,
		TLSClientConfig:       tlsConf,
		TLSHandshakeTimeout:   o.Timeout,
		ResponseHeaderTimeout: o.Timeout,
		ExpectContinueTimeout: time.Second,
		DisableCompression:    true,
		ForceAttemptHTTP2:     true,
		MaxIdleConnsPerHost:   o.MaxIdleConnsPerHost,
		MaxConnsPerHost:       o.MaxConnsPerHost,
		IdleConnTimeout:       90 * time.Second,
		ReadBufferSize:        256 << 10,
	}
	return idle.Transport(tr, o.Timeout), nil
}

// New returns a client over Transport(o).
func New(o Options) (*http.Client, error) {
	tr, err := Transport(o)
	if err != nil {
		return nil, err
	}
	return &http.Client{Transport: tr}, nil
}

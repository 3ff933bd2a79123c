package fetch

import (
	"crypto/x509"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/idle"
	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/tlsconf"
)

// ClientOptions configure the HTTP client downloads use. Zero values are safe defaults:
// TLS verification on, system CA pool, proxies from the environment.
type ClientOptions struct {
	// Timeout bounds connecting, waiting for response headers and any silence while reading
	// the body (a stalled server); a big file may take longer than Timeout in total.
	// If <= 0, a default (currently 60s) is used.
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
}

// NewHTTPClient returns a client for downloads. It never asks for compressed transfer
// encodings (byte ranges must refer to the file itself) and honours HTTPS_PROXY, HTTP_PROXY
// and NO_PROXY.
func NewHTTPClient(o ClientOptions) (*http.Client, error) {
	if o.Timeout <= 0 {
		o.Timeout = 60 * time.Second
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
		MaxIdleConnsPerHost:   16,
		MaxConnsPerHost:       o.MaxConnsPerHost,
		IdleConnTimeout:       90 * time.Second,
		ReadBufferSize:        256 << 10,
	}
	return &http.Client{Transport: idle.Transport(tr, o.Timeout)}, nil
}

// scoped adds extra headers and basic auth to requests for the given origins only (scheme,
// host and port), so that a redirect to another host (a CDN, object storage), or from https
// to plain http on the same host, never receives the credentials.
type scoped struct {
	next       http.RoundTripper
	origins    map[string]bool
	header     http.Header
	user, pass string
}

// origin is "<scheme>://<host>:<port>", with the scheme's default port when the URL has none.
func origin(u *url.URL) string {
	scheme := strings.ToLower(u.Scheme)
	port := u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[scheme]
	}
	return scheme + "://" + net.JoinHostPort(strings.ToLower(u.Hostname()), port)
}

func (s *scoped) RoundTrip(req *http.Request) (*http.Response, error) {
	next := s.next
	if next == nil {
		next = http.DefaultTransport
	}
	if !s.origins[origin(req.URL)] {
		return next.RoundTrip(req)
	}
	r := req.Clone(req.Context())
	for k, vs := range s.header {
		r.Header[http.CanonicalHeaderKey(k)] = append([]string(nil), vs...)
	}
	if s.user != "" || s.pass != "" {
		r.SetBasicAuth(s.user, s.pass)
	}
	return next.RoundTrip(r)
}

package fetch

import (
	"net"
	"net/http"
	"net/url"
	"strings"

	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/httpclient"
)

// ClientOptions configure the HTTP client downloads use: the shared client's options
// (httpclient.Options). Zero values are safe defaults: TLS verification on, system CA pool,
// proxies from the environment.
type ClientOptions = httpclient.Options

// NewHTTPClient returns the shared HTTP client (httpclient.New) for downloads. It never asks
// for compressed transfer encodings (byte ranges must refer to the file itself) and honours
// HTTPS_PROXY, HTTP_PROXY and NO_PROXY.
func NewHTTPClient(o ClientOptions) (*http.Client, error) { return httpclient.New(o) }

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

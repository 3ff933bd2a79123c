package imageset

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync/atomic"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// PushOptions configure Push. Zero values are the documented defaults.
type PushOptions struct {
	// TLSCA is a PEM file of the CA that signed the registry's certificate: the push goes over
	// HTTPS trusting it (and the system CAs). If empty, the push is plain HTTP.
	TLSCA string
	// Username and Password, if set, are sent as basic auth (htpasswd registries).
	Username, Password string
	// Jobs is how many images are pushed at once; if <= 0, 3.
	Jobs int
}

// PushResult counts what Push did.
type PushResult struct {
	Pushed  int // images written
	Present int // images the registry already had with the same digest (skipped)
}

// Target is where Push puts the image under registry (host:port[/prefix]): the upstream host
// becomes the first path component, registry.k8s.io/pause:3.10 ->
// 127.0.0.1:5000/registry.k8s.io/pause:3.10, so that a mirror rule
// {prefix: registry.k8s.io, replace: 127.0.0.1:5000/registry.k8s.io} finds it.
func (n Name) Target(registry string) string {
	return strings.TrimSuffix(registry, "/") + "/" + n.Upstream()
}

// Push writes every image of the set (not the Extras) to the registry, a few at a time. An
// image the registry already holds with the same digest is skipped.
func (s *Set) Push(ctx context.Context, registry string, o PushOptions) (PushResult, error) {
	if o.Jobs <= 0 {
		o.Jobs = 3
	}
	var res PushResult
	tr, err := transport(o.TLSCA)
	if err != nil {
		return res, err
	}
	var nameOpts []name.Option
	if o.TLSCA == "" {
		nameOpts = append(nameOpts, name.Insecure)
	}
	auth := authn.Anonymous
	if o.Username != "" || o.Password != "" {
		auth = &authn.Basic{Username: o.Username, Password: o.Password}
	}
	var pushed, present atomic.Int64
	err = forEach(ctx, len(s.Images), o.Jobs, func(ctx context.Context, i int) error {
		im := s.Images[i]
		target := im.Target(registry)
		tag, err := name.NewTag(target, nameOpts...)
		if err != nil {
			return fmt.Errorf("parsing target %q: %w", target, err)
		}
		opts := []remote.Option{
			remote.WithContext(ctx), remote.WithTransport(tr), remote.WithAuth(auth), remote.WithJobs(4),
		}
		want, err := im.Pushed().Digest()
		if err != nil {
			return fmt.Errorf("computing digest of %s: %w", im.Ref, err)
		}
		if desc, err := remote.Head(tag, opts...); err == nil && desc.Digest == want {
			present.Add(1)
			return nil
		}
		if im.Index != nil {
			err = remote.WriteIndex(tag, im.Index, opts...)
		} else {
			err = remote.Write(tag, im.Manifests[0], opts...)
		}
		if err != nil {
			return fmt.Errorf("pushing %s to %s: %w", im.Ref, target, err)
		}
		pushed.Add(1)
		return nil
	})
	res.Pushed, res.Present = int(pushed.Load()), int(present.Load())
	return res, err
}

// transport is the HTTP transport of a push. go-containerregistry always speaks plain HTTP to
// 127.0.0.1 and localhost (name.Registry.Scheme; google/go-containerregistry#869 asks for a way
// to force TLS), so with a CA the transport upgrades every request to HTTPS itself.
func transport(caFile string) (http.RoundTripper, error) {
	base := http.DefaultTransport.(*http.Transport).Clone()
	if caFile == "" {
		return base, nil
	}
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("reading CA file: %w", err)
	}
	pool, err := x509.SystemCertPool()
	if err != nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("reading CA file %s: %w", caFile, errNoCertificate)
	}
	base.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	return httpsOnly{base}, nil
}

var errNoCertificate = errors.New("no PEM certificate found")

// httpsOnly sends every request over HTTPS.
type httpsOnly struct{ next http.RoundTripper }

func (t httpsOnly) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Scheme == "http" {
		req = req.Clone(req.Context())
		req.URL.Scheme = "https"
	}
	return t.next.RoundTrip(req)
}

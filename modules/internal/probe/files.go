package probe

import (
	"context"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"net/url"

	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/fetch"
)

// probeFile fetches one file from files_repo as the node would: proxies from the node's
// environment and, over https, the node's own CA bundle only (no skip-verify). The body is
// streamed through its hash, never stored.
func probeFile(ctx context.Context, o Options) Result {
	f := o.File
	if f.URL == "" {
		return skipped("", "no file to fetch: the node evaluates no download from files_repo")
	}
	u, err := url.Parse(f.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return failed(f.URL, "file URL %q: want an http(s) URL", f.URL)
	}
	sum, err := fetch.ParseChecksum(f.Checksum)
	if err != nil {
		return failed(f.URL, "%v", err)
	}
	copts := fetch.ClientOptions{Timeout: o.Timeout}
	how := "plain HTTP"
	var ts *trustStore
	if u.Scheme == "https" {
		if ts, err = loadTrustStore(o.Root); err != nil {
			return failed(f.URL, "%v", err)
		}
		copts.RootCAs = ts.pool
		how = "TLS verified with the node's " + ts.bundle
	}
	client, err := fetch.NewHTTPClient(copts)
	if err != nil {
		return failed(f.URL, "%v", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, f.URL, nil)
	if err != nil {
		return failed(f.URL, "%v", err)
	}
	resp, err := client.Do(req)
	if err != nil {
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err // the URL is said once, below
		}
		msg := err.Error()
		var unknown x509.UnknownAuthorityError
		if ts != nil && errors.As(err, &unknown) {
			msg += ts.hint()
		}
		return failed(f.URL, "fetching %s: %s", f.URL, msg)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return failed(f.URL, "fetching %s: HTTP %s", f.URL, resp.Status)
	}
	var h hash.Hash = sha256.New()
	if sum.Algo == "sha512" {
		h = sha512.New()
	}
	n, err := io.Copy(h, resp.Body)
	if err != nil {
		return failed(f.URL, "reading %s: %v", f.URL, err)
	}
	if got := hex.EncodeToString(h.Sum(nil)); !sum.IsZero() && got != sum.Hex {
		return failed(f.URL, "%s: %s %s, Kubespray expects %s (%d bytes, %s)", f.URL, sum.Algo, got, sum.Hex, n, how)
	}
	check := "no checksum to compare"
	if !sum.IsZero() {
		check = sum.Algo + " matches Kubespray's"
	}
	return Result{Status: OK, Target: f.URL, Detail: fmt.Sprintf("%s: %d bytes, %s (%s)", f.URL, n, check, how)}
}

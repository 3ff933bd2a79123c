package httpclient_test

import (
	"encoding/pem"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/httpclient"
	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/idle"
)

// TLS is verified by default; a CA bundle (ca_path) or Insecure lets a private CA's server in;
// a bundle without a certificate is refused by name.
func TestTLSTrust(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "ok") }))
	defer srv.Close()
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o644); err != nil {
		t.Fatal(err)
	}
	get := func(o httpclient.Options) error {
		t.Helper()
		c, err := httpclient.New(o)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := c.Get(srv.URL)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err == nil && string(b) != "ok" {
			err = errors.New("body " + string(b))
		}
		return err
	}
	if err := get(httpclient.Options{}); err == nil {
		t.Error("an unknown CA was trusted by default")
	}
	if err := get(httpclient.Options{CAPath: ca}); err != nil {
		t.Errorf("ca_path: %v", err)
	}
	if err := get(httpclient.Options{Insecure: true}); err != nil {
		t.Errorf("insecure: %v", err)
	}
	empty := filepath.Join(t.TempDir(), "empty.pem")
	_ = os.WriteFile(empty, []byte("not a certificate"), 0o644)
	if _, err := httpclient.New(httpclient.Options{CAPath: empty}); err == nil {
		t.Error("a CA bundle without a certificate was accepted")
	}
}

// A body silent for longer than Timeout fails with idle.ErrStalled, well before the server
// would finish.
func TestStalledBodyFails(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "10")
		_, _ = io.WriteString(w, "12345")
		w.(http.Flusher).Flush()
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	c, err := httpclient.New(httpclient.Options{Timeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	resp, err := c.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	_, err = io.ReadAll(resp.Body)
	if !errors.Is(err, idle.ErrStalled) || time.Since(start) > 5*time.Second {
		t.Errorf("read: %v after %v; want a stall within the timeout", err, time.Since(start))
	}
}

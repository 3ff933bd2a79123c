package regclient_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/imagename"
	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/regclient"
)

func TestParseAuth(t *testing.T) {
	var secrets []string
	file, creds, err := regclient.ParseAuth([]any{map[string]any{"registry": "r:5000", "username": "u", "password": "pw"}},
		func(s string) { secrets = append(secrets, s) })
	if err != nil || file != "" || len(creds) != 1 || creds[0].Password != "pw" || len(secrets) != 1 || secrets[0] != "pw" {
		t.Fatalf("list: %q %+v %v %v", file, creds, secrets, err)
	}
	if file, _, err := regclient.ParseAuth("/root/.docker/config.json", nil); err != nil || file != "/root/.docker/config.json" {
		t.Fatalf("path: %q %v", file, err)
	}
	for _, bad := range []any{42, []any{"x"}, []any{map[string]any{"username": "u"}}, []any{map[string]any{"registry": "r", "token": "t"}}} {
		if _, _, err := regclient.ParseAuth(bad, func(string) {}); err == nil {
			t.Errorf("ParseAuth(%v) accepted", bad)
		}
	}
}

func TestNewChecksItsInputs(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config.json")
	_ = os.WriteFile(cfg, []byte(`{"auths": {"https://index.docker.io/v1/": {"auth": "dTpw"}, "r:5000": {"username": "u", "password": "p"}}}`), 0o600)
	if _, err := regclient.New(regclient.Options{AuthFile: cfg}); err != nil {
		t.Fatal(err)
	}
	_ = os.WriteFile(cfg, []byte(`{"auths": {"r": {"auth": "not base64!"}}}`), 0o600)
	if _, err := regclient.New(regclient.Options{AuthFile: cfg}); err == nil || !strings.Contains(err.Error(), "not base64") {
		t.Errorf("bad auth entry: %v", err)
	}
	ca := filepath.Join(dir, "ca.pem")
	_ = os.WriteFile(ca, []byte("not a certificate"), 0o600)
	if _, err := regclient.New(regclient.Options{CAPath: ca}); err == nil || !strings.Contains(err.Error(), "no PEM certificate") {
		t.Errorf("bad CA: %v", err)
	}
	c, _ := regclient.New(regclient.Options{Insecure: []string{"127.0.0.1:5000"}})
	ref, err := c.Reference("127.0.0.1:5000/pause:3.10")
	if err != nil || ref.Context().Scheme() != "http" {
		t.Errorf("insecure host: %v scheme %s", err, ref.Context().Scheme())
	}
}

func TestCleanDropsUploadState(t *testing.T) {
	base := errors.New(`Patch "http://r:5000/v2/x/blobs/uploads/1?_state=abc%3D": broken pipe`)
	err := regclient.Clean(fmt.Errorf("pushing: %w", base))
	if err.Error() != `pushing: Patch "http://r:5000/v2/x/blobs/uploads/1": broken pipe` || !errors.Is(err, base) {
		t.Errorf("Clean = %q", err)
	}
}

// What is worth another attempt: transient answers and network errors; not a bad name, a
// 4xx other than 408/429, a full disk or a cancelled run (issue 12, low items).
func TestPermanent(t *testing.T) {
	_, badName := name.ParseReference("UPPER/../x")
	_, badImage := imagename.Normalize("../../../etc/passwd:x")
	for err, want := range map[error]bool{
		nil:                               false,
		&transport.Error{StatusCode: 500}: false,
		&transport.Error{StatusCode: 503}: false,
		&transport.Error{StatusCode: 408}: false,
		&transport.Error{StatusCode: 429}: false,
		&transport.Error{StatusCode: 400}: true,
		&transport.Error{StatusCode: 404}: true,
		fmt.Errorf("x: %w", badName):      true,
		fmt.Errorf("x: %w", badImage):     true,
		&os.PathError{Op: "write", Path: "/l/blobs/x", Err: syscall.ENOSPC}: true,
		fmt.Errorf("x: %w", context.Canceled):                               true,
		io.ErrUnexpectedEOF:                                                 false,
		regclient.ErrStalled:                                                false,
	} {
		if got := regclient.Permanent(err); got != want {
			t.Errorf("Permanent(%v) = %v, want %v", err, got, want)
		}
	}
}

// The client sends every registry request once, even for the answers go-containerregistry
// retries by default (5xx, 429): retrying is the caller's (pull and push, per image), so a
// module's retries: N means N+1 attempts in all.
func TestRemoteSendsRequestsOnce(t *testing.T) {
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v2/" {
			w.WriteHeader(http.StatusOK)
			return
		}
		hits.Add(1)
		http.Error(w, "busy", http.StatusServiceUnavailable)
	}))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	c, err := regclient.New(regclient.Options{Insecure: []string{host}, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	ref, err := c.Reference(host + "/some/image:1")
	if err != nil {
		t.Fatal(err)
	}
	for _, get := range []func() error{
		func() error { _, err := remote.Head(ref, c.Remote(context.Background())...); return err },
		func() error { _, err := remote.Get(ref, c.Remote(context.Background())...); return err },
	} {
		hits.Store(0)
		err := get()
		var terr *transport.Error
		if !errors.As(err, &terr) || terr.StatusCode != http.StatusServiceUnavailable || hits.Load() != 1 {
			t.Errorf("error %v after %d requests; want one request answered 503", err, hits.Load())
		}
	}
}

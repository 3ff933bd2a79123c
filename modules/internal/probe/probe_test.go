// Tests of the node probes on scratch roots, against real servers on 127.0.0.1: httptest
// file servers (plain and TLS), apt-get and dnf from this host on repositories served by
// httptest, and a containerd of its own (with ctr, and crictl when there is one) pulling
// from an in-memory registry behind TLS. Probes whose tool is missing here are skipped with
// the reason.
package probe_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/probe"
	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/repoconf"
)

// node makes a scratch root with an os-release.
func node(t *testing.T, id, version string) string {
	t.Helper()
	root := t.TempDir()
	write(t, root, "etc/os-release", fmt.Sprintf("ID=%s\nVERSION_ID=%q\n", id, version))
	return root
}

func write(t *testing.T, root, rel, content string) string {
	t.Helper()
	p := filepath.Join(root, rel)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// one runs a single probe.
func one(t *testing.T, o probe.Options) probe.Result {
	t.Helper()
	if o.Timeout == 0 {
		o.Timeout = 30 * time.Second
	}
	rs := probe.Run(context.Background(), o)
	if len(rs) != 1 {
		t.Fatalf("want one result, got %+v", rs)
	}
	t.Logf("%s %s: %s", rs[0].Probe, rs[0].Status, rs[0].Detail)
	return rs[0]
}

func expect(t *testing.T, r probe.Result, status string, detail ...string) {
	t.Helper()
	if r.Status != status {
		t.Errorf("%s: status %s, want %s (%s)", r.Probe, r.Status, status, r.Detail)
	}
	for _, d := range detail {
		if !strings.Contains(r.Detail, d) {
			t.Errorf("%s: detail %q lacks %q", r.Probe, r.Detail, d)
		}
	}
}

// tree lists every path under root with its size and mtime, to show a probe changed nothing.
func tree(t *testing.T, root string) string {
	t.Helper()
	var b strings.Builder
	err := filepath.Walk(root, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		fmt.Fprintf(&b, "%s %v %d %d\n", p, fi.Mode(), fi.Size(), fi.ModTime().UnixNano())
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func pemOf(srv *httptest.Server) string {
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}))
}

// tlsServer starts an https server whose certificate a new CA of its own signs (httptest's
// servers all share one certificate); it returns the CA as PEM.
func tlsServer(t *testing.T, h http.Handler) (*httptest.Server, string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ca := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "airgap test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true,
		KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	leafDER, err := x509.CreateCertificate(rand.Reader, leaf, ca, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(h)
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the handshakes the probes are meant to fail
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{leafDER}, PrivateKey: key}}}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv, string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}))
}

func TestFiles(t *testing.T) {
	body := []byte("runc, or so\n")
	mux := http.NewServeMux()
	mux.HandleFunc("/runc.amd64", func(w http.ResponseWriter, r *http.Request) { w.Write(body) })
	plain := httptest.NewServer(mux)
	defer plain.Close()
	secure := httptest.NewTLSServer(mux)
	defer secure.Close()
	other, otherCA := tlsServer(t, mux) // a CA of its own

	root := node(t, "debian", "12")
	files := func(url, checksum string) probe.Result {
		return one(t, probe.Options{Root: root, Probes: []string{probe.Files}, File: probe.File{URL: url, Checksum: checksum}})
	}
	t.Run("plain http, checksum matches", func(t *testing.T) {
		r := files(plain.URL+"/runc.amd64", "sha256:"+sha(body))
		expect(t, r, probe.OK, "12 bytes, sha256 matches Kubespray's", "plain HTTP")
		if r.Target != plain.URL+"/runc.amd64" {
			t.Errorf("target %q", r.Target)
		}
	})
	t.Run("bare hex checksum, as Kubespray stores it", func(t *testing.T) {
		expect(t, files(plain.URL+"/runc.amd64", sha(body)), probe.OK)
	})
	t.Run("checksum differs", func(t *testing.T) {
		expect(t, files(plain.URL+"/runc.amd64", "sha256:"+sha([]byte("else"))), probe.Failed, "Kubespray expects "+sha([]byte("else")))
	})
	t.Run("missing on the server", func(t *testing.T) {
		expect(t, files(plain.URL+"/crictl.tar.gz", ""), probe.Failed, "HTTP 404")
	})
	t.Run("https without a CA bundle on the node", func(t *testing.T) {
		expect(t, files(secure.URL+"/runc.amd64", ""), probe.Failed, "no CA bundle on the node")
	})
	write(t, root, "etc/ssl/certs/ca-certificates.crt", pemOf(secure))
	t.Run("https, the node's bundle holds the CA", func(t *testing.T) {
		expect(t, files(secure.URL+"/runc.amd64", sha(body)), probe.OK, "TLS verified with the node's /etc/ssl/certs/ca-certificates.crt")
	})
	t.Run("https, the CA waits in an anchor folder", func(t *testing.T) {
		write(t, root, "usr/local/share/ca-certificates/airgap-kubespray-ca.crt", otherCA)
		expect(t, files(other.URL+"/runc.amd64", ""), probe.Failed, "certificate signed by unknown authority",
			"/usr/local/share/ca-certificates/airgap-kubespray-ca.crt not in the node's /etc/ssl/certs/ca-certificates.crt: rebuild the trust store")
	})
	t.Run("a RHEL bundle behind an absolute link, read inside the root", func(t *testing.T) {
		el := node(t, "rocky", "9.4")
		write(t, el, "etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem", pemOf(secure))
		if err := os.MkdirAll(filepath.Join(el, "etc/pki/tls/certs"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink("/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem", filepath.Join(el, "etc/pki/tls/certs/ca-bundle.crt")); err != nil {
			t.Fatal(err)
		}
		r := one(t, probe.Options{Root: el, Probes: []string{probe.Files}, File: probe.File{URL: secure.URL + "/runc.amd64"}})
		expect(t, r, probe.OK, "/etc/pki/tls/certs/ca-bundle.crt")
	})
	t.Run("no file given", func(t *testing.T) {
		expect(t, files("", ""), probe.Skipped, "no file to fetch")
	})
}

func TestTable(t *testing.T) {
	lines := probe.Table([]probe.Result{
		{Probe: "files", Status: probe.OK, Detail: "fetched"},
		{Probe: "containerd", Status: probe.Skipped, Detail: "not\nrunning"},
	})
	want := []string{
		"PROBE       STATUS   DETAIL",
		"files       ok       fetched",
		"containerd  skipped  not running",
	}
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Errorf("table:\n%s\nwant:\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
}

// flatRepo serves an empty flat apt repository (Packages, Release) under /debs/.
func flatRepo(t *testing.T) *httptest.Server {
	t.Helper()
	dir := t.TempDir()
	write(t, dir, "debs/Packages", "")
	write(t, dir, "debs/Release", fmt.Sprintf("Origin: airgap-test\nDate: %s\nSHA256:\n %s 0 Packages\n",
		time.Now().UTC().Add(-time.Hour).Format(time.RFC1123), sha(nil)))
	srv := httptest.NewServer(http.FileServer(http.Dir(dir)))
	t.Cleanup(srv.Close)
	return srv
}

func configure(t *testing.T, cfg repoconf.Config) {
	t.Helper()
	plan, err := repoconf.Configure(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := plan.Apply(); err != nil {
		t.Fatal(err)
	}
}

func TestApt(t *testing.T) {
	if _, err := exec.LookPath("apt-get"); err != nil {
		t.Skip("no apt-get on this host")
	}
	srv := flatRepo(t)
	repo := srv.URL + "/debs/"
	packages := func(root string, repos probe.Repos) probe.Result {
		return one(t, probe.Options{Root: root, Probes: []string{probe.Packages}, Repos: repos})
	}
	root := node(t, "debian", "12")
	write(t, root, "etc/apt/sources.list", "deb http://deb.debian.org/debian bookworm main\n")
	configure(t, repoconf.Config{Root: root, DebianRepo: repo, DisableOtherRepos: true})
	// A broken source besides the mirror's: it must neither fail nor help the probe.
	write(t, root, "etc/apt/sources.list.d/broken.list", "deb [trusted=yes] http://127.0.0.1:1/nothing ./\n")

	t.Run("the mirror's source only", func(t *testing.T) {
		before := tree(t, root)
		r := packages(root, probe.Repos{Debian: repo})
		if after := tree(t, root); after != before {
			t.Errorf("the probe changed the node:\n%s\nthen:\n%s", before, after)
		}
		expect(t, r, probe.OK, "apt-get update from "+repo, "/etc/apt/sources.list.d/airgap-kubespray.sources only", "unsigned (trusted=yes)")
		if len(r.Command) < 2 || r.Command[0] != "apt-get" || r.Command[1] != "update" {
			t.Errorf("command %v", r.Command)
		}
	})
	t.Run("offline.yml names another repository", func(t *testing.T) {
		expect(t, packages(root, probe.Repos{Debian: srv.URL + "/other/"}), probe.Failed,
			"points at "+repo+", but offline.yml's debian_repo is "+srv.URL+"/other/")
	})
	t.Run("the repository is gone from the mirror", func(t *testing.T) {
		gone := node(t, "debian", "12")
		configure(t, repoconf.Config{Root: gone, DebianRepo: srv.URL + "/gone/"})
		r := packages(gone, probe.Repos{})
		expect(t, r, probe.Failed, "apt-get update from "+srv.URL+"/gone/", "404")
	})
	t.Run("a signed source (Signed-By) against an unsigned repository", func(t *testing.T) {
		signed := node(t, "debian", "12")
		key := write(t, t.TempDir(), "key.asc", "-----BEGIN PGP PUBLIC KEY BLOCK-----\n\n-----END PGP PUBLIC KEY BLOCK-----\n")
		configure(t, repoconf.Config{Root: signed, DebianRepo: repo, GPGKey: key})
		if err := os.Remove(filepath.Join(signed, "etc/apt/keyrings/airgap-kubespray.asc")); err != nil {
			t.Fatal(err)
		}
		expect(t, packages(signed, probe.Repos{Debian: repo}), probe.Failed, "apt-get update from "+repo)
	})
	t.Run("not configured, and offline.yml names a repository", func(t *testing.T) {
		expect(t, packages(node(t, "debian", "12"), probe.Repos{Debian: repo}), probe.Failed,
			"offline.yml sets debian_repo "+repo+" but the node has no /etc/apt/sources.list.d/airgap-kubespray.sources")
	})
	t.Run("not configured, and offline.yml names none", func(t *testing.T) {
		expect(t, packages(node(t, "ubuntu", "24.04"), probe.Repos{Debian: repo}), probe.Skipped,
			"apt is not pointed at the mirror", "offline.yml sets no ubuntu_repo")
	})
}

func TestDnf(t *testing.T) {
	for _, tool := range []string{"dnf", "createrepo_c"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("no %s on this host", tool)
		}
	}
	www := t.TempDir()
	if err := os.Mkdir(filepath.Join(www, "rpms"), 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("createrepo_c", "-q", filepath.Join(www, "rpms")).CombinedOutput(); err != nil {
		t.Fatalf("createrepo_c: %v\n%s", err, out)
	}
	srv := httptest.NewServer(http.FileServer(http.Dir(www)))
	defer srv.Close()
	packages := func(root string, repos probe.Repos) probe.Result {
		return one(t, probe.Options{Root: root, Probes: []string{probe.Packages}, Repos: repos})
	}
	root := node(t, "rocky", "9.4")
	write(t, root, "etc/yum.repos.d/rocky.repo", "[baseos]\nname=BaseOS\nbaseurl=http://127.0.0.1:1/rocky/\ngpgcheck=0\n")
	configure(t, repoconf.Config{Root: root, YumRepo: srv.URL + "/rpms/", DisableOtherRepos: false})

	t.Run("the mirror's repository only", func(t *testing.T) {
		before := tree(t, root)
		r := packages(root, probe.Repos{Yum: srv.URL + "/rpms/"})
		if after := tree(t, root); after != before {
			t.Errorf("the probe changed the node:\n%s\nthen:\n%s", before, after)
		}
		expect(t, r, probe.OK, "makecache from "+srv.URL+"/rpms/", "repositories airgap-kubespray")
	})
	t.Run("the repository is gone from the mirror", func(t *testing.T) {
		gone := node(t, "rocky", "9.4")
		configure(t, repoconf.Config{Root: gone, YumRepo: srv.URL + "/gone/"})
		expect(t, packages(gone, probe.Repos{Yum: srv.URL + "/gone/"}), probe.Failed, "makecache from "+srv.URL+"/gone/", "airgap-kubespray")
	})
}

func TestContainerdNotRunning(t *testing.T) {
	root := node(t, "debian", "12")
	r := one(t, probe.Options{Root: root, Probes: []string{probe.Containerd}, Image: "registry.example:5000/pause:3.10"})
	expect(t, r, probe.Skipped, "containerd is not running on the node (no socket /run/containerd/containerd.sock)")
	// A socket left behind by a stopped containerd.
	write(t, root, "run/containerd/.keep", "")
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: filepath.Join(root, "run/containerd/containerd.sock"), Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	l.SetUnlinkOnClose(false)
	l.Close() // the socket file stays, nothing answers
	r = one(t, probe.Options{Root: root, Probes: []string{probe.Containerd}, Image: "registry.example:5000/pause:3.10"})
	expect(t, r, probe.Skipped, "refuses connections")
}

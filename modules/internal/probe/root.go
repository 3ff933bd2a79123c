package probe

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
)

// inRoot returns the host path of p (a path as the node sees it) under root, following
// symbolic links inside root: an absolute link target is taken from root too, as it would be
// on the node (RHEL's /etc/pki/tls/certs/ca-bundle.crt is one).
func inRoot(root, p string) string {
	if root == "" || root == "/" {
		return p
	}
	cur := "/"
	rest := strings.Split(strings.Trim(path.Clean("/"+p), "/"), "/")
	for hops := 0; len(rest) > 0; {
		name := rest[0]
		rest = rest[1:]
		if name == "" || name == "." {
			continue
		}
		if name == ".." {
			cur = path.Dir(cur)
			continue
		}
		next := path.Join(cur, name)
		fi, err := os.Lstat(filepath.Join(root, next))
		if err != nil || fi.Mode()&os.ModeSymlink == 0 || hops >= 40 {
			cur = next
			continue
		}
		hops++
		target, err := os.Readlink(filepath.Join(root, next))
		if err != nil {
			cur = next
			continue
		}
		if !path.IsAbs(target) {
			target = path.Join(cur, target)
		}
		rest = append(strings.Split(strings.Trim(path.Clean(target), "/"), "/"), rest...)
		cur = "/"
	}
	return filepath.Join(root, cur)
}

// caBundles are the OS CA bundles curl, apt, dnf and Go read, first found wins.
var caBundles = []string{
	"/etc/ssl/certs/ca-certificates.crt",                // Debian, Ubuntu (update-ca-certificates)
	"/etc/pki/tls/certs/ca-bundle.crt",                  // RHEL, Rocky, AlmaLinux, Fedora
	"/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem", // the same, where the link is missing
	"/etc/ssl/ca-bundle.pem",                            // SUSE
	"/etc/ssl/cert.pem",                                 // Alpine
}

// caAnchors are where local CAs go before the bundle is rebuilt (the repos playbook puts the
// mirror's CA there).
var caAnchors = []string{"/usr/local/share/ca-certificates", "/etc/pki/ca-trust/source/anchors"}

// trustStore is a node's CA bundle.
type trustStore struct {
	root   string
	bundle string // as the node sees it
	pool   *x509.CertPool
	raw    map[string]bool // DER of every certificate in the bundle
}

func loadTrustStore(root string) (*trustStore, error) {
	for _, b := range caBundles {
		data, err := os.ReadFile(inRoot(root, b))
		if err != nil {
			continue
		}
		ts := &trustStore{root: root, bundle: b, pool: x509.NewCertPool(), raw: map[string]bool{}}
		for _, c := range pemCerts(data) {
			ts.pool.AddCert(c)
			ts.raw[string(c.Raw)] = true
		}
		if len(ts.raw) == 0 {
			return nil, fmt.Errorf("the node's CA bundle %s holds no certificate", b)
		}
		return ts, nil
	}
	return nil, fmt.Errorf("no CA bundle on the node (looked for %s under %s)", strings.Join(caBundles, ", "), root)
}

// hint explains a certificate the bundle does not trust: a CA waiting in an anchor folder is
// the usual cause (the trust store was not rebuilt after the repos playbook added it).
func (ts *trustStore) hint() string {
	var waiting []string
	for _, dir := range caAnchors {
		files, _ := filepath.Glob(filepath.Join(inRoot(ts.root, dir), "*"))
		sort.Strings(files)
		for _, f := range files {
			data, err := os.ReadFile(f)
			if err != nil {
				continue
			}
			for _, c := range pemCerts(data) {
				if !ts.raw[string(c.Raw)] {
					waiting = append(waiting, path.Join(dir, filepath.Base(f)))
					break
				}
			}
		}
	}
	if len(waiting) == 0 {
		return fmt.Sprintf(" (the node's %s does not hold the server's CA)", ts.bundle)
	}
	return fmt.Sprintf(" (%s not in the node's %s: rebuild the trust store with update-ca-certificates or update-ca-trust extract)",
		strings.Join(waiting, ", "), ts.bundle)
}

// pemCerts returns the certificates in PEM data, skipping anything else.
func pemCerts(data []byte) []*x509.Certificate {
	var certs []*x509.Certificate
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			return certs
		}
		if block.Type != "CERTIFICATE" || len(bytes.TrimSpace(block.Bytes)) == 0 {
			continue
		}
		if c, err := x509.ParseCertificate(block.Bytes); err == nil {
			certs = append(certs, c)
		}
	}
}

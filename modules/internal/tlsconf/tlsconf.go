// Package tlsconf builds the TLS settings the network modules share: certificates verified
// against the system CAs plus an optional PEM bundle (a corporate proxy's, a mirror's).
package tlsconf

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
)

// New returns a client TLS configuration trusting the system CAs and those in caPath (if
// set). skipVerify turns certificate verification off; callers warn about it.
func New(caPath string, skipVerify bool) (*tls.Config, error) {
	conf := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: skipVerify} //nolint:gosec // opt-in
	if caPath == "" {
		return conf, nil
	}
	pem, err := os.ReadFile(caPath)
	if err != nil {
		return nil, fmt.Errorf("reading ca_path: %w", err)
	}
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("ca_path %s holds no PEM certificate", caPath)
	}
	conf.RootCAs = pool
	return conf, nil
}

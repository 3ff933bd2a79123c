// Package gpgtest makes throwaway GnuPG keyrings for tests, with the real gpg.
package gpgtest

import (
	"os"
	"os/exec"
	"testing"
)

// Home is a fresh keyring holding one ed25519 signing key named name, generated as the
// os_repos role generates its key; the keyring and its agent go at the end of the test.
func Home(t testing.TB, name string) string {
	t.Helper()
	home, err := os.MkdirTemp("", "gpgtest-") // short: the agent's socket path has a length limit
	if err != nil {
		t.Fatal(err)
	}
	os.Chmod(home, 0o700)
	t.Cleanup(func() {
		exec.Command("gpgconf", "--homedir", home, "--kill", "all").Run()
		os.RemoveAll(home)
	})
	cmd := exec.Command("gpg", "--homedir", home, "--batch", "--passphrase", "", "--quick-gen-key",
		name+" <"+name+"@airgap.invalid>", "ed25519", "sign", "never")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("gpg --quick-gen-key: %v\n%s", err, out)
	}
	return home
}

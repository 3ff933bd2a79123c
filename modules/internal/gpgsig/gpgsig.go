// Package gpgsig signs a file with GnuPG and checks a detached signature against one armored
// public key, by running Debian's gpg and gpgv (the collection links no OpenPGP library).
//
// Checking never reads the user's keyrings or agent: each call works in a private temporary
// GNUPGHOME holding nothing but the key it was given, removed afterwards, so a signature is
// good only when it comes from that key. Signing uses the keyring the caller names (the one the
// OS repositories are signed with).
package gpgsig

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// BadSignature is a signature that does not verify against the trusted key (as opposed to a
// tool that could not run).
type BadSignature struct {
	Sig    string // the signature file
	Reason string
}

func (e *BadSignature) Error() string { return e.Sig + ": " + e.Reason }

// run runs a GnuPG tool; stdout is returned, a failure carries stderr.
func run(ctx context.Context, stdin []byte, name string, args ...string) ([]byte, []byte, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	err := cmd.Run()
	return out.Bytes(), errb.Bytes(), err
}

// tempHome is a private, empty GNUPGHOME; the returned func removes it (and stops any agent
// a tool started there).
func tempHome() (string, func(), error) {
	dir, err := os.MkdirTemp("", "airgap-gpg-")
	if err != nil {
		return "", nil, fmt.Errorf("a temporary GnuPG home: %w", err)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		os.RemoveAll(dir)
		return "", nil, err
	}
	return dir, func() {
		_ = exec.Command("gpgconf", "--homedir", dir, "--kill", "all").Run()
		os.RemoveAll(dir)
	}, nil
}

// Fingerprints are the primary keys' fingerprints in an armored (or binary) public key file,
// read without importing it anywhere.
func Fingerprints(ctx context.Context, keyFile string) ([]string, error) {
	home, done, err := tempHome()
	if err != nil {
		return nil, err
	}
	defer done()
	out, errb, err := run(ctx, nil, "gpg", "--homedir", home, "--batch", "--no-autostart", "--with-colons",
		"--import-options", "show-only", "--import", keyFile)
	if err != nil {
		return nil, fmt.Errorf("reading the key %s: gpg: %v: %s", keyFile, err, strings.TrimSpace(string(errb)))
	}
	fprs := primaries(out, "pub")
	if len(fprs) == 0 {
		return nil, fmt.Errorf("%s holds no OpenPGP public key", keyFile)
	}
	return fprs, nil
}

// Verify checks that sigFile is a good detached signature of dataFile by a key of keyFile
// (an armored public key) and returns the signer's primary key fingerprint. A signature that
// does not verify is a *BadSignature.
func Verify(ctx context.Context, keyFile, sigFile, dataFile string) (string, error) {
	if _, err := Fingerprints(ctx, keyFile); err != nil {
		return "", err
	}
	home, done, err := tempHome()
	if err != nil {
		return "", err
	}
	defer done()
	keyring := filepath.Join(home, "trusted.gpg")
	if _, errb, err := run(ctx, nil, "gpg", "--homedir", home, "--batch", "--no-autostart", "--no-default-keyring",
		"--keyring", keyring, "--import", keyFile); err != nil {
		return "", fmt.Errorf("reading the key %s: gpg: %v: %s", keyFile, err, strings.TrimSpace(string(errb)))
	}
	out, errb, err := run(ctx, nil, "gpgv", "--homedir", home, "--keyring", keyring, "--status-fd", "1", sigFile, dataFile)
	var fpr string
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) >= 3 && f[0] == "[GNUPG:]" && f[1] == "VALIDSIG" {
			fpr = f[2]
			if len(f) >= 12 {
				fpr = f[11] // the primary key's fingerprint (a subkey may have signed)
			}
		}
	}
	var exit *exec.ExitError
	switch {
	case err == nil && fpr != "":
		return fpr, nil
	case err == nil || errors.As(err, &exit):
		why := "does not verify against " + keyFile
		if msg := lastLine(errb); msg != "" {
			why += " (gpgv: " + msg + ")"
		}
		return "", &BadSignature{Sig: sigFile, Reason: why}
	default:
		return "", fmt.Errorf("checking %s: gpgv: %w", sigFile, err)
	}
}

func lastLine(b []byte) string {
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}

// Sign makes an armored detached signature of dataFile with keyID (empty: the keyring's
// default key) of the keyring in home. A key with a passphrase must be unlocked in its agent.
func Sign(ctx context.Context, home, keyID, dataFile string) ([]byte, error) {
	args := []string{"--homedir", home, "--batch", "--yes", "--armor", "--detach-sign", "--output", "-"}
	if keyID != "" {
		args = append(args, "--local-user", keyID)
	}
	out, errb, err := run(ctx, nil, "gpg", append(args, dataFile)...)
	if err != nil {
		return nil, fmt.Errorf("signing %s with the key %s of %s: gpg: %v: %s", dataFile, orDefault(keyID), home, err,
			strings.TrimSpace(string(errb)))
	}
	return out, nil
}

// Export is the armored public key keyID (empty: every key) of the keyring in home; a
// keyring without that key is an error.
func Export(ctx context.Context, home, keyID string) ([]byte, error) {
	args := []string{"--homedir", home, "--batch", "--armor", "--export"}
	if keyID != "" {
		args = append(args, keyID)
	}
	out, errb, err := run(ctx, nil, "gpg", args...)
	if err != nil || len(bytes.TrimSpace(out)) == 0 {
		return nil, fmt.Errorf("exporting the public key %s of %s: gpg: %v %s", orDefault(keyID), home, err,
			strings.TrimSpace(string(errb)))
	}
	return out, nil
}

func orDefault(keyID string) string {
	if keyID == "" {
		return "(default)"
	}
	return keyID
}

// SecretKey is the fingerprint of the secret key keyID (empty: the first) of the keyring in
// home; a keyring without one is an error.
func SecretKey(ctx context.Context, home, keyID string) (string, error) {
	args := []string{"--homedir", home, "--batch", "--with-colons", "--list-secret-keys"}
	if keyID != "" {
		args = append(args, keyID)
	}
	out, errb, err := run(ctx, nil, "gpg", args...)
	if fprs := primaries(out, "sec"); len(fprs) > 0 {
		return fprs[0], nil
	}
	return "", fmt.Errorf("no secret key %s in %s (gpg: %v %s)", orDefault(keyID), home, err, strings.TrimSpace(string(errb)))
}

// primaries are the fingerprints of the primary keys (records of kind "pub" or "sec") in gpg's
// --with-colons output, in order.
func primaries(colons []byte, kind string) []string {
	var fprs []string
	primary := false
	for _, line := range strings.Split(string(colons), "\n") {
		f := strings.Split(line, ":")
		switch {
		case f[0] == kind:
			primary = true
		case f[0] == "fpr" && primary && len(f) > 9:
			fprs = append(fprs, f[9])
			primary = false
		case f[0] == "sub" || f[0] == "ssb":
			primary = false
		}
	}
	return fprs
}

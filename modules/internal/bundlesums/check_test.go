package bundlesums_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/bundlesums"
	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/gpgsig/gpgtest"
)

// signedBundle writes a bundle, its SHA256SUMS and a signature by the key of home.
func signedBundle(t *testing.T, home string) string {
	t.Helper()
	dir := t.TempDir()
	tree(t, dir, map[string]string{
		"manifest.yaml":          "manifest\n",
		"files/a/kubelet":        "kubelet",
		"images/index.json":      "{}",
		"images/blobs/sha256/ab": "blob",
		".airgap/private":        "the site's own bookkeeping, never listed",
	})
	write(t, bundlesums.Options{Dir: dir})
	rep, err := bundlesums.Sign(context.Background(), bundlesums.SignOptions{Dir: dir, GnupgHome: home})
	if err != nil || !rep.Changed || len(rep.Signer) != 40 {
		t.Fatalf("sign: %+v %v", rep, err)
	}
	return dir
}

func check(t *testing.T, opts bundlesums.CheckOptions) *bundlesums.CheckReport {
	t.Helper()
	rep, err := bundlesums.Check(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func failedPaths(rep *bundlesums.CheckReport) string {
	var p []string
	for _, f := range rep.Failed {
		p = append(p, f.Path)
	}
	return strings.Join(p, ",")
}

// A signed bundle passes against its key (the real gpgv accepts the signature too); a rerun of
// Sign writes nothing; SHA256SUMS does not list its signature files; then each kind of
// tampering is named: one byte changed, a file added, a file missing, a symbolic link.
func TestSignedBundleChecksThenTamperingIsNamed(t *testing.T) {
	ctx := context.Background()
	home := gpgtest.Home(t, "builder")
	dir := signedBundle(t, home)
	key := filepath.Join(dir, bundlesums.KeyName)

	keyring := filepath.Join(t.TempDir(), "k.gpg")
	if out, err := exec.Command("gpg", "--homedir", home, "--batch", "--yes", "--output", keyring, "--dearmor", key).CombinedOutput(); err != nil {
		t.Fatalf("dearmor: %v %s", err, out)
	}
	if out, err := exec.Command("gpgv", "--keyring", keyring, filepath.Join(dir, bundlesums.SigName), filepath.Join(dir, bundlesums.Name)).CombinedOutput(); err != nil {
		t.Fatalf("gpgv refuses the signature: %v\n%s", err, out)
	}
	if again, err := bundlesums.Sign(ctx, bundlesums.SignOptions{Dir: dir, GnupgHome: home}); err != nil || again.Changed {
		t.Fatalf("re-sign of an unchanged SHA256SUMS: %+v %v", again, err)
	}
	if rep := write(t, bundlesums.Options{Dir: dir}); rep.Changed || strings.Contains(rep.After, "SHA256SUMS") || strings.Contains(rep.After, ".airgap") {
		t.Fatalf("SHA256SUMS lists its signature files or changed: %+v", rep)
	}

	rep := check(t, bundlesums.CheckOptions{Dir: dir, TrustedKey: key, RequireSignature: true, Concurrency: 2})
	if len(rep.Failed) != 0 || !rep.Signed || len(rep.Signer) != 40 || rep.Files != 4 || rep.TrustedFrom != "trusted_key" || len(rep.Warnings) != 0 {
		t.Fatalf("clean bundle: %+v", rep)
	}
	// trust on first use: the key beside it, with a warning naming the fingerprint
	rep = check(t, bundlesums.CheckOptions{Dir: dir, RequireSignature: true})
	if len(rep.Failed) != 0 || rep.TrustedFrom != "bundle" || len(rep.Warnings) != 1 || !strings.Contains(rep.Warnings[0], rep.Signer) {
		t.Fatalf("trust on first use: %+v", rep)
	}

	// one byte changed (same size, mtime kept: the digest record is stale by ctime)
	p := filepath.Join(dir, "images/blobs/sha256/ab")
	fi, _ := os.Stat(p)
	os.WriteFile(p, []byte("blOb"), 0o644)
	os.Chtimes(p, fi.ModTime(), fi.ModTime())
	tree(t, dir, map[string]string{"files/added": "x"})
	os.Remove(filepath.Join(dir, "manifest.yaml"))
	os.Symlink("/etc/passwd", filepath.Join(dir, "files/passwd"))
	rep = check(t, bundlesums.CheckOptions{Dir: dir, TrustedKey: key, RequireSignature: true})
	if got := failedPaths(rep); got != "files/added,files/passwd,images/blobs/sha256/ab,manifest.yaml" {
		t.Fatalf("failed = %s: %+v", got, rep.Failed)
	}
	for _, f := range rep.Failed {
		want := map[string]string{"files/added": "not listed", "files/passwd": "symbolic link",
			"images/blobs/sha256/ab": "content differs", "manifest.yaml": "missing"}[f.Path]
		if !strings.Contains(f.Reason, want) {
			t.Errorf("%s: reason %q, want %q", f.Path, f.Reason, want)
		}
	}
	if !rep.Signed {
		t.Error("the signature itself still holds")
	}
}

// A changed SHA256SUMS (its signature no longer holds), a missing signature, and a signature by
// another key than the trusted one are refused naming SHA256SUMS; require_signature=false
// checks the sums alone, with a warning.
func TestSignatureRefusals(t *testing.T) {
	home := gpgtest.Home(t, "builder")
	dir := signedBundle(t, home)
	key := filepath.Join(dir, bundlesums.KeyName)
	other := gpgtest.Home(t, "intruder")
	otherDir := signedBundle(t, other)

	// another key: the bundle carries its own SHA256SUMS.key, but the trusted key is the builder's
	rep := check(t, bundlesums.CheckOptions{Dir: otherDir, TrustedKey: key, RequireSignature: true})
	if failedPaths(rep) != "SHA256SUMS" || !strings.Contains(rep.Failed[0].Reason, "bad signature") || rep.Signed {
		t.Fatalf("another key: %+v", rep)
	}

	// SHA256SUMS rewritten by hand (a file swapped together with its sum)
	tree(t, dir, map[string]string{"files/a/kubelet": "evil"})
	os.Remove(filepath.Join(dir, bundlesums.Name))
	write(t, bundlesums.Options{Dir: dir})
	rep = check(t, bundlesums.CheckOptions{Dir: dir, TrustedKey: key, RequireSignature: true})
	if failedPaths(rep) != "SHA256SUMS" {
		t.Fatalf("re-summed: %+v", rep)
	}

	// unsigned
	os.Remove(filepath.Join(dir, bundlesums.SigName))
	rep = check(t, bundlesums.CheckOptions{Dir: dir, TrustedKey: key, RequireSignature: true})
	if failedPaths(rep) != "SHA256SUMS" || !strings.Contains(rep.Failed[0].Reason, "not signed") {
		t.Fatalf("unsigned: %+v", rep)
	}
	rep = check(t, bundlesums.CheckOptions{Dir: dir, TrustedKey: key})
	if len(rep.Failed) != 0 || rep.Signed || len(rep.Warnings) != 1 || !strings.Contains(rep.Warnings[0], "not signed") {
		t.Fatalf("unsigned, require_signature=false: %+v", rep)
	}
}

// A SHA256SUMS the site wrote itself (after checking the signed delta) passes while it is the
// same file; a copy of the bundle (another inode) does not.
func TestSiteWrittenSums(t *testing.T) {
	home := gpgtest.Home(t, "builder")
	dir := signedBundle(t, home)
	key := filepath.Join(dir, bundlesums.KeyName)
	tree(t, dir, map[string]string{"files/from-delta": "new"})
	write(t, bundlesums.Options{Dir: dir})
	signer := check(t, bundlesums.CheckOptions{Dir: signedBundle(t, home), TrustedKey: key}).Signer
	if err := bundlesums.StampSite(dir, signer); err != nil {
		t.Fatal(err)
	}
	rep := check(t, bundlesums.CheckOptions{Dir: dir, TrustedKey: key, RequireSignature: true})
	if len(rep.Failed) != 0 || !rep.SiteWritten || rep.Signer != signer {
		t.Fatalf("site-written: %+v", rep)
	}
	// a copy: the stamp travels, the inode does not
	copyDir := t.TempDir()
	exec.Command("cp", "-a", dir+"/.", copyDir).Run()
	rep = check(t, bundlesums.CheckOptions{Dir: copyDir, TrustedKey: key, RequireSignature: true})
	if failedPaths(rep) != "SHA256SUMS" || rep.SiteWritten {
		t.Fatalf("copied stamp accepted: %+v", rep)
	}
}

package bundlecheckmod

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/bundlesums"
	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/gpgsig/gpgtest"
	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/module/moduletest"
	bundlesumsmod "github.com/airgap-kubespray/airgap.kubespray/modules/offline_bundle_sums"
)

// offline_bundle_sums with gnupg_home signs (a rerun changes nothing); offline_bundle_check,
// in check mode too, accepts the bundle and names the signer; one byte changed in a file and a
// file added fail it naming both; require_signature=false still names them; an unsigned
// SHA256SUMS is refused naming SHA256SUMS.
func TestSignThenCheck(t *testing.T) {
	home := gpgtest.Home(t, "builder")
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "files"), 0o755)
	os.WriteFile(filepath.Join(dir, "files", "kubelet"), []byte("kubelet"), 0o644)
	os.WriteFile(filepath.Join(dir, "manifest.yaml"), []byte("m\n"), 0o644)
	sums := map[string]any{"bundle": dir, "gnupg_home": home}
	out, raw := moduletest.Run(t, bundlesumsmod.Module, sums)
	if out["changed"] != true || out["signed"] != true || len(out["signer"].(string)) != 40 {
		t.Fatalf("sign: %s", raw)
	}
	signer := out["signer"]
	asc, _ := os.ReadFile(filepath.Join(dir, bundlesums.SigName))
	if out, raw = moduletest.Run(t, bundlesumsmod.Module, sums); out["changed"] != false || out["files"] != 2.0 {
		t.Fatalf("rerun: %s", raw)
	}
	if again, _ := os.ReadFile(filepath.Join(dir, bundlesums.SigName)); string(again) != string(asc) {
		t.Error("rerun rewrote the signature")
	}

	key := filepath.Join(t.TempDir(), "trusted.asc")
	b, _ := os.ReadFile(filepath.Join(dir, bundlesums.KeyName))
	os.WriteFile(key, b, 0o644)
	check := map[string]any{"bundle": dir, "trusted_key": key, "_ansible_check_mode": true}
	out, raw = moduletest.Run(t, Module, check)
	if out["failed"] == true || out["changed"] != false || out["signed"] != true || out["signer"] != signer || out["files"] != 2.0 {
		t.Fatalf("check: %s", raw)
	}

	p := filepath.Join(dir, "files", "kubelet")
	os.WriteFile(p, []byte("kubeleT"), 0o644)
	os.WriteFile(filepath.Join(dir, "files", "added"), []byte("x"), 0o644)
	for _, require := range []bool{true, false} {
		check["require_signature"] = require
		out, raw = moduletest.Run(t, Module, check)
		items, _ := out["failed_items"].([]any)
		msg, _ := out["msg"].(string)
		if out["failed"] != true || len(items) != 2 || !strings.Contains(msg, "files/kubelet: content differs") ||
			!strings.Contains(msg, "files/added: not listed") {
			t.Fatalf("tampered (require_signature=%v): %s", require, raw)
		}
	}

	os.Remove(filepath.Join(dir, "files", "added"))
	os.WriteFile(p, []byte("kubelet"), 0o644)
	os.Remove(filepath.Join(dir, bundlesums.SigName))
	check["require_signature"] = true
	out, raw = moduletest.Run(t, Module, check)
	if out["failed"] != true || !strings.Contains(out["msg"].(string), "SHA256SUMS: not signed") {
		t.Fatalf("unsigned: %s", raw)
	}
	check["require_signature"] = false
	if out, raw = moduletest.Run(t, Module, check); out["failed"] == true || out["signed"] != false {
		t.Fatalf("unsigned, require_signature=false: %s", raw)
	}

	// signing off: the signature of an earlier SHA256SUMS is removed when SHA256SUMS changes
	os.WriteFile(filepath.Join(dir, "files", "new"), []byte("n"), 0o644)
	if out, raw = moduletest.Run(t, bundlesumsmod.Module, map[string]any{"bundle": dir}); out["changed"] != true || out["signed"] != false {
		t.Fatalf("unsigned sums: %s", raw)
	}
	if _, err := os.Stat(filepath.Join(dir, bundlesums.KeyName)); !os.IsNotExist(err) {
		t.Error("the stale SHA256SUMS.key is still there")
	}
}

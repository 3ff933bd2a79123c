package bundleapplymod

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/delta"
	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/module/moduletest"
)

// A folder without delta.yaml is not a delta: a clear error naming it, nothing written.
func TestNotADelta(t *testing.T) {
	dir := t.TempDir()
	src, bundle := filepath.Join(dir, "full"), filepath.Join(dir, "site")
	os.MkdirAll(filepath.Join(src, "files"), 0o755)
	os.MkdirAll(bundle, 0o755)
	out, raw := moduletest.Run(t, Module, map[string]any{"src": src, "bundle": bundle})
	if out["failed"] != true || !strings.Contains(out["msg"].(string), src+" has no delta.yaml") {
		t.Errorf("not a delta: %s", raw)
	}
	if ents, _ := os.ReadDir(bundle); len(ents) != 0 {
		t.Errorf("wrote into the site's bundle: %v", ents)
	}
}

// Check mode, apply, rerun through the module, against the state sitestate.Export gives (a
// file the delta relies on, one it brings).
func TestCheckApplyRerun(t *testing.T) {
	dir := t.TempDir()
	src, bundle := filepath.Join(dir, "delta"), filepath.Join(dir, "site")
	os.MkdirAll(filepath.Join(bundle, "files", "a"), 0o755)
	os.WriteFile(filepath.Join(bundle, "files", "a", "old"), []byte("old"), 0o644)
	os.MkdirAll(filepath.Join(src, "files", "b"), 0o755)
	os.WriteFile(filepath.Join(src, "files", "b", "new"), []byte("new"), 0o644)
	d := &delta.Delta{ReliesOn: delta.ReliesOn{Files: []delta.File{{Path: "a/old", SHA256: "6ba7d2c3b3d1e0e1d1b4c4d3c1b6c4d1b4c1e6f2f1c4b3a2f1e0d9c8b7a6f5e4"}}}}
	b, _ := d.Marshal()
	os.WriteFile(filepath.Join(src, delta.FileName), b, 0o644)
	args := map[string]any{"src": src, "bundle": bundle, "_ansible_check_mode": true}
	out, raw := moduletest.Run(t, Module, args)
	// The sha256 above is not old's: refused, naming a/old, nothing written.
	if out["failed"] != true || !strings.Contains(out["msg"].(string), "a/old") || len(out["failed_items"].([]any)) != 1 {
		t.Fatalf("wrong base: %s", raw)
	}
	d.ReliesOn.Files[0].SHA256 = sha("old")
	b, _ = d.Marshal()
	os.WriteFile(filepath.Join(src, delta.FileName), b, 0o644)
	if out, raw = moduletest.Run(t, Module, args); out["changed"] != true || out["failed"] == true {
		t.Fatalf("check: %s", raw)
	}
	if _, err := os.Stat(filepath.Join(bundle, "files", "b", "new")); !os.IsNotExist(err) {
		t.Fatal("check mode wrote")
	}
	args["_ansible_check_mode"] = false
	if out, raw = moduletest.Run(t, Module, args); out["changed"] != true || out["applied"].(map[string]any)["files"] != 1.0 {
		t.Fatalf("apply: %s", raw)
	}
	if out, raw = moduletest.Run(t, Module, args); out["changed"] != false || out["applied"].(map[string]any)["files"] != 0.0 {
		t.Fatalf("rerun: %s", raw)
	}
}

func sha(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

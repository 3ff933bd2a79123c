package bundledeltamod

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/delta"
	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/module/moduletest"
	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/sitestate"
)

func write(t *testing.T, p string, b []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// The module's face: check mode with diff writes nothing; then delta.yaml with the state's
// sha256 (checked against the .sha256 beside it); a file carried although the site serves it is
// counted in redundant and the message; a damaged state file is refused naming it; without site_state delta.yaml goes.
func TestDeltaModule(t *testing.T) {
	bundle, dir := t.TempDir(), t.TempDir()
	a, b := []byte("a\n"), []byte("b\n")
	write(t, filepath.Join(bundle, "files", "example.org", "a"), a)
	st := &sitestate.State{Site: "dc1", Created: "2026-11-01T10:00:00Z", Files: []sitestate.File{
		{Path: "example.org/a", SHA256: sitestate.Digest(a), Size: 2},
		{Path: "example.org/b", SHA256: sitestate.Digest(b), Size: 2},
	}}
	raw, _ := st.Marshal()
	statePath := filepath.Join(dir, sitestate.FileName)
	write(t, statePath, raw)
	write(t, statePath+".sha256", []byte(sitestate.Digest(raw)+"  "+sitestate.FileName+"\n"))
	args := map[string]any{"bundle": bundle, "site_state": statePath, "_ansible_check_mode": true, "_ansible_diff": true,
		"files": []any{
			map[string]any{"url": "https://example.org/a", "checksum": "sha256:" + sitestate.Digest(a)},
			map[string]any{"url": "https://example.org/b", "checksum": "sha256:" + sitestate.Digest(b)},
		}}
	out, rawOut := moduletest.Run(t, Module, args)
	deltaPath := filepath.Join(bundle, delta.FileName)
	if out["changed"] != true || out["failed"] == true || out["path"] != deltaPath {
		t.Fatalf("check: %s", rawOut)
	}
	if _, err := os.Stat(deltaPath); !os.IsNotExist(err) {
		t.Fatal("check mode wrote delta.yaml")
	}
	after := out["diff"].([]any)[0].(map[string]any)["after"].(string)
	args["_ansible_check_mode"] = false
	out, rawOut = moduletest.Run(t, Module, args)
	got, err := os.ReadFile(deltaPath)
	if err != nil || string(got) != after || out["changed"] != true {
		t.Fatalf("run: %s\ndelta.yaml %q, the diff said %q", rawOut, got, after)
	}
	d := out["delta"].(map[string]any)
	if d["base"].(map[string]any)["state_sha256"] != sitestate.Digest(raw) ||
		len(d["relies_on"].(map[string]any)["files"].([]any)) != 1 ||
		!strings.HasPrefix(out["msg"].(string), "a delta against dc1") {
		t.Errorf("result: %s", rawOut)
	}
	if !strings.Contains(out["msg"].(string), "also carries 1 files and 0 layers") || out["redundant"].(map[string]any)["files"] != 1.0 {
		t.Errorf("the carried file the site serves: msg %q, redundant %v", out["msg"], out["redundant"])
	}
	if out, rawOut = moduletest.Run(t, Module, args); out["changed"] != false {
		t.Errorf("rerun: %s", rawOut)
	}

	write(t, statePath, append(raw, '#'))
	if out, rawOut = moduletest.Run(t, Module, args); out["failed"] != true || !strings.Contains(out["msg"].(string), statePath) {
		t.Errorf("damaged state: %s", rawOut)
	}

	delete(args, "site_state")
	if out, rawOut = moduletest.Run(t, Module, args); out["changed"] != true || out["delta"] != nil {
		t.Errorf("full bundle: %s", rawOut)
	}
	if _, err := os.Stat(deltaPath); !os.IsNotExist(err) {
		t.Error("a full bundle kept delta.yaml")
	}
}

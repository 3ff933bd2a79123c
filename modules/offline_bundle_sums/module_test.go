package bundlesumsmod

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/module"
	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/module/moduletest"
)

// Check mode with diff: would change, the diff is SHA256SUMS before and after, nothing written;
// then written; a rerun reads nothing; a symbolic link is left out with a warning naming it.
func TestCheckDiffThenWriteThenRerun(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "files"), 0o755)
	os.WriteFile(filepath.Join(dir, "files", "kubelet"), []byte("kubelet"), 0o644)
	os.Symlink("/etc/passwd", filepath.Join(dir, "files", "passwd"))
	sums := filepath.Join(dir, "SHA256SUMS")
	args := map[string]any{"bundle": dir, "_ansible_check_mode": true, "_ansible_diff": true}
	out, raw := moduletest.Run(t, Module, args)
	if out["changed"] != true || out["failed"] == true || out["files"] != 1.0 || out["hashed"] != 1.0 || out["path"] != sums {
		t.Fatalf("check: %s", raw)
	}
	diff := out["diff"].([]any)[0].(map[string]any)
	if diff["before"] != "" || !strings.HasSuffix(diff["after"].(string), "  files/kubelet\n") || diff["after_header"] != sums {
		t.Errorf("diff = %v", diff)
	}
	if _, err := os.Stat(sums); !os.IsNotExist(err) {
		t.Fatal("check mode wrote SHA256SUMS")
	}
	if w, _ := out["warnings"].([]any); len(w) != 1 || !strings.Contains(w[0].(string), "files/passwd") {
		t.Errorf("warnings = %v", out["warnings"])
	}
	leftOut := out["left_out"].([]any)
	if len(leftOut) != 1 || leftOut[0].(map[string]any)["path"] != "files/passwd" {
		t.Errorf("left_out = %v", leftOut)
	}

	args["_ansible_check_mode"], args["_ansible_diff"] = false, false
	if out, raw = moduletest.Run(t, Module, args); out["changed"] != true || out["bytes_hashed"] != 7.0 {
		t.Fatalf("run: %s", raw)
	}
	b, _ := os.ReadFile(sums)
	if string(b) != diff["after"] {
		t.Errorf("SHA256SUMS = %q, the diff said %q", b, diff["after"])
	}
	out, raw = moduletest.Run(t, Module, args)
	if out["changed"] != false || out["files"] != 1.0 {
		t.Fatalf("rerun: %s", raw)
	}
	if out["hashed"].(float64)+out["cached"].(float64) != 1 {
		t.Errorf("rerun: every file is either hashed or cached: %s", raw)
	}
}

// The command line (what the benchmark calls): flags from the spec, JSON out.
func TestCommandLine(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "a"), []byte("a"), 0o644)
	var stdout, stderr bytes.Buffer
	code := module.Execute(context.Background(), Module, []string{"--bundle", dir, "-j", "2", "--check"}, &stdout, &stderr)
	var out map[string]any
	if err := json.Unmarshal(stdout.Bytes(), &out); err != nil || code != 0 {
		t.Fatalf("exit %d: %v\n%s%s", code, err, stdout.String(), stderr.String())
	}
	if out["changed"] != true || out["files"] != 1.0 || out["cached"] != 0.0 {
		t.Errorf("result = %v", out)
	}
	if _, err := os.Stat(filepath.Join(dir, "SHA256SUMS")); !os.IsNotExist(err) {
		t.Error("--check wrote SHA256SUMS")
	}
}

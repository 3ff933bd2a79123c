package bundleimportmod

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/module/moduletest"
)

func TestCheckDiffThenPlaceThenRerun(t *testing.T) {
	dir := t.TempDir()
	data := []byte("kubelet")
	sum := sha256.Sum256(data)
	ko := filepath.Join(dir, "ko")
	os.MkdirAll(filepath.Join(ko, "kubernetes"), 0o755)
	os.WriteFile(filepath.Join(ko, "kubernetes", "kubelet"), data, 0o644)
	bundle := filepath.Join(dir, "bundle")
	args := map[string]any{
		"bundle":                  bundle,
		"files":                   []any{map[string]any{"name": "kubelet", "path": "dl.k8s.io/kubelet", "checksum": "sha256:" + hex.EncodeToString(sum[:])}},
		"images":                  []any{map[string]any{"name": "pause", "source": "registry.k8s.io/pause:3.10"}},
		"kubespray_offline_files": ko,
		"_ansible_check_mode":     true,
		"_ansible_diff":           true,
	}
	out, raw := moduletest.Run(t, Module, args)
	if out["changed"] != true || out["failed"] == true {
		t.Fatalf("check: %s", raw)
	}
	diff := out["diff"].([]any)[0].(map[string]any)
	if diff["after"] != "dl.k8s.io/kubelet (link from kubespray-offline files/kubernetes/kubelet)\n" {
		t.Errorf("diff = %v", diff)
	}
	if _, err := os.Stat(bundle); !os.IsNotExist(err) {
		t.Fatalf("check mode created %s", bundle)
	}
	totals := out["totals"].(map[string]any)
	if totals["files"] != 1.0 || totals["found"] != 1.0 || totals["images"] != 1.0 || totals["images_missing"] != 1.0 {
		t.Errorf("totals = %v", totals)
	}

	args["_ansible_check_mode"], args["_ansible_diff"] = false, false
	if out, raw = moduletest.Run(t, Module, args); out["changed"] != true {
		t.Fatalf("run: %s", raw)
	}
	if _, hasDiff := out["diff"]; hasDiff {
		t.Errorf("a diff without _ansible_diff: %s", raw)
	}
	if out, raw = moduletest.Run(t, Module, args); out["changed"] != false || len(out["placed"].([]any)) != 0 {
		t.Fatalf("rerun: %s", raw)
	}
}

func TestRefusedArchiveAndStrictItems(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "offline-files.tar.gz")
	os.WriteFile(bad, []byte("not an archive at all, long enough to be read"), 0o644)
	out, raw := moduletest.Run(t, Module, map[string]any{"bundle": filepath.Join(dir, "b"), "contrib_files": bad})
	if out["failed"] != true || !strings.Contains(out["msg"].(string), "not a readable tar archive") {
		t.Errorf("refused: %s", raw)
	}
	if r, ok := out["refused"].([]any); !ok || len(r) != 0 {
		t.Errorf("refused = %#v, want an empty list", out["refused"])
	}
	// The manifest's other keys are not options: manifest_items projects them away.
	out, raw = moduletest.Run(t, Module, map[string]any{"bundle": dir, "files": []any{map[string]any{"name": "x", "path": "a/x", "target": "t"}}})
	if out["failed"] != true || !strings.Contains(out["msg"].(string), "files.target") {
		t.Errorf("extra key: %s", raw)
	}
}

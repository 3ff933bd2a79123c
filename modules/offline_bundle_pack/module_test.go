package bundlepackmod_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/module/moduletest"
	bundlepackmod "github.com/airgap-kubespray/airgap.kubespray/modules/offline_bundle_pack"
	bundleunpackmod "github.com/airgap-kubespray/airgap.kubespray/modules/offline_bundle_unpack"
)

// The two modules end to end, as the pack and unpack playbooks call them: check mode writes
// nothing and says what would change; a real run packs, a rerun is unchanged; unpack in check
// mode says what it would unpack, then unpacks, complete; a damaged part fails the module,
// naming it in failed_items; part_size is parsed in one place and a bad one is named.
func TestPackUnpackModules(t *testing.T) {
	if _, err := exec.LookPath("zstd"); err != nil {
		t.Skip("zstd is not installed (tests/setup-host.sh installs it)")
	}
	base := t.TempDir()
	src, dest, site := filepath.Join(base, "bundle"), filepath.Join(base, "parts"), filepath.Join(base, "site")
	os.MkdirAll(filepath.Join(src, "files"), 0o755)
	os.WriteFile(filepath.Join(src, "files", "a"), []byte(strings.Repeat("a", 200<<10)), 0o644)
	os.WriteFile(filepath.Join(src, "SHA256SUMS"), []byte("x  files/a\n"), 0o644)

	args := map[string]any{"src": src, "dest": dest, "part_size": "64K", "_ansible_check_mode": true}
	out, raw := moduletest.Run(t, bundlepackmod.Module, args)
	if out["changed"] != true || out["failed"] == true || out["total"].(float64) < 3 {
		t.Fatalf("check: %s", raw)
	}
	if _, err := os.Stat(dest); err == nil {
		t.Fatal("check mode wrote dest")
	}
	args["_ansible_check_mode"] = false
	if out, raw = moduletest.Run(t, bundlepackmod.Module, args); out["changed"] != true || len(out["spanning"].([]any)) != 1 {
		t.Fatalf("pack: %s", raw)
	}
	total := int(out["total"].(float64))
	if out, raw = moduletest.Run(t, bundlepackmod.Module, args); out["changed"] != false {
		t.Fatalf("rerun: %s", raw)
	}
	args["part_size"] = "4X"
	if out, raw = moduletest.Run(t, bundlepackmod.Module, args); out["failed"] != true || !strings.Contains(out["msg"].(string), "part_size") {
		t.Fatalf("bad part_size: %s", raw)
	}

	uargs := map[string]any{"src": dest, "dest": site, "_ansible_check_mode": true}
	out, raw = moduletest.Run(t, bundleunpackmod.Module, uargs)
	if out["changed"] != true || out["complete"] != false || len(out["parts"].([]any)) != total {
		t.Fatalf("unpack check: %s", raw)
	}
	if _, err := os.Stat(site); err == nil {
		t.Fatal("check mode wrote dest")
	}
	uargs["_ansible_check_mode"] = false
	part2 := filepath.Join(dest, out["parts"].([]any)[1].(map[string]any)["name"].(string))
	good, _ := os.ReadFile(part2)
	bad := append([]byte(nil), good...)
	bad[len(bad)/2] ^= 1
	os.WriteFile(part2, bad, 0o644)
	out, raw = moduletest.Run(t, bundleunpackmod.Module, uargs)
	failed := out["failed_items"].([]any)
	if out["failed"] != true || len(failed) != 1 || failed[0].(map[string]any)["part"] != filepath.Base(part2) || out["complete"] != false {
		t.Fatalf("damaged part: %s", raw)
	}
	os.WriteFile(part2, good, 0o644)
	if out, raw = moduletest.Run(t, bundleunpackmod.Module, uargs); out["complete"] != true || out["failed"] == true || out["changed"] != true {
		t.Fatalf("unpack: %s", raw)
	}
	if b, _ := os.ReadFile(filepath.Join(site, "files", "a")); len(b) != 200<<10 {
		t.Errorf("files/a: %d bytes", len(b))
	}
	if out, raw = moduletest.Run(t, bundleunpackmod.Module, uargs); out["changed"] != false || out["complete"] != true {
		t.Fatalf("unpack rerun: %s", raw)
	}
}

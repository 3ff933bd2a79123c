package repoconfigmod

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/module/moduletest"
)

// runModule runs the module as ansible-core does and decodes its result.
func runModule(t *testing.T, args map[string]any) map[string]any {
	t.Helper()
	res, _ := moduletest.Run(t, Module, args)
	return res
}

func debianRoot(t *testing.T) string {
	root := t.TempDir()
	for p, c := range map[string]string{
		"etc/os-release":       "ID=debian\nVERSION_ID=\"12\"\n",
		"etc/apt/sources.list": "deb http://deb.debian.org/debian bookworm main\n",
	} {
		if err := os.MkdirAll(filepath.Join(root, filepath.Dir(p)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, p), []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

// absent says what it keeps, in check mode and diff too, and why it does nothing without a
// journal.
func TestAbsentKeepsAndExplains(t *testing.T) {
	root := debianRoot(t)
	if res := runModule(t, map[string]any{"root": root, "debian_repo": "http://m/debian/"}); res["changed"] != true {
		t.Fatalf("present: %v", res)
	}
	ours := filepath.Join(root, "etc/apt/sources.list.d/airgap-kubespray.sources")
	if err := os.WriteFile(ours, []byte("# mine now\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	res := runModule(t, map[string]any{"root": root, "state": "absent", "_ansible_check_mode": true, "_ansible_diff": true})
	diff, _ := json.Marshal(res["diff"])
	if !strings.Contains(string(diff), "kept as /etc/apt/sources.list.d/airgap-kubespray.sources.airgap-kubespray-modified") ||
		!strings.Contains(strings.Join(toStrings(res["warnings"]), "\n"), "airgap-kubespray.sources.airgap-kubespray-modified") {
		t.Errorf("check mode does not say the changed file is kept: %v", res)
	}
	if _, err := os.Stat(ours + ".airgap-kubespray-modified"); !os.IsNotExist(err) {
		t.Errorf("check mode wrote: %v", err)
	}

	if err := os.Remove(filepath.Join(root, "var/lib/airgap-kubespray/repos/journal.json")); err != nil {
		t.Fatal(err)
	}
	res = runModule(t, map[string]any{"root": root, "state": "absent"})
	if res["changed"] != false || !strings.Contains(res["msg"].(string), "journal.json is missing") {
		t.Errorf("absent without a journal: %v", res)
	}
	if _, err := os.Stat(filepath.Join(root, "var/lib/airgap-kubespray/repos/files/etc/apt/sources.list")); err != nil {
		t.Errorf("the backup is gone: %v", err)
	}
}

func toStrings(v any) []string {
	var out []string
	l, _ := v.([]any)
	for _, e := range l {
		s, _ := e.(string)
		out = append(out, s)
	}
	return out
}

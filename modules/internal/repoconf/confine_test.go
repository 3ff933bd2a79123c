package repoconf_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/repoconf"
)

// outsideDir is a folder beside the root, with one file whose content must survive.
func outsideDir(t *testing.T) (dir string, snap func() map[string]string) {
	t.Helper()
	dir = t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "precious"), []byte("outside the root\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir, func() map[string]string { return snapshot(t, dir) }
}

// configureAndApply runs Configure then Apply, returning the first error.
func configureAndApply(root string) error {
	plan, err := repoconf.Configure(cfg(root))
	if err != nil {
		return err
	}
	return plan.Apply()
}

func TestSymlinkOutOfRootRefused(t *testing.T) {
	for _, tc := range []struct {
		name, link string // link: the path under root that becomes a symlink to the outside folder
		absolute   bool
	}{
		{"sources.list.d relative", "etc/apt/sources.list.d", false},
		{"sources.list.d absolute", "etc/apt/sources.list.d", true},
		{"backup folder", "var/lib/airgap-kubespray", false},
		{"backup folder absolute", "var/lib/airgap-kubespray", true},
		{"pip.conf", "etc/pip.conf", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := makeRoot(t, fixtures[1]) // ubuntu 22.04: a .list in sources.list.d
			out, snap := outsideDir(t)
			if tc.link == "etc/pip.conf" {
				out = filepath.Join(out, "precious")
			}
			full := filepath.Join(root, tc.link)
			if err := os.RemoveAll(full); err != nil {
				t.Fatal(err)
			}
			if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
				t.Fatal(err)
			}
			target := out
			if !tc.absolute {
				rel, err := filepath.Rel(filepath.Dir(full), out)
				if err != nil {
					t.Fatal(err)
				}
				target = rel
			}
			if err := os.Symlink(target, full); err != nil {
				t.Fatal(err)
			}
			before := snap()
			err := configureAndApply(root)
			if err == nil {
				t.Fatalf("a symlink %s -> %s was followed out of the root", tc.link, target)
			}
			if testing.Verbose() {
				t.Log(err)
			}
			if !strings.Contains(err.Error(), tc.link) {
				t.Errorf("the error does not name %s: %v", tc.link, err)
			}
			if after := snap(); !sameMap(before, after) {
				t.Errorf("the folder outside the root changed: %v -> %v", before, after)
			}
			if rev, err := repoconf.Revert(root); err == nil {
				_ = rev.Apply()
			}
			if after := snap(); !sameMap(before, after) {
				t.Errorf("revert changed the folder outside the root: %v -> %v", before, after)
			}
		})
	}
}

func TestCraftedJournalRefused(t *testing.T) {
	for _, tc := range []struct {
		name  string
		entry map[string]string
		bad   string
	}{
		{"created with ..", map[string]string{"path": "/../OUT/precious", "action": "created"}, "/../OUT/precious"},
		{"created relative", map[string]string{"path": "../OUT/precious", "action": "created"}, "../OUT/precious"},
		{"restored into ..", map[string]string{"path": "/etc/../../OUT/precious", "action": "moved",
			"backup": "/var/lib/airgap-kubespray/repos/files/etc/apt/sources.list"}, "/etc/../../OUT/precious"},
		{"backup outside", map[string]string{"path": "/etc/apt/sources.list", "action": "replaced",
			"backup": "/../OUT/precious"}, "/../OUT/precious"},
		{"backup not in the backup folder", map[string]string{"path": "/etc/apt/sources.list", "action": "replaced",
			"backup": "/etc/shadow"}, "/etc/shadow"},
		{"mkdir with ..", map[string]string{"path": "/var/../../OUT", "action": "mkdir"}, "/var/../../OUT"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			parent := t.TempDir()
			root := filepath.Join(parent, "root")
			out := filepath.Join(parent, "OUT")
			if err := os.MkdirAll(out, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(out, "precious"), []byte("outside the root\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			fx := makeRoot(t, fixtures[1])
			if err := os.Rename(fx, root); err != nil {
				t.Fatal(err)
			}
			if err := configureAndApply(root); err != nil {
				t.Fatal(err)
			}
			jpath := filepath.Join(root, "var/lib/airgap-kubespray/repos/journal.json")
			var j map[string]any
			b, err := os.ReadFile(jpath)
			if err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(b, &j); err != nil {
				t.Fatal(err)
			}
			j["entries"] = append(j["entries"].([]any), tc.entry)
			b, _ = json.Marshal(j)
			if err := os.WriteFile(jpath, b, 0o600); err != nil {
				t.Fatal(err)
			}
			before := snapshot(t, out)
			rev, err := repoconf.Revert(root)
			if err == nil {
				err = rev.Apply()
			}
			if err == nil {
				t.Fatalf("a journal entry %v was accepted", tc.entry)
			}
			if !strings.Contains(err.Error(), tc.bad) {
				t.Errorf("the error does not name %s: %v", tc.bad, err)
			}
			if after := snapshot(t, out); !sameMap(before, after) {
				t.Errorf("the folder outside the root changed: %v -> %v", before, after)
			}
			if _, err := os.Stat(filepath.Join(out, "precious")); err != nil {
				t.Error(err)
			}
		})
	}
}

func sameMap(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

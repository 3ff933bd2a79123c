package repoconf_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/repoconf"
)

func TestRevertKeepsWhatTheAdminChanged(t *testing.T) {
	root := makeRoot(t, fixtures[1]) // ubuntu 22.04: our .list created, pip.conf replaced, sources.list moved
	if err := configureAndApply(root); err != nil {
		t.Fatal(err)
	}
	list := filepath.Join(root, "etc/apt/sources.list.d/airgap-kubespray.list")
	pip := filepath.Join(root, "etc/pip.conf")
	moved := filepath.Join(root, "etc/apt/sources.list")
	admin := map[string]string{
		list:  "deb [trusted=yes] http://m/ubuntu/ ./\n# the admin's own line\n",
		pip:   "[global]\nindex-url = http://admin/simple/\n",
		moved: "deb http://admin/ubuntu jammy main\n", // put back by hand (a package reinstall, say)
	}
	for f, c := range admin {
		if err := os.WriteFile(f, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}

	// Check mode: the plan says what is kept where, and nothing is written.
	before := snapshot(t, root)
	rev, err := repoconf.Revert(root)
	if err != nil {
		t.Fatal(err)
	}
	kept := map[string]string{}
	for _, c := range rev.Changes {
		if c.Kept != "" {
			kept[c.Path] = c.Kept
		}
	}
	for f := range admin {
		p := "/" + strings.TrimPrefix(f, root+"/")
		if kept[p] != p+".airgap-kubespray-modified" {
			t.Errorf("%s: kept as %q in the plan, want %s", p, kept[p], p+".airgap-kubespray-modified")
		}
		if !strings.Contains(strings.Join(rev.Warnings, "\n"), p) {
			t.Errorf("no warning names %s: %q", p, rev.Warnings)
		}
	}
	if !sameMap(before, snapshot(t, root)) {
		t.Fatal("planning the revert wrote files")
	}

	if err := rev.Apply(); err != nil {
		t.Fatal(err)
	}
	for f, c := range admin {
		b, err := os.ReadFile(f + ".airgap-kubespray-modified")
		if err != nil || string(b) != c {
			t.Errorf("the admin's %s is lost: %q, %v", f, b, err)
		}
	}
	if _, err := os.Stat(list); !os.IsNotExist(err) {
		t.Errorf("our list is still active: %v", err)
	}
	if b, _ := os.ReadFile(pip); string(b) != "[global]\ntimeout = 60\n" {
		t.Errorf("pip.conf not restored: %q", b)
	}
	if b, _ := os.ReadFile(moved); !strings.Contains(string(b), "archive.ubuntu.com") {
		t.Errorf("sources.list not restored: %q", b)
	}
}

func TestRevertWithoutJournalKeepsBackups(t *testing.T) {
	root := makeRoot(t, fixtures[1])
	if err := configureAndApply(root); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(root, "var/lib/airgap-kubespray/repos/journal.json")); err != nil {
		t.Fatal(err)
	}
	before := snapshot(t, root)
	rev, err := repoconf.Revert(root)
	if err != nil {
		t.Fatal(err)
	}
	if rev.Changed() {
		t.Errorf("changes without a journal: %+v", rev.Changes)
	}
	if !strings.Contains(rev.Reason, "journal") || !strings.Contains(rev.Reason, "/var/lib/airgap-kubespray/repos") {
		t.Errorf("the result does not say why nothing is reverted: %q", rev.Reason)
	}
	if err := rev.Apply(); err != nil {
		t.Fatal(err)
	}
	if after := snapshot(t, root); !sameMap(before, after) {
		t.Errorf("a revert without a journal changed files: %v -> %v", before, after)
	}
	if _, err := os.Stat(filepath.Join(root, "var/lib/airgap-kubespray/repos/files/etc/apt/sources.list")); err != nil {
		t.Errorf("the backup of sources.list is gone: %v", err)
	}
}

// A source that came back after present moved it (a package reinstall) is moved aside again
// on the next present; absent puts the first original back and keeps the other version.
func TestRevertAfterASourceCameBack(t *testing.T) {
	root := makeRoot(t, fixtures[1])
	src := filepath.Join(root, "etc/apt/sources.list")
	orig, _ := os.ReadFile(src)
	if err := configureAndApply(root); err != nil {
		t.Fatal(err)
	}
	back := "deb http://archive.ubuntu.com/ubuntu jammy main universe\n"
	if err := os.WriteFile(src, []byte(back), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := configureAndApply(root); err != nil {
		t.Fatal(err)
	}
	rev, err := repoconf.Revert(root)
	if err != nil {
		t.Fatal(err)
	}
	if err := rev.Apply(); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(src); string(b) != string(orig) {
		t.Errorf("sources.list = %q, want the first original %q", b, orig)
	}
	if b, err := os.ReadFile(src + ".airgap-kubespray-modified"); string(b) != back {
		t.Errorf("the version that came back is lost: %q, %v", b, err)
	}
}

package sitestatemod

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/module/moduletest"
	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/sitestate"
	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/sitestate/sitestatetest"
)

// Check mode writes nothing; a run writes the file and its .sha256 (which sha256sum format
// Load checks); a rerun over the unchanged site changes nothing, not even the created time; a
// tag added to the storage rewrites it.
func TestCheckThenWriteThenRerunThenChange(t *testing.T) {
	site := sitestatetest.New(t)
	dest := filepath.Join(t.TempDir(), "state", sitestate.FileName)
	args := map[string]any{"bundle": site.Bundle, "storage_dir": site.Storage, "dest": dest, "site": "dc1",
		"collection_version": "0.1.0", "_ansible_check_mode": true, "_ansible_diff": true}
	before := sitestatetest.Snapshot(t, site.Bundle, site.Storage)
	out, raw := moduletest.Run(t, Module, args)
	if out["changed"] != true || out["failed"] == true || out["files"] != float64(len(site.Files)) || out["images"] != 2.0 ||
		out["blobs"] != float64(len(site.Blobs)) || out["packages"] != 2.0 || out["views"] != 1.0 || out["path"] != dest {
		t.Fatalf("check: %s", raw)
	}
	if d := out["diff"].([]any)[0].(map[string]any); d["before"] != "" || !strings.Contains(d["after"].(string), "calico/node:v3.31.5") {
		t.Errorf("diff = %v", d)
	}
	if _, err := os.Stat(filepath.Dir(dest)); !os.IsNotExist(err) {
		t.Fatal("check mode wrote")
	}

	args["_ansible_check_mode"], args["_ansible_diff"] = false, false
	out, raw = moduletest.Run(t, Module, args)
	if out["changed"] != true {
		t.Fatalf("run: %s", raw)
	}
	b, _ := os.ReadFile(dest)
	sum, _ := os.ReadFile(dest + ".sha256")
	if string(sum) != sitestatetest.Sum(b)+"  "+sitestate.FileName+"\n" || out["sha256"] != sitestatetest.Sum(b) || out["bytes"] != float64(len(b)) {
		t.Errorf("%s.sha256 = %q, result %s", dest, sum, raw)
	}
	s, digest, err := sitestate.Load(dest)
	if err != nil || digest != out["sha256"] {
		t.Fatalf("load: %v", err)
	}
	if !reflect.DeepEqual(s.Images, site.Images) || !reflect.DeepEqual(s.Files, site.Files) || !reflect.DeepEqual(s.Blobs, site.Blobs) ||
		!reflect.DeepEqual(s.Packages, site.Packages) || s.Site != "dc1" || s.CollectionVersion != "0.1.0" {
		t.Errorf("the written state:\n%s", b)
	}
	for p, v := range sitestatetest.Snapshot(t, site.Bundle, site.Storage) {
		if before[p] != v {
			t.Errorf("the run changed %s in the site", p)
		}
	}

	fi, _ := os.Stat(dest)
	out, raw = moduletest.Run(t, Module, args)
	if out["changed"] != false || out["sha256"] != digest {
		t.Fatalf("rerun: %s", raw)
	}
	if again, _ := os.Stat(dest); !again.ModTime().Equal(fi.ModTime()) {
		t.Error("the rerun rewrote the file")
	}

	// The registry now serves one more tag: the file says so.
	tag := filepath.Join(site.Storage, "docker/registry/v2/repositories/pause/_manifests/tags")
	link, _ := os.ReadFile(filepath.Join(tag, "3.10.1/current/link"))
	if err := os.MkdirAll(filepath.Join(tag, "latest/current"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(tag, "latest/current/link"), link, 0o644); err != nil {
		t.Fatal(err)
	}
	out, raw = moduletest.Run(t, Module, args)
	if out["changed"] != true || out["images"] != 3.0 {
		t.Fatalf("after a new tag: %s", raw)
	}
	if s, _, err = sitestate.Load(dest); err != nil {
		t.Fatal(err)
	}
	if img, ok := s.Image("pause:latest"); !ok || img.Digest != string(link) || img.Source != "registry.k8s.io/pause:3.10.1" {
		t.Errorf("pause:latest = %+v", img)
	}
}

// A state file the site would hold is refused before anything is read.
func TestRefusesDestInsideTheSite(t *testing.T) {
	site := sitestatetest.New(t)
	for _, dest := range []string{filepath.Join(site.Bundle, "files", "state.yaml"), filepath.Join(site.Bundle, "state.yaml"),
		filepath.Join(site.Storage, "state.yaml")} {
		out, raw := moduletest.Run(t, Module, map[string]any{"bundle": site.Bundle, "storage_dir": site.Storage, "dest": dest})
		if out["failed"] != true || !strings.Contains(out["msg"].(string), "inside") {
			t.Errorf("%s: %s", dest, raw)
		}
		if _, err := os.Stat(dest); !os.IsNotExist(err) {
			t.Errorf("%s was written", dest)
		}
	}
	dest := filepath.Join(site.Bundle, ".airgap", sitestate.FileName)
	if out, raw := moduletest.Run(t, Module, map[string]any{"bundle": site.Bundle, "storage_dir": site.Storage, "dest": dest}); out["changed"] != true {
		t.Errorf("the bundle's private folder: %s", raw)
	}
}

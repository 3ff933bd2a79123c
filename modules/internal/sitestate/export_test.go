package sitestate_test

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/sitestate"
	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/sitestate/sitestatetest"
	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/verified"
)

func export(t *testing.T, opts sitestate.ExportOptions) *sitestate.State {
	t.Helper()
	s, err := sitestate.Export(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func recorded(t *testing.T, p string) bool {
	t.Helper()
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	_, ok := verified.Lookup(p, fi)
	return ok
}

func same(t *testing.T, what string, got, want any) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s =\n%+v\nwant\n%+v", what, got, want)
	}
}

// An export of a site lists every served file with its digest (a dot file and symbolic links
// left out, their targets never read), every tag of the registry's storage with its digest,
// platforms and bundle reference, every blob of the storage, the OS repositories' packages and
// the manifest's view; it writes nothing into the site (check: not even a digest record), and
// the file it marshals to loads back to the same lookups.
func TestExportDescribesTheSite(t *testing.T) {
	site := sitestatetest.New(t)
	before := sitestatetest.Snapshot(t, site.Bundle, site.Storage)
	at := time.Date(2026, 11, 28, 9, 0, 0, 0, time.FixedZone("CET", 3600))
	s := export(t, sitestate.ExportOptions{Bundle: site.Bundle, StorageDir: site.Storage, Site: "dc1",
		CollectionVersion: "0.1.0", Concurrency: 2, Check: true, Now: func() time.Time { return at }})
	same(t, "files", s.Files, site.Files)
	same(t, "images", s.Images, site.Images)
	same(t, "blobs", s.Blobs, site.Blobs)
	same(t, "packages", s.Packages, site.Packages)
	same(t, "views", s.Views, []sitestate.View{{Name: "kube-1.35.4", KubeVersion: "1.35.4"}})
	if s.Created != "2026-11-28T08:00:00Z" || s.Site != "dc1" || s.CollectionVersion != "0.1.0" || s.Schema != sitestate.Schema {
		t.Errorf("created %q, site %q, collection %q, schema %q", s.Created, s.Site, s.CollectionVersion, s.Schema)
	}
	same(t, "the site after a check export", sitestatetest.Snapshot(t, site.Bundle, site.Storage), before)
	kubelet := filepath.Join(site.Bundle, "files", site.Files[0].Path)
	if recorded(t, kubelet) {
		t.Error("a check export recorded a digest")
	}

	// A real export records the digests it read (beside the files, no byte of them changed).
	export(t, sitestate.ExportOptions{Bundle: site.Bundle, StorageDir: site.Storage})
	same(t, "the site after an export", sitestatetest.Snapshot(t, site.Bundle, site.Storage), before)
	if !recorded(t, kubelet) {
		t.Log("extended attributes are not supported here: no digest record to check")
	}

	b, err := s.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), "secret") || strings.Contains(string(b), ".partial") {
		t.Errorf("the state names a file left out:\n%s", b)
	}
	p := filepath.Join(t.TempDir(), sitestate.FileName)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	loaded, digest, err := sitestate.Load(p)
	if err != nil || digest != sitestate.Digest(b) {
		t.Fatalf("load: %v %s", err, digest)
	}
	if img, ok := loaded.Image("calico/node:v3.31.5"); !ok || img.Digest != site.Images[0].Digest ||
		!loaded.HasBlob(site.Blobs[0]) || !loaded.HasFile(site.Files[0].Path, site.Files[0].SHA256) {
		t.Errorf("lookups of the loaded state: %+v", img)
	}
}

// With no storage (a remote registry), the images and blobs are the bundle's layout's, under
// the names the mirror pushes them to (a pull's partial blob is none).
func TestExportRemoteRegistryReadsTheLayout(t *testing.T) {
	site := sitestatetest.New(t)
	if err := os.WriteFile(filepath.Join(site.Bundle, "images", "blobs", "sha256", ".partial-123"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	s := export(t, sitestate.ExportOptions{Bundle: site.Bundle, Check: true})
	same(t, "images", s.Images, site.Images)
	same(t, "blobs", s.Blobs, site.Blobs)
	same(t, "files", s.Files, site.Files)
}

// The manifest's views, when it lists them, are the state's; a view without a name gets one.
func TestExportViewsFromTheManifest(t *testing.T) {
	dir := t.TempDir()
	m := "version: 1\nkube_version: 1.35.4\ncollection_version: 0.2.0\nviews:\n" +
		"  - {name: v2.30.0, kubespray_version: v2.30.0, kube_version: 1.34.2}\n" +
		"  - {kubespray_version: v2.31.0, kube_version: 1.35.4}\n"
	if err := os.WriteFile(filepath.Join(dir, "manifest.yaml"), []byte(m), 0o644); err != nil {
		t.Fatal(err)
	}
	s := export(t, sitestate.ExportOptions{Bundle: dir, CollectionVersion: "0.1.0"})
	same(t, "views", s.Views, []sitestate.View{
		{Name: "v2.30.0", KubesprayVersion: "v2.30.0", KubeVersion: "1.34.2"},
		{Name: "v2.31.0", KubesprayVersion: "v2.31.0", KubeVersion: "1.35.4"},
	})
	if s.CollectionVersion != "0.2.0" || len(s.Files)+len(s.Images)+len(s.Blobs)+len(s.Packages) != 0 {
		t.Errorf("an empty bundle: %+v", s)
	}
}

// An OS repository whose index names a file outside it is refused, naming the repository.
func TestExportRefusesAPackageOutsideItsRepository(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "files", "debs", "ubuntu-24.04", "Packages")
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte("Package: x\nVersion: 1\nFilename: ../../../etc/passwd\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := sitestate.Export(context.Background(), sitestate.ExportOptions{Bundle: dir})
	if err == nil || !strings.Contains(err.Error(), "debs/ubuntu-24.04") || !strings.Contains(err.Error(), "../../../etc/passwd") {
		t.Errorf("err = %v", err)
	}
}

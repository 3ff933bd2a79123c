package imagepullmod

import (
	"reflect"
	"testing"
)

// --list reads a manifest.yaml of several views (docs/day-two.md): the images of every view, each
// as pulling takes it; the views keys, top-level and per item, are the manifest's, not pull's.
func TestListReadsAManifestOfSeveralViews(t *testing.T) {
	doc := `version: 1
kube_version: 1.35.4
views:
  - {name: kubespray-2.30.0-k8s-1.34.3, kubespray_version: 2.30.0, kube_version: 1.34.3, arches: [amd64]}
  - {name: kubespray-2.31.0-k8s-1.35.4, kubespray_version: 2.31.0, kube_version: 1.35.4, arches: [amd64]}
files: []
images:
  - {name: pause, source: registry.k8s.io/pause:3.10, origin: downloads, views: [kubespray-2.30.0-k8s-1.34.3, kubespray-2.31.0-k8s-1.35.4]}
  - {name: coredns, source: registry.k8s.io/coredns/coredns:v1.12.1, digest: "sha256:aa", views: [kubespray-2.31.0-k8s-1.35.4]}
`
	got, err := listFile.Parse([]byte(doc))
	want := []any{map[string]any{"source": "registry.k8s.io/pause:3.10"},
		map[string]any{"source": "registry.k8s.io/coredns/coredns:v1.12.1", "digest": "sha256:aa"}}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v, %v; want %v", got, err, want)
	}
}

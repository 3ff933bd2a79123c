package scan_test

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/imagename"
	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/scan"
)

const install = `apiVersion: v1
kind: ServiceAccount
metadata: {name: argocd}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: argocd-server}
spec:
  template:
    spec:
      initContainers:
        - name: copyutil
          image: quay.io/argoproj/argocd:v3.2.1
      containers:
        - name: server
          image: quay.io/argoproj/argocd:v3.2.1
        - name: dex
          image: ghcr.io/dexidp/dex:v2.44.0
---
apiVersion: batch/v1
kind: CronJob
metadata: {name: cleanup}
spec:
  jobTemplate:
    spec:
      template:
        spec:
          containers:
            - name: redis
              image: redis:8.2.2-alpine
            - name: pinned
              image: public.ecr.aws/docker/library/busybox@sha256:0000000000000000000000000000000000000000000000000000000000000000
---
# not a container: an image field elsewhere is not an image Kubernetes pulls
kind: ConfigMap
data: {image: not/an:image}
`

func write(t *testing.T, dir, name, body string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestManifestImages(t *testing.T) {
	dir := t.TempDir()
	path := write(t, dir, "install.yaml", install)
	rep, err := scan.Scan(context.Background(), []scan.Source{{Name: "argocd_install", Path: path, Kind: scan.Manifest}},
		scan.Options{Mapping: imagename.Mapping{Mode: imagename.Strip}})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]scan.Image{}
	for _, img := range rep.Images {
		got[img.Source] = img
	}
	want := map[string]string{ // source -> target
		"quay.io/argoproj/argocd:v3.2.1":       "argoproj/argocd",
		"ghcr.io/dexidp/dex:v2.44.0":           "dexidp/dex",
		"docker.io/library/redis:8.2.2-alpine": "library/redis",
		"public.ecr.aws/docker/library/busybox@sha256:0000000000000000000000000000000000000000000000000000000000000000": "public.ecr.aws/docker/library/busybox",
	}
	if len(got) != len(want) {
		t.Fatalf("images %v, want %v", keys(got), want)
	}
	for source, target := range want {
		img, ok := got[source]
		if !ok {
			t.Fatalf("%s not found; got %v", source, keys(got))
		}
		if img.Target != target || img.Kind != scan.Manifest || !reflect.DeepEqual(img.FoundIn, []string{"argocd_install"}) {
			t.Errorf("%s: %+v", source, img)
		}
	}
	if img := got["public.ecr.aws/docker/library/busybox@sha256:0000000000000000000000000000000000000000000000000000000000000000"]; img.Tag != "" || img.Digest == "" {
		t.Errorf("a digest-only reference keeps its digest and no tag: %+v", img)
	}
	if name := got["quay.io/argoproj/argocd:v3.2.1"].Name; name != "argocd" {
		t.Errorf("name %q", name)
	}
	if len(rep.Failed()) != 0 {
		t.Errorf("failed: %+v", rep.Failed())
	}
}

func TestBadSourcesAreNamedAndTheRestScanned(t *testing.T) {
	dir := t.TempDir()
	good := write(t, dir, "good.yaml", install)
	bad := write(t, dir, "bad.yaml", "kind: Pod\nspec: {containers: [\n")
	rep, err := scan.Scan(context.Background(), []scan.Source{
		{Name: "broken", Path: bad, Kind: scan.Manifest},
		{Name: "missing", Path: filepath.Join(dir, "nope.yaml"), Kind: scan.Manifest},
		{Name: "argocd_install", Path: good, Kind: scan.Manifest},
	}, scan.Options{})
	if err != nil {
		t.Fatal(err)
	}
	failed := rep.Failed()
	if len(failed) != 2 || failed[0].Name != "broken" || failed[1].Name != "missing" {
		t.Fatalf("failed %+v", failed)
	}
	for _, f := range failed {
		if !strings.Contains(f.Msg, f.Name) || !strings.Contains(f.Msg, f.Path) {
			t.Errorf("message does not name the source: %q", f.Msg)
		}
	}
	if len(rep.Images) != 4 {
		t.Errorf("the good source is still scanned: %d images", len(rep.Images))
	}
}

func TestChartWithoutHelm(t *testing.T) {
	_, err := scan.Scan(context.Background(), []scan.Source{{Name: "c", Path: "c.tgz", Kind: scan.Chart}}, scan.Options{})
	if err == nil || !strings.Contains(err.Error(), "needs helm") {
		t.Fatalf("err %v", err)
	}
}

// A chart whose operator image helper appends -generic to the repository, as cilium's does
// (templates/cilium-operator/_helpers.tpl), with a component behind a value.
var chart = map[string]string{
	"standin/Chart.yaml":  "apiVersion: v2\nname: standin\nversion: 1.19.3\nappVersion: 1.19.3\n",
	"standin/values.yaml": "operator:\n  image:\n    repository: quay.io/cilium/operator\n    tag: v1.19.3\n    useDigest: true\n    digest: sha256:1111111111111111111111111111111111111111111111111111111111111111\nhubble:\n  relay:\n    enabled: false\n",
	"standin/templates/_helpers.tpl": `{{- define "operator.image" -}}
{{- $repo := printf "%s-generic" .Values.operator.image.repository -}}
{{- if .Values.operator.image.useDigest -}}
{{ $repo }}:{{ .Values.operator.image.tag }}@{{ .Values.operator.image.digest }}
{{- else -}}
{{ $repo }}:{{ .Values.operator.image.tag }}
{{- end -}}
{{- end -}}`,
	"standin/templates/operator.yaml": `apiVersion: apps/v1
kind: Deployment
metadata: {name: cilium-operator}
spec:
  template:
    spec:
      containers:
        - name: operator
          image: {{ include "operator.image" . | quote }}
`,
	"standin/templates/relay.yaml": `{{- if .Values.hubble.relay.enabled }}
apiVersion: apps/v1
kind: Deployment
metadata: {name: hubble-relay}
spec:
  template:
    spec:
      containers:
        - name: relay
          image: quay.io/cilium/hubble-relay:v1.19.3
{{- end }}
`,
}

func packChart(t *testing.T, dir string) string {
	t.Helper()
	p := filepath.Join(dir, "standin-1.19.3.tgz")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	gz := gzip.NewWriter(f)
	tw := tar.NewWriter(gz)
	for name, body := range chart {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(body)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(body)); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []interface{ Close() error }{tw, gz, f} {
		if err := c.Close(); err != nil {
			t.Fatal(err)
		}
	}
	return p
}

// helm is the real helm (tests/lib/tools.sh helm builds it from the Go module proxy; the
// Makefile's test-go passes it in AIRGAP_HELM).
func helm(t *testing.T) string {
	h := os.Getenv("AIRGAP_HELM")
	if h == "" {
		t.Skip("AIRGAP_HELM is not set (make test-go sets it from tests/lib/tools.sh helm)")
	}
	return h
}

func TestChartRenderedWithValues(t *testing.T) {
	h := helm(t)
	dir := t.TempDir()
	tgz := packChart(t, dir)
	src := scan.Source{Name: "cilium_helm_chart", Path: tgz, Kind: scan.Chart}
	rep, err := scan.Scan(context.Background(), []scan.Source{src}, scan.Options{Helm: h, KubeVersion: "v1.35.4"})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Images) != 1 || rep.Images[0].Source != "quay.io/cilium/operator-generic:v1.19.3" ||
		rep.Images[0].Digest == "" || rep.Images[0].Kind != scan.Chart {
		t.Fatalf("defaults: %+v (failed %+v)", rep.Images, rep.Failed())
	}
	src.Values = map[string]any{"operator": map[string]any{"image": map[string]any{"useDigest": false}},
		"hubble": map[string]any{"relay": map[string]any{"enabled": true}}}
	rep, err = scan.Scan(context.Background(), []scan.Source{src}, scan.Options{Helm: h})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, img := range rep.Images {
		got = append(got, img.Source+"@"+img.Digest)
	}
	want := []string{"quay.io/cilium/hubble-relay:v1.19.3@", "quay.io/cilium/operator-generic:v1.19.3@"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("with values: %v, want %v", got, want)
	}
}

func TestHelmFromReleaseTarball(t *testing.T) {
	h := helm(t)
	dir := t.TempDir()
	body, err := os.ReadFile(h)
	if err != nil {
		t.Fatal(err)
	}
	tarball := filepath.Join(dir, "helm-v3.22.0-linux-amd64.tar.gz")
	f, _ := os.Create(tarball)
	gz := gzip.NewWriter(f)
	tw := tar.NewWriter(gz)
	_ = tw.WriteHeader(&tar.Header{Name: "linux-amd64/helm", Mode: 0o755, Size: int64(len(body)), Typeflag: tar.TypeReg})
	_, _ = tw.Write(body)
	_ = tw.Close()
	_ = gz.Close()
	_ = f.Close()
	rep, err := scan.Scan(context.Background(), []scan.Source{{Name: "c", Path: packChart(t, dir), Kind: scan.Chart}},
		scan.Options{Helm: tarball, TempDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Images) != 1 {
		t.Fatalf("%+v %+v", rep.Images, rep.Failed())
	}
	left, _ := filepath.Glob(filepath.Join(dir, "airgap-helm*"))
	if len(left) != 0 {
		t.Errorf("scratch files left behind: %v", left)
	}
}

func keys(m map[string]scan.Image) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

package verify_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/regclient"
	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/verify"
)

func TestCheckNamesWhatIsMissingOrWrong(t *testing.T) {
	files := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/github.com/kubelet" {
			_, _ = io.WriteString(w, "kubelet")
			return
		}
		http.NotFound(w, r)
	}))
	defer files.Close()
	reg := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	defer reg.Close()
	host := strings.TrimPrefix(reg.URL, "http://")
	img, _ := random.Image(1024, 1)
	cf, _ := img.ConfigFile()
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", "amd64"
	img, _ = mutate.ConfigFile(img, cf)
	ref, _ := name.ParseReference(host + "/pause:3.10")
	if err := remote.Write(ref, img); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte("kubelet"))
	client, _ := regclient.New(regclient.Options{})
	results := verify.Check(context.Background(), []verify.File{
		{Name: "kubelet", URL: files.URL + "/github.com/kubelet", Checksum: "sha256:" + hex.EncodeToString(sum[:])},
		{Name: "kubeadm", URL: files.URL + "/github.com/kubeadm"},
		{Name: "kubectl", URL: files.URL + "/github.com/kubelet", Checksum: strings.Repeat("0", 64)},
	}, []verify.Image{
		{Name: "pause", Ref: host + "/pause:3.10", Platforms: []string{"linux/amd64"}},
		{Name: "coredns", Ref: host + "/coredns/coredns:v1.12"},
		{Name: "pause-arm", Ref: host + "/pause:3.10", Platforms: []string{"linux/amd64", "linux/arm64"}},
	}, verify.Options{HTTP: http.DefaultClient, Registry: client})
	want := map[string]string{"kubelet": "", "kubeadm": "404", "kubectl": "Kubespray expects sha256:000",
		"pause": "", "coredns": "not in the registry", "pause-arm": "no image for linux/arm64"}
	for _, r := range results {
		w := want[r.Name]
		if (w == "") != r.OK || !strings.Contains(r.Detail, w) {
			t.Errorf("%s: ok=%v detail=%q, want %q", r.Name, r.OK, r.Detail, w)
		}
	}
}

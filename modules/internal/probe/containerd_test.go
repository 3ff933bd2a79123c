package probe_test

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/probe"
)

// crictlPath finds crictl: $AIRGAP_CRICTL, PATH, then a build cached in
// ${AIRGAP_CACHE:-/var/cache/airgap-kubespray}/tools/crictl-<version>/.
func crictlPath() string {
	if p := os.Getenv("AIRGAP_CRICTL"); p != "" {
		return p
	}
	if p, err := exec.LookPath("crictl"); err == nil {
		return p
	}
	cache := os.Getenv("AIRGAP_CACHE")
	if cache == "" {
		cache = "/var/cache/airgap-kubespray"
	}
	found, _ := filepath.Glob(filepath.Join(cache, "tools", "crictl-*", "crictl"))
	if len(found) > 0 {
		return found[len(found)-1]
	}
	return ""
}

// onlyOnPath leaves just the given tools on PATH (links in a folder of their own).
func onlyOnPath(t *testing.T, tools map[string]string) {
	t.Helper()
	dir := t.TempDir()
	for n, p := range tools {
		if err := os.Symlink(p, filepath.Join(dir, n)); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("PATH", dir)
}

// A containerd of the test's own, with its CRI plugin reading hosts.toml files from the
// scratch node's /etc/containerd/certs.d, and a registry behind TLS with a CA of its own:
// the image resolves through the hosts.toml that names the CA, and fails without it.
func TestContainerd(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("containerd needs root")
	}
	ctrd, err := exec.LookPath("containerd")
	if err != nil {
		t.Skip("no containerd on this host")
	}
	ctr, err := exec.LookPath("ctr")
	if err != nil {
		t.Skip("no ctr on this host")
	}
	reg, caPEM := tlsServer(t, registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	host := strings.TrimPrefix(reg.URL, "https://")
	image := host + "/pause:3.10"
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM([]byte(caPEM))
	ref, err := name.ParseReference(image)
	if err != nil {
		t.Fatal(err)
	}
	img, err := random.Image(512, 1)
	if err != nil {
		t.Fatal(err)
	}
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}
	if err := remote.Write(ref, img, remote.WithTransport(tr)); err != nil {
		t.Fatal(err)
	}

	root := node(t, "debian", "12")
	ca := write(t, root, "etc/containerd/certs.d/airgap-kubespray-ca.pem", caPEM)
	// Kubespray's hosts.toml.j2 for offline.yml's containerd_registries_mirrors; the CA path is
	// the host's path of the node's file (containerd reads it as written).
	hostsToml := func(withCA bool) {
		s := fmt.Sprintf("server = %q\n[host.%q]\n  capabilities = [\"pull\",\"resolve\"]\n  skip_verify = false\n  override_path = false\n", reg.URL, reg.URL)
		if withCA {
			s += fmt.Sprintf("  ca = [%q]\n", ca)
		}
		write(t, root, "etc/containerd/certs.d/"+host+"/hosts.toml", s)
	}
	hostsToml(true)

	state := t.TempDir()
	sock := filepath.Join(root, "run/containerd/containerd.sock")
	config := write(t, state, "config.toml", fmt.Sprintf(`version = 2
root = %q
state = %q
disabled_plugins = ["io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs",
  "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.aufs", "io.containerd.tracing.processor.v1.otlp"]
[grpc]
  address = %q
[ttrpc]
  address = "%s.ttrpc"
[debug]
  address = %q
[metrics]
  address = ""
[plugins."io.containerd.internal.v1.opt"]
  path = %q
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = %q
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "native"
  [plugins."io.containerd.grpc.v1.cri".registry]
    config_path = %q
`, filepath.Join(state, "root"), filepath.Join(state, "state"), sock, sock, filepath.Join(state, "debug.sock"),
		filepath.Join(state, "opt"), image, filepath.Join(root, "etc/containerd/certs.d")))
	logf, err := os.Create(filepath.Join(state, "containerd.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(ctrd, "--config", config)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
		}
		logf.Close()
	})
	for i := 0; ; i++ {
		if out, err := exec.Command(ctr, "--address", sock, "version").CombinedOutput(); err == nil {
			break
		} else if i == 100 {
			text, _ := os.ReadFile(logf.Name())
			t.Fatalf("containerd did not start: %v %s\n%s", err, out, text)
		}
		time.Sleep(100 * time.Millisecond)
	}

	pull := func() probe.Result {
		return one(t, probe.Options{Root: root, Probes: []string{probe.Containerd}, Image: image})
	}
	via := "through /etc/containerd/certs.d/" + host + "/hosts.toml"
	t.Run("ctr, without crictl", func(t *testing.T) {
		onlyOnPath(t, map[string]string{"ctr": ctr})
		r := pull()
		expect(t, r, probe.OK, "resolved "+image+" and fetched its manifest with ctr --hosts-dir", via)
		hostsToml(false)
		defer hostsToml(true)
		expect(t, pull(), probe.Failed, "certificate signed by unknown authority", via)
	})
	t.Run("crictl, through containerd's CRI", func(t *testing.T) {
		crictl := crictlPath()
		if crictl == "" {
			t.Skip("no crictl on this host (set AIRGAP_CRICTL, or build it into $AIRGAP_CACHE/tools/crictl-<version>/)")
		}
		onlyOnPath(t, map[string]string{"crictl": crictl})
		r := pull()
		expect(t, r, probe.OK, "pulled "+image+" through containerd's CRI, as kubelet does", via, "removed again")
		ep := "unix://" + sock
		if err := exec.Command(crictl, "-r", ep, "-i", ep, "inspecti", image).Run(); err == nil {
			t.Errorf("%s is still in containerd's store after the probe", image)
		}
		// An image the node already had stays.
		if out, err := exec.Command(crictl, "-r", ep, "-i", ep, "pull", image).CombinedOutput(); err != nil {
			t.Fatalf("crictl pull: %v\n%s", err, out)
		}
		r = pull()
		expect(t, r, probe.OK, "pulled "+image)
		if strings.Contains(r.Detail, "removed") {
			t.Errorf("an image the node had was removed: %s", r.Detail)
		}
		if err := exec.Command(crictl, "-r", ep, "-i", ep, "inspecti", image).Run(); err != nil {
			t.Errorf("%s is gone from containerd's store after the probe: %v", image, err)
		}
		hostsToml(false)
		defer hostsToml(true)
		expect(t, pull(), probe.Failed, "certificate signed by unknown authority", via)
	})
}

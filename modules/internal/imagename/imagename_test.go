package imagename_test

import (
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/imagename"
)

func TestNormalize(t *testing.T) {
	for in, want := range map[string]string{
		"nginx":                                "docker.io/library/nginx:latest",
		"nginx:1.28":                           "docker.io/library/nginx:1.28",
		"calico/node:v3":                       "docker.io/calico/node:v3",
		"index.docker.io/library/nginx:1":      "docker.io/library/nginx:1",
		"registry.k8s.io/pause:3.10":           "registry.k8s.io/pause:3.10",
		"127.0.0.1:5000/a/b@sha256:abc":        "127.0.0.1:5000/a/b@sha256:abc",
		"localhost/x:1":                        "localhost/x:1",
		"quay.io/cilium/cilium:v1.19@sha256:1": "quay.io/cilium/cilium:v1.19@sha256:1",
	} {
		if got, err := imagename.Normalize(in); err != nil || got != want {
			t.Errorf("Normalize(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "a b", "Upper/Case:1", "docker.io/", "a//b",
		// Names that would put a request outside /v2/<name>/ (issue 12, low items).
		"../../../etc/passwd:x", "reg.io/../../x:1", "reg.io/a/..:1", "reg.io/.hidden:1", "reg.io/a?b=c:1",
		"reg.io/a#b", "reg.io/a%2e%2e/b", "reg.io/a:../../x", "reg.io/a:t@sha256:../x", "reg.io/a@sha256:zz",
		"-bad.io/x:1", "reg.io/a:" + strings.Repeat("t", 129), "reg.io/" + strings.Repeat("a", 250)} {
		got, err := imagename.Normalize(bad)
		if !errors.Is(err, imagename.ErrInvalid) {
			t.Errorf("Normalize(%q) = %q, %v; want ErrInvalid", bad, got, err)
		} else if bad != "" && !strings.Contains(err.Error(), strconv.Quote(strings.TrimSpace(bad))) {
			t.Errorf("Normalize(%q): error %q does not name the reference", bad, err)
		}
		if _, err := (imagename.Mapping{}).Target("reg.local:35000", bad); err == nil {
			t.Errorf("Target(%q) accepted", bad)
		}
	}
}

func TestTarget(t *testing.T) {
	const reg = "reg.local:35000"
	for _, tc := range []struct {
		m         imagename.Mapping
		src, want string
	}{
		{imagename.Mapping{}, "registry.k8s.io/kube-apiserver:v1.35.4", reg + "/kube-apiserver:v1.35.4"},
		{imagename.Mapping{}, "registry.k8s.io/coredns/coredns:v1.12.4", reg + "/coredns/coredns:v1.12.4"},
		{imagename.Mapping{}, "nginx:1.28", reg + "/library/nginx:1.28"},
		{imagename.Mapping{}, "quay.io/calico/node:v3.31.5", reg + "/calico/node:v3.31.5"},
		{imagename.Mapping{}, "ghcr.io/k8snetworkplumbingwg/multus-cni:v4", reg + "/k8snetworkplumbingwg/multus-cni:v4"},
		{imagename.Mapping{}, "registry.example.com/team/app:1", reg + "/registry.example.com/team/app:1"},
		{imagename.Mapping{StripHosts: []string{"registry.example.com"}}, "registry.example.com/team/app:1", reg + "/team/app:1"},
		{imagename.Mapping{Mode: imagename.Keep}, "quay.io/calico/node:v3", reg + "/quay.io/calico/node:v3"},
		{imagename.Mapping{Namespace: "kubespray"}, "registry.k8s.io/pause:3.10", reg + "/kubespray/pause:3.10"},
		{imagename.Mapping{Mode: imagename.Keep, Namespace: "/p/"}, "nginx:1", reg + "/p/docker.io/library/nginx:1"},
		{imagename.Mapping{}, "quay.io/cilium/cilium:v1@sha256:aa", reg + "/cilium/cilium:v1@sha256:aa"},
	} {
		if got, err := tc.m.Target(reg, tc.src); err != nil || got != tc.want {
			t.Errorf("%+v.Target(%q) = %q, %v; want %q", tc.m, tc.src, got, err, tc.want)
		}
	}
	if _, err := (imagename.Mapping{Mode: "flatten"}).Target(reg, "nginx"); err == nil {
		t.Error("an unknown mode was accepted")
	}
}

func TestTargetsCollide(t *testing.T) {
	_, err := imagename.Mapping{}.Targets("r:1", []string{"docker.io/library/nginx:1", "quay.io/library/nginx:1", "nginx:1"})
	if err == nil || !strings.Contains(err.Error(), "docker.io/library/nginx:1 and quay.io/library/nginx:1 both map to r:1/library/nginx:1") {
		t.Fatalf("err = %v", err)
	}
	got, err := imagename.Mapping{Mode: imagename.Keep}.Targets("r:1", []string{"docker.io/library/nginx:1", "quay.io/library/nginx:1"})
	if err != nil || len(got) != 2 {
		t.Fatalf("keep: %v %v", got, err)
	}
}

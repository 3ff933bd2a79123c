package mirror_test

import (
	"testing"

	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/mirror"
)

func TestRewrite(t *testing.T) {
	ms := []mirror.Mirror{
		{Prefix: "docker.io", Replace: "127.0.0.1:5001/docker.io"},
		{Prefix: "docker.io/library", Replace: "cache.example/hub"},
		{Prefix: "", Replace: "ignored"},
	}
	for in, want := range map[string]string{
		"docker.io/library/nginx:1": "cache.example/hub/nginx:1", // the longest prefix wins
		"docker.io/calico/node:v3":  "127.0.0.1:5001/docker.io/calico/node:v3",
		"quay.io/calico/node:v3":    "quay.io/calico/node:v3",
	} {
		if got := mirror.Rewrite(in, ms); got != want {
			t.Errorf("Rewrite(%q) = %q, want %q", in, got, want)
		}
	}
}

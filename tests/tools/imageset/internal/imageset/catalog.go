package imageset

import (
	"crypto/sha256"
	"encoding/binary"
	"strings"
)

// Sizes below are compressed (registry, wire and bundle) sizes in MB at scale 1. The generator
// writes about twice as many bytes uncompressed: layer payloads are text over a 16-letter
// alphabet, which gzip (or zstd) compresses to just over half and no further.

// base is a layer shared by several images.
type base struct {
	name string
	mb   float64
}

// Bases, bottom first when an image stacks several.
var bases = map[string]base{
	"distroless-static": {"distroless-static", 2},
	"go-runner":         {"go-runner", 1.5},
	"debian-base":       {"debian-base", 29},
	"debian-iptables":   {"debian-iptables", 9},
	"calico-base":       {"calico-base", 21},
	"ubuntu":            {"ubuntu", 30},
	"alpine":            {"alpine", 3.5},
}

// profile is the shape of an image: its shared bases and the sizes of its own layers.
type profile struct {
	bases []string
	own   []float64
}

// builtin is the default image list: Kubespray-like names with the profile of each.
var builtin = []struct {
	ref string
	profile
}{
	{"registry.k8s.io/kube-apiserver:v1.35.4", profile{[]string{"distroless-static", "go-runner"}, []float64{33}}},
	{"registry.k8s.io/kube-controller-manager:v1.35.4", profile{[]string{"distroless-static", "go-runner"}, []float64{30}}},
	{"registry.k8s.io/kube-scheduler:v1.35.4", profile{[]string{"distroless-static", "go-runner"}, []float64{20}}},
	{"registry.k8s.io/kube-proxy:v1.35.4", profile{[]string{"debian-base", "debian-iptables", "go-runner"}, []float64{14}}},
	{"registry.k8s.io/pause:3.10.1", profile{nil, []float64{0.3}}},
	{"registry.k8s.io/coredns/coredns:v1.12.1", profile{[]string{"distroless-static"}, []float64{23}}},
	{"quay.io/coreos/etcd:v3.5.25", profile{[]string{"distroless-static"}, []float64{25, 0.5}}},
	{"quay.io/calico/node:v3.31.5", profile{[]string{"calico-base"}, []float64{165, 14}}},
	{"quay.io/calico/cni:v3.31.5", profile{[]string{"calico-base"}, []float64{95, 4}}},
	{"quay.io/calico/kube-controllers:v3.31.5", profile{[]string{"calico-base"}, []float64{36}}},
	{"quay.io/calico/typha:v3.31.5", profile{[]string{"calico-base"}, []float64{32}}},
	{"quay.io/cilium/cilium:v1.18.4", profile{[]string{"ubuntu"}, []float64{160, 65}}},
	{"quay.io/cilium/operator:v1.18.4", profile{[]string{"distroless-static"}, []float64{45}}},
	{"docker.io/library/nginx:1.28.2-alpine", profile{[]string{"alpine"}, []float64{9, 1.5}}},
	{"docker.io/library/registry:2.8.3", profile{[]string{"alpine"}, []float64{7, 0.3}}},
	{"registry.k8s.io/dns/k8s-dns-node-cache:1.26.4", profile{[]string{"debian-base", "debian-iptables"}, []float64{17}}},
	{"registry.k8s.io/cpa/cluster-proportional-autoscaler:v1.10.2", profile{[]string{"distroless-static"}, []float64{13}}},
	{"registry.k8s.io/metrics-server/metrics-server:v0.8.0", profile{[]string{"distroless-static"}, []float64{22}}},
	{"registry.k8s.io/ingress-nginx/controller:v1.13.3", profile{[]string{"alpine"}, []float64{90, 50, 4}}},
	{"ghcr.io/k8snetworkplumbingwg/multus-cni:v4.2.2", profile{[]string{"debian-base"}, []float64{50}}},
	{"docker.io/flannel/flannel:v0.27.3", profile{[]string{"alpine"}, []float64{26, 6}}},
	{"docker.io/flannel/flannel-cni-plugin:v1.7.1-flannel1", profile{[]string{"alpine"}, []float64{4}}},
}

// registryLatest is the extra image contrib/offline saves as registry-latest.tar.
const registryLatest = "registry:latest"

// Builtin returns the default image list (22 Kubespray-like references).
func Builtin() []string {
	refs := make([]string, len(builtin))
	for i, b := range builtin {
		refs[i] = b.ref
	}
	return refs
}

// profileFor returns the profile of the built-in image with the same repository path (host
// ignored), else of the built-in image with the same last path element, else a profile picked
// deterministically from the repository: one base and one to three own layers of 2 to 40 MB.
func profileFor(n Name) profile {
	path := strings.TrimPrefix(n.Repository, n.Host+"/")
	for _, b := range builtin {
		if bn, _ := ParseName(b.ref); strings.TrimPrefix(bn.Repository, bn.Host+"/") == path {
			return b.profile
		}
	}
	last := path[strings.LastIndex(path, "/")+1:]
	for _, b := range builtin {
		bn, _ := ParseName(b.ref)
		if bn.Repository[strings.LastIndex(bn.Repository, "/")+1:] == last {
			return b.profile
		}
	}
	h := sha256.Sum256([]byte("profile|" + n.Repository))
	r := binary.LittleEndian.Uint64(h[:8])
	var p profile
	switch r % 10 {
	case 0, 1, 2, 3, 4, 5:
		p.bases = []string{"distroless-static"}
	case 6, 7:
		p.bases = []string{"debian-base"}
	default:
		p.bases = []string{"alpine"}
	}
	r /= 10
	own := 1 + int(r%3)
	r /= 3
	for range own {
		p.own = append(p.own, 2+float64(r%39))
		r /= 39
	}
	return p
}

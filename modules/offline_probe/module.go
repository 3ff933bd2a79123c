// Package probemod is the airgap.kubespray.offline_probe module: the offline mirror as one
// node reaches it (files, packages, containerd), on top of modules/internal/probe.
package probemod

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/module"
	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/probe"
)

type args struct {
	Root             string   `json:"root"`
	Probes           []string `json:"probes"`
	FileURL          string   `json:"file_url"`
	FileChecksum     string   `json:"file_checksum"`
	DebianRepo       string   `json:"debian_repo"`
	UbuntuRepo       string   `json:"ubuntu_repo"`
	YumRepo          string   `json:"yum_repo"`
	Image            string   `json:"image"`
	ContainerdSocket string   `json:"containerd_socket"`
	ContainerdHosts  string   `json:"containerd_hosts_dir"`
	Timeout          int      `json:"timeout"`
}

func run(ctx context.Context, inv *module.Invocation) (*module.Result, error) {
	var a args
	if err := inv.Decode(&a); err != nil {
		return nil, err
	}
	// Read-only, so check mode runs every probe too.
	results := probe.Run(ctx, probe.Options{
		Root: a.Root, Probes: a.Probes,
		File:  probe.File{URL: a.FileURL, Checksum: a.FileChecksum},
		Repos: probe.Repos{Debian: a.DebianRepo, Ubuntu: a.UbuntuRepo, Yum: a.YumRepo},
		Image: a.Image, ContainerdSocket: a.ContainerdSocket, HostsDir: a.ContainerdHosts,
		Timeout: time.Duration(a.Timeout) * time.Second,
	})
	bad := probe.FailedOf(results)
	var parts []string
	for _, r := range results {
		parts = append(parts, r.Probe+" "+r.Status)
	}
	msg := "the node reaches the mirror: " + strings.Join(parts, ", ")
	if len(bad) > 0 {
		var lines []string
		for _, r := range bad {
			lines = append(lines, fmt.Sprintf("%s: %s", r.Probe, r.Detail))
		}
		msg = "the node cannot reach the mirror: " + strings.Join(lines, "; ")
	}
	return &module.Result{Failed: len(bad) > 0, Msg: msg, Data: map[string]any{
		"probes": results, "failed_probes": bad, "table": probe.Table(results), "root": a.Root,
	}}, nil
}

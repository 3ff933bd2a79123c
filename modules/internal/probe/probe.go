// Package probe checks the offline mirror from a node, the way Kubespray's run will reach it
// from there: one file through files_repo with the node's own trust store, the package index
// from the mirror's repository alone, and one image through containerd's hosts.toml.
//
// It changes nothing on the node: package indexes go to a temporary folder that is removed,
// and an image pulled only for the probe is removed again. Every path is read under Root, so
// a chroot or a scratch folder can stand in for a node.
package probe

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// Statuses of a probe.
const (
	OK      = "ok"
	Failed  = "FAILED"
	Skipped = "skipped"
)

// The probes, in the order they run.
const (
	Files      = "files"
	Packages   = "packages"
	Containerd = "containerd"
)

// All is every probe.
var All = []string{Files, Packages, Containerd}

// Result is one probe's outcome.
type Result struct {
	Probe   string   `json:"probe"`
	Status  string   `json:"status"`            // OK, Failed or Skipped
	Target  string   `json:"target,omitempty"`  // the URL, repository or image probed
	Detail  string   `json:"detail"`            // what was done, or why it failed or was skipped
	Command []string `json:"command,omitempty"` // the command run, for packages and containerd
}

// File is the download the files probe fetches.
type File struct {
	URL      string
	Checksum string // sha256:<hex> (or bare hex) as Kubespray expects it; empty: not compared
}

// Repos are the package repositories offline.yml names (Kubespray's debian_repo, ubuntu_repo,
// yum_repo). The node's mirror source must point at the one for its distribution.
type Repos struct {
	Debian string
	Ubuntu string
	Yum    string
}

// Options say what to probe. Zero values are the defaults noted.
type Options struct {
	Root             string        // the node's filesystem root; "" is "/"
	Probes           []string      // which probes to run; empty: All
	File             File          // files: empty URL skips the probe
	Repos            Repos         // packages
	Image            string        // containerd: the reference to pull; empty skips the probe
	ContainerdSocket string        // "" is /run/containerd/containerd.sock (under Root)
	HostsDir         string        // "" is /etc/containerd/certs.d (under Root)
	Timeout          time.Duration // per probe; if <= 0, a default (currently 60s) is used
}

// Run runs the probes one after the other and returns their results in the order of All.
func Run(ctx context.Context, o Options) []Result {
	if o.Root == "" {
		o.Root = "/"
	}
	if o.Timeout <= 0 {
		o.Timeout = 60 * time.Second
	}
	if o.ContainerdSocket == "" {
		o.ContainerdSocket = "/run/containerd/containerd.sock"
	}
	if o.HostsDir == "" {
		o.HostsDir = "/etc/containerd/certs.d"
	}
	want := map[string]bool{}
	for _, p := range o.Probes {
		want[p] = true
	}
	var out []Result
	for _, p := range All {
		if len(want) > 0 && !want[p] {
			continue
		}
		pctx, cancel := context.WithTimeout(ctx, o.Timeout)
		var r Result
		switch p {
		case Files:
			r = probeFile(pctx, o)
		case Packages:
			r = probePackages(pctx, o)
		case Containerd:
			r = probeContainerd(pctx, o)
		}
		cancel()
		r.Probe = p
		out = append(out, r)
	}
	return out
}

// FailedOf returns the failed results.
func FailedOf(results []Result) []Result {
	bad := []Result{}
	for _, r := range results {
		if r.Status == Failed {
			bad = append(bad, r)
		}
	}
	return bad
}

// Table renders results as aligned lines (probe, status, detail) under a header; each
// detail is kept to one line.
func Table(results []Result) []string {
	rows := [][3]string{{"PROBE", "STATUS", "DETAIL"}}
	for _, r := range results {
		rows = append(rows, [3]string{r.Probe, r.Status, strings.Join(strings.Fields(r.Detail), " ")})
	}
	w0, w1 := 0, 0
	for _, r := range rows {
		w0, w1 = max(w0, len(r[0])), max(w1, len(r[1]))
	}
	lines := make([]string, len(rows))
	for i, r := range rows {
		lines[i] = strings.TrimRight(fmt.Sprintf("%-*s  %-*s  %s", w0, r[0], w1, r[1], r[2]), " ")
	}
	return lines
}

// skipped and failed build results.
func skipped(target, format string, args ...any) Result {
	return Result{Status: Skipped, Target: target, Detail: fmt.Sprintf(format, args...)}
}

func failed(target, format string, args ...any) Result {
	return Result{Status: Failed, Target: target, Detail: fmt.Sprintf(format, args...)}
}

package probe

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// probeContainerd pulls one image the way kubelet does where containerd runs on the node:
// through containerd's CRI with crictl, so containerd's own registry configuration (its
// config_path, the hosts.toml Kubespray writes from containerd_registries_mirrors, the CA
// and headers there) decides where it goes. An image that was not there before is removed
// again. Without crictl, ctr resolves the image and fetches its manifest with --hosts-dir
// (the same hosts.toml and resolver, but not containerd's CRI configuration), storing nothing.
func probeContainerd(ctx context.Context, o Options) Result {
	sock := inRoot(o.Root, o.ContainerdSocket)
	fi, err := os.Stat(sock)
	if err != nil || fi.Mode()&os.ModeSocket == 0 {
		return skipped(o.Image, "containerd is not running on the node (no socket %s)", o.ContainerdSocket)
	}
	conn, err := (&net.Dialer{Timeout: 5 * time.Second}).DialContext(ctx, "unix", sock)
	if err != nil {
		return skipped(o.Image, "containerd is not running on the node (%s refuses connections)", o.ContainerdSocket)
	}
	conn.Close()
	if o.Image == "" {
		return skipped("", "no image to pull: the node evaluates no image")
	}
	via := hostsToml(o, registryOf(o.Image))
	if _, err := exec.LookPath("crictl"); err == nil {
		ep := "unix://" + sock
		base := []string{"crictl", "--runtime-endpoint", ep, "--image-endpoint", ep, "--timeout", o.Timeout.String()}
		// Listed before: kept. Not listed: removed after the pull. Unknown: kept.
		ids, lerr := stdout(ctx, append(base, "images", "-q", o.Image))
		absent := lerr == nil && strings.TrimSpace(ids) == ""
		argv := append(append([]string{}, base...), "pull", o.Image)
		out, err := run(ctx, argv)
		if err != nil {
			r := failed(o.Image, "crictl pull %s (containerd's CRI, as kubelet pulls; %s): %s", o.Image, via, errText(err, []string{fatalMsg(lastLines(out, 1))}))
			r.Command = argv
			return r
		}
		done := ""
		if absent {
			if _, err := run(ctx, append(base, "rmi", o.Image)); err == nil {
				done = "; removed again, as it was not there before"
			}
		}
		return Result{Status: OK, Target: o.Image, Command: argv,
			Detail: fmt.Sprintf("pulled %s through containerd's CRI, as kubelet does (%s)%s", o.Image, via, done)}
	}
	if _, err := exec.LookPath("ctr"); err == nil {
		argv := []string{"ctr", "--address", sock, "content", "fetch-object", "--hosts-dir", inRoot(o.Root, o.HostsDir), o.Image}
		out, err := run(ctx, argv)
		if err != nil {
			r := failed(o.Image, "ctr content fetch-object %s (%s): %s", o.Image, via, errText(err, []string{lastLines(out, 1)}))
			r.Command = argv
			return r
		}
		return Result{Status: OK, Target: o.Image, Command: argv,
			Detail: fmt.Sprintf("resolved %s and fetched its manifest with ctr --hosts-dir (%s); no crictl, so containerd's own CRI registry configuration is not exercised", o.Image, via)}
	}
	return skipped(o.Image, "containerd runs, but neither crictl nor ctr is on the node's PATH")
}

// fatalMsg takes the message out of a logrus line (crictl's errors): time=... level=fatal msg="...".
func fatalMsg(line string) string {
	if m := logrusMsg.FindStringSubmatch(line); m != nil {
		if s, err := strconv.Unquote(m[1]); err == nil {
			return s
		}
	}
	return line
}

var logrusMsg = regexp.MustCompile(`level=\w+ msg=("(?:[^"\\]|\\.)*")`)

// hostsToml says which hosts.toml containerd uses for registry.
func hostsToml(o Options, registry string) string {
	for _, d := range []string{registry, "_default"} {
		p := path.Join(o.HostsDir, d, "hosts.toml")
		if _, err := os.Stat(inRoot(o.Root, p)); err == nil {
			return "through " + p
		}
	}
	return fmt.Sprintf("no hosts.toml for %s in %s: containerd's defaults", registry, o.HostsDir)
}

// registryOf returns the registry host of an image reference (docker.io without one).
func registryOf(ref string) string {
	first, _, found := strings.Cut(ref, "/")
	if found && (strings.ContainsAny(first, ".:") || first == "localhost") {
		return first
	}
	return "docker.io"
}

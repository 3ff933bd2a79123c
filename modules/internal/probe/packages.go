package probe

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/repoconf"
)

// The files offline_repo_config writes (modules/internal/repoconf), as the node sees them.
const (
	aptSources = "/etc/apt/sources.list.d/airgap-kubespray.sources"
	aptList    = "/etc/apt/sources.list.d/airgap-kubespray.list"
	aptConf    = "/etc/apt/apt.conf.d/99airgap-kubespray"
	yumRepo    = "/etc/yum.repos.d/airgap-kubespray.repo"
)

// probePackages refreshes the package index from the mirror's repository alone (the source
// the repos playbook wrote), into a temporary folder: no other source can hide or fake the
// result, and the node's own index is left as it is.
func probePackages(ctx context.Context, o Options) Result {
	osr, err := repoconf.DetectOS(o.Root)
	if err != nil {
		return failed("", "%v", err)
	}
	tmp, err := os.MkdirTemp("", "airgap-probe-")
	if err != nil {
		return failed("", "%v", err)
	}
	defer os.RemoveAll(tmp)
	if osr.Family == repoconf.Apt {
		want := o.Repos.Debian
		if osr.ID == "ubuntu" {
			want = o.Repos.Ubuntu
		}
		return probeApt(ctx, o.Root, osr, want, tmp)
	}
	return probeDnf(ctx, o.Root, osr, o.Repos.Yum, tmp)
}

// source finds the mirror's source file; a missing one is a failure when offline.yml names
// a repository for this distribution, else the probe is skipped.
func source(root, tool string, candidates []string, want, varName string) (string, []byte, *Result) {
	for _, f := range candidates {
		if data, err := os.ReadFile(inRoot(root, f)); err == nil {
			return f, data, nil
		}
	}
	r := skipped("", "%s is not pointed at the mirror: no %s, and offline.yml sets no %s", tool,
		strings.Join(candidates, " or "), varName)
	if want != "" {
		r = failed(want, "offline.yml sets %s %s but the node has no %s: run the airgap.kubespray.repos playbook", varName, want,
			strings.Join(candidates, " or "))
	}
	return "", nil, &r
}

var (
	debLine      = regexp.MustCompile(`^\s*deb\s+(\[[^\]]*\]\s+)?(\S+)`)
	signedByOpt  = regexp.MustCompile(`(signed-by=)(/[^\s\]]+)`)
	signedByLine = regexp.MustCompile(`(?m)^(Signed-By:\s*)(/\S+)\s*$`)
	caInfoLine   = regexp.MustCompile(`(CaInfo\s+")(/[^"]+)(")`)
	aptProblem   = regexp.MustCompile(`^(E|W):`)
)

func probeApt(ctx context.Context, root string, osr repoconf.OS, want, tmp string) Result {
	varName := osr.ID + "_repo"
	file, data, res := source(root, "apt", []string{aptSources, aptList}, want, varName)
	if res != nil {
		return *res
	}
	var uris []string
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "URIs:"); ok {
			uris = append(uris, strings.Fields(v)...)
		} else if m := debLine.FindStringSubmatch(line); m != nil {
			uris = append(uris, m[2])
		}
	}
	if r := pointsAt(file, uris, want, varName); r != nil {
		return *r
	}
	target := strings.Join(uris, " ")
	// On a scratch root the key and CA paths in the source are the node's: read them from
	// under root, as apt on the node would.
	var conf []byte
	if root != "/" {
		data = signedByLine.ReplaceAllFunc(data, func(m []byte) []byte {
			s := signedByLine.FindSubmatch(m)
			return []byte(string(s[1]) + inRoot(root, string(s[2])))
		})
		data = signedByOpt.ReplaceAllFunc(data, func(m []byte) []byte {
			s := signedByOpt.FindSubmatch(m)
			return []byte(string(s[1]) + inRoot(root, string(s[2])))
		})
		if c, err := os.ReadFile(inRoot(root, aptConf)); err == nil {
			conf = caInfoLine.ReplaceAllFunc(c, func(m []byte) []byte {
				s := caInfoLine.FindSubmatch(m)
				return []byte(string(s[1]) + inRoot(root, string(s[2])) + string(s[3]))
			})
		}
	}
	list := filepath.Join(tmp, filepath.Base(file)) // apt reads .sources as deb822, .list one-line
	for _, d := range []string{"parts", "lists/partial"} {
		if err := os.MkdirAll(filepath.Join(tmp, d), 0o755); err != nil {
			return failed(target, "%v", err)
		}
	}
	if err := os.WriteFile(list, data, 0o644); err != nil {
		return failed(target, "%v", err)
	}
	argv := []string{"apt-get", "update", "-q",
		"-o", "Dir::Etc::SourceList=" + list, "-o", "Dir::Etc::SourceParts=" + filepath.Join(tmp, "parts"),
		"-o", "Dir::State::Lists=" + filepath.Join(tmp, "lists"),
		"-o", "Dir::Cache::pkgcache=", "-o", "Dir::Cache::srcpkgcache=",
		"-o", "APT::Get::List-Cleanup=0", "-o", "APT::Update::Error-Mode=any",
		"-o", "Acquire::Retries=0", "-o", "APT::Sandbox::User=root"}
	if conf != nil {
		if err := os.WriteFile(filepath.Join(tmp, "apt.conf"), conf, 0o644); err != nil {
			return failed(target, "%v", err)
		}
		argv = append(argv, "-c", filepath.Join(tmp, "apt.conf"))
	}
	out, err := run(ctx, argv)
	var problems, errs []string
	fetched := 0
	for _, line := range strings.Split(out, "\n") {
		line = strings.TrimSpace(line)
		switch {
		case aptProblem.MatchString(line) && !slices.Contains(problems, line):
			problems = append(problems, line)
		case strings.HasPrefix(line, "Err:") && !slices.Contains(errs, line):
			errs = append(errs, line)
		case strings.HasPrefix(line, "Get:") || strings.HasPrefix(line, "Hit:"):
			fetched++
		}
	}
	if len(problems) == 0 && err != nil {
		problems = errs // only when apt said nothing better
	}
	if err != nil || len(problems) > 0 {
		if len(problems) == 0 {
			problems = []string{lastLines(out, 3)}
		}
		r := failed(target, "apt-get update from %s (%s only): %s", target, file, errText(err, problems))
		r.Command = argv
		return r
	}
	trust := "signed"
	if bytes.Contains(data, []byte("Trusted: yes")) || bytes.Contains(data, []byte("trusted=yes")) {
		trust = "unsigned (trusted=yes)"
	}
	return Result{Status: OK, Target: target, Command: argv,
		Detail: fmt.Sprintf("apt-get update from %s (%s only, %s): %d index files", target, file, trust, fetched)}
}

func probeDnf(ctx context.Context, root string, osr repoconf.OS, want, tmp string) Result {
	file, data, res := source(root, "dnf", []string{yumRepo}, want, "yum_repo")
	if res != nil {
		return *res
	}
	var ids, urls []string
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]") {
			ids = append(ids, strings.Trim(line, "[]"))
		} else if k, v, ok := strings.Cut(line, "="); ok && strings.TrimSpace(k) == "baseurl" {
			urls = append(urls, strings.Fields(v)...)
		}
	}
	if r := pointsAt(file, urls, want, "yum_repo"); r != nil {
		return *r
	}
	target := strings.Join(urls, " ")
	if root != "/" {
		data = regexp.MustCompile(`file://(/\S+)`).ReplaceAllFunc(data, func(m []byte) []byte {
			return []byte("file://" + inRoot(root, strings.TrimPrefix(string(m), "file://")))
		})
		data = regexp.MustCompile(`(?m)^(sslcacert\s*=\s*)(/\S+)`).ReplaceAllFunc(data, func(m []byte) []byte {
			k, v, _ := strings.Cut(string(m), "=")
			return []byte(k + "=" + inRoot(root, strings.TrimSpace(v)))
		})
	}
	for _, d := range []string{"repos", "cache", "log", "persist"} {
		if err := os.MkdirAll(filepath.Join(tmp, d), 0o755); err != nil {
			return failed(target, "%v", err)
		}
	}
	if err := os.WriteFile(filepath.Join(tmp, "repos", filepath.Base(file)), data, 0o644); err != nil {
		return failed(target, "%v", err)
	}
	tool := "dnf"
	if _, err := exec.LookPath("dnf"); err != nil {
		if _, err := exec.LookPath("yum"); err == nil {
			tool = "yum"
		}
	}
	argv := []string{tool, "makecache", "-y", "--noplugins",
		"--setopt=reposdir=" + filepath.Join(tmp, "repos"), "--setopt=cachedir=" + filepath.Join(tmp, "cache"),
		"--setopt=logdir=" + filepath.Join(tmp, "log"), "--setopt=skip_if_unavailable=False"}
	if !isDnf5(tool) {
		argv = append(argv, "--setopt=persistdir="+filepath.Join(tmp, "persist"))
	}
	for _, id := range ids {
		argv = append(argv, "--repo="+id)
	}
	if root != "/" {
		// Not --installroot: dnf would put its cache and logs under the root. The node's
		// release and its dnf.conf and variables stand in for what installroot reads.
		rel := osr.VersionID
		if osr.ID != "fedora" {
			rel, _, _ = strings.Cut(rel, ".")
		}
		argv = append(argv, "--releasever="+rel, "--setopt=varsdir="+inRoot(root, "/etc/dnf/vars")+","+inRoot(root, "/etc/yum/vars"))
		if _, err := os.Stat(inRoot(root, "/etc/dnf/dnf.conf")); err == nil {
			argv = append(argv, "--config="+inRoot(root, "/etc/dnf/dnf.conf"))
		}
	}
	out, err := run(ctx, argv)
	if err != nil {
		var problems []string
		for _, line := range strings.Split(out, "\n") {
			if l := strings.TrimSpace(line); strings.HasPrefix(l, "Error") || strings.Contains(l, "error:") || strings.HasPrefix(l, "Curl error") {
				problems = append(problems, l)
			}
		}
		if len(problems) == 0 {
			problems = []string{lastLines(out, 3)}
		}
		r := failed(target, "%s makecache from %s (%s only): %s", tool, target, file, errText(err, problems))
		r.Command = argv
		return r
	}
	return Result{Status: OK, Target: target, Command: argv,
		Detail: fmt.Sprintf("%s makecache from %s (%s only, repositories %s)", tool, target, file, strings.Join(ids, ", "))}
}

// pointsAt fails when offline.yml names a repository the node's source does not use.
func pointsAt(file string, uris []string, want, varName string) *Result {
	if len(uris) == 0 {
		r := failed(want, "%s names no repository URL", file)
		return &r
	}
	if want == "" {
		return nil
	}
	for _, u := range uris {
		if strings.TrimSuffix(u, "/") == strings.TrimSuffix(want, "/") {
			return nil
		}
	}
	r := failed(want, "%s points at %s, but offline.yml's %s is %s: rerun the airgap.kubespray.repos playbook",
		file, strings.Join(uris, " "), varName, want)
	return &r
}

// isDnf5 tells dnf5 (Fedora 41 and later, where dnf is a link to it) from dnf 4.
func isDnf5(tool string) bool {
	p, err := exec.LookPath(tool)
	if err != nil {
		return false
	}
	if real, err := filepath.EvalSymlinks(p); err == nil {
		p = real
	}
	return filepath.Base(p) == "dnf5"
}

// run runs argv with the node's environment in the C locale; the output is stdout and
// stderr together.
func run(ctx context.Context, argv []string) (string, error) {
	return execute(ctx, argv, false)
}

// stdout is run's stdout alone.
func stdout(ctx context.Context, argv []string) (string, error) {
	return execute(ctx, argv, true)
}

func execute(ctx context.Context, argv []string, stdoutOnly bool) (string, error) {
	path, err := exec.LookPath(argv[0])
	if err != nil {
		return "", fmt.Errorf("%s not found on the node (PATH=%s)", argv[0], os.Getenv("PATH"))
	}
	cmd := exec.CommandContext(ctx, path, argv[1:]...)
	cmd.Env = append(os.Environ(), "LC_ALL=C", "LANG=C", "DEBIAN_FRONTEND=noninteractive")
	var out []byte
	if stdoutOnly {
		out, err = cmd.Output()
	} else {
		out, err = cmd.CombinedOutput()
	}
	if ctx.Err() != nil {
		err = fmt.Errorf("%s: %w", argv[0], ctx.Err())
	}
	return string(out), err
}

// errText joins a command's problems, and its exit status when it has one.
func errText(err error, problems []string) string {
	s := strings.Join(problems, "; ")
	var exit *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exit):
		s += fmt.Sprintf(" (exit %d)", exit.ExitCode())
	default:
		if s == "" {
			return err.Error()
		}
		s += " (" + err.Error() + ")"
	}
	return s
}

func lastLines(s string, n int) string {
	var lines []string
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			lines = append(lines, l)
		}
	}
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "; ")
}

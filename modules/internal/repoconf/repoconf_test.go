package repoconf_test

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/repoconf"
)

// fixture is a host's root with an os-release and the repo files such a release ships.
type fixture struct {
	name      string
	osRelease string
	files     map[string]string
	wantFile  string // the mirror's file the module must write
	wantLines []string
	moved     []string
}

var fixtures = []fixture{
	{"ubuntu-20.04", `ID=ubuntu` + "\n" + `VERSION_ID="20.04"` + "\nVERSION_CODENAME=focal\n",
		map[string]string{"etc/apt/sources.list": "deb http://archive.ubuntu.com/ubuntu focal main\n"},
		"etc/apt/sources.list.d/airgap-kubespray.list", []string{"deb [trusted=yes] http://m/ubuntu/ ./"}, []string{"/etc/apt/sources.list"}},
	{"ubuntu-22.04", `ID=ubuntu` + "\n" + `VERSION_ID="22.04"` + "\n",
		map[string]string{"etc/apt/sources.list": "deb http://archive.ubuntu.com/ubuntu jammy main\n",
			"etc/apt/sources.list.d/docker.list": "deb https://download.docker.com/linux/ubuntu jammy stable\n"},
		"etc/apt/sources.list.d/airgap-kubespray.list", []string{"deb [trusted=yes] http://m/ubuntu/ ./"},
		[]string{"/etc/apt/sources.list", "/etc/apt/sources.list.d/docker.list"}},
	{"ubuntu-24.04", `ID=ubuntu` + "\n" + `VERSION_ID="24.04"` + "\n",
		map[string]string{"etc/apt/sources.list.d/ubuntu.sources": "Types: deb\nURIs: http://archive.ubuntu.com/ubuntu/\nSuites: noble\nComponents: main\n"},
		"etc/apt/sources.list.d/airgap-kubespray.sources", []string{"URIs: http://m/ubuntu/", "Suites: ./", "Trusted: yes"},
		[]string{"/etc/apt/sources.list.d/ubuntu.sources"}},
	{"debian-11", "ID=debian\nVERSION_ID=\"11\"\n",
		map[string]string{"etc/apt/sources.list": "deb http://deb.debian.org/debian bullseye main\n"},
		"etc/apt/sources.list.d/airgap-kubespray.list", []string{"deb [trusted=yes] http://m/debian/ ./"}, []string{"/etc/apt/sources.list"}},
	{"debian-12", "ID=debian\nVERSION_ID=\"12\"\n",
		map[string]string{"etc/apt/sources.list": "deb http://deb.debian.org/debian bookworm main\n"},
		"etc/apt/sources.list.d/airgap-kubespray.sources", []string{"URIs: http://m/debian/"}, []string{"/etc/apt/sources.list"}},
	{"debian-13", "ID=debian\nVERSION_ID=\"13\"\n",
		map[string]string{"etc/apt/sources.list.d/debian.sources": "Types: deb\nURIs: http://deb.debian.org/debian\nSuites: trixie\nComponents: main\n"},
		"etc/apt/sources.list.d/airgap-kubespray.sources", []string{"URIs: http://m/debian/"}, []string{"/etc/apt/sources.list.d/debian.sources"}},
	{"rocky-8", "ID=\"rocky\"\nVERSION_ID=\"8.10\"\n",
		map[string]string{"etc/yum.repos.d/Rocky-BaseOS.repo": "[baseos]\nmirrorlist=https://mirrors.rockylinux.org/\n"},
		"etc/yum.repos.d/airgap-kubespray.repo", []string{"baseurl=http://m/rpms/", "gpgcheck=0"}, []string{"/etc/yum.repos.d/Rocky-BaseOS.repo"}},
	{"rhel-9", "ID=\"rhel\"\nVERSION_ID=\"9.4\"\n",
		map[string]string{"etc/yum.repos.d/redhat.repo": "[rhel-9-baseos]\nbaseurl=https://cdn.redhat.com/\n"},
		"etc/yum.repos.d/airgap-kubespray.repo", []string{"baseurl=http://m/rpms/"}, []string{"/etc/yum.repos.d/redhat.repo"}},
	{"almalinux-10", "ID=\"almalinux\"\nVERSION_ID=\"10.0\"\n",
		map[string]string{"etc/yum.repos.d/almalinux.repo": "[baseos]\n"},
		"etc/yum.repos.d/airgap-kubespray.repo", []string{"baseurl=http://m/rpms/"}, []string{"/etc/yum.repos.d/almalinux.repo"}},
	{"fedora-41", "ID=fedora\nVERSION_ID=41\n",
		map[string]string{"etc/yum.repos.d/fedora.repo": "[fedora]\n", "etc/yum.repos.d/fedora-updates.repo": "[updates]\n"},
		"etc/yum.repos.d/airgap-kubespray.repo", []string{"baseurl=http://m/rpms/"},
		[]string{"/etc/yum.repos.d/fedora-updates.repo", "/etc/yum.repos.d/fedora.repo"}},
}

func cfg(root string) repoconf.Config {
	return repoconf.Config{Root: root, DebianRepo: "http://m/debian/", UbuntuRepo: "http://m/ubuntu/", YumRepo: "http://m/rpms/",
		PyPIURL: "http://m:8080/pypi/simple/", DisableOtherRepos: true}
}

func makeRoot(t *testing.T, fx fixture) string {
	t.Helper()
	root := t.TempDir()
	files := map[string]string{"etc/os-release": fx.osRelease, "etc/pip.conf": "[global]\ntimeout = 60\n"}
	for k, v := range fx.files {
		files[k] = v
	}
	for p, content := range files {
		full := filepath.Join(root, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(content), 0o640); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

// snapshot maps every regular file under root to its sha256 and mode.
func snapshot(t *testing.T, root string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.Walk(root, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		if fi.IsDir() {
			out[strings.TrimPrefix(p, root)+"/"] = "dir"
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		out[strings.TrimPrefix(p, root)] = hex.EncodeToString(sum[:]) + " " + fi.Mode().String() + " " + fi.ModTime().String()
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestConfigureAndRevertEachRelease(t *testing.T) {
	for _, fx := range fixtures {
		t.Run(fx.name, func(t *testing.T) {
			root := makeRoot(t, fx)
			before := snapshot(t, root)

			// Check mode: a plan, nothing written.
			plan, err := repoconf.Configure(cfg(root))
			if err != nil {
				t.Fatal(err)
			}
			if !plan.Changed() {
				t.Fatal("a fresh root needs no change?")
			}
			if got := snapshot(t, root); len(got) != len(before) {
				t.Fatalf("planning wrote files: %v", got)
			}
			var moved []string
			var diffPaths []string
			for _, c := range plan.Changes {
				diffPaths = append(diffPaths, c.Path)
				if c.Action == repoconf.Moved {
					moved = append(moved, c.Path)
				}
			}
			sort.Strings(moved)
			if strings.Join(moved, ",") != strings.Join(fx.moved, ",") {
				t.Errorf("moved %v, want %v", moved, fx.moved)
			}

			// Apply.
			if err := plan.Apply(); err != nil {
				t.Fatal(err)
			}
			b, err := os.ReadFile(filepath.Join(root, fx.wantFile))
			if err != nil {
				t.Fatalf("%s not written: %v (changes %v)", fx.wantFile, err, diffPaths)
			}
			for _, l := range fx.wantLines {
				if !strings.Contains(string(b), l+"\n") {
					t.Errorf("%s lacks %q:\n%s", fx.wantFile, l, b)
				}
			}
			pip, _ := os.ReadFile(filepath.Join(root, "etc/pip.conf"))
			if !strings.Contains(string(pip), "index-url = http://m:8080/pypi/simple/\ntrusted-host = m:8080\n") {
				t.Errorf("pip.conf:\n%s", pip)
			}
			for _, m := range fx.moved {
				if _, err := os.Stat(filepath.Join(root, m)); !errors.Is(err, os.ErrNotExist) {
					t.Errorf("%s is still in place", m)
				}
			}

			// Rerun: nothing to do.
			again, err := repoconf.Configure(cfg(root))
			if err != nil || again.Changed() {
				t.Fatalf("rerun: %v, changes %+v", err, again.Changes)
			}

			// Revert: every original byte for byte, mode and mtime included; ours gone.
			rev, err := repoconf.Revert(root)
			if err != nil {
				t.Fatal(err)
			}
			if err := rev.Apply(); err != nil {
				t.Fatal(err)
			}
			after := snapshot(t, root)
			for p, sum := range before {
				if after[p] != sum {
					t.Errorf("%s after revert: %q, before: %q", p, after[p], sum)
				}
			}
			for p := range after {
				if _, ok := before[p]; !ok {
					t.Errorf("%s is left after revert", p)
				}
			}
			if again, _ := repoconf.Revert(root); again.Changed() {
				t.Errorf("a second revert has changes: %+v", again.Changes)
			}
		})
	}
}

func TestUnknownOS(t *testing.T) {
	for _, osr := range []string{"ID=alpine\nVERSION_ID=3.20\nPRETTY_NAME=\"Alpine Linux v3.20\"\n", "ID=debian\nVERSION_ID=10\n",
		"ID=ubuntu\nVERSION_ID=23.10\n", "ID=rocky\nVERSION_ID=7\n"} {
		root := makeRoot(t, fixture{osRelease: osr})
		_, err := repoconf.Configure(cfg(root))
		if !errors.Is(err, repoconf.ErrUnsupportedOS) {
			t.Errorf("%q: err = %v, want ErrUnsupportedOS", osr, err)
		}
	}
	if _, err := repoconf.Configure(cfg(t.TempDir())); err == nil || !strings.Contains(err.Error(), "os-release") {
		t.Errorf("no os-release: %v", err)
	}
}

func TestUnwritableRootLosesNothing(t *testing.T) {
	if os.Geteuid() == 0 {
		// root ignores permission bits; make the target a file where a folder must go instead.
		root := makeRoot(t, fixtures[4]) // debian 12
		if err := os.WriteFile(filepath.Join(root, "var"), []byte("not a folder"), 0o644); err != nil {
			t.Fatal(err)
		}
		plan, err := repoconf.Configure(cfg(root))
		if err == nil {
			err = plan.Apply()
		}
		if err == nil || !strings.Contains(err.Error(), filepath.Join(root, "var")) {
			t.Fatalf("a root where var is a file: err = %v, want an error naming it", err)
		}
		if b, _ := os.ReadFile(filepath.Join(root, "etc/apt/sources.list")); !strings.Contains(string(b), "bookworm") {
			t.Error("the original sources.list was lost")
		}
		return
	}
	t.Skip("needs root to build the broken root the same way")
}

func TestSignedAndHTTPS(t *testing.T) {
	root := makeRoot(t, fixtures[4]) // debian 12
	key := filepath.Join(t.TempDir(), "key.asc")
	_ = os.WriteFile(key, []byte("-----BEGIN PGP PUBLIC KEY BLOCK-----\nx\n"), 0o644)
	c := cfg(root)
	c.DebianRepo, c.GPGKey, c.CAPath, c.PyPIURL = "https://m.example/debian/", key, "/etc/ssl/mirror-ca.pem", "https://m.example/pypi/simple/"
	plan, err := repoconf.Configure(c)
	if err != nil {
		t.Fatal(err)
	}
	if err := plan.Apply(); err != nil {
		t.Fatal(err)
	}
	src, _ := os.ReadFile(filepath.Join(root, "etc/apt/sources.list.d/airgap-kubespray.sources"))
	conf, _ := os.ReadFile(filepath.Join(root, "etc/apt/apt.conf.d/99airgap-kubespray"))
	pip, _ := os.ReadFile(filepath.Join(root, "etc/pip.conf"))
	if !strings.Contains(string(src), "Signed-By: /etc/apt/keyrings/airgap-kubespray.asc\n") || strings.Contains(string(src), "Trusted") {
		t.Errorf("sources:\n%s", src)
	}
	if !strings.Contains(string(conf), `Acquire::https::m.example::CaInfo "/etc/ssl/mirror-ca.pem";`) {
		t.Errorf("apt.conf.d:\n%s", conf)
	}
	if strings.Contains(string(pip), "trusted-host") || !strings.Contains(string(pip), "cert = /etc/ssl/mirror-ca.pem") {
		t.Errorf("pip.conf must verify TLS:\n%s", pip)
	}
	for _, w := range plan.Warnings {
		if strings.Contains(w, "trusted=yes") {
			t.Errorf("warned about an unsigned repo although a key was given: %s", w)
		}
	}
	c.GPGKey = "https://m.example/key.asc"
	if _, err := repoconf.Configure(c); err == nil || !strings.Contains(err.Error(), "as a file") {
		t.Errorf("apt with a key URL: %v", err)
	}
}

// On RHEL-compatible hosts the mirror's key checks the repository metadata (repo_gpgcheck) and
// the distribution's own keys, already in the root, keep checking the vendor-signed packages.
func TestSignedYumKeepsVendorKeys(t *testing.T) {
	fx := fixtures[7] // rhel-9
	fx.files = map[string]string{"etc/yum.repos.d/redhat.repo": "[rhel-9-baseos]\n",
		"etc/pki/rpm-gpg/RPM-GPG-KEY-redhat-release": "vendor key\n"}
	root := makeRoot(t, fx)
	key := filepath.Join(t.TempDir(), "key.asc")
	_ = os.WriteFile(key, []byte("-----BEGIN PGP PUBLIC KEY BLOCK-----\nours\n"), 0o644)
	for _, gpgKey := range []string{key, "http://m/airgap-kubespray-repo.asc"} {
		c := cfg(root)
		c.GPGKey = gpgKey
		plan, err := repoconf.Configure(c)
		if err != nil {
			t.Fatal(err)
		}
		if err := plan.Apply(); err != nil {
			t.Fatal(err)
		}
		repo, _ := os.ReadFile(filepath.Join(root, "etc/yum.repos.d/airgap-kubespray.repo"))
		ours := "file:///etc/pki/rpm-gpg/RPM-GPG-KEY-airgap-kubespray"
		if gpgKey != key {
			ours = gpgKey
		}
		want := "gpgcheck=1\nrepo_gpgcheck=1\ngpgkey=" + ours + " file:///etc/pki/rpm-gpg/RPM-GPG-KEY-redhat-release\n"
		if !strings.Contains(string(repo), want) {
			t.Errorf("with gpg_key %s the repo file lacks %q:\n%s", gpgKey, want, repo)
		}
	}
}

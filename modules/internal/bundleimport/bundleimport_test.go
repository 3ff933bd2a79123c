package bundleimport

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const kubeletPath = "dl.k8s.io/release/v1.35.4/bin/linux/amd64/kubelet"

var kubelet = []byte("stand-in for https://dl.k8s.io/release/v1.35.4/bin/linux/amd64/kubelet")

func sum(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }

func manifest() []File {
	return []File{{Name: "kubelet", Path: kubeletPath, URL: "https://" + kubeletPath, Checksum: "sha256:" + sum(kubelet)}}
}

type member struct {
	name     string
	data     []byte
	typeflag byte
	linkname string
}

func reg(name string, data []byte) member {
	return member{name: name, data: data, typeflag: tar.TypeReg}
}

// archive writes offline-files.tar.gz holding the kubelet plus more members.
func archive(t *testing.T, more ...member) string {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for _, m := range append([]member{reg("offline-files/"+kubeletPath, kubelet)}, more...) {
		h := &tar.Header{Name: m.name, Typeflag: m.typeflag, Linkname: m.linkname, Mode: 0o644, Size: int64(len(m.data))}
		if m.typeflag != tar.TypeReg {
			h.Size = 0
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if m.typeflag == tar.TypeReg {
			if _, err := tw.Write(m.data); err != nil {
				t.Fatal(err)
			}
		}
	}
	tw.Close()
	gz.Close()
	p := filepath.Join(t.TempDir(), "offline-files.tar.gz")
	if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func writeFile(t *testing.T, p string, data []byte, mode os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, data, mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil {
		t.Fatal(err)
	}
}

func refusedMsg(t *testing.T, err error) string {
	t.Helper()
	var r *Refused
	if !errors.As(err, &r) {
		t.Fatalf("error %v, want a *Refused", err)
	}
	return r.Msg
}

func assertNoFiles(t *testing.T, bundle string) {
	t.Helper()
	if _, err := os.Lstat(filepath.Join(bundle, "files")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("%s/files exists (%v): something was written", bundle, err)
	}
}

func TestUnsafeArchivesAreRefusedWholeNamingEveryMember(t *testing.T) {
	for _, tc := range []struct {
		name   string
		member member
		want   string
	}{
		{"dotdot", reg("offline-files/dl.k8s.io/../../../outside", []byte("x")), "offline-files/dl.k8s.io/../../../outside (absolute path or ..)"},
		{"absolute", reg("/tmp/outside", []byte("x")), "/tmp/outside (absolute path or ..)"},
		{"symlink out", member{name: "offline-files/dl.k8s.io/up", typeflag: tar.TypeSymlink, linkname: "../../outside"}, "offline-files/dl.k8s.io/up (symbolic link to ../../outside, outside the files)"},
		{"symlink absolute", member{name: "offline-files/passwd", typeflag: tar.TypeSymlink, linkname: "/etc/passwd"}, "offline-files/passwd (symbolic link to /etc/passwd"},
		{"hardlink out", member{name: "offline-files/shadow", typeflag: tar.TypeLink, linkname: "../etc/shadow"}, "offline-files/shadow (hard link to ../etc/shadow"},
		{"device", member{name: "offline-files/null", typeflag: tar.TypeChar}, "offline-files/null (device, fifo or other special file)"},
		{"reserved", reg("offline-files/.partial/x", []byte("x")), "offline-files/.partial/x (reserved name)"},
		{"twice", reg("offline-files/"+kubeletPath, kubelet), "appears twice"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bundle := filepath.Join(t.TempDir(), "bundle")
			_, err := Import(Request{Bundle: bundle, Files: manifest(), ContribFiles: archive(t, tc.member), MaxExtractBytes: DefaultMaxExtract})
			msg := refusedMsg(t, err)
			if !strings.Contains(msg, "refused, nothing was extracted: 1 unsafe member(s)") || !strings.Contains(msg, tc.want) {
				t.Errorf("msg = %q, want it to name %q", msg, tc.want)
			}
			var r *Refused
			if errors.As(err, &r); len(r.Members) != 1 || !strings.Contains(r.Members[0], tc.want) {
				t.Errorf("members = %q, want one naming %q", r.Members, tc.want)
			}
			assertNoFiles(t, bundle)
		})
	}
	t.Run("below a symlink, and every member named", func(t *testing.T) {
		bundle := filepath.Join(t.TempDir(), "bundle")
		_, err := Import(Request{Bundle: bundle, Files: manifest(), ContribFiles: archive(t,
			member{name: "offline-files/lnk", typeflag: tar.TypeSymlink, linkname: "dl.k8s.io"},
			reg("offline-files/lnk/x", []byte("x")), reg("../a", []byte("x")), reg("/b", []byte("x")))})
		msg := refusedMsg(t, err)
		for _, want := range []string{"3 unsafe member(s)", "offline-files/lnk/x (below the symbolic link lnk)", "../a (absolute path or ..); /b (absolute path or ..)"} {
			if !strings.Contains(msg, want) {
				t.Errorf("msg = %q, want %q", msg, want)
			}
		}
		assertNoFiles(t, bundle)
	})
}

func TestSizeCapNamesTheMemberThatCrossesIt(t *testing.T) {
	p := archive(t, reg("offline-files/a", make([]byte, 1000000)), reg("offline-files/bomb", make([]byte, 3000000)))
	bundle := filepath.Join(t.TempDir(), "bundle")
	_, err := Import(Request{Bundle: bundle, Files: manifest(), ContribFiles: p, MaxExtractBytes: 2000000})
	msg := refusedMsg(t, err)
	if !strings.Contains(msg, "offline-files/bomb") || !strings.Contains(msg, "2000000 bytes") || strings.Contains(msg, "offline-files/a ") {
		t.Errorf("msg = %q", msg)
	}
	var rf *Refused
	if errors.As(err, &rf); len(rf.Members) != 1 || !strings.HasPrefix(rf.Members[0], "offline-files/bomb (3000000 bytes") {
		t.Errorf("members = %q", rf.Members)
	}
	assertNoFiles(t, bundle)
	r, err := Import(Request{Bundle: bundle, Files: manifest(), ContribFiles: p, MaxExtractBytes: 5000000})
	if err != nil || strings.Join(r.Found, ",") != "kubelet" {
		t.Fatalf("under the cap: %v, %+v", err, r)
	}
}

func TestTruncatedArchive(t *testing.T) {
	big := make([]byte, 200000)
	for i := range big {
		big[i] = byte(i * 7919 >> 3)
	}
	p := archive(t, reg("offline-files/big", big))
	b, _ := os.ReadFile(p)
	os.WriteFile(p, b[:len(b)/2], 0o644)
	bundle := filepath.Join(t.TempDir(), "bundle")
	_, err := Import(Request{Bundle: bundle, Files: manifest(), ContribFiles: p})
	if msg := refusedMsg(t, err); !strings.Contains(msg, "not a readable tar archive") {
		t.Errorf("msg = %q", msg)
	}
	assertNoFiles(t, bundle)
}

func TestLinksInsideTheArchiveBecomeFiles(t *testing.T) {
	bundle := filepath.Join(t.TempDir(), "bundle")
	r, err := Import(Request{Bundle: bundle, Files: manifest(), ContribFiles: archive(t,
		member{name: "offline-files/mirror/kubelet", typeflag: tar.TypeSymlink, linkname: "../" + kubeletPath},
		member{name: "offline-files/mirror/kubelet2", typeflag: tar.TypeLink, linkname: "offline-files/" + kubeletPath},
		member{name: "offline-files/mirror/dir", typeflag: tar.TypeSymlink, linkname: "../dl.k8s.io"})})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(r.Found, ",") != "kubelet" || !r.Changed {
		t.Errorf("found %v, changed %v", r.Found, r.Changed)
	}
	for _, name := range []string{"kubelet", "kubelet2"} {
		p := filepath.Join(bundle, "files", "mirror", name)
		fi, err := os.Lstat(p)
		if err != nil || !fi.Mode().IsRegular() || fi.Mode().Perm() != 0o644 {
			t.Fatalf("%s: %v %v", p, fi, err)
		}
		if b, _ := os.ReadFile(p); !bytes.Equal(b, kubelet) {
			t.Errorf("%s holds %q", p, b)
		}
	}
	if _, err := os.Lstat(filepath.Join(bundle, "files", "mirror", "dir")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("mirror/dir exists: %v", err)
	}
	if strings.Join(r.SkippedLinks, ",") != "offline-files/mirror/dir (link to dl.k8s.io, not a file of the archive)" {
		t.Errorf("skipped_links = %v", r.SkippedLinks)
	}
	var extracted int
	for _, p := range r.Placed {
		if p.How == "extract" {
			extracted++
		}
	}
	if extracted != 3 {
		t.Errorf("placed = %+v, want 3 extracted", r.Placed)
	}
}

func TestSymlinkInTheBundleIsNotFollowed(t *testing.T) {
	dir := t.TempDir()
	bundle, outside := filepath.Join(dir, "bundle"), filepath.Join(dir, "outside")
	os.MkdirAll(outside, 0o755)
	os.MkdirAll(filepath.Join(bundle, "files"), 0o755)
	os.Symlink(outside, filepath.Join(bundle, "files", "dl.k8s.io"))
	for _, check := range []bool{true, false} {
		_, err := Import(Request{Bundle: bundle, Files: manifest(), ContribFiles: archive(t), Check: check})
		if msg := refusedMsg(t, err); !strings.Contains(msg, "would leave") {
			t.Errorf("check=%v: msg = %q", check, msg)
		}
	}
	// Not a manifest path either: an archive member below the link.
	_, err := Import(Request{Bundle: bundle, ContribFiles: archive(t)})
	if msg := refusedMsg(t, err); !strings.Contains(msg, "would leave") {
		t.Errorf("msg = %q", msg)
	}
	if ents, _ := os.ReadDir(outside); len(ents) != 0 {
		t.Errorf("written outside: %v", ents)
	}
}

func TestPlacementByContentCheckModeCopyAndRerun(t *testing.T) {
	dir := t.TempDir()
	ko, bundle := filepath.Join(dir, "ko"), filepath.Join(dir, "bundle")
	writeFile(t, filepath.Join(ko, "kubernetes", "v1.35.4", "kubelet"), kubelet, 0o644)
	writeFile(t, filepath.Join(ko, "files.list"), []byte("x"), 0o644)
	req := Request{Bundle: bundle, Files: manifest(), KubesprayOfflineFiles: ko}

	check := req
	check.Check = true
	r, err := Import(check)
	if err != nil || !r.Changed || len(r.Placed) != 1 || r.Placed[0].How != "link" || *r.Placed[0].Name != "kubelet" {
		t.Fatalf("check: %v %+v", err, r)
	}
	if !strings.HasPrefix(r.Lines[0], "files: 1 of 1 manifest files in the bundle (would place 1 now: 1 hard-linked, 0 already there)") {
		t.Errorf("lines[0] = %q", r.Lines[0])
	}
	if _, err := os.Stat(bundle); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("check mode created the bundle: %v", err)
	}
	if strings.Join(r.Unmatched, ",") != "files.list" {
		t.Errorf("unmatched = %v", r.Unmatched)
	}

	cp := req
	cp.Copy = true
	r, err = Import(cp)
	if err != nil || !r.Changed || r.Placed[0].How != "copy" || strings.Join(r.Found, ",") != "kubelet" {
		t.Fatalf("copy: %v %+v", err, r)
	}
	dest := filepath.Join(bundle, "files", filepath.FromSlash(kubeletPath))
	if os.SameFile(stat(t, dest), stat(t, filepath.Join(ko, "kubernetes", "v1.35.4", "kubelet"))) || stat(t, dest).Mode().Perm() != 0o644 {
		t.Errorf("copy is a link, or mode %v", stat(t, dest).Mode())
	}

	r, err = Import(req)
	if err != nil || r.Changed || len(r.Placed) != 0 || strings.Join(r.Already, ",") != "kubelet" {
		t.Fatalf("rerun: %v %+v", err, r)
	}
	os.Remove(dest)
	r, err = Import(req)
	if err != nil || r.Placed[0].How != "link" || !os.SameFile(stat(t, dest), stat(t, filepath.Join(ko, "kubernetes", "v1.35.4", "kubelet"))) {
		t.Fatalf("link: %v %+v", err, r)
	}
	if left, _ := filepath.Glob(filepath.Join(filepath.Dir(dest), TmpPrefix+"*")); len(left) != 0 {
		t.Errorf("temporary files left: %v", left)
	}
}

func stat(t *testing.T, p string) os.FileInfo {
	t.Helper()
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	return fi
}

func TestPrivateSourceIsCopiedReadableByAll(t *testing.T) {
	dir := t.TempDir()
	ko, bundle := filepath.Join(dir, "ko"), filepath.Join(dir, "bundle")
	writeFile(t, filepath.Join(ko, "kubelet"), kubelet, 0o600)
	r, err := Import(Request{Bundle: bundle, Files: manifest(), KubesprayOfflineFiles: ko})
	if err != nil || r.Placed[0].How != "copy" {
		t.Fatalf("%v %+v", err, r)
	}
	if m := stat(t, filepath.Join(bundle, "files", filepath.FromSlash(kubeletPath))).Mode().Perm(); m != 0o644 {
		t.Errorf("mode %v", m)
	}
}

func TestWrongContentIsNeverPlacedAndMissingSaysWhy(t *testing.T) {
	dir := t.TempDir()
	bundle := filepath.Join(dir, "bundle")
	files := append(manifest(), File{Name: "crictl", Path: "github.com/crictl.tgz", URL: "https://github.com/crictl.tgz", Checksum: "sha256:" + sum([]byte("crictl"))},
		File{Name: "nosum", Path: "example.com/nosum", URL: "https://example.com/nosum"})
	p := archive(t, reg("offline-files/github.com/crictl.tgz", []byte("an older release")), reg("offline-files/example.com/extra.txt", []byte("extra")))
	r, err := Import(Request{Bundle: bundle, Files: files, ContribFiles: p})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(bundle, "files", "github.com", "crictl.tgz")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the wrong content was placed: %v", err)
	}
	got, _ := json.Marshal(r.Missing)
	want := `[{"name":"crictl","path":"github.com/crictl.tgz","url":"https://github.com/crictl.tgz","why":"the archive holds another content at its path"},` +
		`{"name":"nosum","path":"example.com/nosum","url":"https://example.com/nosum","why":"no checksum to match by content"}]`
	if string(got) != want {
		t.Errorf("missing = %s\nwant      %s", got, want)
	}
	if len(r.Mismatched) != 1 || r.Mismatched[0].Source != "offline-files.tar.gz:offline-files/github.com/crictl.tgz" {
		t.Errorf("mismatched = %+v", r.Mismatched)
	}
	if b, _ := os.ReadFile(filepath.Join(bundle, "files", "example.com", "extra.txt")); string(b) != "extra" {
		t.Errorf("the archive's other file: %q", b)
	}
}

func TestUnsafeManifestPathIsRefused(t *testing.T) {
	for _, p := range []string{"../x", "/etc/passwd", "a/./b", ".partial/x", "a/" + TmpPrefix + "x"} {
		_, err := Import(Request{Bundle: t.TempDir(), Files: []File{{Name: "x", Path: p}}})
		if msg := refusedMsg(t, err); !strings.Contains(msg, "unsafe path") {
			t.Errorf("%s: %q", p, msg)
		}
	}
}

func TestReposAreMirroredKeepingTimes(t *testing.T) {
	dir := t.TempDir()
	src, bundle := filepath.Join(dir, "pypi"), filepath.Join(dir, "bundle")
	writeFile(t, filepath.Join(src, "index.html"), []byte("<a>"), 0o644)
	writeFile(t, filepath.Join(src, "pip", "index.html"), []byte("<b>"), 0o644)
	os.Symlink("/etc/passwd", filepath.Join(src, "passwd"))
	req := Request{Bundle: bundle, Repos: []Repo{{Src: src, Dest: "pypi/simple"}}, Copy: true}
	r, err := Import(req)
	if err != nil || r.Repos["pypi/simple"] != 2 || !r.Changed {
		t.Fatalf("%v %+v", err, r)
	}
	if !stat(t, filepath.Join(bundle, "files", "pypi", "simple", "pip", "index.html")).ModTime().Equal(stat(t, filepath.Join(src, "pip", "index.html")).ModTime()) {
		t.Error("the copy's mtime differs")
	}
	if _, err := os.Lstat(filepath.Join(bundle, "files", "pypi", "simple", "passwd")); !errors.Is(err, os.ErrNotExist) {
		t.Error("a symbolic link was followed")
	}
	if r, err = Import(req); err != nil || r.Changed || len(r.Repos) != 0 {
		t.Fatalf("rerun: %v %+v", err, r)
	}
	if _, err := Import(Request{Bundle: bundle, Repos: []Repo{{Src: src, Dest: "../x"}}}); !strings.Contains(refusedMsg(t, err), "unsafe destination") {
		t.Error(err)
	}
}

func TestImagesByNormalName(t *testing.T) {
	layout := t.TempDir()
	index := `{"manifests":[
	 {"digest":"sha256:aaa","annotations":{"org.opencontainers.image.ref.name":"docker.io/library/nginx:1.28"}},
	 {"digest":"sha256:bbb","annotations":{"io.containerd.image.name":"registry.k8s.io/pause:3.10"}},
	 {"digest":"sha256:ccc","annotations":{"org.opencontainers.image.ref.name":"index.docker.io/calico/node:v3"}}]}`
	os.WriteFile(filepath.Join(layout, "index.json"), []byte(index), 0o644)
	r, err := Images(layout, []Image{
		{Name: "nginx", Source: "nginx:1.28"},
		{Name: "pause", Source: "registry.k8s.io/pause:3.10", Digest: "sha256:other"},
		{Name: "calico", Source: "calico/node:v3"},
		{Name: "coredns", Source: "registry.k8s.io/coredns/coredns:v1.12"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(r.Found, ",") != "nginx,calico" {
		t.Errorf("found = %v", r.Found)
	}
	if len(r.Missing) != 2 || r.Missing[0].Name != "pause" || !strings.Contains(r.Missing[0].Why, "Kubespray pins sha256:other") ||
		r.Missing[1].Name != "coredns" || r.Missing[1].Why != "not in the layout" {
		t.Errorf("missing = %+v", r.Missing)
	}
	r, err = Images(filepath.Join(layout, "none"), []Image{{Name: "nginx", Source: "nginx"}})
	if err != nil || len(r.Found) != 0 || len(r.Missing) != 1 {
		t.Errorf("no layout: %v %+v", err, r)
	}
}

package bundlesums_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/bundlesums"
	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/verified"
)

// tree writes files (relative path -> content) under dir.
func tree(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for rel, content := range files {
		p := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func write(t *testing.T, opts bundlesums.Options) *bundlesums.Report {
	t.Helper()
	rep, err := bundlesums.Write(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

// sha256sumCheck runs the real `sha256sum -c` on the bundle's SHA256SUMS.
func sha256sumCheck(t *testing.T, dir string) {
	t.Helper()
	cmd := exec.Command("sha256sum", "--strict", "-c", bundlesums.Name)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("sha256sum -c: %v\n%s", err, out)
	}
}

// sha256sumOf is the line the real sha256sum prints for rel (run in dir).
func sha256sumOf(t *testing.T, dir, rel string) string {
	t.Helper()
	cmd := exec.Command("sha256sum", "--", rel)
	cmd.Dir = dir
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("sha256sum %s: %v", rel, err)
	}
	return string(out)
}

func xattrs(t *testing.T, path string) bool {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	_, ok := verified.Lookup(path, fi)
	return ok
}

// The first run lists exactly the bundle's regular files (no dot files, nothing in dot folders,
// not SHA256SUMS itself), each line what sha256sum prints for it, each folder's files before its
// subfolders; the real sha256sum -c accepts it. A rerun reads no file and writes nothing.
func TestWriteMatchesSha256sumThenRerunReadsNothing(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{
		"manifest.yaml":               "manifest\n",
		"zz.list":                     "zz\n",
		"files/a/kubelet":             strings.Repeat("k", 3<<20),
		"files/a/b/c.tgz":             "c",
		"files/empty":                 "",
		"images/index.json":           "{}",
		"images/blobs/sha256/ab":      "blob",
		"odd/back\\slash":             "backslash",
		"odd/new\nline":               "newline",
		"odd/sp ace":                  "space",
		".partial-x":                  "left out",
		"files/.kubelet.fingerprint":  "left out",
		".git/config":                 "left out",
		"files/.cache/x":              "left out",
		bundlesums.Name:               "stale\n",
		"files/" + bundlesums.Name:    "a SHA256SUMS below the top is a file like any other",
		"images/blobs/sha256/é-utf-8": "utf8",
	}
	tree(t, dir, files)
	rep := write(t, bundlesums.Options{Dir: dir, Concurrency: 3})
	listed := []string{"manifest.yaml", "zz.list", "files/SHA256SUMS", "files/empty", "files/a/kubelet", "files/a/b/c.tgz",
		"images/index.json", "images/blobs/sha256/ab", "images/blobs/sha256/é-utf-8", "odd/back\\slash", "odd/new\nline", "odd/sp ace"}
	var want strings.Builder
	var size int64
	for _, rel := range listed {
		want.WriteString(sha256sumOf(t, dir, rel))
		size += int64(len(files[rel]))
	}
	got, err := os.ReadFile(filepath.Join(dir, bundlesums.Name))
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != want.String() {
		t.Errorf("SHA256SUMS =\n%s\nwant (sha256sum of each file, os.walk order)\n%s", got, want.String())
	}
	sha256sumCheck(t, dir)
	if !rep.Changed || rep.Files != len(listed) || rep.Hashed != len(listed) || rep.Cached != 0 || rep.BytesHashed != size ||
		rep.Before != "stale\n" || rep.After != string(got) || rep.Path != filepath.Join(dir, bundlesums.Name) {
		t.Errorf("first run: %+v", rep)
	}
	if len(rep.LeftOut) != 0 {
		t.Errorf("left out = %v", rep.LeftOut)
	}
	if !xattrs(t, filepath.Join(dir, "files/a/kubelet")) {
		t.Skip("extended attributes are not supported here: every run hashes")
	}

	before, _ := os.Stat(filepath.Join(dir, bundlesums.Name))
	time.Sleep(60 * time.Millisecond) // past the records' ctime window
	rep = write(t, bundlesums.Options{Dir: dir, Concurrency: 3})
	if rep.Changed || rep.Hashed != 0 || rep.BytesHashed != 0 || rep.Cached != len(listed) || rep.Files != len(listed) {
		t.Errorf("rerun: %+v", rep)
	}
	after, _ := os.Stat(filepath.Join(dir, bundlesums.Name))
	if !os.SameFile(before, after) || !after.ModTime().Equal(before.ModTime()) {
		t.Error("the rerun wrote SHA256SUMS again")
	}
}

// A file rewritten in place with its old size, its mtime set back, is read again and its new
// digest listed; a new file is read, the others not.
func TestRewriteInPlaceIsHashedAgain(t *testing.T) {
	dir := t.TempDir()
	tree(t, dir, map[string]string{"files/a": "aaaa", "files/b": "bbbb", "images/c": "cccc"})
	write(t, bundlesums.Options{Dir: dir})
	if !xattrs(t, filepath.Join(dir, "files/a")) {
		t.Skip("extended attributes are not supported here")
	}
	time.Sleep(60 * time.Millisecond)
	p := filepath.Join(dir, "files/a")
	fi, _ := os.Stat(p)
	f, err := os.OpenFile(p, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte("X"), 1); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if err := os.Chtimes(p, fi.ModTime(), fi.ModTime()); err != nil {
		t.Fatal(err)
	}
	tree(t, dir, map[string]string{"new": "new!"})
	rep := write(t, bundlesums.Options{Dir: dir})
	if !rep.Changed || rep.Hashed != 2 || rep.Cached != 2 || rep.BytesHashed != 8 || rep.Files != 4 {
		t.Errorf("after a rewrite in place: %+v", rep)
	}
	if !strings.Contains(rep.After, sha256sumOf(t, dir, "files/a")) {
		t.Errorf("SHA256SUMS lacks the rewritten file's digest:\n%s", rep.After)
	}
	sha256sumCheck(t, dir)
}

// Symbolic links (to a file or a folder, inside or out of the bundle) are never followed: left
// out and named, the file outside never read. A FIFO is named too (and opening it would hang).
func TestSymlinksAndSpecialFilesAreLeftOutAndNamed(t *testing.T) {
	base := t.TempDir()
	dir := filepath.Join(base, "bundle")
	outside := filepath.Join(base, "outside")
	tree(t, base, map[string]string{"outside/secret": "do not read me", "bundle/files/real": "real"})
	links := map[string]string{
		"files/to-secret":  filepath.Join(outside, "secret"),
		"files/to-outside": outside,
		"files/to-real":    "real",
		"files/dangling":   "nowhere",
	}
	for rel, target := range links {
		if err := os.Symlink(target, filepath.Join(dir, rel)); err != nil {
			t.Fatal(err)
		}
	}
	if err := syscall.Mkfifo(filepath.Join(dir, "files", "fifo"), 0o644); err != nil {
		t.Fatal(err)
	}
	rep := write(t, bundlesums.Options{Dir: dir})
	var named []string
	for _, s := range rep.LeftOut {
		named = append(named, s.Path+": "+s.Why)
	}
	sort.Strings(named)
	want := []string{
		"files/dangling: symbolic link (not followed)",
		"files/fifo: not a regular file",
		"files/to-outside: symbolic link (not followed)",
		"files/to-real: symbolic link (not followed)",
		"files/to-secret: symbolic link (not followed)",
	}
	if strings.Join(named, "\n") != strings.Join(want, "\n") {
		t.Errorf("left out =\n%s\nwant\n%s", strings.Join(named, "\n"), strings.Join(want, "\n"))
	}
	if rep.After != sha256sumOf(t, dir, "files/real") || rep.BytesHashed != 4 {
		t.Errorf("SHA256SUMS = %q, %d bytes read", rep.After, rep.BytesHashed)
	}
	sha256sumCheck(t, dir)
}

// Check mode writes nothing (no SHA256SUMS, no digest record, no temporary file) and says it
// would change; a missing bundle is named.
func TestCheckModeWritesNothing(t *testing.T) {
	dir := t.TempDir()
	tree(t, dir, map[string]string{"files/a": "a"})
	rep := write(t, bundlesums.Options{Dir: dir, Check: true})
	if !rep.Changed || rep.Files != 1 || rep.Hashed != 1 || rep.Before != "" || rep.After != sha256sumOf(t, dir, "files/a") {
		t.Errorf("check: %+v", rep)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 || entries[0].Name() != "files" {
		t.Errorf("check mode left %v", entries)
	}
	if xattrs(t, filepath.Join(dir, "files/a")) {
		t.Error("check mode wrote a digest record")
	}
	write(t, bundlesums.Options{Dir: dir})
	if rep := write(t, bundlesums.Options{Dir: dir, Check: true}); rep.Changed {
		t.Errorf("check after a run: %+v", rep)
	}
	_, err := bundlesums.Write(context.Background(), bundlesums.Options{Dir: filepath.Join(dir, "nope")})
	if err == nil || !strings.Contains(err.Error(), filepath.Join(dir, "nope")) {
		t.Errorf("missing bundle: %v", err)
	}
	// In check mode a bundle not made yet (a check run before the first download) would get one.
	rep = write(t, bundlesums.Options{Dir: filepath.Join(dir, "nope"), Check: true})
	if !rep.Changed || rep.Files != 0 {
		t.Errorf("check, no bundle yet: %+v", rep)
	}
	if _, err := os.Stat(filepath.Join(dir, "nope")); !os.IsNotExist(err) {
		t.Error("check mode made the bundle folder")
	}
}

// SHA256SUMS is replaced by a rename: a reader that opened the old one reads it whole, the new
// one is whole at once, mode 0644, no temporary file is left.
func TestWriteIsAtomic(t *testing.T) {
	dir := t.TempDir()
	tree(t, dir, map[string]string{"a": "a"})
	write(t, bundlesums.Options{Dir: dir})
	old, err := os.Open(filepath.Join(dir, bundlesums.Name))
	if err != nil {
		t.Fatal(err)
	}
	defer old.Close()
	tree(t, dir, map[string]string{"b": "b"})
	rep := write(t, bundlesums.Options{Dir: dir})
	buf := make([]byte, 4096)
	n, _ := old.Read(buf)
	if string(buf[:n]) != rep.Before || rep.Before != sha256sumOf(t, dir, "a") {
		t.Errorf("the old SHA256SUMS was changed in place: %q", buf[:n])
	}
	fi, err := os.Stat(filepath.Join(dir, bundlesums.Name))
	if err != nil || fi.Mode().Perm() != 0o644 {
		t.Fatalf("SHA256SUMS: %v %v", fi, err)
	}
	entries, _ := os.ReadDir(dir)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if strings.Join(names, " ") != "SHA256SUMS a b" {
		t.Errorf("bundle holds %v", names)
	}
	sha256sumCheck(t, dir)
}

// Past DiffLimit the diff keeps only the lines that differ, capped.
func TestDiffTextOfAHugeSums(t *testing.T) {
	var before, after strings.Builder
	for i := 0; i < 6000; i++ {
		l := bundlesums.Line(strings.Repeat("0", 64), "files/f"+strings.Repeat("x", 10)+string(rune('a'+i%26))+time.Duration(i).String())
		before.WriteString(l)
		after.WriteString(l)
	}
	after.WriteString(bundlesums.Line(strings.Repeat("1", 64), "files/new"))
	b, a, whole := bundlesums.DiffText(before.String(), after.String())
	if whole || b != "" || a != bundlesums.Line(strings.Repeat("1", 64), "files/new") {
		t.Errorf("huge diff: whole=%v before=%q after=%q", whole, b, a)
	}
	b, a, whole = bundlesums.DiffText("x\n", "y\n")
	if !whole || b != "x\n" || a != "y\n" {
		t.Errorf("small diff: %v %q %q", whole, b, a)
	}
}

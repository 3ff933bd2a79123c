package parts_test

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/parts"
	"gopkg.in/yaml.v3"
)

const partSize = 256 << 10

func need(t *testing.T, tools ...string) {
	t.Helper()
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed (tests/setup-host.sh installs it)", tool)
		}
	}
}

func run(t *testing.T, dir string, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

func randomBytes(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, seed))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// bundle writes a small bundle: a file larger than a part (random, so it does not compress),
// a few small ones, SHA256SUMS over them (by the real sha256sum), a signature beside it, and a
// dot folder that is never packed.
func bundle(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "airgap-bundle")
	files := map[string][]byte{
		"files/kubelet":                   randomBytes(100<<10, 1),
		"files/dl.k8s.io/v1.31/kubeadm":   []byte(strings.Repeat("kubeadm ", 4000)),
		"images/blobs/sha256/big":         randomBytes(600<<10, 2),
		"images/index.json":               []byte(`{"manifests":[]}`),
		"manifest.yaml":                   []byte("files: []\n"),
		"files/empty":                     {},
		".airgap/private":                 []byte("site bookkeeping"),
		"files/a name with spaces":        []byte("spaces"),
		"images/blobs/sha256/also-random": randomBytes(200<<10, 3),
	}
	for rel, b := range files {
		p := filepath.Join(dir, rel)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var list []string
	for rel := range files {
		if !strings.HasPrefix(rel, ".") {
			list = append(list, rel)
		}
	}
	slices.Sort(list)
	sums := run(t, dir, "sha256sum", list...)
	os.WriteFile(filepath.Join(dir, "SHA256SUMS"), []byte(sums), 0o644)
	os.WriteFile(filepath.Join(dir, "SHA256SUMS.asc"), []byte("-----BEGIN PGP SIGNATURE-----\n"), 0o644)
	return dir
}

func pack(t *testing.T, src, dest string) *parts.PackReport {
	t.Helper()
	rep, err := parts.Pack(context.Background(), parts.PackOptions{Src: src, Dest: dest, PartSize: partSize, Concurrency: 2})
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func unpack(t *testing.T, src, dest string) *parts.UnpackReport {
	t.Helper()
	rep, err := parts.Unpack(context.Background(), parts.UnpackOptions{Src: src, Dest: dest, Concurrency: 2})
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

// copyPart copies part n (with its .sha256) from the pack's folder to dir.
func copyPart(t *testing.T, rep *parts.PackReport, n int, dir string) {
	t.Helper()
	os.MkdirAll(dir, 0o755)
	p := rep.Parts[n-1]
	for _, f := range []string{p.Path, p.Path + ".sha256"} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(dir, filepath.Base(f)), b, 0o644)
	}
}

func flipByte(t *testing.T, p string) {
	t.Helper()
	b, _ := os.ReadFile(p)
	b[len(b)/2] ^= 0x40
	os.WriteFile(p, b, 0o644)
}

// A file larger than a part spans parts; each part is a zstd-compressed tar on its own, no
// bigger than part_size, led by its index; the sums files check with the real sha256sum; a
// rerun writes nothing; dot folders are not packed.
func TestPackSpansPartsEachAnArchive(t *testing.T) {
	need(t, "zstd", "tar", "sha256sum")
	src, dest := bundle(t), filepath.Join(t.TempDir(), "parts")
	rep := pack(t, src, dest)
	if rep.Total < 3 || !slices.Contains(rep.Spanning, "images/blobs/sha256/big") || rep.Files != 10 || !rep.Changed {
		t.Fatalf("total %d, spanning %v, files %d", rep.Total, rep.Spanning, rep.Files)
	}
	var listed []string
	for i, p := range rep.Parts {
		if want := parts.PartName("airgap-bundle", i+1, rep.Total); p.Name != want || p.Status != parts.StatusWritten {
			t.Errorf("part %d: %+v, want %s written", i+1, p, want)
		}
		fi, err := os.Stat(p.Path)
		if err != nil || fi.Size() > partSize || fi.Size() != p.Size {
			t.Fatalf("%s: %v, %d bytes (part_size %d)", p.Name, err, fi.Size(), partSize)
		}
		// on its own: zstd and tar, nothing of ours
		members := strings.Split(strings.TrimSpace(run(t, dest, "sh", "-c", `zstd -dc "$1" | tar -t`, "sh", p.Name)), "\n")
		if members[0] != parts.IndexName {
			t.Errorf("%s: first member %s", p.Name, members[0])
		}
		listed = append(listed, members[1:]...)
		run(t, dest, "sha256sum", "-c", p.Name+".sha256")
		// the index describes the part: its number, the total, each member's size and sha256
		var x parts.Index
		if err := yaml.Unmarshal([]byte(run(t, dest, "sh", "-c", `zstd -dc "$1" | tar -xO .airgap-part.yaml`, "sh", p.Name)), &x); err != nil {
			t.Fatal(err)
		}
		if x.Part != i+1 || x.Total != rep.Total || x.ID != rep.ID || len(x.Members) != len(members)-1 {
			t.Fatalf("%s: index %+v", p.Name, x)
		}
		for _, m := range x.Members {
			data := run(t, dest, "sh", "-c", `zstd -dc "$1" | tar -xO "$2"`, "sh", p.Name, m.Name)
			if sum := sha256.Sum256([]byte(data)); hex.EncodeToString(sum[:]) != m.SHA256 || int64(len(data)) != m.Size {
				t.Errorf("%s: %s: %d bytes, the index says %d and its sha256", p.Name, m.Name, len(data), m.Size)
			}
		}
	}
	run(t, dest, "sha256sum", "-c", parts.SumsName)
	joined := strings.Join(listed, " ")
	for _, want := range []string{"SHA256SUMS", "SHA256SUMS.asc", "files/kubelet", "images/blobs/sha256/big.chunk-0001", "images/blobs/sha256/big.chunk-0002"} {
		if !strings.Contains(joined, want) {
			t.Errorf("no member %s in %v", want, listed)
		}
	}
	if strings.Contains(joined, ".airgap/") || listed[0] != "SHA256SUMS" {
		t.Errorf("members %v: SHA256SUMS first, the dot folder left out", listed)
	}

	again := pack(t, src, dest)
	if again.Changed || again.ID != rep.ID {
		t.Errorf("rerun changed: %+v", again.Parts)
	}
	// a damaged part is written again, and only it
	flipByte(t, rep.Parts[1].Path)
	mend := pack(t, src, dest)
	for i, p := range mend.Parts {
		if want := map[bool]string{true: parts.StatusWritten, false: parts.StatusUnchanged}[i == 1]; p.Status != want {
			t.Errorf("after damage, part %d %s, want %s", i+1, p.Status, want)
		}
	}
	run(t, dest, "sha256sum", "-c", parts.SumsName)
}

// Parts carried one at a time, last first: each unpack takes what it has, names what is
// missing, keeps the chunks of the file that spans parts until all are in; at the end the
// bundle checks with the real sha256sum -c SHA256SUMS and a rerun does nothing.
func TestUnpackReverseOrderSubsetsResume(t *testing.T) {
	need(t, "zstd", "sha256sum")
	src, packed := bundle(t), filepath.Join(t.TempDir(), "parts")
	rep := pack(t, src, packed)
	carried, dest := filepath.Join(t.TempDir(), "usb"), filepath.Join(t.TempDir(), "site-bundle")
	var assembled []string
	for n := rep.Total; n >= 1; n-- {
		copyPart(t, rep, n, carried)
		got := unpack(t, carried, dest)
		if len(got.FailedItems) != 0 {
			t.Fatalf("part %d: %v", n, got.FailedItems)
		}
		if len(got.Missing) != n-1 || got.Complete != (n == 1) {
			t.Fatalf("after part %d: missing %v, complete %v", n, got.Missing, got.Complete)
		}
		assembled = append(assembled, got.Assembled...)
		if n == rep.Total && len(got.Pending) == 0 {
			t.Errorf("the last part alone: no file waits for its other chunks (spanning %v)", rep.Spanning)
		}
		if n == 1 {
			if slices.Sort(assembled); !slices.Equal(assembled, slices.Sorted(slices.Values(rep.Spanning))) || len(got.Pending) != 0 {
				t.Errorf("assembled %v (each spanning file once: %v), pending %v", assembled, rep.Spanning, got.Pending)
			}
			for _, p := range got.Parts[1:] {
				if p.Status != parts.StatusDone {
					t.Errorf("%s: %s, want %s", p.Name, p.Status, parts.StatusDone)
				}
			}
		}
	}
	run(t, dest, "sha256sum", "--strict", "-c", "SHA256SUMS")
	for _, rel := range []string{"SHA256SUMS.asc", "files/empty", "files/a name with spaces"} {
		a, _ := os.ReadFile(filepath.Join(src, rel))
		b, err := os.ReadFile(filepath.Join(dest, rel))
		if err != nil || !bytes.Equal(a, b) {
			t.Errorf("%s: %v", rel, err)
		}
	}
	if again := unpack(t, carried, dest); again.Changed || !again.Complete {
		t.Errorf("rerun: changed %v complete %v", again.Changed, again.Complete)
	}
	if _, err := os.Stat(filepath.Join(dest, parts.StateDir)); err != nil {
		t.Errorf("the done markers are kept: %v", err)
	}
}

// One part with a byte flipped is named and the others unpacked; once it is replaced, the
// rerun unpacks only it and completes.
func TestDamagedPartNamedOthersUnpacked(t *testing.T) {
	need(t, "zstd", "sha256sum")
	src, packed := bundle(t), filepath.Join(t.TempDir(), "parts")
	rep := pack(t, src, packed)
	carried, dest := filepath.Join(t.TempDir(), "usb"), filepath.Join(t.TempDir(), "site-bundle")
	for n := 1; n <= rep.Total; n++ {
		copyPart(t, rep, n, carried)
	}
	os.WriteFile(filepath.Join(carried, parts.SumsName), mustRead(t, filepath.Join(packed, parts.SumsName)), 0o644)
	bad := rep.Parts[1].Name
	flipByte(t, filepath.Join(carried, bad))
	got := unpack(t, carried, dest)
	if len(got.FailedItems) != 1 || got.FailedItems[0].Part != bad || !strings.Contains(got.FailedItems[0].Msg, "damaged") || got.Complete {
		t.Fatalf("failed %v complete %v", got.FailedItems, got.Complete)
	}
	for _, p := range got.Parts {
		want := parts.StatusUnpacked
		if p.Name == bad {
			want = parts.StatusDamaged
		}
		if p.Status != want {
			t.Errorf("%s: %s, want %s", p.Name, p.Status, want)
		}
	}
	if _, err := os.Stat(filepath.Join(dest, "SHA256SUMS")); err != nil {
		t.Errorf("part 1 was not unpacked: %v", err)
	}
	copyPart(t, rep, 2, carried)
	got = unpack(t, carried, dest)
	if !got.Complete || len(got.FailedItems) != 0 {
		t.Fatalf("after the part was replaced: %+v", got)
	}
	for _, p := range got.Parts {
		if want := map[bool]string{true: parts.StatusUnpacked, false: parts.StatusDone}[p.Name == bad]; p.Status != want {
			t.Errorf("%s: %s, want %s", p.Name, p.Status, want)
		}
	}
	run(t, dest, "sha256sum", "--strict", "-c", "SHA256SUMS")
}

func mustRead(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// handPart writes a one-part pack by hand (index, members) with its .sha256: what a hostile or
// broken packer could produce.
func handPart(t *testing.T, dir string, members map[string]string, indexPath func(name string) string) string {
	t.Helper()
	need(t, "zstd")
	os.MkdirAll(dir, 0o755)
	x := parts.Index{Format: parts.Format, Bundle: "b", ID: strings.Repeat("ab", 32), Part: 1, Total: 1, PartSize: partSize}
	var names []string
	for n := range members {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		s := sha256.Sum256([]byte(members[n]))
		x.Members = append(x.Members, parts.Member{Name: n, Path: indexPath(n), Size: int64(len(members[n])), SHA256: hex.EncodeToString(s[:])})
	}
	idx, _ := yaml.Marshal(x)
	var tb bytes.Buffer
	tw := tar.NewWriter(&tb)
	tw.WriteHeader(&tar.Header{Name: parts.IndexName, Mode: 0o644, Size: int64(len(idx)), Typeflag: tar.TypeReg})
	tw.Write(idx)
	for _, n := range names {
		tw.WriteHeader(&tar.Header{Name: n, Mode: 0o644, Size: int64(len(members[n])), Typeflag: tar.TypeReg})
		tw.Write([]byte(members[n]))
	}
	tw.Close()
	name := parts.PartName("b", 1, 1)
	cmd := exec.Command("zstd", "-q", "-c")
	cmd.Stdin = &tb
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, name), out, 0o644)
	s := sha256.Sum256(out)
	os.WriteFile(filepath.Join(dir, name+".sha256"), []byte(hex.EncodeToString(s[:])+"  "+name+"\n"), 0o644)
	return name
}

// Member names that leave the bundle are refused, naming the part and the member: an absolute
// path, "..", a dot folder (the unpack's own state), and a path through a symbolic link in dest.
func TestUnpackRefusesEscapes(t *testing.T) {
	need(t, "zstd")
	for _, tc := range []struct{ name, member string }{
		{"dotdot", "../evil"},
		{"absolute", "/tmp/evil"},
		{"state folder", ".airgap-unpack/x/done/b.part-0001-of-0001.tar.zst"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			base := t.TempDir()
			carried, dest := filepath.Join(base, "usb"), filepath.Join(base, "dest")
			handPart(t, carried, map[string]string{"files/ok": "ok", tc.member: "evil"}, func(n string) string { return n })
			rep := unpack(t, carried, dest)
			if len(rep.FailedItems) != 1 || !strings.Contains(rep.FailedItems[0].Msg, "refused") || rep.Complete || rep.Parts[0].Status != parts.StatusRefused {
				t.Fatalf("%+v", rep)
			}
			if _, err := os.Stat(filepath.Join(base, "evil")); err == nil {
				t.Error("../evil was written")
			}
			if _, err := os.Stat(filepath.Join(dest, "files", "ok")); err == nil {
				t.Error("a part with an escaping member was partly unpacked")
			}
		})
	}
	t.Run("through a symbolic link", func(t *testing.T) {
		base := t.TempDir()
		carried, dest, outside := filepath.Join(base, "usb"), filepath.Join(base, "dest"), filepath.Join(base, "outside")
		os.MkdirAll(dest, 0o755)
		os.MkdirAll(outside, 0o755)
		os.Symlink(outside, filepath.Join(dest, "files"))
		handPart(t, carried, map[string]string{"files/kubelet": "evil"}, func(n string) string { return n })
		rep := unpack(t, carried, dest)
		if len(rep.FailedItems) != 1 || !strings.Contains(rep.FailedItems[0].Msg, "symbolic link") {
			t.Fatalf("%+v", rep.FailedItems)
		}
		if ents, _ := os.ReadDir(outside); len(ents) != 0 {
			t.Errorf("written through the link: %v", ents)
		}
	})
	t.Run("member not the index's", func(t *testing.T) {
		base := t.TempDir()
		carried, dest := filepath.Join(base, "usb"), filepath.Join(base, "dest")
		handPart(t, carried, map[string]string{"files/a": "a"}, func(string) string { return "files/b" })
		rep := unpack(t, carried, dest)
		if len(rep.FailedItems) != 1 || !strings.Contains(rep.FailedItems[0].Msg, "refused") {
			t.Fatalf("%+v", rep.FailedItems)
		}
	})
}

// An unpack interrupted after its first part (the run cancelled, as a killed run) resumes: the
// rerun skips that part and completes.
func TestUnpackInterruptedResumes(t *testing.T) {
	need(t, "zstd", "sha256sum")
	src, packed := bundle(t), filepath.Join(t.TempDir(), "parts")
	pack(t, src, packed)
	dest := filepath.Join(t.TempDir(), "site-bundle")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var seen []string
	_, err := parts.Unpack(ctx, parts.UnpackOptions{Src: packed, Dest: dest, Concurrency: 1, OnPart: func(name string, err error) {
		seen = append(seen, name)
		cancel()
	}})
	if !errors.Is(err, context.Canceled) || len(seen) != 1 {
		t.Fatalf("err %v after %v", err, seen)
	}
	got := unpack(t, packed, dest)
	if !got.Complete || got.Parts[0].Status != parts.StatusDone || got.Parts[1].Status != parts.StatusUnpacked {
		t.Fatalf("resume: %+v", got.Parts)
	}
	run(t, dest, "sha256sum", "--strict", "-c", "SHA256SUMS")
	if tmps, _ := filepath.Glob(filepath.Join(dest, "*", ".airgap-tmp-*")); len(tmps) != 0 {
		t.Errorf("temporary files left: %v", tmps)
	}
}

// Too little space: pack and unpack fail before writing anything, naming needed, free and
// short. A real small tmpfs when the test may mount one (root), and an injected free space.
func TestSpaceForecast(t *testing.T) {
	need(t, "zstd")
	src := bundle(t)
	small := func(string) (int64, error) { return 100 << 10, nil }
	dest := filepath.Join(t.TempDir(), "parts")
	_, err := parts.Pack(context.Background(), parts.PackOptions{Src: src, Dest: dest, PartSize: partSize, Free: small})
	if !errors.Is(err, parts.ErrNoSpace) || !strings.Contains(err.Error(), "102400 free") || !strings.Contains(err.Error(), "short") {
		t.Fatalf("pack: %v", err)
	}
	if _, err := os.Stat(dest); err == nil {
		t.Error("pack wrote before failing")
	}
	rep := pack(t, src, dest)
	site := filepath.Join(t.TempDir(), "site")
	_, err = parts.Unpack(context.Background(), parts.UnpackOptions{Src: dest, Dest: site, Free: small})
	if !errors.Is(err, parts.ErrNoSpace) {
		t.Fatalf("unpack: %v", err)
	}
	if _, err := os.Stat(site); err == nil {
		t.Error("unpack wrote before failing")
	}

	mnt := filepath.Join(t.TempDir(), "tmpfs")
	os.MkdirAll(mnt, 0o755)
	if err := exec.Command("mount", "-t", "tmpfs", "-o", "size=512k", "tmpfs", mnt).Run(); err != nil {
		t.Logf("no tmpfs (%v): the injected free space covers it", err)
		return
	}
	t.Cleanup(func() { exec.Command("umount", mnt).Run() })
	_, err = parts.Unpack(context.Background(), parts.UnpackOptions{Src: dest, Dest: filepath.Join(mnt, "site")})
	if !errors.Is(err, parts.ErrNoSpace) {
		t.Fatalf("unpack onto a 512k tmpfs (%d parts): %v", rep.Total, err)
	}
	if ents, _ := os.ReadDir(mnt); len(ents) != 0 {
		t.Errorf("unpack wrote onto the tmpfs: %v", ents)
	}
}

// Parts of two packs in one folder are refused, naming both, before anything is written.
func TestUnpackRefusesMixedPacks(t *testing.T) {
	need(t, "zstd")
	src := bundle(t)
	a := pack(t, src, filepath.Join(t.TempDir(), "a"))
	b, err := parts.Pack(context.Background(), parts.PackOptions{Src: src, Dest: filepath.Join(t.TempDir(), "b"), PartSize: 2 * partSize})
	if err != nil {
		t.Fatal(err)
	}
	mixed, dest := filepath.Join(t.TempDir(), "mixed"), filepath.Join(t.TempDir(), "dest")
	copyPart(t, a, 1, mixed)
	copyPart(t, b, 2, mixed)
	_, err = parts.Unpack(context.Background(), parts.UnpackOptions{Src: mixed, Dest: dest})
	if err == nil || !strings.Contains(err.Error(), "more than one pack") || !strings.Contains(err.Error(), "("+strconv.Itoa(a.Total)+" parts)") ||
		!strings.Contains(err.Error(), "("+strconv.Itoa(b.Total)+" parts)") {
		t.Fatalf("err = %v", err)
	}
	if _, err := os.Stat(dest); err == nil {
		t.Error("dest written")
	}
}

func TestParseSize(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64
	}{{"4G", 4 << 30}, {"700M", 700 << 20}, {"512K", 512 << 10}, {"4096", 4096}, {"4GiB", 4 << 30}, {"1gb", 1 << 30}, {" 2T ", 2 << 40}} {
		if got, err := parts.ParseSize(tc.in); err != nil || got != tc.want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []string{"", "G", "-1M", "4X", "1.5G", "0"} {
		if _, err := parts.ParseSize(bad); err == nil {
			t.Errorf("ParseSize(%q) accepted", bad)
		}
	}
}

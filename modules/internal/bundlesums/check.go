package bundlesums

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"

	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/atomicfile"
	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/gpgsig"
	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/verified"
)

// SiteStampName is the site's record (in the bundle's private dot folder, never listed) that it
// wrote SHA256SUMS itself, after checking the signed inputs it was made from (a delta applied
// on top of the bundle): what SHA256SUMS it wrote and on which inode at which change time.
const SiteStampName = ".airgap/site-sums.json"

// CheckOptions says which bundle to check and against which key.
type CheckOptions struct {
	Dir string
	// TrustedKey is the armored public key SHA256SUMS.asc must come from; empty: the key beside
	// it (SHA256SUMS.key), trusted on first use.
	TrustedKey       string
	RequireSignature bool
	Concurrency      int
	Check            bool // store no digest records
	// Progress, when set, is told after each file hashed.
	Progress func(done, misses int, bytes int64)
}

// Failure is one file of the bundle that fails the check.
type Failure struct {
	Path   string `json:"path"` // relative to the bundle
	Reason string `json:"reason"`
}

// CheckReport is what a check found.
type CheckReport struct {
	Files       int       // lines in SHA256SUMS
	Hashed      int       // files read (no valid digest record)
	Cached      int       // files whose digest came from their record
	Failed      []Failure // every file that fails, SHA256SUMS first
	Signed      bool      // SHA256SUMS.asc is a good signature by the trusted key
	Signer      string    // the signing key's fingerprint (or the site stamp's signed inputs')
	TrustedFrom string    // "trusted_key", or "bundle" (SHA256SUMS.key, trust on first use)
	SiteWritten bool      // SHA256SUMS was written by the site itself (SiteStampName)
	Warnings    []string
}

type siteStamp struct {
	SHA256 string `json:"sha256"` // of SHA256SUMS
	Signer string `json:"signer"` // fingerprint of the key the inputs were signed with
	Inode  uint64 `json:"inode"`
	Ctime  int64  `json:"ctime_ns"`
}

// StampSite records that the site wrote dir's SHA256SUMS as it is now, from inputs whose
// signature by signer (a fingerprint) it checked. Check accepts that SHA256SUMS without a
// signature while it is the same file (inode and change time: a copy of the bundle, or the
// stamp carried in from elsewhere, does not match) with the same content.
func StampSite(dir, signer string) error {
	path := filepath.Join(dir, Name)
	b, fi, err := readSums(path)
	if err != nil {
		return err
	}
	ino, ct := identity(fi)
	sum := sha256.Sum256(b)
	out, _ := json.Marshal(siteStamp{SHA256: hex.EncodeToString(sum[:]), Signer: signer, Inode: ino, Ctime: ct})
	stamp := filepath.Join(dir, SiteStampName)
	if err := os.MkdirAll(filepath.Dir(stamp), 0o755); err != nil {
		return err
	}
	return atomicfile.Write(stamp, append(out, '\n'), 0o644)
}

// SiteStamped says whether dir's SHA256SUMS is, as it is now, the one the site stamped (StampSite),
// and from inputs signed by which key.
func SiteStamped(dir string) (signer string, ok bool) {
	b, fi, err := readSums(filepath.Join(dir, Name))
	if err != nil {
		return "", false
	}
	return siteWritten(dir, b, fi)
}

func identity(fi os.FileInfo) (uint64, int64) {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return st.Ino, st.Ctim.Nano()
	}
	return 0, 0
}

// siteWritten is the stamp's signer when SHA256SUMS (content b, stat fi) is the one the site
// wrote.
func siteWritten(dir string, b []byte, fi os.FileInfo) (string, bool) {
	raw, err := os.ReadFile(filepath.Join(dir, SiteStampName))
	if err != nil {
		return "", false
	}
	var st siteStamp
	if json.Unmarshal(raw, &st) != nil {
		return "", false
	}
	ino, ct := identity(fi)
	sum := sha256.Sum256(b)
	if st.SHA256 != hex.EncodeToString(sum[:]) || ino == 0 || st.Inode != ino || st.Ctime != ct {
		return "", false
	}
	return st.Signer, true
}

func readSums(path string) ([]byte, os.FileInfo, error) {
	fi, err := os.Lstat(path)
	if err != nil {
		return nil, nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fi, fmt.Errorf("not a regular file")
	}
	b, err := os.ReadFile(path)
	return b, fi, err
}

// Check verifies the signature of dir's SHA256SUMS and then every file it lists, and names
// every file that fails: listed but missing, a different content, a symbolic link or other
// non-regular file, a file SHA256SUMS does not list (dot files and dot folders aside). An error
// is returned only when the check itself could not run.
func Check(ctx context.Context, opts CheckOptions) (*CheckReport, error) {
	root := filepath.Clean(opts.Dir)
	if fi, err := os.Stat(root); err != nil || !fi.IsDir() {
		return nil, fmt.Errorf("bundle folder %s: not a folder (%v)", root, err)
	}
	rep := &CheckReport{Failed: []Failure{}}
	fail := func(path, format string, args ...any) {
		rep.Failed = append(rep.Failed, Failure{Path: path, Reason: fmt.Sprintf(format, args...)})
	}
	b, fi, err := readSums(filepath.Join(root, Name))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			fail(Name, "missing: the bundle lists no files")
		} else {
			fail(Name, "%v", err)
		}
		return rep, nil
	}
	if err := checkSignature(ctx, root, b, fi, opts, rep, fail); err != nil {
		return nil, err
	}
	listed, order, bad := parse(b)
	for _, f := range bad {
		fail(Name, "%s", f)
	}
	rep.Files = len(order)

	var files []*entry
	walked := &Report{}
	if err := walk(root, "", true, &files, walked); err != nil {
		return nil, err
	}
	onDisk := map[string]bool{}
	for _, e := range files {
		onDisk[e.rel] = true
	}
	leftOut := map[string]string{}
	for _, l := range walked.LeftOut {
		leftOut[l.Path] = l.Why
	}
	var items, misses []*entry
	for _, rel := range order {
		if why := escapes(rel); why != "" {
			fail(rel, "%s", why)
			continue
		}
		path := filepath.Join(root, rel)
		fi, err := os.Lstat(path)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			fail(rel, "listed in %s but missing", Name)
			continue
		case err != nil:
			fail(rel, "%v", err)
			continue
		case fi.Mode()&fs.ModeSymlink != 0:
			fail(rel, "a symbolic link (not followed)")
			continue
		case !fi.Mode().IsRegular():
			fail(rel, "not a regular file")
			continue
		}
		e := &entry{rel: rel, path: path, fi: fi}
		items = append(items, e)
		if r, ok := verified.Lookup(path, fi); ok {
			e.sha256 = r.SHA256
			rep.Cached++
		} else {
			misses = append(misses, e)
		}
	}
	hashEach(ctx, misses, opts.Concurrency, !opts.Check, opts.Progress)
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	rep.Hashed = len(misses)
	for _, e := range items {
		switch {
		case e.err != nil:
			fail(e.rel, "%v", e.err)
		case e.sha256 != listed[e.rel]:
			fail(e.rel, "content differs: sha256 %s, %s says %s", e.sha256, Name, listed[e.rel])
		}
	}
	for _, e := range files {
		if _, ok := listed[e.rel]; !ok {
			fail(e.rel, "not listed in %s", Name)
		}
	}
	for _, l := range walked.LeftOut {
		if _, ok := listed[l.Path]; !ok {
			fail(l.Path, "%s", l.Why)
		}
	}
	sort.SliceStable(rep.Failed, func(i, j int) bool { // SHA256SUMS first, then by path
		a, b := rep.Failed[i].Path, rep.Failed[j].Path
		if (a == Name) != (b == Name) {
			return a == Name
		}
		return a < b
	})
	return rep, nil
}

// checkSignature decides whether SHA256SUMS (content b) is trusted: a good signature by the
// trusted key, or a SHA256SUMS the site itself wrote (SiteStampName).
func checkSignature(ctx context.Context, root string, b []byte, fi os.FileInfo, opts CheckOptions, rep *CheckReport,
	fail func(path, format string, args ...any)) error {
	key := opts.TrustedKey
	rep.TrustedFrom = "trusted_key"
	if key == "" {
		key = filepath.Join(root, KeyName)
		rep.TrustedFrom = "bundle"
	}
	var trusted []string
	if _, err := os.Stat(key); err == nil {
		fprs, err := gpgsig.Fingerprints(ctx, key)
		if err != nil {
			fail(relOr(root, key), "%v", err)
			return nil
		}
		trusted = fprs
	}
	if signer, ok := siteWritten(root, b, fi); ok && (opts.TrustedKey == "" || contains(trusted, signer)) {
		rep.SiteWritten, rep.Signer = true, signer
		return nil
	}
	sig := filepath.Join(root, SigName)
	if _, err := os.Lstat(sig); errors.Is(err, fs.ErrNotExist) {
		if opts.RequireSignature {
			fail(Name, "not signed (no %s)", SigName)
		} else {
			rep.Warnings = append(rep.Warnings, fmt.Sprintf("%s is not signed (no %s): only its sums are checked", Name, SigName))
		}
		return nil
	}
	if trusted == nil {
		if opts.TrustedKey != "" {
			return fmt.Errorf("trusted key %s: missing", opts.TrustedKey)
		}
		fail(Name, "signed, but no key to check it against (no %s, and no trusted key given)", KeyName)
		return nil
	}
	signer, err := gpgsig.Verify(ctx, key, sig, filepath.Join(root, Name))
	var bad *gpgsig.BadSignature
	switch {
	case errors.As(err, &bad):
		if opts.RequireSignature {
			fail(Name, "bad signature: %s %s", SigName, bad.Reason)
		} else {
			rep.Warnings = append(rep.Warnings, fmt.Sprintf("%s: bad signature (%s %s): only its sums are checked", Name, SigName, bad.Reason))
		}
		return nil
	case err != nil:
		return err
	}
	rep.Signed, rep.Signer = true, signer
	if rep.TrustedFrom == "bundle" {
		rep.Warnings = append(rep.Warnings, fmt.Sprintf(
			"%s is signed by %s, trusted on first use because it is the key beside it (%s): check this fingerprint with whoever built the bundle", Name, signer, KeyName))
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}

func relOr(root, path string) string {
	if r, err := filepath.Rel(root, path); err == nil && !strings.HasPrefix(r, "..") {
		return r
	}
	return path
}

// escapes says why a listed path is not a plain path inside the bundle ("" when it is).
func escapes(rel string) string {
	if filepath.IsAbs(rel) || rel != filepath.Clean(rel) || rel == ".." || strings.HasPrefix(rel, "../") {
		return "a path that is not plainly inside the bundle"
	}
	return ""
}

// parse reads SHA256SUMS as `sha256sum -c` does (text "  " or binary " *" lines, GNU escapes
// of a line starting with a backslash): path -> hex, the paths in order, and malformed lines.
func parse(b []byte) (map[string]string, []string, []string) {
	listed := map[string]string{}
	var order, bad []string
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	n := 0
	for sc.Scan() {
		n++
		line := sc.Text()
		if line == "" {
			continue
		}
		escaped := strings.HasPrefix(line, `\`)
		if escaped {
			line = line[1:]
		}
		if len(line) < 67 || (line[64:66] != "  " && line[64:66] != " *") {
			bad = append(bad, fmt.Sprintf("line %d is not `<sha256>  <path>`", n))
			continue
		}
		sum, rel := strings.ToLower(line[:64]), line[66:]
		if _, err := hex.DecodeString(sum); err != nil {
			bad = append(bad, fmt.Sprintf("line %d: %q is not a sha256", n, line[:64]))
			continue
		}
		if escaped {
			rel = unescape(rel)
		}
		if _, dup := listed[rel]; dup {
			bad = append(bad, fmt.Sprintf("line %d lists %s a second time", n, rel))
			continue
		}
		listed[rel] = sum
		order = append(order, rel)
	}
	return listed, order, bad
}

func unescape(s string) string {
	var out strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) {
			i++
			switch s[i] {
			case 'n':
				out.WriteByte('\n')
			case 'r':
				out.WriteByte('\r')
			default:
				out.WriteByte(s[i])
			}
			continue
		}
		out.WriteByte(s[i])
	}
	return out.String()
}

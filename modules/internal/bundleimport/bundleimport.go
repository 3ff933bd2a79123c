// Package bundleimport places the outputs of kubespray-offline and of Kubespray's
// contrib/offline in an airgap.kubespray bundle (the offline_bundle_import module), and tells
// which manifest images a bundle's OCI layout holds.
//
// What it guarantees:
//   - A manifest file is placed when some source file has its sha256 (kubespray-offline's paths
//     differ from the bundle's), by a hard link when on the same filesystem and readable by all
//     (a link cannot change its mode), else by a copy verified while it is written; always to a
//     temporary name renamed into place. A wrong file is never put at a manifest path.
//   - contrib/offline's offline-files.tar.gz (wget -x: <host>/<path> under offline-files/) is read
//     twice: first every member is checked and hashed, and an archive with any member that would
//     leave the files folder (absolute, "..", links pointing out, special files, a member below a
//     symbolic link, a name twice) is refused as a whole, naming each such member, before
//     anything is written; so is an archive whose members unpack to more than MaxExtractBytes (a
//     gzip bomb, huge sparse files), naming the member that crosses it. Then what is needed is
//     extracted. Links inside the archive become copies of the file they name.
//   - A full disk (ENOSPC, EDQUOT) is reported as such, naming the path being written; the
//     temporary file is removed.
//   - Nothing is written outside <bundle>/files, not even through a symbolic link found there:
//     every access goes through an os.Root opened on that folder.
//   - In check mode everything is read and nothing is written.
//
// The manifest's paths are fetch.PathFor's (the one layout rule); image names are compared in
// imagename's normal form.
package bundleimport

import (
	"errors"
	"fmt"
	"os"
	"path"
	"sort"
	"strings"
	"syscall"

	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/fetch"
	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/tarfile"
)

// TmpPrefix starts the name of every temporary file written in the bundle.
const TmpPrefix = ".airgap-import-"

// contribTop is the folder manage-offline-files.sh archives: tar -czvf offline-files.tar.gz offline-files
const contribTop = "offline-files"

// DefaultMaxExtract is the default cap on what offline-files.tar.gz's members unpack to.
const DefaultMaxExtract = 32 << 30

// Refused is an input the import will not use; the message names it. Members lists the
// archive members it was refused for (each with the reason), when an archive was.
type Refused struct {
	Msg     string
	Members []string
}

func (e *Refused) Error() string { return e.Msg }

func refused(format string, a ...any) error { return &Refused{Msg: fmt.Sprintf(format, a...)} }

// diskFull names path for a full disk or quota; other errors are returned as they are.
func diskFull(err error, p string) error {
	var errno syscall.Errno
	if errors.As(err, &errno) && (errno == syscall.ENOSPC || errno == syscall.EDQUOT) {
		return refused("disk full: %s while writing %s; free space there (or move the bundle) and run again", errno.Error(), p)
	}
	return err
}

// File is a manifest file, as manifest_items(manifest, 'import') projects it.
type File struct {
	Name     string `json:"name"`
	Path     string `json:"path"`
	Checksum string `json:"checksum"`
	URL      string `json:"url"`
}

// Repo is a package repository folder mirrored as it is under Dest (relative to files/).
type Repo struct {
	Src  string `json:"src"`
	Dest string `json:"dest"`
}

// Request is one import of files.
type Request struct {
	Bundle                string // the bundle folder; files go to <Bundle>/files
	Files                 []File
	KubesprayOfflineFiles string // kubespray-offline's outputs/files, or ""
	ContribFiles          string // offline-files.tar.gz, or an offline-files/ folder, or ""
	Repos                 []Repo
	MaxExtractBytes       int64 // 0: no cap
	Copy                  bool  // never hard-link
	Check                 bool  // read everything, write nothing
}

// Placed is a file put (or, in check mode, to be put) in the bundle.
type Placed struct {
	Name *string `json:"name"` // the manifest's name; null for another file of the archive
	Path string  `json:"path"`
	From string  `json:"from"`
	How  string  `json:"how"` // link, copy or extract
}

// Missing is a manifest file the sources do not provide.
type Missing struct {
	Name string `json:"name"`
	Path string `json:"path"`
	URL  string `json:"url"`
	Why  string `json:"why"`
}

// Mismatched is an archive member at a manifest path whose content is not the manifest's.
type Mismatched struct {
	Name   string `json:"name"`
	Path   string `json:"path"`
	Source string `json:"source"`
}

// Result is what an import did (or would do).
type Result struct {
	Changed      bool           `json:"changed"`
	Found        []string       `json:"found"`
	Placed       []Placed       `json:"placed"`
	Already      []string       `json:"already"`
	Missing      []Missing      `json:"missing"`
	Mismatched   []Mismatched   `json:"mismatched"`
	Unmatched    []string       `json:"unmatched"`
	SkippedLinks []string       `json:"skipped_links"`
	Repos        map[string]int `json:"repos"`
	Lines        []string       `json:"lines"`
}

func stripTop(rel string) string {
	if rel == contribTop {
		return ""
	}
	return strings.TrimPrefix(rel, contribTop+"/")
}

// reserved: the fetch's .partial folder and this package's temporary names.
func reserved(rel string) bool {
	parts := strings.Split(rel, "/")
	if parts[0] == ".partial" {
		return true
	}
	for _, p := range parts {
		if strings.HasPrefix(p, TmpPrefix) {
			return true
		}
	}
	return false
}

func checksumHex(ck string) string {
	ck = strings.TrimSpace(ck)
	return strings.ToLower(strings.TrimPrefix(ck, "sha256:"))
}

// entry is a file some source offers at a relative path.
type entry struct {
	rel, sha, origin string
	path             string // a file in a folder, or
	member           string // the archive member (its relative path) holding it
}

type manifestFile struct {
	File
	ck string
}

// Import places the request's files in the bundle (or, with Check, says what it would place).
// A *Refused error names an input that was refused as a whole; nothing was written for it.
func Import(req Request) (*Result, error) {
	fs := &filesDir{dir: path.Join(req.Bundle, "files"), check: req.Check, copy: req.Copy, hashes: hashCache{}}
	defer fs.close()
	var manifest []manifestFile
	byPath := map[string]*manifestFile{}
	for _, f := range req.Files {
		if clean, err := fetch.CleanPath(f.Path); err != nil || clean != f.Path || reserved(f.Path) {
			return nil, refused("manifest file %s has an unsafe path %q", f.Name, f.Path)
		}
		manifest = append(manifest, manifestFile{File: f, ck: checksumHex(f.Checksum)})
	}
	for i := range manifest {
		byPath[manifest[i].Path] = &manifest[i]
	}

	// The contrib/offline archive is checked whole before anything is written.
	var contrib []entry
	skippedLinks := []string{}
	if req.ContribFiles != "" {
		fi, err := os.Stat(req.ContribFiles)
		if err != nil {
			return nil, err
		}
		if fi.IsDir() {
			all, err := scanDir(req.ContribFiles, path.Base(req.ContribFiles), fs.hashes)
			if err != nil {
				return nil, err
			}
			for _, e := range all {
				if !reserved(e.rel) {
					contrib = append(contrib, e)
				}
			}
		} else {
			contrib, skippedLinks, err = scanTar(req.ContribFiles, req.MaxExtractBytes)
			if err != nil {
				return nil, err
			}
		}
	}
	var ko []entry
	if req.KubesprayOfflineFiles != "" {
		var err error
		if ko, err = scanDir(req.KubesprayOfflineFiles, "kubespray-offline files", fs.hashes); err != nil {
			return nil, err
		}
	}

	inPlace := func(f *manifestFile) (bool, error) {
		if f.ck != "" {
			sha, err := fs.current(f.Path)
			return sha == f.ck, err
		}
		return fs.exists(f.Path)
	}
	var already []*manifestFile
	isAlready := map[string]bool{}
	for i := range manifest {
		ok, err := inPlace(&manifest[i])
		if err != nil {
			return nil, err
		}
		if ok {
			already = append(already, &manifest[i])
			isAlready[manifest[i].Name+"\x00"+manifest[i].Path] = true
		}
	}
	alreadyOK := func(f *manifestFile) bool { return f != nil && isAlready[f.Name+"\x00"+f.Path] }

	type plan struct {
		e   entry
		sha string
		f   *manifestFile
	}
	plans := map[string]plan{}
	mismatched := []Mismatched{}
	for _, e := range contrib {
		f := byPath[e.rel]
		if f != nil && f.ck != "" && e.sha != f.ck {
			mismatched = append(mismatched, Mismatched{Name: f.Name, Path: e.rel, Source: e.origin})
			continue
		}
		cur, err := fs.current(e.rel)
		if err != nil {
			return nil, err
		}
		if cur != e.sha && !alreadyOK(f) {
			plans[e.rel] = plan{e, e.sha, f}
		}
	}
	index := map[string]entry{}
	for _, e := range append(append([]entry{}, contrib...), ko...) { // kubespray-offline's files win: a hard link beats an extraction
		index[e.sha] = e
	}
	wantedSums := map[string]bool{}
	for i := range manifest {
		f := &manifest[i]
		if f.ck != "" {
			wantedSums[f.ck] = true
		}
		if _, planned := plans[f.Path]; planned || f.ck == "" || alreadyOK(f) {
			continue
		}
		if e, ok := index[f.ck]; ok {
			plans[f.Path] = plan{e, f.ck, f}
		}
	}
	unmatched := []string{}
	for _, e := range ko {
		if !wantedSums[e.sha] {
			unmatched = append(unmatched, e.rel)
		}
	}

	// Package repositories (kubespray-offline's debs/, rpms/, pypi/), mirrored as they are.
	type repoPlan struct{ rel, src, under string }
	var repoPlans []repoPlan
	for _, r := range req.Repos {
		if clean, ok := tarfile.Clean(r.Dest); !ok || clean != r.Dest || clean == "" {
			return nil, refused("unsafe destination %q for %s", r.Dest, r.Src)
		}
		files, err := walkRegular(r.Src)
		if err != nil {
			return nil, err
		}
		for _, rf := range files {
			rel := r.Dest + "/" + rf.rel
			if reserved(rel) {
				continue
			}
			same, err := fs.sameAs(rel, rf.path)
			if err != nil {
				return nil, err
			}
			if !same {
				repoPlans = append(repoPlans, repoPlan{rel, rf.path, r.Dest})
			}
		}
	}

	// Write: files from folders first (links), then one more read of the archive.
	placed := []Placed{}
	wanted := map[string][]target{}
	rels := make([]string, 0, len(plans))
	for rel := range plans {
		rels = append(rels, rel)
	}
	sort.Strings(rels)
	for _, rel := range rels {
		p := plans[rel]
		var how string
		if p.e.path != "" {
			var err error
			if how, err = fs.placeFile(rel, p.e.path, p.sha, false); err != nil {
				return nil, err
			}
		} else {
			how = "extract"
			if !req.Check {
				wanted[p.e.member] = append(wanted[p.e.member], target{rel, p.sha})
			}
		}
		var name *string
		if p.f != nil {
			n := p.f.Name
			name = &n
		}
		placed = append(placed, Placed{Name: name, Path: rel, From: p.e.origin, How: how})
	}
	if len(wanted) > 0 {
		if err := extract(req.ContribFiles, wanted, fs); err != nil {
			return nil, err
		}
	}
	repos := map[string]int{}
	for _, rp := range repoPlans {
		if _, err := fs.placeFile(rp.rel, rp.src, "", true); err != nil {
			return nil, err
		}
		repos[rp.under]++
	}

	placedNames := map[string]bool{}
	for _, p := range placed {
		if p.Name != nil {
			placedNames[*p.Name] = true
		}
	}
	foundSet := map[string]bool{}
	for i := range manifest {
		f := &manifest[i]
		if placedNames[f.Name] || alreadyOK(f) {
			foundSet[f.Name] = true
		}
	}
	found := sortedKeys(foundSet)
	var stillMismatched []Mismatched // only while it matters
	for _, m := range mismatched {
		if !foundSet[m.Name] {
			stillMismatched = append(stillMismatched, m)
		}
	}
	mismatched = append([]Mismatched{}, stillMismatched...)
	missing := []Missing{}
	for _, f := range manifest {
		if foundSet[f.Name] {
			continue
		}
		why := "not in the sources"
		if f.ck == "" {
			why = "no checksum to match by content"
		} else {
			for _, m := range mismatched {
				if m.Path == f.Path {
					why = "the archive holds another content at its path"
					break
				}
			}
		}
		missing = append(missing, Missing{Name: f.Name, Path: f.Path, URL: f.URL, Why: why})
	}
	alreadyNames := []string{}
	for _, f := range already {
		alreadyNames = append(alreadyNames, f.Name)
	}
	sort.Strings(alreadyNames)
	res := &Result{
		Changed: len(placed) > 0 || len(repoPlans) > 0, Found: found, Placed: placed, Already: alreadyNames,
		Missing: missing, Mismatched: mismatched, Unmatched: unmatched, SkippedLinks: skippedLinks, Repos: repos,
	}
	res.Lines = lines(res, len(manifest), len(placedNames), req)
	return res, nil
}

func lines(r *Result, total, placedManifest int, req Request) []string {
	verb := "placed"
	if req.Check {
		verb = "would place"
	}
	hows := map[string]int{}
	others := 0
	for _, p := range r.Placed {
		if p.Name != nil {
			hows[p.How]++
		} else {
			others++
		}
	}
	words := map[string]string{"copy": "copied", "extract": "from the archive", "link": "hard-linked"}
	var howText []string
	for _, h := range sortedKeys(hows) {
		howText = append(howText, fmt.Sprintf("%d %s", hows[h], words[h]))
	}
	detail := ""
	if len(howText) > 0 {
		detail = ": " + strings.Join(howText, ", ")
	}
	out := []string{fmt.Sprintf("files: %d of %d manifest files in the bundle (%s %d now%s, %d already there)",
		len(r.Found), total, verb, placedManifest, detail, len(r.Already))}
	if len(r.Missing) > 0 {
		var parts []string
		for _, m := range r.Missing {
			where := m.URL
			if where == "" {
				where = m.Path
			}
			parts = append(parts, fmt.Sprintf("%s (%s: %s)", m.Name, where, m.Why))
		}
		out = append(out, fmt.Sprintf("missing %d: %s; fetch them online with airgap.kubespray.download, which keeps what is here",
			len(r.Missing), strings.Join(parts, "; ")))
	}
	if len(r.Mismatched) > 0 {
		var parts []string
		for _, m := range r.Mismatched {
			parts = append(parts, fmt.Sprintf("%s (%s)", m.Source, m.Name))
		}
		out = append(out, "not placed, content differs from Kubespray's checksum: "+strings.Join(parts, "; "))
	}
	if others > 0 {
		v := "extracted"
		if req.Check {
			v = "would extract"
		}
		out = append(out, fmt.Sprintf("%s: %s %s more", path.Base(req.ContribFiles), v, filesText(others)))
	}
	if len(r.SkippedLinks) > 0 {
		out = append(out, "skipped links: "+sample(r.SkippedLinks))
	}
	if len(r.Unmatched) > 0 {
		out = append(out, fmt.Sprintf("kubespray-offline files matching no manifest file (other versions, or unused here): %d (%s)",
			len(r.Unmatched), sample(r.Unmatched)))
	}
	if len(r.Repos) > 0 {
		var parts []string
		for _, u := range sortedKeys(r.Repos) {
			parts = append(parts, fmt.Sprintf("%s in files/%s", filesText(r.Repos[u]), u))
		}
		v := "placed"
		if req.Check {
			v = "would place"
		}
		out = append(out, fmt.Sprintf("package repositories: %s %s", v, strings.Join(parts, ", ")))
	}
	return out
}

func filesText(n int) string {
	if n == 1 {
		return "1 file"
	}
	return fmt.Sprintf("%d files", n)
}

func sample(items []string) string {
	const n = 5
	if len(items) <= n {
		return strings.Join(items, ", ")
	}
	return strings.Join(items[:n], ", ") + fmt.Sprintf(", and %d more", len(items)-n)
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

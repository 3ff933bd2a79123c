// Package repoconf points a host's apt, dnf/yum and pip at an offline mirror, and back.
//
// Every file it replaces, moves or disables is first copied into one backup folder with a
// journal of what was done, so that Revert restores each original byte for byte (with its
// mode, owner and mtime) and removes what was added. Plans are computed before anything is
// written, so check mode and diffs show exactly what Apply would do.
//
// Every file is reached through an os.Root opened at Config.Root: a symlink (or a journal
// entry) leading out of the root is refused with an error naming it, never followed (see tree). A file
// someone changed after Configure wrote it is never lost on Revert: it is kept beside, as
// <file>.airgap-kubespray-modified.
package repoconf

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
)

// Names of what this package writes.
const (
	name       = "airgap-kubespray"
	journalDir = "/var/lib/airgap-kubespray/repos"
	aptList    = "/etc/apt/sources.list.d/" + name + ".list"
	aptSources = "/etc/apt/sources.list.d/" + name + ".sources"
	aptConf    = "/etc/apt/apt.conf.d/99" + name
	aptKeyDir  = "/etc/apt/keyrings"
	yumRepo    = "/etc/yum.repos.d/" + name + ".repo"
	rpmKey     = "/etc/pki/rpm-gpg/RPM-GPG-KEY-" + name
	pipConf    = "/etc/pip.conf"
	// keptSuffix names the copy of a file someone changed after Configure wrote it, kept
	// on Revert (apt, dnf and pip read none of these names).
	keptSuffix = "." + name + "-modified"
)

// Config says which mirror to use. Empty URLs leave that package manager alone.
type Config struct {
	Root              string   // the host's filesystem root; "/" unless configuring a chroot
	DebianRepo        string   // apt base URL for Debian hosts
	UbuntuRepo        string   // apt base URL for Ubuntu hosts
	YumRepo           string   // baseurl for RHEL-likes and Fedora
	PyPIURL           string   // a PEP 503 simple index
	DisableOtherRepos bool     // move every other apt source / yum repo aside
	GPGKey            string   // a key file (on the host) or, for dnf only, a URL
	CAPath            string   // CA bundle (on the host) for https mirrors
	AptSuites         []string // default ["./"]: a flat repository, as dpkg-scanpackages makes
	AptComponents     []string // for archive-style repositories (with suites like "bookworm")
}

// Actions on files.
const (
	Created  = "created"  // a file of ours, new
	Updated  = "updated"  // a file of ours, rewritten
	Replaced = "replaced" // someone else's file, backed up, then overwritten by ours
	Moved    = "moved"    // someone else's file, moved into the backup folder
	Restored = "restored" // put back from the backup folder
	Removed  = "removed"  // a file of ours, deleted
)

// Change is one file Apply changes.
type Change struct {
	Path   string `json:"path"` // as the host sees it (without Root)
	Action string `json:"action"`
	Backup string `json:"backup,omitempty"` // as the host sees it
	Kept   string `json:"kept,omitempty"`   // where a version changed by someone else is kept
	before []byte
	after  []byte // nil: the file is gone afterwards
	mode   os.FileMode
}

// Before and After are the file's content around the change ("" when absent).
func (c Change) Before() string { return string(c.before) }

// After is the file's content after the change ("" when it is gone).
func (c Change) After() string { return string(c.after) }

// Plan is what Apply will do.
type Plan struct {
	OS       OS
	Root     string
	Changes  []Change
	Warnings []string
	Reason   string // why nothing is done, when that is not plain
	journal  *journal
	revert   bool
	fs       tree     // Root, opened: every file is reached through it
	planned  []string // kept names taken by this plan
}

// Close releases the root. A plan is applied at most once.
func (p *Plan) Close() error {
	if p.fs == nil {
		return nil
	}
	return p.fs.Close()
}

// rel turns a path as the host sees it ("/etc/pip.conf") into a name inside the root; it
// must be absolute and clean (no "..", no "//", no trailing "/").
func rel(f string) (string, error) {
	if !strings.HasPrefix(f, "/") || f == "/" || path.Clean(f) != f {
		return "", fmt.Errorf("%q is not a clean absolute path inside the root", f)
	}
	return f[1:], nil
}

// must is rel for the package's own constant paths.
func must(f string) string {
	r, err := rel(f)
	if err != nil {
		panic(err)
	}
	return r
}

func checksum(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// Changed reports whether the plan changes anything.
func (p *Plan) Changed() bool { return len(p.Changes) > 0 }

// BackupDir is where originals are kept, as the host sees it.
func (p *Plan) BackupDir() string { return journalDir }

// Configure plans pointing the host at the mirror.
func Configure(cfg Config) (*Plan, error) {
	cfg = defaults(cfg)
	o, err := DetectOS(cfg.Root)
	if err != nil {
		return nil, err
	}
	r, err := open(cfg.Root)
	if err != nil {
		return nil, err
	}
	p := &Plan{OS: o, Root: cfg.Root, fs: r}
	if p.journal, err = p.loadJournal(); err != nil {
		r.Close()
		return nil, err
	}
	want, err := p.desired(cfg)
	if err != nil {
		r.Close()
		return nil, err
	}
	paths := make([]string, 0, len(want))
	for f := range want {
		paths = append(paths, f)
	}
	sort.Strings(paths)
	for _, f := range paths {
		if err := p.write(f, want[f]); err != nil {
			r.Close()
			return nil, err
		}
	}
	if cfg.DisableOtherRepos {
		if err := p.disableOthers(want); err != nil {
			r.Close()
			return nil, err
		}
	}
	return p, nil
}

func defaults(cfg Config) Config {
	if cfg.Root == "" {
		cfg.Root = "/"
	}
	if len(cfg.AptSuites) == 0 {
		cfg.AptSuites = []string{"./"}
	}
	return cfg
}

// desired returns the files the mirror needs, by path.
func (p *Plan) desired(cfg Config) (map[string][]byte, error) {
	want := map[string][]byte{}
	switch p.OS.Family {
	case Apt:
		repo := cfg.DebianRepo
		if p.OS.ID == "ubuntu" {
			repo = cfg.UbuntuRepo
		}
		if repo == "" {
			p.Warnings = append(p.Warnings, fmt.Sprintf("no %s_repo given: apt sources of this %s host are left as they are", p.OS.ID, p.OS.ID))
			break
		}
		if err := p.apt(cfg, repo, want); err != nil {
			return nil, err
		}
	case Dnf:
		if cfg.YumRepo == "" {
			p.Warnings = append(p.Warnings, fmt.Sprintf("no yum_repo given: the repositories of this %s host are left as they are", p.OS.ID))
			break
		}
		if err := p.dnf(cfg, want); err != nil {
			return nil, err
		}
	}
	if cfg.PyPIURL != "" {
		conf, err := pip(cfg)
		if err != nil {
			return nil, err
		}
		want[pipConf] = conf
	}
	return want, nil
}

func (p *Plan) apt(cfg Config, repo string, want map[string][]byte) error {
	u, err := parseURL("apt repository", repo)
	if err != nil {
		return err
	}
	signedBy := ""
	if cfg.GPGKey != "" {
		if strings.Contains(cfg.GPGKey, "://") {
			return fmt.Errorf("gpg_key %s: apt needs the key as a file on the host (the airgap.kubespray.repos playbook downloads it first)", cfg.GPGKey)
		}
		key, err := os.ReadFile(cfg.GPGKey)
		if err != nil {
			return fmt.Errorf("reading gpg_key: %w", err)
		}
		signedBy = aptKeyDir + "/" + name + ".gpg"
		if bytes.HasPrefix(bytes.TrimSpace(key), []byte("-----BEGIN PGP")) {
			signedBy = aptKeyDir + "/" + name + ".asc"
		}
		want[signedBy] = key
	} else {
		p.Warnings = append(p.Warnings, "no gpg_key: the offline apt repository is trusted without signatures (trusted=yes)")
	}
	flat := len(cfg.AptComponents) == 0
	for _, s := range cfg.AptSuites {
		if flat != strings.HasSuffix(s, "/") {
			return fmt.Errorf("apt_suites %q: a flat repository's suite ends with / and has no components; other suites need apt_components", s)
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# Written by airgap.kubespray.offline_repo_config: the offline mirror.\n")
	if p.OS.Deb822 {
		fmt.Fprintf(&b, "Types: deb\nURIs: %s\nSuites: %s\n", repo, strings.Join(cfg.AptSuites, " "))
		if !flat {
			fmt.Fprintf(&b, "Components: %s\n", strings.Join(cfg.AptComponents, " "))
		}
		if signedBy != "" {
			fmt.Fprintf(&b, "Signed-By: %s\n", signedBy)
		} else {
			fmt.Fprintf(&b, "Trusted: yes\n")
		}
		want[aptSources] = []byte(b.String())
	} else {
		opt := "[trusted=yes] "
		if signedBy != "" {
			opt = "[signed-by=" + signedBy + "] "
		}
		for _, s := range cfg.AptSuites {
			fmt.Fprintf(&b, "deb %s%s %s %s\n", opt, repo, s, strings.Join(cfg.AptComponents, " "))
		}
		want[aptList] = []byte(strings.ReplaceAll(b.String(), " \n", "\n"))
	}
	if cfg.CAPath != "" && u.Scheme == "https" {
		want[aptConf] = []byte(fmt.Sprintf("// Written by airgap.kubespray.offline_repo_config: trust the offline mirror's CA.\nAcquire::https::%s::CaInfo \"%s\";\n", u.Hostname(), cfg.CAPath))
	}
	return nil
}

func (p *Plan) dnf(cfg Config, want map[string][]byte) error {
	u, err := parseURL("yum_repo", cfg.YumRepo)
	if err != nil {
		return err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# Written by airgap.kubespray.offline_repo_config: the offline mirror.\n[%s]\nname=airgap.kubespray offline mirror\nbaseurl=%s\nenabled=1\n", name, cfg.YumRepo)
	switch {
	case cfg.GPGKey == "":
		b.WriteString("gpgcheck=0\nrepo_gpgcheck=0\n")
		p.Warnings = append(p.Warnings, "no gpg_key: packages from the offline yum repository are not signature-checked (gpgcheck=0)")
	case strings.Contains(cfg.GPGKey, "://"):
		fmt.Fprintf(&b, "gpgcheck=1\nrepo_gpgcheck=1\ngpgkey=%s\n", strings.Join(append([]string{cfg.GPGKey}, p.vendorKeys()...), " "))
	default:
		key, err := os.ReadFile(cfg.GPGKey)
		if err != nil {
			return fmt.Errorf("reading gpg_key: %w", err)
		}
		want[rpmKey] = key
		fmt.Fprintf(&b, "gpgcheck=1\nrepo_gpgcheck=1\ngpgkey=%s\n", strings.Join(append([]string{"file://" + rpmKey}, p.vendorKeys()...), " "))
	}
	if cfg.CAPath != "" && u.Scheme == "https" {
		fmt.Fprintf(&b, "sslcacert=%s\n", cfg.CAPath)
	}
	b.WriteString("module_hotfixes=1\n")
	want[yumRepo] = []byte(b.String())
	return nil
}

// vendorKeys are the distribution's own package keys in the root (/etc/pki/rpm-gpg), as
// file:// URLs: the mirror's key signs the repository metadata (repo_gpgcheck), while the
// packages keep their vendor's signatures (gpgcheck), so both kinds of key are listed.
func (p *Plan) vendorKeys() []string {
	found, _ := p.glob("/etc/pki/rpm-gpg", "RPM-GPG-KEY-*")
	var keys []string
	for _, f := range found {
		if f != rpmKey {
			keys = append(keys, "file://"+f)
		}
	}
	sort.Strings(keys)
	return keys
}

// pip writes a global pip.conf, so that root and every user's pip use the mirror.
func pip(cfg Config) ([]byte, error) {
	u, err := parseURL("pypi_url", cfg.PyPIURL)
	if err != nil {
		return nil, err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# Written by airgap.kubespray.offline_repo_config: the offline PyPI mirror.\n[global]\nindex-url = %s\n", cfg.PyPIURL)
	if u.Scheme == "http" {
		fmt.Fprintf(&b, "trusted-host = %s\n", u.Host) // plain HTTP: pip refuses it otherwise
	} else if cfg.CAPath != "" {
		fmt.Fprintf(&b, "cert = %s\n", cfg.CAPath)
	}
	return []byte(b.String()), nil
}

func parseURL(what, s string) (*url.URL, error) {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https" && u.Scheme != "file") || (u.Scheme != "file" && u.Host == "") {
		return nil, fmt.Errorf("%s %q: want an http(s) URL", what, s)
	}
	return u, nil
}

// write plans making f hold content.
func (p *Plan) write(f string, content []byte) error {
	cur, exists, err := p.read(f)
	if err != nil {
		return err
	}
	if exists && bytes.Equal(cur, content) {
		return nil
	}
	c := Change{Path: f, before: cur, after: content, mode: 0o644}
	switch {
	case p.journal.has(f):
		c.Action = Updated
	case exists:
		c.Action, c.Backup = Replaced, p.backupPath(f)
	default:
		c.Action = Created
	}
	p.Changes = append(p.Changes, c)
	return nil
}

// disableOthers plans moving every other apt source or yum repository aside.
func (p *Plan) disableOthers(ours map[string][]byte) error {
	var patterns [][2]string // folder, pattern
	switch p.OS.Family {
	case Apt:
		if ours[aptSources] == nil && ours[aptList] == nil {
			return nil // apt not configured: leave its sources alone
		}
		patterns = [][2]string{{"/etc/apt", "sources.list"}, {"/etc/apt/sources.list.d", "*.list"}, {"/etc/apt/sources.list.d", "*.sources"}}
	case Dnf:
		if ours[yumRepo] == nil {
			return nil
		}
		patterns = [][2]string{{"/etc/yum.repos.d", "*.repo"}}
	}
	for _, pat := range patterns {
		matches, err := p.glob(pat[0], pat[1])
		if err != nil {
			return err
		}
		for _, f := range matches {
			if _, mine := ours[f]; mine {
				continue
			}
			fi, err := p.fs.Lstat(must(f))
			if err != nil || !fi.Mode().IsRegular() {
				continue
			}
			cur, _, err := p.read(f)
			if err != nil {
				return err
			}
			p.Changes = append(p.Changes, Change{Path: f, Action: Moved, Backup: p.backupPath(f), before: cur})
		}
	}
	return nil
}

// Revert plans restoring every original and removing what Configure added. A file someone
// changed after Configure wrote it (or put back after Configure moved it) is kept beside, as
// <file>.airgap-kubespray-modified, with a warning. Without a journal nothing is touched,
// the backups included, and Reason says why.
func Revert(root string) (*Plan, error) {
	if root == "" {
		root = "/"
	}
	r, err := open(root)
	if err != nil {
		return nil, err
	}
	p := &Plan{Root: root, fs: r, revert: true}
	if o, err := DetectOS(root); err == nil {
		p.OS = o
	}
	if err := p.planRevert(); err != nil {
		r.Close()
		return nil, err
	}
	return p, nil
}

func (p *Plan) planRevert() error {
	j, err := p.loadJournal()
	if err != nil {
		return err
	}
	p.journal = j
	if !j.found {
		if _, err := p.fs.Lstat(must(journalDir)); err == nil {
			p.Reason = fmt.Sprintf("the journal %s/journal.json is missing, so nothing can be restored from it: the backups under %s are left in place, restore them by hand", journalDir, journalDir)
			p.Warnings = append(p.Warnings, p.Reason)
		}
		return nil
	}
	state := map[string][]byte{} // a path's content once the changes planned so far are done
	gone := map[string]bool{}
	current := func(f string) ([]byte, bool, error) {
		if gone[f] {
			return nil, false, nil
		}
		if b, ok := state[f]; ok {
			return b, true, nil
		}
		return p.read(f)
	}
	for i := len(j.Entries) - 1; i >= 0; i-- {
		e := j.Entries[i]
		if e.Action == madeDir {
			continue // removed, if empty, once the files are back
		}
		cur, exists, err := current(e.Path)
		if err != nil {
			return err
		}
		switch e.Action {
		case Created:
			if !exists {
				continue
			}
			c := Change{Path: e.Path, Action: Removed, before: cur}
			if checksum(cur) != e.Sum {
				p.keep(&c)
			}
			p.Changes = append(p.Changes, c)
			gone[e.Path] = true
		case Moved, Replaced:
			orig, err := p.fs.ReadFile(must(e.Backup))
			if err != nil {
				return fmt.Errorf("the backup of %s is missing (%s): %w", e.Path, p.abs(e.Backup), err)
			}
			c := Change{Path: e.Path, Action: Restored, Backup: e.Backup, before: cur, after: orig}
			ours := e.Action == Replaced && checksum(cur) == e.Sum
			if exists && !ours && !bytes.Equal(cur, orig) {
				p.keep(&c)
			}
			p.Changes = append(p.Changes, c)
			state[e.Path], gone[e.Path] = orig, false
		}
	}
	return nil
}

// keep plans keeping c's current content, which Configure did not write, beside it.
func (p *Plan) keep(c *Change) {
	for n := 0; ; n++ {
		cand := c.Path + keptSuffix
		if n > 0 {
			cand = fmt.Sprintf("%s.%d", cand, n)
		}
		taken := false
		for _, t := range p.planned {
			taken = taken || t == cand
		}
		if _, err := p.fs.Lstat(must(cand)); errors.Is(err, os.ErrNotExist) && !taken {
			c.Kept = cand
			p.planned = append(p.planned, cand)
			break
		}
	}
	p.Warnings = append(p.Warnings, fmt.Sprintf("%s was changed after offline_repo_config wrote it: that version is kept as %s", c.Path, c.Kept))
}

// glob lists the regular names in folder dir matching pattern, as host paths; a missing
// folder has none.
func (p *Plan) glob(dir, pattern string) ([]string, error) {
	entries, err := fs.ReadDir(p.fs.FS(), must(dir))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("listing %s: %w", p.abs(dir), err)
	}
	var out []string
	for _, e := range entries {
		if ok, _ := path.Match(pattern, e.Name()); ok {
			out = append(out, dir+"/"+e.Name())
		}
	}
	return out, nil
}

func (p *Plan) read(f string) ([]byte, bool, error) {
	b, err := p.fs.ReadFile(must(f))
	if errors.Is(err, os.ErrNotExist) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("reading %s: %w", p.abs(f), err)
	}
	return b, true, nil
}

func (p *Plan) abs(f string) string { return filepath.Join(p.Root, filepath.FromSlash(f)) }

func (p *Plan) backupPath(f string) string { return path.Join(journalDir, "files", f) }

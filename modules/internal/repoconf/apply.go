package repoconf

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strings"
	"syscall"
	"time"
)

// journal records, in the backup folder, every file Configure took over.
type journal struct {
	Version int            `json:"version"`
	Entries []journalEntry `json:"entries"`
	found   bool           // read from disk (false: none yet)
}

type journalEntry struct {
	Path   string `json:"path"`
	Action string `json:"action"` // Created, Moved, Replaced or madeDir
	Backup string `json:"backup,omitempty"`
	Sum    string `json:"sha256,omitempty"` // Created, Replaced: the sha256 of what Configure wrote last
}

const journalFile = journalDir + "/journal.json"

// loadJournal reads the journal; every path in it must be clean, absolute and, for backups,
// inside the backup folder, since Revert writes and removes where it says.
func (p *Plan) loadJournal() (*journal, error) {
	b, err := p.fs.ReadFile(must(journalFile))
	if errors.Is(err, os.ErrNotExist) {
		return &journal{Version: 1}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading the backup journal %s: %w", p.abs(journalFile), err)
	}
	j := journal{found: true}
	if err := json.Unmarshal(b, &j); err != nil {
		return nil, fmt.Errorf("reading the backup journal %s: %w", p.abs(journalFile), err)
	}
	for i, e := range j.Entries {
		bad := func(format string, args ...any) error {
			return fmt.Errorf("the backup journal %s, entry %d: %s", p.abs(journalFile), i, fmt.Sprintf(format, args...))
		}
		if _, err := rel(e.Path); err != nil {
			return nil, bad("path %v", err)
		}
		switch e.Action {
		case Created, madeDir:
		case Moved, Replaced:
			if _, err := rel(e.Backup); err != nil {
				return nil, bad("backup %v", err)
			}
			if !strings.HasPrefix(e.Backup, journalDir+"/files/") {
				return nil, bad("backup %q is not in %s/files", e.Backup, journalDir)
			}
		default:
			return nil, bad("unknown action %q", e.Action)
		}
	}
	return &j, nil
}

func (j *journal) has(f string) bool {
	for _, e := range j.Entries {
		if e.Path == f && (e.Action == Created || e.Action == Replaced) {
			return true
		}
	}
	return false
}

func (j *journal) backupTaken(b string) bool {
	for _, e := range j.Entries {
		if e.Backup == b {
			return true
		}
	}
	return false
}

// setSum records that Configure wrote content with sum at f (the last entry of ours for f).
func (j *journal) setSum(f, sum string) {
	for i := len(j.Entries) - 1; i >= 0; i-- {
		if e := &j.Entries[i]; e.Path == f && (e.Action == Created || e.Action == Replaced) {
			e.Sum = sum
			return
		}
	}
}

// Apply carries the plan out. Originals are copied into the backup folder, and the journal
// updated, before anything of theirs changes, so a failure half-way loses nothing and Revert
// still restores everything.
func (p *Plan) Apply() error {
	if p.revert {
		return p.applyRevert()
	}
	if len(p.Changes) > 0 && len(p.journal.Entries) == 0 {
		// The backup folder itself, and whatever above it did not exist.
		for _, d := range p.missingDirs(journalFile) {
			p.journal.Entries = append(p.journal.Entries, journalEntry{Path: d, Action: madeDir})
		}
	}
	for i := range p.Changes {
		c := &p.Changes[i]
		switch c.Action {
		case Replaced, Moved:
			c.Backup = p.freeBackup(c.Backup)
			if err := p.copyPreserving(c.Path, c.Backup); err != nil {
				return fmt.Errorf("backing up %s: %w", c.Path, err)
			}
			p.journal.Entries = append(p.journal.Entries, journalEntry{Path: c.Path, Action: c.Action, Backup: c.Backup})
		case Created:
			// Folders made for it (etc/apt/keyrings, etc/pki/rpm-gpg...) go on revert too.
			for _, d := range p.missingDirs(c.Path) {
				p.journal.Entries = append(p.journal.Entries, journalEntry{Path: d, Action: madeDir})
			}
			p.journal.Entries = append(p.journal.Entries, journalEntry{Path: c.Path, Action: Created})
		}
		if c.Action != Moved {
			p.journal.setSum(c.Path, checksum(c.after))
		}
		if err := p.saveJournal(); err != nil {
			return err
		}
		var err error
		if c.Action == Moved {
			err = p.fs.Remove(must(c.Path))
		} else {
			err = p.writeFile(c.Path, c.after, c.mode, nil)
		}
		if err != nil {
			return fmt.Errorf("%s %s: %w", c.Action, p.abs(c.Path), err)
		}
	}
	return nil
}

func (p *Plan) applyRevert() error {
	if !p.journal.found {
		return nil // nothing to restore from; the backups, if any, stay (see Reason)
	}
	for _, c := range p.Changes {
		if c.Kept != "" {
			if err := p.copyPreserving(c.Path, c.Kept); err != nil {
				return fmt.Errorf("keeping %s as %s: %w", c.Path, c.Kept, err)
			}
		}
		var err error
		switch c.Action {
		case Removed:
			err = p.fs.Remove(must(c.Path))
		case Restored:
			err = p.copyPreserving(c.Backup, c.Path)
		}
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("%s %s: %w", c.Action, p.abs(c.Path), err)
		}
	}
	if err := p.fs.RemoveAll(must(journalDir)); err != nil {
		return fmt.Errorf("removing the backup folder %s: %w", p.abs(journalDir), err)
	}
	// Folders Configure made, innermost first; only if empty (someone may have used them).
	for i := len(p.journal.Entries) - 1; i >= 0; i-- {
		if e := p.journal.Entries[i]; e.Action == madeDir {
			_ = p.fs.Remove(must(e.Path))
		}
	}
	return nil
}

// madeDir marks, in the journal, a folder Configure created.
const madeDir = "mkdir"

// missingDirs lists, outermost first, the folders above f that do not exist yet.
func (p *Plan) missingDirs(f string) []string {
	var out []string
	for d := path.Dir(f); d != "/" && d != "."; d = path.Dir(d) {
		if _, err := p.fs.Lstat(must(d)); err == nil {
			break
		}
		out = append([]string{d}, out...)
	}
	return out
}

// freeBackup returns b, or b.1, b.2, ... when a file at the same path was backed up before
// (it came back after being moved): every original is kept.
func (p *Plan) freeBackup(b string) string {
	for n := 0; ; n++ {
		cand := b
		if n > 0 {
			cand = fmt.Sprintf("%s.%d", b, n)
		}
		if _, err := p.fs.Lstat(must(cand)); errors.Is(err, os.ErrNotExist) && !p.journal.backupTaken(cand) {
			return cand
		}
	}
}

func (p *Plan) saveJournal() error {
	b, err := json.MarshalIndent(p.journal, "", "  ")
	if err != nil {
		return err
	}
	if err := p.writeFile(journalFile, append(b, '\n'), 0o600, nil); err != nil {
		return fmt.Errorf("writing the backup journal %s: %w", p.abs(journalFile), err)
	}
	return nil
}

// writeFile replaces f atomically (a temporary file in the same folder, then rename), inside
// the root. With like, the file gets like's owner and modification time.
func (p *Plan) writeFile(f string, content []byte, mode os.FileMode, like os.FileInfo) error {
	name := must(f)
	if err := p.fs.MkdirAll(path.Dir(name), 0o755); err != nil {
		return err
	}
	var rnd [8]byte
	_, _ = rand.Read(rnd[:])
	tmp := path.Join(path.Dir(name), ".airgap-"+hex.EncodeToString(rnd[:]))
	out, err := p.fs.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	defer p.fs.Remove(tmp)
	if _, err := out.Write(content); err != nil {
		out.Close()
		return err
	}
	if err := out.Chmod(mode); err != nil {
		out.Close()
		return err
	}
	if like != nil {
		if st, ok := like.Sys().(*syscall.Stat_t); ok {
			_ = out.Chown(int(st.Uid), int(st.Gid)) // only root can; a copy owned by us is still a copy
		}
	}
	if err := out.Close(); err != nil {
		return err
	}
	if like != nil {
		if err := p.fs.Chtimes(tmp, time.Now(), like.ModTime()); err != nil {
			return err
		}
	}
	return p.fs.Rename(tmp, name)
}

// copyPreserving copies src to dst (atomically) with src's mode, owner and modification time.
func (p *Plan) copyPreserving(src, dst string) error {
	in, err := p.fs.Open(must(src))
	if err != nil {
		return err
	}
	defer in.Close()
	fi, err := in.Stat()
	if err != nil {
		return err
	}
	content, err := io.ReadAll(in)
	if err != nil {
		return err
	}
	return p.writeFile(dst, content, fi.Mode().Perm(), fi)
}

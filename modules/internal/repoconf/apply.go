package repoconf

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"syscall"
	"time"
)

// journal records, in the backup folder, every file Configure took over.
type journal struct {
	Version int            `json:"version"`
	Entries []journalEntry `json:"entries"`
}

type journalEntry struct {
	Path   string `json:"path"`
	Action string `json:"action"` // Created, Moved or Replaced
	Backup string `json:"backup,omitempty"`
}

func loadJournal(root string) (*journal, error) {
	b, err := os.ReadFile(filepath.Join(root, journalDir, "journal.json"))
	if errors.Is(err, os.ErrNotExist) {
		return &journal{Version: 1}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading the backup journal: %w", err)
	}
	var j journal
	if err := json.Unmarshal(b, &j); err != nil {
		return nil, fmt.Errorf("reading the backup journal %s: %w", filepath.Join(root, journalDir, "journal.json"), err)
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

// Apply carries the plan out. Originals are copied into the backup folder, and the journal
// updated, before anything of theirs changes, so a failure half-way loses nothing and Revert
// still restores everything.
func (p *Plan) Apply() error {
	if p.revert {
		return p.applyRevert()
	}
	if len(p.Changes) > 0 && len(p.journal.Entries) == 0 {
		// The backup folder itself, and whatever above it did not exist.
		for _, d := range p.missingDirs(journalDir + "/journal.json") {
			p.journal.Entries = append(p.journal.Entries, journalEntry{Path: d, Action: madeDir})
		}
	}
	for i := range p.Changes {
		c := &p.Changes[i]
		switch c.Action {
		case Replaced, Moved:
			c.Backup = p.freeBackup(c.Backup)
			if err := p.copyPreserving(p.abs(c.Path), p.abs(c.Backup)); err != nil {
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
		if err := p.saveJournal(); err != nil {
			return err
		}
		var err error
		if c.Action == Moved {
			err = os.Remove(p.abs(c.Path))
		} else {
			err = writeFile(p.abs(c.Path), c.after, c.mode)
		}
		if err != nil {
			return fmt.Errorf("%s %s: %w", c.Action, c.Path, err)
		}
	}
	return nil
}

func (p *Plan) applyRevert() error {
	for _, c := range p.Changes {
		var err error
		switch c.Action {
		case Removed:
			err = os.Remove(p.abs(c.Path))
		case Restored:
			err = p.copyPreserving(p.abs(c.Backup), p.abs(c.Path))
		}
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("%s %s: %w", c.Action, c.Path, err)
		}
	}
	if err := os.RemoveAll(p.abs(journalDir)); err != nil {
		return fmt.Errorf("removing the backup folder: %w", err)
	}
	// Folders Configure made, innermost first; only if empty (someone may have used them).
	for i := len(p.journal.Entries) - 1; i >= 0; i-- {
		if e := p.journal.Entries[i]; e.Action == madeDir {
			_ = os.Remove(p.abs(e.Path))
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
		if _, err := os.Lstat(p.abs(d)); err == nil {
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
		if _, err := os.Lstat(p.abs(cand)); errors.Is(err, os.ErrNotExist) && !p.journal.backupTaken(cand) {
			return cand
		}
	}
}

func (p *Plan) saveJournal() error {
	b, err := json.MarshalIndent(p.journal, "", "  ")
	if err != nil {
		return err
	}
	return writeFile(filepath.Join(p.abs(journalDir), "journal.json"), append(b, '\n'), 0o600)
}

// writeFile replaces path atomically (a temporary file in the same folder, then rename).
func writeFile(path string, content []byte, mode os.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".airgap-")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(content); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Chmod(tmp.Name(), mode); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// copyPreserving copies src to dst (atomically) with src's mode, owner and modification time.
func (p *Plan) copyPreserving(src, dst string) error {
	fi, err := os.Stat(src)
	if err != nil {
		return err
	}
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	content, err := io.ReadAll(in)
	if err != nil {
		return err
	}
	if err := writeFile(dst, content, fi.Mode().Perm()); err != nil {
		return err
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		_ = os.Lchown(dst, int(st.Uid), int(st.Gid)) // only root can; a copy owned by us is still a copy
	}
	return os.Chtimes(dst, time.Now(), fi.ModTime())
}

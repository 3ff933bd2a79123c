package fetch

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"
)

// The partial folder, <dest>/.partial, holds per item, keyed by the first 16 hex digits of
// the sha256 of its path (partialName(rel) = "<key>-<file name>"):
//
//	<key>-<name>     the download in progress
//	<key>.validator  the ETag or Last-Modified the download started from (for If-Range)
//	<key>.lock       locked (flock) by the run downloading the item; removed when it is done
//
// Every file there is reached through an os.Root opened on that folder, after checking that
// the folder itself is a real directory: no link, there or below, leads a write out of it.
const (
	lockSuffix      = ".lock"
	validatorSuffix = ".validator"
	// orphanAge: a partial download that no item of the current run owns is removed once it
	// has not been written to for this long (another item list may still resume a fresher one).
	orphanAge = 7 * 24 * time.Hour
)

// PartialPath is where the file for rel (a path in the layout) is downloaded to before it is
// verified: one flat folder <dest>/.partial, with a name derived from rel, so that an
// interrupted download resumes on the next run.
func PartialPath(dest, rel string) string {
	return filepath.Join(dest, partialDir, partialName(rel))
}

func partialName(rel string) string {
	h := sha256.Sum256([]byte(rel))
	return hex.EncodeToString(h[:8]) + "-" + path.Base(rel)
}

const keyLen = 16 // hex digits of the key that starts every name in .partial

// keyOf is the item key a name in .partial belongs to, or "" for a name no item makes.
func keyOf(name string) string {
	if len(name) <= keyLen || name[keyLen] != '-' && name[keyLen] != '.' {
		return ""
	}
	if _, err := hex.DecodeString(name[:keyLen]); err != nil {
		return ""
	}
	return name[:keyLen]
}

// openPartialDir opens <dest>/.partial (creating it) as a root of its own. A .partial that is
// a symbolic link, or anything but a directory, is refused.
func openPartialDir(root *os.Root) (*os.Root, error) {
	where := filepath.Join(root.Name(), partialDir)
	fi, err := root.Lstat(partialDir)
	if errors.Is(err, fs.ErrNotExist) {
		if err := root.Mkdir(partialDir, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
			return nil, fmt.Errorf("creating %s: %w", where, err)
		}
		fi, err = root.Lstat(partialDir)
	}
	if err != nil {
		return nil, fmt.Errorf("checking %s: %w", where, err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("%s is %s, not a folder: refused: %w", where, kind(fi), ErrUnsafePath)
	}
	pr, err := root.OpenRoot(partialDir)
	if err != nil {
		return nil, fmt.Errorf("opening %s: %w", where, err)
	}
	if opened, err := pr.Stat("."); err != nil || !os.SameFile(opened, fi) {
		pr.Close()
		return nil, fmt.Errorf("%s changed while it was opened: refused: %w", where, ErrUnsafePath)
	}
	return pr, nil
}

func kind(fi os.FileInfo) string {
	switch m := fi.Mode(); {
	case m&os.ModeSymlink != 0:
		return "a symbolic link"
	case m.IsDir():
		return "a folder"
	case m.IsRegular():
		return "a file"
	default:
		return "a special file (" + m.Type().String() + ")"
	}
}

// openPartialFile opens (creating it) the partial download name in pr for reading and
// writing. Anything but a regular file there with one name (a symbolic or hard link, a folder,
// a FIFO) is refused.
func openPartialFile(pr *os.Root, name string) (*os.File, error) {
	where := filepath.Join(pr.Name(), name)
	before, err := pr.Lstat(name)
	if err == nil && !before.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is %s: refused: %w", where, kind(before), ErrUnsafePath)
	}
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("checking %s: %w", where, err)
	}
	f, err := pr.OpenFile(name, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("opening %s: %w", where, err)
	}
	fi, err := f.Stat()
	if err == nil && (!fi.Mode().IsRegular() || before != nil && !os.SameFile(fi, before)) {
		err = fmt.Errorf("%s changed while it was opened: refused: %w", where, ErrUnsafePath)
	}
	if err == nil && links(fi) > 1 {
		// Another name of the same file may live outside dest: writing would change it too.
		err = fmt.Errorf("%s has %d hard links: refused: %w", where, links(fi), ErrUnsafePath)
	}
	if err == nil {
		var now os.FileInfo
		if now, err = pr.Lstat(name); err == nil && !os.SameFile(fi, now) {
			err = fmt.Errorf("%s is not the file opened: refused: %w", where, ErrUnsafePath)
		}
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// readValidator returns the validator stored for the partial download name, or "".
func readValidator(pr *os.Root, name string) string {
	v := keyOf(name) + validatorSuffix
	if fi, err := pr.Lstat(v); err != nil || !fi.Mode().IsRegular() || fi.Size() > 1024 {
		return ""
	}
	b, err := pr.ReadFile(v)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// writeValidator replaces the stored validator; an empty one removes it.
func writeValidator(pr *os.Root, name, v string) error {
	file := keyOf(name) + validatorSuffix
	if err := pr.Remove(file); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("removing the stored validator: %w", err)
	}
	if v == "" {
		return nil
	}
	f, err := pr.OpenFile(file, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("storing the validator: %w", err)
	}
	_, err = f.WriteString(v + "\n")
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// removePartial removes a partial download and its validator (not its lock).
func removePartial(pr *os.Root, name string) {
	_ = pr.Remove(name)
	_ = pr.Remove(keyOf(name) + validatorSuffix)
}

// itemLock is a held lock on one item's partial download.
type itemLock struct {
	pr   *os.Root
	name string
	f    *os.File
}

// lockItem takes the lock of the item key, waiting (if wait) while another run (this process
// or another) holds it. waited tells whether it had to wait: the other run may have placed
// the file meanwhile. Without wait, a busy lock gives a nil lock and no error.
func lockItem(ctx context.Context, pr *os.Root, key string, wait bool) (l *itemLock, waited bool, err error) {
	lockName := key + lockSuffix
	for {
		f, err := pr.OpenFile(lockName, os.O_RDWR|os.O_CREATE, 0o600)
		if err != nil {
			return nil, waited, fmt.Errorf("opening lock %s: %w", filepath.Join(pr.Name(), lockName), err)
		}
		got, err := tryLock(f)
		for err == nil && !got && wait {
			waited = true
			select {
			case <-ctx.Done():
				err = ctx.Err()
			case <-time.After(100 * time.Millisecond):
				got, err = tryLock(f)
			}
		}
		if err != nil || !got {
			f.Close()
			return nil, waited, err
		}
		// The run we waited for removed the lock file when it was done (and a third run may
		// have made a new one): the lock only counts on the file still at that name.
		held, err1 := f.Stat()
		now, err2 := pr.Lstat(lockName)
		if err1 == nil && err2 == nil && os.SameFile(held, now) {
			return &itemLock{pr: pr, name: lockName, f: f}, waited, nil
		}
		f.Close()
		waited = true
	}
}

// release removes the lock file, then unlocks it.
func (l *itemLock) release() {
	_ = l.pr.Remove(l.name)
	_ = l.f.Close()
}

// cleanOrphans removes partial downloads (with their validators and locks) in pr whose key
// none of the current items owns, that have not been written to for orphanAge, and whose lock
// is free (no other run is downloading them). Names no item makes are left alone.
func cleanOrphans(ctx context.Context, pr *os.Root, owned map[string]bool) {
	d, err := pr.Open(".")
	if err != nil {
		return
	}
	entries, err := d.ReadDir(-1)
	d.Close()
	if err != nil {
		return
	}
	newest := map[string]time.Time{}
	files := map[string][]string{}
	for _, e := range entries {
		key := keyOf(e.Name())
		fi, err := e.Info()
		if key == "" || owned[key] || err != nil || fi.IsDir() {
			continue
		}
		files[key] = append(files[key], e.Name())
		if t := fi.ModTime(); t.After(newest[key]) {
			newest[key] = t
		}
	}
	for key, names := range files {
		if time.Since(newest[key]) < orphanAge {
			continue
		}
		l, _, err := lockItem(ctx, pr, key, false)
		if err != nil || l == nil {
			continue // in use by another run
		}
		for _, n := range names {
			if n != l.name {
				_ = pr.Remove(n)
			}
		}
		l.release()
	}
}

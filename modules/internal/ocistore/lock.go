package ocistore

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// lockName is the file in the layout that processes sharing it lock (flock) while they read
// and rewrite index.json, and while they clean leftovers. Tools reading the layout ignore it.
const lockName = ".airgap-lock"

// StaleAge is how old a leftover temporary file or folder must be before it is removed, beside
// not being locked by a live process.
var StaleAge = time.Hour

// lock takes the layout's exclusive lock (blocking) and returns its release.
func (s *Store) lock() (func(), error) {
	f, err := os.OpenFile(filepath.Join(s.root, lockName), os.O_CREATE|os.O_RDWR|syscall.O_NOFOLLOW, 0o644)
	if err != nil {
		return nil, fmt.Errorf("locking layout %s: %w", s.root, err)
	}
	for {
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX)
		if !errors.Is(err, syscall.EINTR) {
			break
		}
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("locking layout %s: %w", s.root, err)
	}
	return func() { f.Close() }, nil // closing the last descriptor releases the flock
}

// Hold locks path (a file or a folder this process created) for as long as the process lives
// or until the returned release is called, so that RemoveStale leaves it alone.
func Hold(path string) (func(), error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return nil, fmt.Errorf("locking %s: %w", path, err)
	}
	return func() { f.Close() }, nil
}

// stale reports whether path is a leftover: older than StaleAge and locked by no live process.
func stale(path string, now time.Time) bool {
	fi, err := os.Lstat(path)
	if err != nil || fi.Mode()&os.ModeSymlink != 0 || now.Sub(fi.ModTime()) < StaleAge {
		return false
	}
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	return syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) == nil
}

// RemoveStale removes what matches pattern in dir (a glob on names, e.g. ".import-*") that is
// stale: older than StaleAge and not locked by a live process (see Hold). It runs under the
// layout's lock and returns what it removed.
func (s *Store) RemoveStale(dir, pattern string) ([]string, error) {
	unlock, err := s.lock()
	if err != nil {
		return nil, err
	}
	defer unlock()
	return RemoveStale(dir, pattern)
}

// RemoveStale is Store.RemoveStale for temporary folders that belong to no layout (a push's
// temporary layout beside its tarballs); only hidden names (".name-*") are accepted.
func RemoveStale(dir, pattern string) ([]string, error) {
	if !strings.HasPrefix(pattern, ".") || strings.ContainsRune(pattern, '/') {
		return nil, fmt.Errorf("refusing to clean %q: only hidden temporary names", pattern)
	}
	matches, err := filepath.Glob(filepath.Join(dir, pattern))
	if err != nil {
		return nil, err
	}
	var removed []string
	now := time.Now()
	for _, m := range matches {
		if !stale(m, now) {
			continue
		}
		if err := os.RemoveAll(m); err != nil {
			return removed, fmt.Errorf("removing leftover %s: %w", m, err)
		}
		removed = append(removed, m)
	}
	return removed, nil
}

// Clean removes the layout's own leftovers of killed runs (blobs being written, index.json
// being replaced) under the layout lock, and returns them.
func (s *Store) Clean() ([]string, error) {
	unlock, err := s.lock()
	if err != nil {
		return nil, err
	}
	defer unlock()
	a, err := RemoveStale(filepath.Join(s.root, "blobs", "sha256"), ".partial-*")
	if err != nil {
		return a, err
	}
	b, err := RemoveStale(s.root, ".tmp-*")
	return append(a, b...), err
}

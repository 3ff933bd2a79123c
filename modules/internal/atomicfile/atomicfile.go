// Package atomicfile writes a file so that its path only ever holds its old or its new
// content, never a part: into a temporary dot file beside it (so a folder listing never shows
// it), synced, then renamed into place. A killed run leaves at most a dot file behind.
package atomicfile

import (
	"fmt"
	"os"
	"path/filepath"
)

// File is the temporary file of one write; Commit or Abort it.
type File struct {
	*os.File
	path string
	done bool
}

// Create starts a write of path.
func Create(path string) (*File, error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".")
	if err != nil {
		return nil, fmt.Errorf("writing %s: %w", path, err)
	}
	return &File{File: tmp, path: path}, nil
}

// Commit syncs the content, sets mode and renames it to the path.
func (f *File) Commit(mode os.FileMode) error {
	f.done = true
	err := f.Chmod(mode)
	if err == nil {
		err = f.Sync() // the rename must never expose an empty file after a crash
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), f.path)
	}
	if err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("writing %s: %w", f.path, err)
	}
	return nil
}

// Abort drops the write (a no-op after Commit), so that `defer f.Abort()` cleans up any path.
func (f *File) Abort() {
	if !f.done {
		f.done = true
		f.Close()
		os.Remove(f.Name())
	}
}

// Write writes b to path with mode.
func Write(path string, b []byte, mode os.FileMode) error {
	f, err := Create(path)
	if err != nil {
		return err
	}
	defer f.Abort()
	if _, err := f.File.Write(b); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return f.Commit(mode)
}

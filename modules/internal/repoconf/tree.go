package repoconf

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// tree is where a plan reads and writes: names are relative to the root ("etc/pip.conf").
// For a chroot it is an os.Root, which refuses every path (a symlink, "..") leading out of
// it. For "/", the whole host, nothing can lead out, and symlinks are followed as the system
// follows them (os.Root would refuse the absolute links hosts have).
type tree interface {
	ReadFile(name string) ([]byte, error)
	Lstat(name string) (os.FileInfo, error)
	Open(name string) (*os.File, error)
	OpenFile(name string, flag int, perm os.FileMode) (*os.File, error)
	MkdirAll(name string, perm os.FileMode) error
	Remove(name string) error
	RemoveAll(name string) error
	Rename(oldname, newname string) error
	Chtimes(name string, atime, mtime time.Time) error
	FS() fs.FS
	Close() error
}

// open opens the tree of a plan's root.
func open(root string) (tree, error) {
	if filepath.Clean(root) == "/" {
		return hostTree{}, nil
	}
	r, err := os.OpenRoot(root)
	if err != nil {
		return nil, fmt.Errorf("opening the root %s: %w", root, err)
	}
	return r, nil
}

// hostTree is the host's own filesystem.
type hostTree struct{}

func at(name string) string { return "/" + name }

func (hostTree) ReadFile(name string) ([]byte, error)      { return os.ReadFile(at(name)) }
func (hostTree) Lstat(name string) (os.FileInfo, error)    { return os.Lstat(at(name)) }
func (hostTree) Open(name string) (*os.File, error)        { return os.Open(at(name)) }
func (hostTree) MkdirAll(name string, m os.FileMode) error { return os.MkdirAll(at(name), m) }
func (hostTree) Remove(name string) error                  { return os.Remove(at(name)) }
func (hostTree) RemoveAll(name string) error               { return os.RemoveAll(at(name)) }
func (hostTree) Rename(o, n string) error                  { return os.Rename(at(o), at(n)) }
func (hostTree) FS() fs.FS                                 { return os.DirFS("/") }
func (hostTree) Close() error                              { return nil }
func (hostTree) OpenFile(name string, flag int, perm os.FileMode) (*os.File, error) {
	return os.OpenFile(at(name), flag, perm)
}
func (hostTree) Chtimes(name string, a, m time.Time) error { return os.Chtimes(at(name), a, m) }

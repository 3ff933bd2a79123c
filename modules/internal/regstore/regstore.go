// Package regstore writes a CNCF distribution registry's filesystem storage (the
// rootdirectory of its storage.filesystem driver) exactly as the registry itself writes it, so
// that a registry started on it (2.8 or 3.x) serves what was written:
//
//	docker/registry/v2/blobs/sha256/<first 2 hex>/<hex>/data                  every blob and manifest
//	docker/registry/v2/repositories/<name>/_layers/sha256/<hex>/link          layers and configs
//	docker/registry/v2/repositories/<name>/_manifests/revisions/sha256/<hex>/link   every manifest
//	docker/registry/v2/repositories/<name>/_manifests/tags/<tag>/current/link
//	docker/registry/v2/repositories/<name>/_manifests/tags/<tag>/index/sha256/<hex>/link
//
// A link holds "sha256:<hex>" and nothing else (distribution's blobStore.link writes
// []byte(digest)). See registry/storage/paths.go, linkedblobstore.go and tagstore.go.
//
// Every file is reached through an os.Root opened on the storage folder, so no symlink (and
// no "..") leads out of it: the shared folders (a repository's _layers/sha256, a blob prefix)
// are opened through the root once per run, and below them each file's folder and the file are
// reached by one name each, a symlink refused (O_NOFOLLOW). Every file is first written under .airgap-tmp/ (a folder the
// registry never walks, on the same filesystem) and renamed into place: a registry reading
// the storage, or a run killed half way, never sees a partial file. Callers write a link only
// after what it points at is complete.
package regstore

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"syscall"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/sys/unix"

	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/freespace"
)

const (
	v2     = "docker/registry/v2"
	tmpDir = ".airgap-tmp"
)

// BlobPath is where the registry keeps the content of blob (or manifest) d.
func BlobPath(d v1.Hash) string {
	return path.Join(v2, "blobs", d.Algorithm, prefix(d.Hex), d.Hex, "data")
}

func prefix(h string) string {
	if len(h) < 2 {
		return h
	}
	return h[:2]
}

func repoPath(repo string) string { return path.Join(v2, "repositories", repo) }

// LayerLink is the link that makes blob d (a layer or a config) part of repo.
func LayerLink(repo string, d v1.Hash) string {
	return path.Join(repoPath(repo), "_layers", d.Algorithm, d.Hex, "link")
}

// RevisionLink is the link that makes manifest d part of repo (pullable as repo@d).
func RevisionLink(repo string, d v1.Hash) string {
	return path.Join(repoPath(repo), "_manifests", "revisions", d.Algorithm, d.Hex, "link")
}

// TagCurrent is the link to the manifest tag points at.
func TagCurrent(repo, tag string) string {
	return path.Join(repoPath(repo), "_manifests", "tags", tag, "current", "link")
}

// TagIndexLink records that tag has pointed at manifest d (the registry writes it with every
// tag update).
func TagIndexLink(repo, tag string, d v1.Hash) string {
	return path.Join(repoPath(repo), "_manifests", "tags", tag, "index", d.Algorithm, d.Hex, "link")
}

// RepoPath is the folder of repository repo.
func RepoPath(repo string) string { return repoPath(repo) }

// Method is how a blob came into the storage.
type Method string

const (
	Present Method = ""       // it was there already: nothing written
	Linked  Method = "linked" // hard link to the source file: no second copy
	Cloned  Method = "cloned" // reflink (FICLONE): shares the source's extents
	Copied  Method = "copied" // byte copy
)

// Storage is a registry storage folder.
type Storage struct {
	dir  string
	root *os.Root // nil: a folder that does not exist yet (read-only Open): it holds nothing
	lock *os.File
	tmp  *os.File // .airgap-tmp, open: temporary files are made relative to it

	devOnce sync.Once // dev: the storage's filesystem (SameFilesystem)
	dev     uint64
	devOK   bool

	mu      sync.Mutex
	parents map[string]*folderEntry // folders opened (from the root down), that files are placed below
}

// Open opens the storage folder dir. To write (write true), it creates the folder and takes
// an exclusive lock (.airgap-tmp/lock), so that two fills of one storage run one after the
// other, then removes the temporary files of killed runs. To read, a folder that does not
// exist is an empty storage.
func Open(dir string, write bool) (*Storage, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	if write {
		if err := os.MkdirAll(abs, 0o755); err != nil {
			return nil, fmt.Errorf("creating storage folder %s: %w", abs, err)
		}
	}
	root, err := os.OpenRoot(abs)
	if !write && errors.Is(err, fs.ErrNotExist) {
		return &Storage{dir: abs}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("opening storage folder %s: %w", abs, err)
	}
	s := &Storage{dir: abs, root: root}
	if write {
		if err := s.takeLock(); err != nil {
			root.Close()
			return nil, err
		}
		s.removeStale()
	}
	return s, nil
}

func (s *Storage) takeLock() error {
	if err := s.root.MkdirAll(tmpDir, 0o755); err != nil {
		return s.fail("creating", tmpDir, err)
	}
	f, err := s.root.OpenFile(path.Join(tmpDir, "lock"), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return s.fail("creating", tmpDir+"/lock", err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
		f.Close()
		return s.fail("locking", tmpDir+"/lock", err)
	}
	s.lock = f
	if s.tmp, err = s.root.Open(tmpDir); err != nil {
		return s.fail("opening", tmpDir, err)
	}
	return nil
}

// Close releases the storage folder (and its lock).
func (s *Storage) Close() error {
	if s.lock != nil {
		s.lock.Close()
	}
	if s.tmp != nil {
		s.tmp.Close()
	}
	for _, e := range s.parents {
		if e.f != nil {
			e.f.Close()
		}
	}
	if s.root == nil {
		return nil
	}
	return s.root.Close()
}

// removeStale removes what killed runs left in .airgap-tmp/ (under the lock, no other run is
// writing there).
func (s *Storage) removeStale() {
	ents, err := fs.ReadDir(s.root.FS(), tmpDir)
	if err != nil {
		return
	}
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), "tmp-") {
			_ = s.root.Remove(path.Join(tmpDir, e.Name()))
		}
	}
}

// HasBlob reports whether blob d is complete in the storage: a regular file of size bytes
// (size < 0: any size).
func (s *Storage) HasBlob(d v1.Hash, size int64) bool {
	if s.root == nil {
		return false
	}
	p := BlobPath(d)
	lf, err := s.leaf(p, false)
	if err != nil {
		return false
	}
	defer unix.Close(lf)
	var st unix.Stat_t
	return unix.Fstatat(lf, path.Base(p), &st, unix.AT_SYMLINK_NOFOLLOW) == nil &&
		st.Mode&unix.S_IFMT == unix.S_IFREG && (size < 0 || st.Size == size)
}

// ReadLink returns the digest a link holds; ok is false when the link does not exist.
func (s *Storage) ReadLink(p string) (d v1.Hash, ok bool, err error) {
	if s.root == nil {
		return v1.Hash{}, false, nil
	}
	b, err := s.readFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		return v1.Hash{}, false, nil
	}
	if err != nil {
		return v1.Hash{}, false, fmt.Errorf("reading %s in %s: %w", p, s.dir, err)
	}
	d, err = v1.NewHash(strings.TrimSpace(string(b)))
	if err != nil {
		return v1.Hash{}, false, fmt.Errorf("%s in %s holds no digest: %w", p, s.dir, err)
	}
	return d, true, nil
}

// HasLink reports whether the link at p exists and holds d.
func (s *Storage) HasLink(p string, d v1.Hash) bool {
	got, ok, err := s.ReadLink(p)
	return err == nil && ok && got == d
}

// ReadBlob returns a small blob's content (a manifest).
func (s *Storage) ReadBlob(d v1.Hash) ([]byte, error) {
	if s.root == nil {
		return nil, fmt.Errorf("reading blob %s: %s does not exist", d, s.dir)
	}
	b, err := s.readFile(BlobPath(d))
	if err != nil {
		return nil, fmt.Errorf("reading blob %s in %s: %w", d, s.dir, err)
	}
	return b, nil
}

// Tag returns the manifest digest tag points at in repo and that manifest's content; ok is
// false when the tag does not exist.
func (s *Storage) Tag(repo, tag string) (d v1.Hash, raw []byte, ok bool, err error) {
	d, ok, err = s.ReadLink(TagCurrent(repo, tag))
	if err != nil || !ok {
		return d, nil, ok, err
	}
	raw, err = s.ReadBlob(d)
	return d, raw, err == nil, err
}

// Link writes the link p holding d, unless it already does. It reports whether it wrote.
func (s *Storage) Link(p string, d v1.Hash) (bool, error) {
	if s.HasLink(p, d) {
		return false, nil
	}
	return true, s.writeFile(p, []byte(d.String()))
}

// PutBytes stores b as blob d (a manifest), unless it is there. It verifies b against d.
func (s *Storage) PutBytes(d v1.Hash, b []byte) (bool, error) {
	if s.HasBlob(d, int64(len(b))) {
		return false, nil
	}
	got, _, err := v1.SHA256(bytes.NewReader(b))
	if err != nil {
		return false, err
	}
	if got != d {
		return false, fmt.Errorf("content of %s has digest %s", d, got)
	}
	return true, s.writeFile(BlobPath(d), b)
}

// writeFile writes b at p: a temporary file renamed into place.
// (Links and manifests are small: written through the bare descriptor, not an os.File, which
// would ask the runtime's poller about each of hundreds of files.)
func (s *Storage) writeFile(p string, b []byte) error {
	name := randName()
	fd, err := unix.Openat(int(s.tmp.Fd()), name, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o644)
	if err != nil {
		return s.fail("creating", path.Join(tmpDir, name), err)
	}
	for rest := b; len(rest) > 0 && err == nil; {
		var n int
		if n, err = unix.Write(fd, rest); err == nil {
			rest = rest[n:]
		}
	}
	if cerr := unix.Close(fd); err == nil {
		err = cerr
	}
	if err != nil {
		s.removeTemp(name)
		return s.fail("writing", p, err)
	}
	return s.place(name, p)
}

// PutBlob stores blob d (size bytes) from the file src, unless it is there: a hard link
// when allowed and src is on the storage's filesystem, else a reflink, else a copy. It
// returns how, and the bytes copied (0 for a link or a clone). The caller has verified src.
func (s *Storage) PutBlob(src string, d v1.Hash, size int64, hardlink bool) (Method, int64, error) {
	if s.HasBlob(d, size) {
		return Present, 0, nil
	}
	dst := BlobPath(d)
	if hardlink {
		tmp, err := s.hardlink(src)
		if err == nil {
			return Linked, 0, s.place(tmp, dst)
		}
		if !errors.Is(err, unix.EXDEV) && !errors.Is(err, unix.EPERM) && !errors.Is(err, unix.EMLINK) {
			return "", 0, s.fail("linking", dst, err)
		}
	}
	in, err := os.Open(src)
	if err != nil {
		return "", 0, fmt.Errorf("reading %s: %w", src, err)
	}
	defer in.Close()
	tmp, out, err := s.temp()
	if err != nil {
		return "", 0, err
	}
	how, n := Cloned, int64(0)
	if err = unix.IoctlFileClone(int(out.Fd()), int(in.Fd())); err == nil {
		if fi, serr := out.Stat(); serr != nil || fi.Size() != size {
			err = fmt.Errorf("%s: the clone does not have %d bytes", src, size)
		}
	} else {
		how = Copied
		n, err = io.Copy(out, in) // copy_file_range where the kernel can
		if err == nil && n != size {
			err = fmt.Errorf("%s has %d bytes, want %d", src, n, size)
		}
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		s.removeTemp(tmp)
		return "", 0, s.fail("copying", dst, err)
	}
	return how, n, s.place(tmp, dst)
}

// hardlink links src into .airgap-tmp/ and returns the temporary name. The link is made
// relative to the folder's descriptor, so nothing in the storage path is followed. A source
// file not readable by others (a layout blob written 0600) is made readable: the registry may
// run as another user.
func (s *Storage) hardlink(src string) (string, error) {
	name := randName()
	dir := int(s.tmp.Fd())
	if err := unix.Linkat(unix.AT_FDCWD, src, dir, name, 0); err != nil {
		return "", err
	}
	var st unix.Stat_t
	if unix.Fstatat(dir, name, &st, unix.AT_SYMLINK_NOFOLLOW) == nil && st.Mode&0o044 != 0o044 {
		_ = unix.Fchmodat(dir, name, st.Mode&0o7777|0o444, 0)
	}
	return name, nil
}

// temp creates an empty temporary file in .airgap-tmp/ (mode 0644: the registry may run as
// another user) and returns its name.
func (s *Storage) temp() (string, *os.File, error) {
	name := randName()
	fd, err := unix.Openat(int(s.tmp.Fd()), name, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o644)
	if err != nil {
		return "", nil, s.fail("creating", path.Join(tmpDir, name), err)
	}
	return name, os.NewFile(uintptr(fd), path.Join(s.dir, tmpDir, name)), nil
}

func (s *Storage) removeTemp(name string) { _ = unix.Unlinkat(int(s.tmp.Fd()), name, 0) }

// parent returns folder d (made when create is true), opened once per run, each folder by its
// one name relative to the folder above it, refusing a symlink (O_NOFOLLOW), from the root
// down: no symlink (and no "..") leads out of the storage. One open per folder, not one per
// path component per file, keeps a fill of hundreds of links cheap.
func (s *Storage) parent(d string, create bool) (*os.File, error) {
	if s.root == nil {
		return nil, &fs.PathError{Op: "open", Path: d, Err: fs.ErrNotExist}
	}
	return s.folder(path.Clean(d), create)
}

// folder is parent: each folder opened once, by one caller while others wait for that one
// folder only (fills open folders of different repositories at once). A failure is not kept:
// a folder missing while reading may be made by a later write.
func (s *Storage) folder(d string, create bool) (*os.File, error) {
	s.mu.Lock()
	e, ok := s.parents[d]
	if !ok {
		if s.parents == nil {
			s.parents = map[string]*folderEntry{}
		}
		e = &folderEntry{}
		s.parents[d] = e
	}
	s.mu.Unlock()
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.f != nil {
		return e.f, nil
	}
	if d == "." {
		f, err := s.root.Open(".")
		e.f = f
		return f, err
	}
	up, err := s.folder(path.Dir(d), create)
	if err != nil {
		return nil, err
	}
	if create {
		if err := unix.Mkdirat(int(up.Fd()), path.Base(d), 0o755); err != nil && !errors.Is(err, unix.EEXIST) {
			return nil, &fs.PathError{Op: "mkdir", Path: d, Err: err}
		}
	}
	fd, err := unix.Openat(int(up.Fd()), path.Base(d), unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: d, Err: err}
	}
	e.f = os.NewFile(uintptr(fd), path.Join(s.dir, d))
	return e.f, nil
}

// folderEntry is one folder of parent's cache.
type folderEntry struct {
	mu sync.Mutex
	f  *os.File // nil until opened
}

// place renames the temporary file name to p. The folder above p's folder (shared: a
// repository's _layers/sha256, a blob prefix) is opened through the root once; p's own folder
// is made and entered by its one name, refusing a symlink; the rename is relative to both
// descriptors.
func (s *Storage) place(name, p string) error {
	lf, err := s.leaf(p, true)
	if err == nil {
		err = unix.Renameat(int(s.tmp.Fd()), name, lf, path.Base(p))
		unix.Close(lf)
	}
	if err != nil {
		s.removeTemp(name)
		return s.fail("writing", p, err)
	}
	return nil
}

// leaf opens the folder of file p (made when create is true): its parent through parent, the
// folder itself by its one name, refusing a symlink. The caller closes it.
func (s *Storage) leaf(p string, create bool) (int, error) {
	leaf := path.Dir(p)
	pf, err := s.parent(path.Dir(leaf), create)
	if err != nil {
		return -1, err
	}
	if create {
		if err := unix.Mkdirat(int(pf.Fd()), path.Base(leaf), 0o755); err != nil && !errors.Is(err, unix.EEXIST) {
			return -1, &fs.PathError{Op: "mkdir", Path: leaf, Err: err}
		}
	}
	fd, err := unix.Openat(int(pf.Fd()), path.Base(leaf), unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, &fs.PathError{Op: "open", Path: leaf, Err: err}
	}
	return fd, nil
}

// readFile reads file p, refusing symlinks at its folder and itself.
func (s *Storage) readFile(p string) ([]byte, error) {
	lf, err := s.leaf(p, false)
	if err != nil {
		return nil, err
	}
	defer unix.Close(lf)
	fd, err := unix.Openat(lf, path.Base(p), unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: p, Err: err}
	}
	f := os.NewFile(uintptr(fd), path.Join(s.dir, p))
	defer f.Close()
	return io.ReadAll(f)
}

func (s *Storage) fail(what, p string, err error) error {
	if errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) {
		return fmt.Errorf("%s %s in %s: the disk is full: %w", what, p, s.dir, err)
	}
	return fmt.Errorf("%s %s in %s: %w", what, p, s.dir, err)
}

func randName() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return "tmp-" + hex.EncodeToString(b[:])
}

// existing is the storage folder, or its nearest existing parent when it does not exist yet.
func (s *Storage) existing() string { return freespace.Existing(s.dir) }

// SameFilesystem reports whether the file src is on the storage's filesystem (so that it can
// be hard-linked).
// The storage's own device is read once per run; each blob file is stat-ed.
func (s *Storage) SameFilesystem(src string) bool {
	s.devOnce.Do(func() {
		var st unix.Stat_t
		if s.devOK = unix.Stat(s.existing(), &st) == nil; s.devOK {
			s.dev = st.Dev
		}
	})
	var a unix.Stat_t
	return s.devOK && unix.Stat(src, &a) == nil && a.Dev == s.dev
}

// Free returns the bytes available to this process on the storage's filesystem.
func (s *Storage) Free() (int64, error) { return freespace.Of(s.dir) }

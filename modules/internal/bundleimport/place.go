package bundleimport

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// hashCache remembers the sha256 of files by (device, inode, size, mtime).
type hashCache map[[4]int64]string

func (c hashCache) sum(p string) (string, error) {
	fi, err := os.Stat(p)
	if err != nil {
		return "", err
	}
	key := [4]int64{0, 0, fi.Size(), fi.ModTime().UnixNano()}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		key[0], key[1] = int64(st.Dev), int64(st.Ino)
	}
	if s, ok := c[key]; ok {
		return s, nil
	}
	f, err := os.Open(p)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	s := hex.EncodeToString(h.Sum(nil))
	c[key] = s
	return s, nil
}

type regular struct{ rel, path string }

// walkRegular lists the regular files under top, a folder's files before its subfolders, each
// sorted by name; symbolic links are not followed.
func walkRegular(top string) ([]regular, error) {
	var out []regular
	var walk func(dir, rel string) error
	walk = func(dir, rel string) error {
		ents, err := os.ReadDir(dir)
		if err != nil {
			return err
		}
		var dirs []string
		for _, e := range ents { // ReadDir sorts by name
			switch {
			case e.Type().IsRegular():
				out = append(out, regular{path.Join(rel, e.Name()), filepath.Join(dir, e.Name())})
			case e.IsDir():
				dirs = append(dirs, e.Name())
			}
		}
		for _, d := range dirs {
			if err := walk(filepath.Join(dir, d), path.Join(rel, d)); err != nil {
				return err
			}
		}
		return nil
	}
	return out, walk(top, "")
}

func scanDir(top, label string, hashes hashCache) ([]entry, error) {
	files, err := walkRegular(top)
	if err != nil {
		return nil, err
	}
	out := make([]entry, 0, len(files))
	for _, f := range files {
		sha, err := hashes.sum(f.path)
		if err != nil {
			return nil, err
		}
		out = append(out, entry{rel: f.rel, sha: sha, origin: label + "/" + f.rel, path: f.path})
	}
	return out, nil
}

// filesDir is the bundle's files folder: what is there, and atomic placement. Every access
// below it goes through an os.Root, so no symbolic link leads out of it. The folder is
// created on the first write.
type filesDir struct {
	dir         string
	check, copy bool
	root        *os.Root
	hashes      hashCache
}

func (d *filesDir) close() {
	if d.root != nil {
		d.root.Close()
	}
}

// open opens the root; without create, a missing folder leaves it nil.
func (d *filesDir) open(create bool) error {
	if d.root != nil {
		return nil
	}
	if create {
		if err := os.MkdirAll(d.dir, 0o755); err != nil {
			return diskFull(err, d.dir)
		}
	}
	r, err := os.OpenRoot(d.dir)
	if errors.Is(err, fs.ErrNotExist) && !create {
		return nil
	}
	if err != nil {
		return err
	}
	d.root = r
	return nil
}

// escapes tells an os.Root refusal (a path leading out of the root).
func escapes(err error) bool {
	return err != nil && strings.Contains(err.Error(), "escapes from parent")
}

func (d *filesDir) leave(rel string, err error) error {
	if escapes(err) {
		return refused("%s would leave %s (through a symbolic link)", rel, d.dir)
	}
	return err
}

func notThere(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR)
}

// lstat is the entry at rel (nil when there is none).
func (d *filesDir) lstat(rel string) (os.FileInfo, error) {
	if err := d.open(false); err != nil || d.root == nil {
		return nil, err
	}
	fi, err := d.root.Lstat(rel)
	if notThere(err) && !escapes(err) {
		return nil, nil
	}
	if err != nil {
		return nil, d.leave(rel, err)
	}
	return fi, nil
}

// current is the sha256 of the regular file at rel; "" when there is none.
func (d *filesDir) current(rel string) (string, error) {
	fi, err := d.lstat(rel)
	if err != nil || fi == nil || !fi.Mode().IsRegular() {
		return "", err
	}
	return d.hashes.sum(filepath.Join(d.dir, filepath.FromSlash(rel)))
}

func (d *filesDir) exists(rel string) (bool, error) {
	fi, err := d.lstat(rel)
	return fi != nil, err
}

// sameAs: rel is src (the same inode) or a regular file of its size and mtime.
func (d *filesDir) sameAs(rel, src string) (bool, error) {
	dst, err := d.lstat(rel)
	if err != nil || dst == nil {
		return false, err
	}
	st, err := os.Stat(src)
	if err != nil {
		return false, err
	}
	return os.SameFile(st, dst) || (dst.Mode().IsRegular() && st.Size() == dst.Size() && st.ModTime().Equal(dst.ModTime())), nil
}

// sameFS: src and the nearest existing folder above rel are on one filesystem.
func (d *filesDir) sameFS(src, rel string) bool {
	dir := filepath.Dir(filepath.Join(d.dir, filepath.FromSlash(rel)))
	for {
		if _, err := os.Stat(dir); err == nil || dir == filepath.Dir(dir) {
			break
		}
		dir = filepath.Dir(dir)
	}
	a, errA := os.Stat(src)
	b, errB := os.Stat(dir)
	sa, okA := a.Sys().(*syscall.Stat_t)
	if errA != nil || errB != nil || !okA {
		return false
	}
	sb, okB := b.Sys().(*syscall.Stat_t)
	return okB && sa.Dev == sb.Dev
}

// tmp creates an empty temporary file beside rel, its parents first.
func (d *filesDir) tmp(rel string) (string, *os.File, error) {
	if err := d.open(true); err != nil {
		return "", nil, err
	}
	dir := path.Dir(rel)
	full := filepath.Join(d.dir, filepath.FromSlash(dir))
	if err := d.root.MkdirAll(dir, 0o755); err != nil {
		return "", nil, diskFull(d.leave(rel, err), full)
	}
	for {
		var b [6]byte
		_, _ = rand.Read(b[:])
		name := path.Join(dir, TmpPrefix+hex.EncodeToString(b[:]))
		f, err := d.root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		if err != nil {
			return "", nil, diskFull(d.leave(rel, err), full)
		}
		return name, f, nil
	}
}

// write copies r into f (closed here) with mode 0644, returning the sha256 of what was read.
// A read error is returned as readErr, a write error as writeErr.
func write(f *os.File, r io.Reader) (sum string, readErr, writeErr error) {
	defer f.Close()
	if err := f.Chmod(0o644); err != nil { // served by nginx workers running unprivileged
		return "", nil, err
	}
	h := sha256.New()
	buf := make([]byte, 1<<20)
	for {
		n, err := r.Read(buf)
		if n > 0 {
			h.Write(buf[:n])
			if _, werr := f.Write(buf[:n]); werr != nil {
				return "", nil, werr
			}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return "", err, nil
		}
	}
	if err := f.Close(); err != nil {
		return "", nil, err
	}
	return hex.EncodeToString(h.Sum(nil)), nil, nil
}

// placeFile puts src at rel: a hard link when possible (same filesystem, and readable by all,
// as a link cannot change its mode), else a copy checked against sha (when given).
func (d *filesDir) placeFile(rel, src, sha string, keepMtime bool) (string, error) {
	st, err := os.Stat(src)
	if err != nil {
		return "", err
	}
	link := !d.copy && st.Mode().Perm()&0o004 != 0
	if d.check {
		if _, err := d.lstat(rel); err != nil { // refuses a path that leads out, as a real run would
			return "", err
		}
		if link && d.sameFS(src, rel) {
			return "link", nil
		}
		return "copy", nil
	}
	dest := filepath.Join(d.dir, filepath.FromSlash(rel))
	tmp, f, err := d.tmp(rel)
	if err != nil {
		return "", err
	}
	fail := func(err error) (string, error) {
		if f != nil {
			f.Close()
		}
		_ = d.root.Remove(tmp)
		return "", diskFull(err, dest)
	}
	how := ""
	if link {
		f.Close()
		f = nil
		if err := d.root.Remove(tmp); err != nil {
			return fail(err)
		}
		if err := d.linkInto(src, tmp); err == nil {
			how = "link"
		} else if errors.Is(err, syscall.EXDEV) || errors.Is(err, syscall.EPERM) || errors.Is(err, syscall.EMLINK) ||
			errors.Is(err, syscall.EACCES) || errors.Is(err, syscall.ENOTSUP) {
			if f, err = d.root.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600); err != nil {
				return fail(err)
			}
		} else {
			return fail(err)
		}
	}
	if how == "" {
		in, err := os.Open(src)
		if err != nil {
			return fail(err)
		}
		got, rerr, werr := write(f, in)
		in.Close()
		f = nil
		if rerr != nil || werr != nil {
			return fail(errors.Join(rerr, werr))
		}
		if sha != "" && got != sha {
			return fail(refused("%s changed while it was copied", src))
		}
		if keepMtime {
			if err := d.root.Chtimes(tmp, st.ModTime(), st.ModTime()); err != nil {
				return fail(err)
			}
		}
		how = "copy"
	}
	if err := d.root.Rename(tmp, rel); err != nil {
		return fail(d.leave(rel, err))
	}
	return how, nil
}

// linkInto hard-links src (outside the root) to rel (inside): linkat into the parent folder
// opened through the root, so a link found below the root cannot redirect it.
func (d *filesDir) linkInto(src, rel string) error {
	dir, err := d.root.Open(path.Dir(rel))
	if err != nil {
		return d.leave(rel, err)
	}
	defer dir.Close()
	if err := unix.Linkat(unix.AT_FDCWD, src, int(dir.Fd()), path.Base(rel), 0); err != nil {
		return &os.LinkError{Op: "link", Old: src, New: filepath.Join(d.dir, rel), Err: err}
	}
	return nil
}

// placeStream writes r to rel; what was read must hash to sha.
func (d *filesDir) placeStream(rel string, r io.Reader, sha, archive string) error {
	dest := filepath.Join(d.dir, filepath.FromSlash(rel))
	tmp, f, err := d.tmp(rel)
	if err != nil {
		return err
	}
	got, rerr, werr := write(f, r)
	switch {
	case werr != nil:
		err = diskFull(werr, dest)
	case rerr != nil:
		err = refused("%s: not a readable tar archive (%v)", archive, rerr)
	case got != sha:
		err = refused("%s: the archive changed while it was read", rel)
	default:
		if err = d.root.Rename(tmp, rel); err == nil {
			return nil
		}
		err = diskFull(d.leave(rel, err), dest)
	}
	_ = d.root.Remove(tmp)
	return err
}

type target struct{ rel, sha string }

func keysOf(m map[string][]target) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

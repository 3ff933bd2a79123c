// Package freespace is the one rule for "how much room is there for a folder": the bytes
// available to this process on the file system that holds the folder, or, when the folder does
// not exist yet, its nearest existing parent (where it will be created).
package freespace

import (
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// Of returns the bytes available to this process on the file system holding dir (or the
// nearest existing parent of dir).
func Of(dir string) (int64, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(Existing(dir), &st); err != nil {
		return 0, fmt.Errorf("reading the free space of %s: %w", dir, err)
	}
	unit := st.Frsize // the unit of the block counts; f_bsize on old kernels
	if unit <= 0 {
		unit = st.Bsize
	}
	return int64(st.Bavail) * unit, nil
}

// Existing is dir, or its nearest existing parent when it does not exist yet.
func Existing(dir string) string {
	d := dir
	for {
		if _, err := os.Stat(d); err == nil || filepath.Dir(d) == d {
			return d
		}
		d = filepath.Dir(d)
	}
}

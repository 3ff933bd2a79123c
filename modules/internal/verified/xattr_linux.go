package verified

import (
	"os"
	"syscall"
)

func getxattr(path, name string) ([]byte, error) {
	buf := make([]byte, 512)
	n, err := syscall.Getxattr(path, name, buf)
	if err != nil {
		return nil, err
	}
	return buf[:n], nil
}

func setxattr(path, name string, value []byte) error {
	return syscall.Setxattr(path, name, value, 0)
}

// identity is the inode and change time (ns) of a file, from its Stat.
func identity(fi os.FileInfo) (ino uint64, ctime int64, ok bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, 0, false
	}
	return st.Ino, st.Ctim.Nano(), true
}

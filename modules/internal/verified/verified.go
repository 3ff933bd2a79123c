// Package verified remembers, beside a file, the digests it had when it was last hashed.
//
// The record lives in an extended attribute together with what identifies the file's content
// without reading it: its size, modification time, inode, and the window in which its change
// time (ctime) lay when the record was written. Lookup trusts a record only while all of them
// still match, so a rerun over files that did not change does not read them again. Any write
// changes the ctime, and the ctime cannot be set back (unlike the mtime, which `touch -d`
// restores): a file rewritten in place, even with its old size and mtime, is hashed again.
// Where extended attributes are not supported, Lookup never finds a record and callers simply
// hash every time.
package verified

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

const xattrName = "user.airgap.kubespray.digest"

// Record is what is remembered of a file's content.
type Record struct {
	Size   int64
	SHA256 string // lowercase hex
	SHA512 string // lowercase hex, when it was computed
}

// Lookup returns the file's record if it is still valid for fi (the file's current Stat).
//
// Record format: "v2 <size> <mtime ns> <inode> <ctime from ns> <ctime to ns> <sha256>
// [sha512 <hex>]". Setting the attribute itself moves the ctime, so the record keeps the
// window from the ctime seen before writing it to the clock right after: a later change lands
// after the window.
func Lookup(path string, fi os.FileInfo) (Record, bool) {
	ino, ctime, ok := identity(fi)
	if !ok {
		return Record{}, false
	}
	b, err := getxattr(path, xattrName)
	if err != nil {
		return Record{}, false
	}
	f := strings.Fields(string(b))
	if len(f) < 7 || f[0] != "v2" {
		return Record{}, false
	}
	var n [5]int64
	for i := range n {
		if n[i], err = strconv.ParseInt(f[i+1], 10, 64); err != nil {
			return Record{}, false
		}
	}
	size, mtime, rino, from, to := n[0], n[1], uint64(n[2]), n[3], n[4]
	if size != fi.Size() || mtime != fi.ModTime().UnixNano() || rino != ino || ctime < from || ctime > to {
		return Record{}, false
	}
	r := Record{Size: size, SHA256: f[6]}
	if len(f) >= 9 && f[7] == "sha512" {
		r.SHA512 = f[8]
	}
	return r, true
}

// slack bounds the ctime step of the second attribute write in Store (back to back with
// the first, so microseconds apart, a clock tick at most). A record whose own write took longer
// is simply not trusted: the file is hashed again next time.
const slack = 50 * time.Millisecond

// Store records r for the file as it is now. Failing to record only costs a later rehash,
// so errors are ignored.
func Store(path string, r Record) {
	fi, err := os.Stat(path)
	if err != nil || fi.Size() != r.Size {
		return
	}
	// Writing the attribute moves the ctime: write a placeholder first, read the ctime it
	// left, then write the record with a window that starts there.
	if setxattr(path, xattrName, []byte("pending")) != nil {
		return
	}
	now, err := os.Stat(path)
	if err != nil || now.Size() != fi.Size() || !now.ModTime().Equal(fi.ModTime()) {
		return
	}
	ino, ctime, ok := identity(now)
	if !ok {
		return
	}
	rec := fmt.Sprintf("v2 %d %d %d %d %d %s", fi.Size(), fi.ModTime().UnixNano(), ino, ctime, ctime+int64(slack), r.SHA256)
	if r.SHA512 != "" {
		rec += " sha512 " + r.SHA512
	}
	_ = setxattr(path, xattrName, []byte(rec))
}

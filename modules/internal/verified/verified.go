// Package verified remembers, beside a file, the digests it had when it was last hashed.
//
// The record lives in an extended attribute together with the size and modification time the
// file had then. Lookup trusts a record only while both still match, so a rerun over files
// that did not change does not read them again; any write changes the mtime and makes the
// caller hash again. Where extended attributes are not supported, Lookup never finds a record
// and callers simply hash every time.
package verified

import (
	"fmt"
	"os"
	"strconv"
	"strings"
)

const xattrName = "user.airgap.kubespray.digest"

// Record is what is remembered of a file's content.
type Record struct {
	Size   int64
	SHA256 string // lowercase hex
	SHA512 string // lowercase hex, when it was computed
}

// Lookup returns the file's record if it is still valid for fi (the file's current Stat).
func Lookup(path string, fi os.FileInfo) (Record, bool) {
	b, err := getxattr(path, xattrName)
	if err != nil {
		return Record{}, false
	}
	f := strings.Fields(string(b))
	if len(f) < 4 || f[0] != "v1" {
		return Record{}, false
	}
	size, err1 := strconv.ParseInt(f[1], 10, 64)
	mtime, err2 := strconv.ParseInt(f[2], 10, 64)
	if err1 != nil || err2 != nil || size != fi.Size() || mtime != fi.ModTime().UnixNano() {
		return Record{}, false
	}
	r := Record{Size: size, SHA256: f[3]}
	if len(f) >= 6 && f[4] == "sha512" {
		r.SHA512 = f[5]
	}
	return r, true
}

// Store records r for the file as it is now. Failing to record only costs a later rehash,
// so errors are ignored.
func Store(path string, r Record) {
	fi, err := os.Stat(path)
	if err != nil || fi.Size() != r.Size {
		return
	}
	rec := fmt.Sprintf("v1 %d %d %s", fi.Size(), fi.ModTime().UnixNano(), r.SHA256)
	if r.SHA512 != "" {
		rec += " sha512 " + r.SHA512
	}
	_ = setxattr(path, xattrName, []byte(rec))
}

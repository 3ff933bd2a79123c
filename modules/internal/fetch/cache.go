package fetch

import (
	"fmt"
	"os"
	"strconv"
	"strings"
)

// A verified file carries a record of its digests in an extended attribute, together with the
// size and modification time it had when it was hashed. A later run trusts the record only
// while both still match, so a no-op rerun does not read every file again; any write to the
// file changes its mtime and makes it hashed again. Where extended attributes are not
// supported, every run hashes.
const xattrName = "user.airgap.kubespray.digest"

// verified returns the digests of a file already in place, from its record when that is still
// valid, else by hashing it (and, unless dryRun, recording the result).
func verified(path string, fi os.FileInfo, sum Checksum, dryRun bool) (digests, error) {
	if d, ok := recalled(path, fi, sum); ok {
		return d, nil
	}
	d, err := hashFile(path, sum)
	if err == nil && !dryRun {
		remember(path, d)
	}
	return d, err
}

func recalled(path string, fi os.FileInfo, sum Checksum) (digests, bool) {
	b, err := getxattr(path, xattrName)
	if err != nil {
		return digests{}, false
	}
	f := strings.Fields(string(b))
	if len(f) < 4 || f[0] != "v1" {
		return digests{}, false
	}
	size, err1 := strconv.ParseInt(f[1], 10, 64)
	mtime, err2 := strconv.ParseInt(f[2], 10, 64)
	if err1 != nil || err2 != nil || size != fi.Size() || mtime != fi.ModTime().UnixNano() {
		return digests{}, false
	}
	d := digests{size: size, sha256: f[3]}
	if sum.Algo != "" && sum.Algo != "sha256" {
		if len(f) < 6 || f[4] != sum.Algo {
			return digests{}, false
		}
		d.other = f[5]
	}
	return d, true
}

// remember records the digests of a file just verified; failures only cost a later rehash.
func remember(path string, d digests) {
	fi, err := os.Stat(path)
	if err != nil {
		return
	}
	rec := fmt.Sprintf("v1 %d %d %s", fi.Size(), fi.ModTime().UnixNano(), d.sha256)
	if d.other != "" {
		rec += " sha512 " + d.other
	}
	_ = setxattr(path, xattrName, []byte(rec))
}

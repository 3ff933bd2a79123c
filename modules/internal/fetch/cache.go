package fetch

import (
	"os"

	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/verified"
)

// verifiedDigests returns the digests of a file already in place, from its record when that is
// still valid, else by hashing it (and, unless dryRun, recording the result).
func verifiedDigests(path string, fi os.FileInfo, sum Checksum, dryRun bool) (digests, error) {
	if r, ok := verified.Lookup(path, fi); ok && (sum.Algo != "sha512" || r.SHA512 != "") {
		return digests{size: r.Size, sha256: r.SHA256, other: r.SHA512}, nil
	}
	d, err := hashFile(path, sum)
	if err == nil && !dryRun {
		remember(path, d)
	}
	return d, err
}

// remember records the digests of a file just verified.
func remember(path string, d digests) {
	verified.Store(path, verified.Record{Size: d.size, SHA256: d.sha256, SHA512: d.other})
}

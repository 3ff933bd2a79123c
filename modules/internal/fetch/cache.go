package fetch

import "os"

// verified returns the digests of a file already in place.
func verified(path string, _ os.FileInfo, sum Checksum) (digests, error) {
	return hashFile(path, sum)
}

// remember notes the digests of a file just placed.
func remember(string, digests) {}

package bundlesums

import (
	"os"
	"path/filepath"
)

// File is one regular file of a bundle, as the walk of SHA256SUMS finds it.
type File struct {
	Rel  string      // relative to the bundle, slash-separated
	Path string      // on disk
	Info os.FileInfo // from the walk (an lstat)
}

// List lists the bundle's files, without reading them, the way SHA256SUMS lists them (the same walk: dot files and dot
// folders left out, symbolic links and other non-regular files named in the second result), so
// that what is carried (airgap.kubespray.offline_bundle_pack) and what is summed is one rule.
// The top-level files the walk leaves out of SHA256SUMS itself (SHA256SUMS, its signature and
// key) are not in the list: the caller adds them by name.
func List(dir string) ([]File, []LeftOut, error) {
	rep := &Report{LeftOut: []LeftOut{}}
	var entries []*entry
	if err := walk(filepath.Clean(dir), "", true, &entries, rep); err != nil {
		return nil, nil, err
	}
	out := make([]File, len(entries))
	for i, e := range entries {
		out[i] = File{Rel: filepath.ToSlash(e.rel), Path: e.path, Info: e.fi}
	}
	return out, rep.LeftOut, nil
}

package bundleimport

// FilesDir is a bundle's files folder as the import writes it, for another writer of that
// folder (the apply of a delta, modules/internal/bundleapply): one rule for placing a file in
// it. Every access goes through an os.Root on the folder, so no symbolic link found below it
// (a folder, or the final name) is written through; a file is a hard link when the source is on
// the folder's filesystem and readable by all, else a copy checked against its sha256, always
// to a temporary name in the destination folder renamed into place.
type FilesDir struct{ d *filesDir }

// OpenFiles is the files folder dir (created on the first write). With check, nothing is
// written: Place says how it would place a file. With copy, files are always copied.
func OpenFiles(dir string, check, copy bool) *FilesDir {
	return &FilesDir{d: &filesDir{dir: dir, check: check, copy: copy, hashes: hashCache{}}}
}

// Close releases the folder.
func (f *FilesDir) Close() { f.d.close() }

// Current is the sha256 (hex) of the regular file at rel (slash-separated, under the folder);
// "" when there is none (nothing, a folder, a symbolic link). A path leading out of the folder
// is a *Refused error.
func (f *FilesDir) Current(rel string) (string, error) { return f.d.current(rel) }

// Place puts src at rel and says how: "link" or "copy" (in check mode: how it would). A copy
// whose content does not hash to sha256 (hex; "" skips the check) is not placed.
func (f *FilesDir) Place(rel, src, sha256 string) (string, error) {
	return f.d.placeFile(rel, src, sha256, true)
}

package imagepull

import (
	"archive/tar"
	"bufio"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/imagename"
	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/ocistore"
	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/tarfile"
)

// Import reads docker-save bundles into store, so that people can move to the OCI layout
// without pulling again. Each archive is one of:
//   - a folder of docker-save tarballs (kubespray-offline's images/, *.tar.gz or *.tar);
//   - a docker-save tarball, gzipped or not;
//   - contrib/offline's container-images.tar.gz: docker-save tarballs plus container-images.txt
//     ("<file> <image>" lines) naming the image each holds.
//
// docker save keeps layers uncompressed; they are gzipped on import (registry digests are not
// in a docker-save bundle, so the original compressed digests cannot be restored).
func Import(ctx context.Context, store *ocistore.Store, archives []string, dryRun bool) (*Report, error) {
	start := time.Now()
	rep := &Report{}
	// Absolute, so that the "inside the archive" checks compare like with like whatever the
	// working directory and however dest and src are spelt.
	beside, err := filepath.Abs(filepath.Dir(filepath.Clean(store.Root())))
	if err != nil {
		return nil, fmt.Errorf("locating the layout %s: %w", store.Root(), err)
	}
	// Work folders of killed imports, stale and unlocked, go first (not in check mode).
	if !dryRun {
		_, _ = store.RemoveStale(beside, ".import-*")
	}
	tmp, err := os.MkdirTemp(beside, ".import-")
	if err != nil {
		return nil, ocistore.DiskFull(fmt.Errorf("creating a work folder beside the layout: %w", err))
	}
	defer os.RemoveAll(tmp)
	if release, err := ocistore.Hold(tmp); err == nil {
		defer release()
	}
	for _, a := range archives {
		files, err := expand(a)
		if err != nil {
			rep.Images = append(rep.Images, failed(a, err))
			continue
		}
		for _, f := range files {
			if ctx.Err() != nil {
				return rep, ctx.Err()
			}
			results := importFile(ctx, store, f, tmp, dryRun)
			rep.Images = append(rep.Images, results...)
		}
	}
	for _, r := range rep.Images {
		rep.Bytes += r.Bytes
	}
	rep.Seconds = time.Since(start).Seconds()
	return rep, nil
}

func failed(source string, err error) Result {
	r := Result{Source: source}
	r.fail(err)
	return r
}

// expand turns a folder into its tarballs, sorted.
func expand(path string) ([]string, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	if !fi.IsDir() {
		return []string{path}, nil
	}
	var out []string
	for _, pat := range []string{"*.tar.gz", "*.tgz", "*.tar"} {
		m, _ := filepath.Glob(filepath.Join(path, pat))
		out = append(out, m...)
	}
	sort.Strings(out)
	if len(out) == 0 {
		return nil, fmt.Errorf("%s holds no *.tar.gz or *.tar docker-save archives", path)
	}
	return out, nil
}

// importFile unpacks one tarball and imports the images it holds.
func importFile(ctx context.Context, store *ocistore.Store, path, tmp string, dryRun bool) []Result {
	dir, err := os.MkdirTemp(tmp, "x-")
	if err != nil {
		return []Result{failed(path, err)}
	}
	defer os.RemoveAll(dir)
	if err := untar(path, dir); err != nil {
		return []Result{failed(path, fmt.Errorf("reading %s: %w", path, err))}
	}
	if _, err := os.Stat(filepath.Join(dir, "manifest.json")); err == nil {
		return importSaved(store, dir, path, nil, dryRun)
	}
	// contrib/offline's bundle: docker-save tarballs listed in container-images.txt.
	list, err := findFile(dir, "container-images.txt")
	if err != nil {
		return []Result{failed(path, fmt.Errorf("%s is neither a docker-save archive (no manifest.json) nor contrib/offline's container-images.tar.gz (no container-images.txt)", path))}
	}
	entries, err := readImageList(list)
	if err != nil {
		return []Result{failed(path, err)}
	}
	var out []Result
	for _, e := range entries {
		inner := filepath.Join(filepath.Dir(list), e.file)
		sub, err := os.MkdirTemp(tmp, "y-")
		if err != nil {
			out = append(out, failed(e.image, err))
			continue
		}
		if err := untar(inner, sub); err != nil {
			out = append(out, failed(e.image, fmt.Errorf("reading %s in %s: %w", e.file, path, err)))
		} else {
			out = append(out, importSaved(store, sub, path+":"+e.file, []string{e.image}, dryRun)...)
		}
		os.RemoveAll(sub)
		if ctx.Err() != nil {
			break
		}
	}
	return out
}

type listEntry struct{ file, image string }

func readImageList(path string) ([]listEntry, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []listEntry
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) == 0 || strings.HasPrefix(fields[0], "#") {
			continue
		}
		if len(fields) != 2 {
			return nil, fmt.Errorf("%s: line %q: want \"<file> <image>\"", path, sc.Text())
		}
		if strings.Contains(fields[0], "..") || filepath.IsAbs(fields[0]) {
			return nil, fmt.Errorf("%s: file %q leaves the archive", path, fields[0])
		}
		out = append(out, listEntry{file: fields[0], image: fields[1]})
	}
	return out, sc.Err()
}

func findFile(root, name string) (string, error) {
	var found string
	err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && d.Name() == name && found == "" {
			found = p
		}
		return err
	})
	if err == nil && found == "" {
		err = os.ErrNotExist
	}
	return found, err
}

// savedManifest is one entry of a docker-save manifest.json.
type savedManifest struct {
	Config   string
	RepoTags []string
	Layers   []string
}

// importSaved imports the images of an unpacked docker-save archive in dir. names are used
// when the archive has no RepoTags (contrib/offline's list names each tarball, but with the
// upstream registry stripped, so the archive's own full name is preferred).
func importSaved(store *ocistore.Store, dir, origin string, names []string, dryRun bool) []Result {
	b, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	if err != nil {
		return []Result{failed(origin, err)}
	}
	var saved []savedManifest
	if err := json.Unmarshal(b, &saved); err != nil {
		return []Result{failed(origin, fmt.Errorf("%s: manifest.json: %w", origin, err))}
	}
	var out []Result
	for i, m := range saved {
		tags := m.RepoTags
		if len(tags) == 0 && names != nil && i == 0 {
			tags = names
		}
		if len(tags) == 0 {
			out = append(out, failed(origin, fmt.Errorf("%s: image %d has no name (RepoTags)", origin, i)))
			continue
		}
		// The image ID (the config's digest) identifies what docker saved: an entry made
		// from the same image is left alone, so importing twice changes nothing.
		id, idErr := configDigest(dir, m.Config)
		todo := tags[:0:0]
		for _, tag := range tags {
			src, err := imagename.Normalize(tag)
			if err != nil {
				out = append(out, failed(tag, fmt.Errorf("%s: %w", origin, err)))
				continue
			}
			if d, ok, _ := store.Lookup(src); ok && idErr == nil && d.Annotations[ocistore.AnnotationSourceDigest] == id {
				out = append(out, Result{Source: src, Status: StatusSkipped, Digest: d.Digest.String(), MediaType: string(d.MediaType)})
				continue
			}
			todo = append(todo, src)
		}
		if len(todo) == 0 {
			continue
		}
		desc, written, blobs, err := importImage(store, dir, m, dryRun)
		for _, src := range todo {
			r := Result{Source: src, Status: StatusImported, Bytes: written, Blobs: blobs}
			if err == nil && !dryRun {
				err = store.Put(src, id, desc)
			}
			if err != nil {
				r.fail(fmt.Errorf("%s: %s: %w", origin, src, err))
			} else {
				r.Digest, r.MediaType, r.SourceDigest = desc.Digest.String(), string(desc.MediaType), id
				if dryRun {
					r.Status = StatusWouldPull
				}
			}
			out = append(out, r)
			written, blobs = 0, 0 // the blobs count once, for the first name
		}
	}
	return out
}

func configDigest(dir, name string) (string, error) {
	b, err := readInside(dir, name)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:]), nil
}

// importImage writes one docker-save image (config, gzipped layers, manifest) to store.
func importImage(store *ocistore.Store, dir string, m savedManifest, dryRun bool) (v1.Descriptor, int64, int, error) {
	cfg, err := readInside(dir, m.Config)
	if err != nil {
		return v1.Descriptor{}, 0, 0, err
	}
	var written int64
	blobs := 0
	manifest := v1.Manifest{SchemaVersion: 2, MediaType: types.DockerManifestSchema2}
	if dryRun {
		return v1.Descriptor{MediaType: types.DockerManifestSchema2}, 0, 0, nil
	}
	cd, err := store.WriteBytes(types.DockerConfigJSON, cfg)
	if err != nil {
		return v1.Descriptor{}, 0, 0, err
	}
	manifest.Config = cd
	for _, l := range m.Layers {
		d, n, err := gzipLayer(store, dir, l)
		if err != nil {
			return v1.Descriptor{}, written, blobs, err
		}
		written += n
		blobs++
		manifest.Layers = append(manifest.Layers, v1.Descriptor{MediaType: types.DockerLayer, Digest: d, Size: n})
	}
	raw, err := json.Marshal(manifest)
	if err != nil {
		return v1.Descriptor{}, written, blobs, err
	}
	desc, err := store.WriteBytes(types.DockerManifestSchema2, raw)
	return desc, written, blobs, err
}

func gzipLayer(store *ocistore.Store, dir, name string) (v1.Hash, int64, error) {
	f, err := openInside(dir, name)
	if err != nil {
		return v1.Hash{}, 0, err
	}
	defer f.Close()
	pr, pw := io.Pipe()
	go func() {
		zw, _ := gzip.NewWriterLevel(pw, gzip.BestSpeed)
		_, err := io.Copy(zw, bufio.NewReaderSize(f, 1<<20))
		if cerr := zw.Close(); err == nil {
			err = cerr
		}
		pw.CloseWithError(err)
	}()
	d, n, err := store.WriteBlobStream(pr)
	if err != nil {
		return v1.Hash{}, 0, fmt.Errorf("layer %s: %w", name, err)
	}
	return d, n, nil
}

func readInside(dir, name string) ([]byte, error) {
	f, err := openInside(dir, name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(f)
}

func openInside(dir, name string) (*os.File, error) {
	p := filepath.Join(dir, filepath.FromSlash(name))
	if !inside(dir, p) {
		return nil, fmt.Errorf("%q leaves the archive", name)
	}
	return os.Open(p)
}

// inside reports whether p is below dir (not dir itself); both are cleaned first, so "./x"
// and "x" are the same folder.
func inside(dir, p string) bool {
	dir, p = filepath.Clean(dir), filepath.Clean(p)
	return strings.HasPrefix(p, dir+string(filepath.Separator))
}

// Extraction caps: what one archive unpacks to (the sum of its members' declared sizes, which
// also bounds sparse files) may be at most ExtractRatio times the archive's size plus
// ExtractSlack. A docker-save tarball unpacks to its own size; gzipped layers rarely shrink
// tenfold; a gzip bomb shrinks a thousandfold.
var (
	ExtractRatio int64 = 100
	ExtractSlack int64 = 64 << 20
)

// ErrTooLarge: an archive declares more content than the extraction cap allows.
var ErrTooLarge = errors.New("archive unpacks to more than allowed")

// createFile opens an extracted file for writing (a test swaps it to simulate a full disk).
var createFile = func(name string) (*os.File, error) {
	return os.OpenFile(name, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
}

// writeErr remembers a write error, to tell a full disk from a corrupt archive.
type writeErr struct {
	w   io.Writer
	err error
}

func (w *writeErr) Write(b []byte) (int, error) {
	n, err := w.w.Write(b)
	if err != nil {
		w.err = err
	}
	return n, err
}

// untar unpacks a tarball (gzipped or not) into dir, refusing entries that would land outside
// it and links; a truncated archive is an error.
func untar(path, dir string) error {
	dir = filepath.Clean(dir)
	tr, err := tarfile.Open(path)
	if err != nil {
		return err
	}
	defer tr.Close()
	limit := ExtractRatio*tr.Size + ExtractSlack
	var total int64
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("truncated or corrupt archive: %w", err)
		}
		rel, ok := tarfile.Clean(h.Name)
		if !ok {
			return fmt.Errorf("entry %q leaves the archive", h.Name)
		}
		target := filepath.Join(dir, filepath.FromSlash(rel))
		if h.Size < 0 || total+h.Size > limit || total+h.Size < total {
			return fmt.Errorf("%w: member %q declares %d bytes, after %d bytes of earlier members; the cap for this %d-byte archive is %d bytes",
				ErrTooLarge, h.Name, h.Size, total, tr.Size, limit)
		}
		total += h.Size
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(target, 0o755); err != nil {
				return err
			}
		case tar.TypeReg:
			if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
				return err
			}
			out, err := createFile(target)
			if err != nil {
				return ocistore.DiskFull(err)
			}
			w := &writeErr{w: out}
			_, err = io.Copy(w, tr)
			if cerr := out.Close(); err == nil && cerr != nil {
				err, w.err = cerr, cerr
			}
			if w.err != nil {
				return ocistore.DiskFull(fmt.Errorf("writing %s (member %s): %w", target, h.Name, w.err))
			}
			if err != nil {
				return fmt.Errorf("truncated or corrupt archive: %s: %w", h.Name, err)
			}
		case tar.TypeSymlink, tar.TypeLink:
			// docker save links identical layers (layer.tar -> ../<id>/layer.tar); copy the
			// target instead of trusting a link, once the target is in place.
			src := filepath.Join(filepath.Dir(target), filepath.FromSlash(h.Linkname))
			if h.Typeflag == tar.TypeLink {
				src = filepath.Join(dir, filepath.FromSlash(h.Linkname))
			}
			if !inside(dir, src) {
				return fmt.Errorf("link %q leaves the archive", h.Name)
			}
			n, err := copyFile(src, target, limit-total)
			if err != nil {
				return ocistore.DiskFull(fmt.Errorf("link %s: %w", h.Name, err))
			}
			total += n
		}
	}
}

// copyFile copies src to dst, at most max bytes (a link copies what it points to, which
// counts against the extraction cap too), and returns the bytes copied.
func copyFile(src, dst string, max int64) (int64, error) {
	in, err := os.Open(src)
	if err != nil {
		return 0, err
	}
	defer in.Close()
	if fi, err := in.Stat(); err != nil {
		return 0, err
	} else if fi.Size() > max {
		return 0, fmt.Errorf("%w: copying %d bytes would pass the cap", ErrTooLarge, fi.Size())
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return 0, err
	}
	out, err := createFile(dst)
	if err != nil {
		return 0, err
	}
	n, err := io.Copy(out, in)
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	return n, err
}

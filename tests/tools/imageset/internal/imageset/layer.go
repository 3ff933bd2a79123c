package imageset

import (
	"archive/tar"
	"bufio"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash"
	"io"
	"math/bits"
	"os"
	"path/filepath"
	"strconv"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// generatorVersion is part of every layer's cache key: bump it when layer content changes.
const generatorVersion = "imageset-layer/1"

// epoch is the modification time of every file and the creation time of every image.
var epoch = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

// layerSpec is a layer to synthesize: a gzip'd tar holding one file of pseudo-random text.
type layerSpec struct {
	id   string // identity, also the PRNG seed: "base/alpine/linux/amd64", "<upstream>/1/linux/amd64"
	base string // the base name for a shared layer, "" for an image's own layer
	file string // path of the file inside the layer
	size int64  // payload bytes (uncompressed)
}

// key names the layer in the blob cache: same key, same bytes.
func (s layerSpec) key(seed int64) string {
	h := sha256.Sum256([]byte(generatorVersion + "|" + strconv.FormatInt(seed, 10) + "|" + s.id + "|" +
		strconv.FormatInt(s.size, 10) + "|" + s.file))
	return hex.EncodeToString(h[:16])
}

// blob is a generated layer stored in the cache folder (metadata next to it in <blob>.json). It
// implements partial.CompressedLayer and partial.WithDiffID, so partial.CompressedToLayer makes
// a v1.Layer of it that never re-reads the file to learn its digests.
type blob struct {
	path     string
	Dgst     v1.Hash `json:"digest"`
	Diff     v1.Hash `json:"diff_id"`
	Len      int64   `json:"size"`
	RawBytes int64   `json:"uncompressed_size"`
}

func (b *blob) Digest() (v1.Hash, error)            { return b.Dgst, nil }
func (b *blob) DiffID() (v1.Hash, error)            { return b.Diff, nil }
func (b *blob) Size() (int64, error)                { return b.Len, nil }
func (b *blob) MediaType() (types.MediaType, error) { return types.DockerLayer, nil }
func (b *blob) Compressed() (io.ReadCloser, error)  { return os.Open(b.path) }

func blobPath(dir string, spec layerSpec, seed int64) string {
	return filepath.Join(dir, spec.key(seed)+".tar.gz")
}

// cachedBlob returns the blob of spec if dir holds it (with its metadata), else nil.
func cachedBlob(dir string, spec layerSpec, seed int64) *blob {
	b := &blob{path: blobPath(dir, spec, seed)}
	data, err := os.ReadFile(b.path + ".json")
	if err != nil || json.Unmarshal(data, b) != nil || b.Dgst.Hex == "" || b.Diff.Hex == "" {
		return nil
	}
	if fi, err := os.Stat(b.path); err != nil || fi.Size() != b.Len {
		return nil
	}
	return b
}

// generateBlob writes the layer of spec into dir, computing its digest and diff ID on the way:
// payload -> tar -> (sha256 for the diff ID) -> gzip -> (sha256 for the digest) -> file.
func generateBlob(ctx context.Context, dir string, spec layerSpec, seed int64) (*blob, error) {
	b := &blob{path: blobPath(dir, spec, seed)}
	f, err := os.CreateTemp(dir, ".layer-*")
	if err != nil {
		return nil, fmt.Errorf("creating layer file: %w", err)
	}
	tmp := f.Name()
	ok := false
	defer func() {
		if !ok {
			_ = f.Close()
			_ = os.Remove(tmp)
		}
	}()

	bw := bufio.NewWriterSize(f, 1<<20)
	digest := sha256.New()
	compressed := &counter{}
	// Huffman-only keeps gzip fast (about 200 MB/s a core) and deterministic; on a 16-letter
	// alphabet it compresses as well as any level would.
	gz, err := gzip.NewWriterLevel(io.MultiWriter(bw, digest, compressed), gzip.HuffmanOnly)
	if err != nil {
		return nil, fmt.Errorf("creating gzip writer: %w", err)
	}
	diffID := sha256.New()
	raw := &counter{}
	tw := tar.NewWriter(io.MultiWriter(gz, diffID, raw))
	if err := writePayload(ctx, tw, spec, seed); err != nil {
		return nil, fmt.Errorf("writing layer %s: %w", spec.id, err)
	}
	if err := tw.Close(); err != nil {
		return nil, fmt.Errorf("closing tar of layer %s: %w", spec.id, err)
	}
	if err := gz.Close(); err != nil {
		return nil, fmt.Errorf("closing gzip of layer %s: %w", spec.id, err)
	}
	if err := bw.Flush(); err != nil {
		return nil, fmt.Errorf("writing layer %s: %w", spec.id, err)
	}
	if err := f.Chmod(0o644); err != nil {
		return nil, fmt.Errorf("writing layer %s: %w", spec.id, err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("writing layer %s: %w", spec.id, err)
	}
	b.Dgst = sum(digest)
	b.Diff = sum(diffID)
	b.Len = compressed.n
	b.RawBytes = raw.n
	if err := os.Rename(tmp, b.path); err != nil {
		return nil, fmt.Errorf("storing layer %s: %w", spec.id, err)
	}
	ok = true
	meta, err := json.Marshal(b)
	if err != nil {
		return nil, fmt.Errorf("encoding layer metadata: %w", err)
	}
	if err := writeFileAtomic(b.path+".json", meta); err != nil {
		return nil, fmt.Errorf("storing layer metadata: %w", err)
	}
	return b, nil
}

// writePayload writes the layer's folders and its one file of spec.size pseudo-random letters.
func writePayload(ctx context.Context, tw *tar.Writer, spec layerSpec, seed int64) error {
	dir := filepath.Dir(spec.file)
	var parents []string
	for d := dir; d != "." && d != "/"; d = filepath.Dir(d) {
		parents = append([]string{d}, parents...)
	}
	for _, d := range parents {
		if err := tw.WriteHeader(&tar.Header{
			Typeflag: tar.TypeDir, Name: d + "/", Mode: 0o755, ModTime: epoch, Format: tar.FormatPAX,
		}); err != nil {
			return err
		}
	}
	if err := tw.WriteHeader(&tar.Header{
		Typeflag: tar.TypeReg, Name: spec.file, Mode: 0o644, Size: spec.size, ModTime: epoch,
		Format: tar.FormatPAX,
	}); err != nil {
		return err
	}
	h := sha256.Sum256([]byte(strconv.FormatInt(seed, 10) + "|" + spec.id))
	rng := prng{s: binary.LittleEndian.Uint64(h[:8])}
	buf := make([]byte, 256<<10)
	for left := spec.size; left > 0; {
		if err := ctx.Err(); err != nil {
			return err
		}
		n := int64(len(buf))
		if left < n {
			n = left
		}
		rng.fill(buf[:n])
		if _, err := tw.Write(buf[:n]); err != nil {
			return err
		}
		left -= n
	}
	return nil
}

// prng is wyrand: fast, seeded, good enough for filler bytes.
type prng struct{ s uint64 }

func (r *prng) next() uint64 {
	r.s += 0xa0761d6478bd642f
	hi, lo := bits.Mul64(r.s, r.s^0xe7037ed1a0b428db)
	return hi ^ lo
}

// fill writes letters a-p (4 bits of entropy a byte) into p.
func (r *prng) fill(p []byte) {
	i := 0
	for ; i+8 <= len(p); i += 8 {
		x := r.next()&0x0f0f0f0f0f0f0f0f + 0x6161616161616161
		binary.LittleEndian.PutUint64(p[i:], x)
	}
	if i < len(p) {
		var tail [8]byte
		binary.LittleEndian.PutUint64(tail[:], r.next()&0x0f0f0f0f0f0f0f0f+0x6161616161616161)
		copy(p[i:], tail[:])
	}
}

type counter struct{ n int64 }

func (c *counter) Write(p []byte) (int, error) {
	c.n += int64(len(p))
	return len(p), nil
}

func sum(h hash.Hash) v1.Hash {
	return v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(h.Sum(nil))}
}

// writeFileAtomic writes data to path through a temporary file and a rename.
func writeFileAtomic(path string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), ".tmp-*")
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		_ = f.Close()
		_ = os.Remove(f.Name())
		return err
	}
	if err := f.Close(); err != nil {
		_ = os.Remove(f.Name())
		return err
	}
	if err := os.Chmod(f.Name(), 0o644); err != nil {
		_ = os.Remove(f.Name())
		return err
	}
	return os.Rename(f.Name(), path)
}

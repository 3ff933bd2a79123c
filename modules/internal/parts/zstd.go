package parts

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/zstdcmd"
	"io"
	"os"

	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/freespace"
	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/progress"
	"gopkg.in/yaml.v3"
)

// maxIndex caps an index member read from a part (a hostile part cannot make unpack read
// gigabytes into memory).
const maxIndex = 64 << 20

// zstdPath finds the zstd command.
func zstdPath() (string, error) { return zstdcmd.Path() }

// reader is a part being read: zstd -dc feeding a tar reader.
type reader struct {
	*tar.Reader
	z    *zstdcmd.Reader
	file *os.File
}

func openPart(ctx context.Context, file string) (*reader, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	z, err := zstdcmd.NewReader(ctx, f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("running zstd: %w", err)
	}
	return &reader{Reader: tar.NewReader(z), z: z, file: f}, nil
}

// finish waits for zstd after the whole archive was read: its error, if any, says the part is
// not a readable zstd stream.
func (r *reader) finish() error {
	err := r.z.Close() // reads the rest of the stream (padding after the end blocks) first
	r.file.Close()
	return err
}

// abort stops reading.
func (r *reader) abort() {
	r.z.Abort()
	r.file.Close()
}

// readIndex reads a part's first member, the index. The caller closes r (finish or abort).
func (r *reader) readIndex() (*Index, error) {
	h, err := r.Next()
	if err != nil {
		return nil, fmt.Errorf("not a readable zstd-compressed tar archive (%v)", err)
	}
	if h.Name != IndexName || h.Typeflag != tar.TypeReg || h.Size > maxIndex {
		return nil, fmt.Errorf("its first member is %q, not the index %s", h.Name, IndexName)
	}
	b, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("reading the index: %w", err)
	}
	var x Index
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&x); err != nil {
		return nil, fmt.Errorf("reading the index: %w", err)
	}
	return &x, nil
}

// peekIndex reads only the index of a part file.
func peekIndex(ctx context.Context, file string) (*Index, error) {
	r, err := openPart(ctx, file)
	if err != nil {
		return nil, err
	}
	defer r.abort()
	return r.readIndex()
}

// fileSHA256 hashes a file.
func fileSHA256(ctx context.Context, p string) (string, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, ctxReader{ctx, f}); err != nil {
		return "", fmt.Errorf("reading %s: %w", p, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func sha256hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// ctxReader stops a long copy when the run is cancelled.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// ErrNoSpace is returned (wrapped) when the forecast finds too little free space.
var ErrNoSpace = errors.New("not enough free space")

// forecast fails early, naming the bytes needed, free and short, when need > free.
func forecast(free func(string) (int64, error), dir, what string, need int64) (int64, error) {
	if free == nil {
		free = freespace.Of
	}
	have, err := free(dir)
	if err != nil {
		return 0, err
	}
	if need > have {
		return have, fmt.Errorf("%w in %s: %s need %d bytes (%s), %d free (%s): %d bytes (%s) short",
			ErrNoSpace, dir, what, need, progress.Bytes(need), have, progress.Bytes(have), need-have, progress.Bytes(need-have))
	}
	return have, nil
}

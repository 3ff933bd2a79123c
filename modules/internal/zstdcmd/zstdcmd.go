// Package zstdcmd runs Debian's zstd command (package zstd) for the collection's zstd streams:
// the design keeps Go dependencies to a fixed few, none of which writes zstd, and zstd is on
// every distribution Kubespray supports.
package zstdcmd

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strings"
)

// Path finds the zstd command, or says how to install it.
func Path() (string, error) {
	p, err := exec.LookPath("zstd")
	if err != nil {
		return "", errors.New("the zstd command is not installed (Debian and Ubuntu: apt-get install zstd; EL: dnf install zstd)")
	}
	return p, nil
}

// Reader is zstd -dc reading from a source; Close waits for zstd and reports its failure.
type Reader struct {
	io.Reader
	cmd    *exec.Cmd
	cancel context.CancelFunc
	stderr bytes.Buffer
}

// NewReader decompresses src through zstd -dc.
func NewReader(ctx context.Context, src io.Reader) (*Reader, error) {
	zstd, err := Path()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	r := &Reader{cancel: cancel}
	r.cmd = exec.CommandContext(ctx, zstd, "-dcq")
	r.cmd.Stdin = src
	r.cmd.Stderr = &r.stderr
	out, err := r.cmd.StdoutPipe()
	if err != nil {
		cancel()
		return nil, err
	}
	if err := r.cmd.Start(); err != nil {
		cancel()
		return nil, err
	}
	r.Reader = out
	return r, nil
}

// Close stops zstd (when the caller stopped reading early) and waits for it.
func (r *Reader) Close() error {
	_, _ = io.Copy(io.Discard, r.Reader)
	err := r.cmd.Wait()
	r.cancel()
	if err != nil {
		return fmt.Errorf("zstd -d: %v: %s", err, strings.TrimSpace(r.stderr.String()))
	}
	return nil
}

// Abort stops zstd without reading the rest (a Close after it reports nothing new).
func (r *Reader) Abort() {
	r.cancel()
	_ = r.cmd.Wait()
}

// Compress gives b compressed by zstd (level 3): small buffers, for tests and metadata.
func Compress(b []byte) ([]byte, error) {
	zstd, err := Path()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(zstd, "-qc")
	cmd.Stdin = bytes.NewReader(b)
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("zstd: %v: %s", err, strings.TrimSpace(stderr.String()))
	}
	return out.Bytes(), nil
}

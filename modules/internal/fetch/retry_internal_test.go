package fetch

import (
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"
	"testing"
)

// TestPermanentErrorsAreNotRetried: a full disk, a denied write or a bad path will fail the
// same way after any backoff.
func TestPermanentErrorsAreNotRetried(t *testing.T) {
	for _, errno := range []syscall.Errno{syscall.ENOSPC, syscall.EDQUOT, syscall.EACCES, syscall.EPERM, syscall.EROFS, syscall.ENOTDIR, syscall.EISDIR, syscall.ELOOP, syscall.ENAMETOOLONG} {
		err := fmt.Errorf("https://h/f: %w", &os.PathError{Op: "write", Path: "/dest/.partial/x", Err: errno})
		if retryable(err) {
			t.Errorf("%v is retried", errno)
		}
	}
	for _, err := range []error{io.ErrUnexpectedEOF, fmt.Errorf("x: %w", ErrStalled), StatusError(503), errors.New("connection reset by peer")} {
		if !retryable(err) {
			t.Errorf("%v is not retried", err)
		}
	}
}

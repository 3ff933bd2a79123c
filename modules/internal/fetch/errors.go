package fetch

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/idle"
)

// Errors an item can fail with; match them with errors.Is.
var (
	// ErrUnsafePath: a URL or path would land outside the destination folder.
	ErrUnsafePath = errors.New("unsafe path")
	// ErrChecksumMismatch: the downloaded content does not have the expected digest.
	ErrChecksumMismatch = errors.New("checksum mismatch")
	// ErrStalled: the server sent no data for longer than the timeout.
	ErrStalled = idle.ErrStalled
	// ErrRangeIgnored: the server answered a resume request with the whole file.
	ErrRangeIgnored = errors.New("server ignored the range request")
	// ErrConflict: two items want the same path with different sources.
	ErrConflict = errors.New("conflicting items")
)

// StatusError is an HTTP answer other than the one asked for (after redirects).
type StatusError int

func (e StatusError) Error() string {
	return fmt.Sprintf("server returned %d %s", int(e), http.StatusText(int(e)))
}

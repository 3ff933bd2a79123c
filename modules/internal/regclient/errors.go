package regclient

import (
	"context"
	"errors"
	"net/http"
	"syscall"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/idle"
	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/imagename"
)

// ErrStalled: a registry (or a proxy) sent no data for longer than the timeout.
var ErrStalled = idle.ErrStalled

// Permanent reports whether an error will not go away by trying again: a bad image name, a
// registry answer of 4xx other than 408 and 429, a full disk, a cancelled run. It is the one
// rule pull and push retry by.
func Permanent(err error) bool {
	if err == nil {
		return false
	}
	var terr *transport.Error
	if errors.As(err, &terr) {
		c := terr.StatusCode
		return c >= 400 && c < 500 && c != http.StatusRequestTimeout && c != http.StatusTooManyRequests
	}
	var bad *name.ErrBadName
	return errors.As(err, &bad) || errors.Is(err, imagename.ErrInvalid) ||
		errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) || errors.Is(err, context.Canceled)
}

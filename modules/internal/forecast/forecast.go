// Package forecast tells, before a download writes anything, how many bytes it will add to a
// bundle folder and whether the file system holding the folder has room for them: the files
// as fetch.Needs forecasts them (under <bundle>/files), the images as imagepull.Needs does
// (the OCI layout <bundle>/images), the room as freespace.Of measures it.
package forecast

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/fetch"
	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/freespace"
	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/imagepull"
	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/ocistore"
	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/progress"
	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/sitestate"
)

// Where a bundle keeps what download writes into it.
const (
	FilesDir  = "files"
	ImagesDir = "images"
)

// ErrShort: the bundle's file system has less room than the download needs.
var ErrShort = errors.New("not enough free space")

// Options configure Forecast.
type Options struct {
	Bundle string       // the bundle folder (it need not exist yet)
	Files  []fetch.Item // what offline_file_fetch would fetch into <Bundle>/files
	// Sizes are the files' sizes when known (by index; < 0 or missing: asked of the server).
	Sizes  []int64
	Images []imagepull.Image // what offline_image_pull would pull into <Bundle>/images
	Site   *sitestate.State  // what the site holds: not counted (nil: nothing)
	Fetch  fetch.Options     // how files are reached (Dest is set here)
	Pull   imagepull.Options // how registries are reached
	// Free measures the room for a folder; if nil, freespace.Of.
	Free func(dir string) (int64, error)
}

// Unknown is an item whose size could not be learnt: counted as 0.
type Unknown struct {
	Kind string `json:"kind"` // "file" or "image"
	Name string `json:"name"` // the file's URL, the image's reference
	Msg  string `json:"msg"`
}

// Report is a forecast.
type Report struct {
	Bundle      string           `json:"bundle"`
	Needed      int64            `json:"needed_bytes"`
	Free        int64            `json:"free_bytes"`
	Short       int64            `json:"short_bytes"` // Needed - Free when positive, else 0
	FilesBytes  int64            `json:"files_bytes"`
	ImagesBytes int64            `json:"images_bytes"`
	Unknown     []Unknown        `json:"unknown"`
	Files       []fetch.Need     `json:"files"`
	Images      []imagepull.Need `json:"images"`
}

// Forecast sizes what a download into opts.Bundle would add, and measures the room for it. It
// writes nothing. The error is for what stops the forecast itself (a cancelled context, no
// free space to read); a shortfall is in the report (see Err).
func Forecast(ctx context.Context, opts Options) (*Report, error) {
	bundle, err := filepath.Abs(opts.Bundle)
	if err != nil {
		return nil, fmt.Errorf("resolving bundle: %w", err)
	}
	rep := &Report{Bundle: bundle, Unknown: []Unknown{}, Files: []fetch.Need{}, Images: []imagepull.Need{}}
	if len(opts.Files) > 0 {
		fo := opts.Fetch
		fo.Dest = filepath.Join(bundle, FilesDir)
		if rep.Files, err = fetch.Needs(ctx, opts.Files, opts.Sizes, opts.Site, fo); err != nil {
			return nil, err
		}
		for _, n := range rep.Files {
			rep.FilesBytes += n.Bytes
			if n.Status == fetch.NeedUnknown {
				rep.Unknown = append(rep.Unknown, Unknown{Kind: "file", Name: n.URL, Msg: n.Msg})
			}
		}
	}
	if len(opts.Images) > 0 {
		store, err := openLayout(filepath.Join(bundle, ImagesDir))
		if err != nil {
			return nil, err
		}
		if rep.Images, err = imagepull.Needs(ctx, store, opts.Images, opts.Site, opts.Pull); err != nil {
			return nil, err
		}
		for _, n := range rep.Images {
			rep.ImagesBytes += n.Bytes
			if n.Status == imagepull.NeedUnknown {
				rep.Unknown = append(rep.Unknown, Unknown{Kind: "image", Name: n.Source, Msg: n.Msg})
			}
		}
	}
	free := opts.Free
	if free == nil {
		free = freespace.Of
	}
	if rep.Free, err = free(bundle); err != nil {
		return nil, err
	}
	rep.Needed = rep.FilesBytes + rep.ImagesBytes
	if rep.Needed > rep.Free {
		rep.Short = rep.Needed - rep.Free
	}
	return rep, nil
}

// openLayout opens the layout at dir without creating it; nil when there is none yet.
func openLayout(dir string) (*ocistore.Store, error) {
	if _, err := os.Stat(filepath.Join(dir, "oci-layout")); errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	return ocistore.Open(dir, false)
}

// Summary is the forecast in one line: "needs 12.3 GiB, 40.1 GiB free in /srv/bundle".
func (r *Report) Summary() string {
	s := fmt.Sprintf("needs %s (files %s, images %s), %s free in %s", progress.Bytes(r.Needed),
		progress.Bytes(r.FilesBytes), progress.Bytes(r.ImagesBytes), progress.Bytes(r.Free), r.Bundle)
	if n := len(r.Unknown); n > 0 {
		s += fmt.Sprintf("; %d items of unknown size counted as 0", n)
	}
	return s
}

// Err is ErrShort, naming what is needed, what is free and the shortfall, when the bundle's
// file system is too small; else nil.
func (r *Report) Err() error {
	if r.Short <= 0 {
		return nil
	}
	return fmt.Errorf("%w in %s: the download needs %s (%d bytes), %s (%d bytes) are free: %s (%d bytes) short",
		ErrShort, r.Bundle, progress.Bytes(r.Needed), r.Needed, progress.Bytes(r.Free), r.Free,
		progress.Bytes(r.Short), r.Short)
}

// Package bundleforecastmod is the airgap.kubespray.offline_bundle_forecast module: the bytes a
// download would add to a bundle folder against the free space there, on top of
// modules/internal/forecast.
package bundleforecastmod

import (
	"context"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/fetch"
	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/forecast"
	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/imagepull"
	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/mirror"
	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/module"
	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/regclient"
	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/sitestate"
)

// file is an offline_file_fetch item with its size, when known.
type file struct {
	fetch.Item
	Size *int64 `json:"size"`
}

type args struct {
	regclient.Access
	URLUsername     string            `json:"url_username"`
	URLPassword     string            `json:"url_password"`
	Headers         map[string]any    `json:"headers"`
	Dest            string            `json:"dest"`
	Files           []file            `json:"files"`
	Images          []imagepull.Image `json:"images"`
	Platforms       []string          `json:"platforms"`
	SiteState       string            `json:"site_state"`
	URLMirrors      []mirror.Mirror   `json:"url_mirrors"`
	RegistryMirrors []mirror.Mirror   `json:"registry_mirrors"`
	Concurrency     int               `json:"concurrency"`
	Timeout         int               `json:"timeout"`
}

func run(ctx context.Context, inv *module.Invocation) (*module.Result, error) {
	var a args
	if err := inv.Decode(&a); err != nil {
		return nil, err
	}
	timeout := time.Duration(a.Timeout) * time.Second
	opts := forecast.Options{Bundle: a.Dest}
	var err error
	opts.Fetch, err = fetch.Access{URLUsername: a.URLUsername, URLPassword: a.URLPassword, Headers: a.Headers,
		CAPath: a.CAPath, ValidateCerts: a.ValidateCerts}.Options(timeout)
	if err != nil {
		return nil, err
	}
	opts.Fetch.Mirrors, opts.Fetch.Concurrency = a.URLMirrors, a.Concurrency
	for _, f := range a.Files {
		size := int64(-1)
		if f.Size != nil {
			size = *f.Size
		}
		opts.Files, opts.Sizes = append(opts.Files, f.Item), append(opts.Sizes, size)
	}
	opts.Images = a.Images
	client, err := a.Access.Client(inv.Secret, 0, timeout)
	if err != nil {
		return nil, err
	}
	var platforms []v1.Platform
	for _, s := range a.Platforms {
		pl, err := imagepull.ParsePlatform(s)
		if err != nil {
			return nil, err
		}
		platforms = append(platforms, pl)
	}
	opts.Pull = imagepull.Options{Platforms: platforms, Mirrors: a.RegistryMirrors, Client: client, Concurrency: a.Concurrency}
	if a.SiteState != "" {
		if opts.Site, _, err = sitestate.Load(a.SiteState); err != nil {
			return nil, err
		}
	}
	if !a.ValidateCerts {
		inv.Warn("validate_certs is false: TLS certificates of download servers and registries are not checked")
	}
	rep, err := forecast.Forecast(ctx, opts)
	if err != nil {
		return nil, err
	}
	for _, u := range rep.Unknown {
		inv.Warn("%s %s: size unknown, counted as 0: %s", u.Kind, u.Name, u.Msg)
	}
	res := &module.Result{Msg: rep.Summary(), Data: map[string]any{
		"needed_bytes": rep.Needed, "free_bytes": rep.Free, "short_bytes": rep.Short,
		"files_bytes": rep.FilesBytes, "images_bytes": rep.ImagesBytes, "unknown": rep.Unknown,
		"files": rep.Files, "images": rep.Images, "dest": rep.Bundle,
	}}
	if err := rep.Err(); err != nil {
		res.Failed, res.Msg = true, err.Error()
	}
	return res, nil
}

// Package imagepullmod is the airgap.kubespray.offline_image_pull module: images from
// registries (or docker-save bundles) into one OCI image layout, on top of
// modules/internal/imagepull.
package imagepullmod

import (
	"context"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/imagepull"
	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/mirror"
	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/module"
	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/ocistore"
	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/progress"
	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/regclient"
	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/sitestate"
)

type args struct {
	regclient.Access
	Images      []imagepull.Image `json:"images"`
	Dest        string            `json:"dest"`
	Platforms   []string          `json:"platforms"`
	Mirrors     []mirror.Mirror   `json:"registry_mirrors"`
	Concurrency int               `json:"concurrency"`
	Retries     int               `json:"retries"`
	Timeout     int               `json:"timeout"`
	Archives    []string          `json:"archives"`
	SiteState   string            `json:"site_state"`
}

func run(ctx context.Context, inv *module.Invocation) (*module.Result, error) {
	var a args
	if err := inv.Decode(&a); err != nil {
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
	var site *sitestate.State
	if a.SiteState != "" {
		var err error
		if site, _, err = sitestate.Load(a.SiteState); err != nil {
			return nil, err
		}
	}
	client, err := a.Access.Client(inv.Secret, 0, time.Duration(a.Timeout)*time.Second)
	if err != nil {
		return nil, err
	}
	store, err := ocistore.Open(a.Dest, !inv.CheckMode)
	if err != nil && !inv.CheckMode {
		return nil, err
	}
	if store == nil { // check mode on a layout that does not exist yet: everything would be pulled
		res := &imagepull.Report{}
		for _, img := range a.Images {
			res.Images = append(res.Images, imagepull.Result{Source: img.Source, Status: imagepull.StatusWouldPull})
		}
		return result(a.Dest, res, nil), nil
	}
	line := progress.NewLine(inv.Progress)
	onProgress := func(p imagepull.Progress) { line.Update(p.Done, p.Items, p.Failed, p.Bytes, "") }
	rep := &imagepull.Report{}
	if len(a.Archives) > 0 {
		imp, err := imagepull.Import(ctx, store, a.Archives, inv.CheckMode)
		if err != nil {
			return nil, err
		}
		rep.Images, rep.Bytes, rep.Seconds = imp.Images, imp.Bytes, imp.Seconds
	}
	if len(a.Images) > 0 {
		pulled, err := imagepull.Pull(ctx, store, a.Images, imagepull.Options{
			Platforms: platforms, Mirrors: a.Mirrors, Client: client, Concurrency: a.Concurrency,
			Retries: a.Retries, DryRun: inv.CheckMode, Site: site, OnProgress: onProgress,
		})
		line.Done()
		if err != nil {
			return nil, err
		}
		rep.Images = append(rep.Images, pulled.Images...)
		rep.Bytes += pulled.Bytes
		rep.Seconds += pulled.Seconds
	}
	return result(a.Dest, rep, platforms), nil
}

func result(dest string, rep *imagepull.Report, platforms []v1.Platform) *module.Result {
	res := &module.Result{Changed: rep.Changed(), Failed: len(rep.Failures()) > 0, Msg: rep.Summary(),
		Data: map[string]any{"dest": dest, "images": rep.Images, "totals": rep.Totals(), "failed_items": rep.FailedItems()}}
	var after string
	for _, i := range rep.Images {
		if i.Status == imagepull.StatusPulled || i.Status == imagepull.StatusImported || i.Status == imagepull.StatusWouldPull {
			after += i.Source + " " + i.Digest + "\n"
		}
	}
	if after != "" {
		res.Diff = []module.Diff{{BeforeHeader: dest + "/index.json", AfterHeader: dest + "/index.json", After: after}}
	}
	return res
}

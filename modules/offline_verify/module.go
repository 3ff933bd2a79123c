// Package verifymod is the airgap.kubespray.offline_verify module: does the mirror hold
// every file and image Kubespray will ask for? On top of modules/internal/verify.
package verifymod

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/fetch"
	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/imagename"
	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/module"
	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/regclient"
	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/verify"
)

type image struct {
	Name   string   `json:"name"`
	Source string   `json:"source"`
	Arches []string `json:"arches"`
}

type args struct {
	regclient.Access
	Files        []verify.File `json:"files"`
	Images       []image       `json:"images"`
	BundleImages string        `json:"bundle_images"`
	Concurrency  int           `json:"concurrency"`
	Timeout      int           `json:"timeout"`
}

func run(ctx context.Context, inv *module.Invocation) (*module.Result, error) {
	var a args
	if err := inv.Decode(&a); err != nil {
		return nil, err
	}
	timeout := time.Duration(a.Timeout) * time.Second
	httpClient, err := fetch.NewHTTPClient(fetch.ClientOptions{Timeout: timeout, Insecure: !a.ValidateCerts, CAPath: a.CAPath})
	if err != nil {
		return nil, err
	}
	reg, err := a.Access.Client(inv.Secret, 0, timeout)
	if err != nil {
		return nil, err
	}
	images := make([]verify.Image, len(a.Images))
	for i, img := range a.Images {
		images[i] = verify.Image{Name: img.Name, Ref: img.Source}
		for _, arch := range img.Arches {
			images[i].Platforms = append(images[i].Platforms, "linux/"+arch)
		}
	}
	digests := 0
	if a.BundleImages != "" {
		if digests, err = verify.ExpectBundle(images, a.BundleImages, imagename.Mapping{}); err != nil {
			return nil, err
		}
	}
	results := verify.Check(ctx, a.Files, images, verify.Options{HTTP: httpClient, Registry: reg, Concurrency: a.Concurrency})
	var bad []verify.Result
	for _, r := range results {
		if !r.OK {
			bad = append(bad, r)
		}
	}
	msg := fmt.Sprintf("the mirror holds all %d files and %d images Kubespray will ask for", len(a.Files), len(a.Images))
	if a.BundleImages != "" {
		msg += fmt.Sprintf(" (%d of them under the bundle's manifest digest)", digests)
	}
	if len(bad) > 0 {
		var lines []string
		for _, r := range bad {
			lines = append(lines, fmt.Sprintf("%s %s (%s): %s", r.Kind, r.Name, r.Where, r.Detail))
		}
		msg = fmt.Sprintf("%d of %d items missing or wrong on the mirror: %s", len(bad), len(results), strings.Join(lines, "; "))
	}
	failed := []verify.Result{}
	failed = append(failed, bad...)
	return &module.Result{Failed: len(bad) > 0, Msg: msg, Data: map[string]any{
		"items": results, "failed_items": failed,
		"totals": map[string]int{"files": len(a.Files), "images": len(a.Images), "failed": len(bad), "digests": digests},
	}}, nil
}

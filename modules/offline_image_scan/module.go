// Package imagescanmod is the airgap.kubespray.offline_image_scan module: the images inside
// charts and manifests, on top of modules/internal/scan.
package imagescanmod

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/imagename"
	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/module"
	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/scan"
)

type source struct {
	Name   string         `json:"name"`
	Path   string         `json:"path"`
	Kind   string         `json:"kind"`
	Values map[string]any `json:"values"`
}

type args struct {
	Sources     []source `json:"sources"`
	FilesDir    string   `json:"files_dir"`
	Helm        string   `json:"helm"`
	KubeVersion string   `json:"kube_version"`
	Namespace   string   `json:"namespace"`
}

func run(ctx context.Context, inv *module.Invocation) (*module.Result, error) {
	var a args
	if err := inv.Decode(&a); err != nil {
		return nil, err
	}
	sources := make([]scan.Source, len(a.Sources))
	for i, s := range a.Sources {
		sources[i] = scan.Source{Name: s.Name, Path: a.under(s.Path), Kind: s.Kind, Values: s.Values}
	}
	helm := ""
	if a.Helm != "" {
		helm = a.under(a.Helm)
	}
	kube := a.KubeVersion
	if kube != "" && !strings.HasPrefix(kube, "v") {
		kube = "v" + kube
	}
	rep, err := scan.Scan(ctx, sources, scan.Options{Helm: helm, KubeVersion: kube,
		Mapping: imagename.Mapping{Mode: imagename.Strip, Namespace: a.Namespace}})
	if err != nil {
		return nil, err
	}
	failed := rep.Failed()
	msg := fmt.Sprintf("%d images in %d charts and manifests", len(rep.Images), len(rep.Sources))
	if len(failed) > 0 {
		var lines []string
		for _, f := range failed {
			lines = append(lines, f.Msg)
		}
		msg = fmt.Sprintf("%d of %d sources could not be scanned: %s", len(failed), len(rep.Sources), strings.Join(lines, "; "))
	}
	return &module.Result{Failed: len(failed) > 0, Msg: msg, Data: map[string]any{
		"images": rep.Images, "sources": rep.Sources, "failed_items": failed,
	}}, nil
}

// under resolves a path against files_dir.
func (a args) under(p string) string {
	if filepath.IsAbs(p) || a.FilesDir == "" {
		return p
	}
	return filepath.Join(a.FilesDir, p)
}

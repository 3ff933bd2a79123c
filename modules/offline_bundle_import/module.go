// Package bundleimportmod is the airgap.kubespray.offline_bundle_import module: the outputs of
// kubespray-offline and of Kubespray's contrib/offline into a bundle, on top of
// modules/internal/bundleimport.
package bundleimportmod

import (
	"context"
	"errors"
	"path/filepath"
	"strings"

	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/bundleimport"
	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/module"
)

type args struct {
	Bundle                string               `json:"bundle"`
	Files                 []bundleimport.File  `json:"files"`
	Images                []bundleimport.Image `json:"images"`
	KubesprayOfflineFiles string               `json:"kubespray_offline_files"`
	ContribFiles          string               `json:"contrib_files"`
	Repos                 []bundleimport.Repo  `json:"repos"`
	MaxExtractBytes       int64                `json:"max_extract_bytes"`
	Hardlink              bool                 `json:"hardlink"`
}

func run(_ context.Context, inv *module.Invocation) (*module.Result, error) {
	var a args
	if err := inv.Decode(&a); err != nil {
		return nil, err
	}
	files, err := bundleimport.Import(bundleimport.Request{
		Bundle: a.Bundle, Files: a.Files, KubesprayOfflineFiles: a.KubesprayOfflineFiles, ContribFiles: a.ContribFiles,
		Repos: a.Repos, MaxExtractBytes: a.MaxExtractBytes, Copy: !a.Hardlink, Check: inv.CheckMode,
	})
	var refused *bundleimport.Refused
	if errors.As(err, &refused) {
		members := refused.Members
		if members == nil {
			members = []string{}
		}
		return &module.Result{Failed: true, Msg: refused.Msg, Data: map[string]any{"refused": members}}, nil
	}
	if err != nil {
		return nil, err
	}
	images := &bundleimport.ImagesResult{Found: []string{}, Missing: []bundleimport.MissingImage{}}
	if len(a.Images) > 0 {
		if images, err = bundleimport.Images(filepath.Join(a.Bundle, "images"), a.Images); err != nil {
			return nil, err
		}
	}
	lines := append(append([]string{}, files.Lines...), images.Lines...)
	res := &module.Result{
		Changed: files.Changed,
		Msg:     strings.Join(lines, "\n"),
		Data: map[string]any{
			"found": files.Found, "placed": files.Placed, "already": files.Already, "missing": files.Missing,
			"mismatched": files.Mismatched, "unmatched": files.Unmatched, "skipped_links": files.SkippedLinks,
			"repos": files.Repos, "lines": lines,
			"images": map[string]any{"found": images.Found, "missing": images.Missing},
			"totals": map[string]int{
				"files": len(a.Files), "found": len(files.Found), "placed": len(files.Placed), "already": len(files.Already),
				"missing": len(files.Missing), "images": len(a.Images), "images_found": len(images.Found),
				"images_missing": len(images.Missing),
			},
		},
	}
	if inv.Diff && len(files.Placed) > 0 {
		var after strings.Builder
		for _, p := range files.Placed {
			after.WriteString(p.Path + " (" + p.How + " from " + p.From + ")\n")
		}
		dir := filepath.Join(a.Bundle, "files")
		res.Diff = []module.Diff{{BeforeHeader: dir, AfterHeader: dir, After: after.String()}}
	}
	return res, nil
}

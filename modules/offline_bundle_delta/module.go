// Package bundledeltamod is the airgap.kubespray.offline_bundle_delta module: a delta bundle's
// delta.yaml, from the bundle on disk and the site state, on top of modules/internal/delta.
package bundledeltamod

import (
	"context"
	"fmt"

	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/delta"
	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/fetch"
	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/module"
	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/progress"
	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/sitestate"
)

type args struct {
	Bundle    string       `json:"bundle"`
	SiteState string       `json:"site_state"`
	Files     []fetch.Item `json:"files"`
}

func run(_ context.Context, inv *module.Invocation) (*module.Result, error) {
	var a args
	if err := inv.Decode(&a); err != nil {
		return nil, err
	}
	opts := delta.WriteOptions{Bundle: a.Bundle, Files: a.Files, Check: inv.CheckMode}
	if a.SiteState != "" {
		var err error
		if opts.Site, opts.StateSHA256, err = sitestate.Load(a.SiteState); err != nil {
			return nil, err
		}
	}
	w, err := delta.Write(opts)
	if err != nil {
		return nil, err
	}
	data := map[string]any{"path": w.Path, "delta": w.Delta}
	res := &module.Result{Changed: w.Changed, Data: data}
	if inv.Diff && w.Changed {
		res.Diff = []module.Diff{{BeforeHeader: w.Path, AfterHeader: w.Path, Before: w.Before, After: w.After}}
	}
	if w.Delta == nil {
		res.Msg = "a full bundle: no " + delta.FileName
		if w.Changed {
			res.Msg = "a full bundle: the old " + delta.FileName + " removed"
		}
		return res, nil
	}
	c, r := w.Delta.Carries, w.Delta.ReliesOn
	site := w.Delta.Base.Site
	if site == "" {
		site = "the site"
	}
	res.Msg = fmt.Sprintf("a delta against %s (state sha256 %.12s): carries %d files, %d images, %d blobs (%s); leaves out %d files and %d layers the site holds (%s)",
		site, w.Delta.Base.StateSHA256, c.Files, c.Images, c.Blobs, progress.Bytes(c.Bytes), len(r.Files), c.LeftOut, progress.Bytes(c.LeftOutBytes))
	data["redundant"] = w.Redundant
	if len(w.Pending) > 0 {
		res.Msg += fmt.Sprintf(" (check mode: the bundle still lacks %d items the site does not hold, which the download would fetch)", len(w.Pending))
	}
	if w.Redundant.Files+w.Redundant.Blobs > 0 {
		res.Msg += fmt.Sprintf("; it also carries %d files and %d layers (%s) the site holds", w.Redundant.Files, w.Redundant.Blobs, progress.Bytes(w.Redundant.Bytes))
	}
	return res, nil
}

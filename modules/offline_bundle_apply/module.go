// Package bundleapplymod is the airgap.kubespray.offline_bundle_apply module: a delta bundle
// applied on the bundle an offline site's mirror serves, on top of modules/internal/bundleapply.
package bundleapplymod

import (
	"context"
	"errors"
	"strings"

	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/bundleapply"
	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/module"
)

type args struct {
	Src         string `json:"src"`
	Bundle      string `json:"bundle"`
	StorageDir  string `json:"storage_dir"`
	Concurrency int    `json:"concurrency"`
}

func run(ctx context.Context, inv *module.Invocation) (*module.Result, error) {
	var a args
	if err := inv.Decode(&a); err != nil {
		return nil, err
	}
	rep, err := bundleapply.Apply(ctx, bundleapply.Options{Src: a.Src, Bundle: a.Bundle, StorageDir: a.StorageDir,
		Concurrency: a.Concurrency, Check: inv.CheckMode})
	if errors.Is(err, bundleapply.ErrRefused) {
		return &module.Result{Failed: true, Msg: err.Error(), Data: map[string]any{
			"mismatches": rep.Mismatches, "failed_items": rep.Mismatches, "applied": bundleapply.Counts{},
			"delta": rep.Delta, "base": rep.Base,
		}}, nil
	}
	if err != nil {
		return nil, err
	}
	res := &module.Result{
		Changed: rep.Changed,
		Msg:     rep.Lines[0],
		Data: map[string]any{
			"applied": rep.Applied, "mismatches": rep.Mismatches, "failed_items": rep.Mismatches,
			"delta": rep.Delta, "base": rep.Base, "manifest": rep.Manifest, "lines": rep.Lines,
		},
	}
	if inv.Diff && rep.Changed {
		res.Diff = []module.Diff{{BeforeHeader: a.Bundle, AfterHeader: a.Bundle, After: strings.Join(rep.Lines[1:], "\n") + "\n"}}
	}
	return res, nil
}

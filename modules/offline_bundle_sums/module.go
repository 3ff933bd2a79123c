// Package bundlesumsmod is the airgap.kubespray.offline_bundle_sums module: a bundle's
// SHA256SUMS from the verified-digest records, on top of modules/internal/bundlesums.
package bundlesumsmod

import (
	"context"
	"fmt"
	"sync"

	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/bundlesums"
	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/module"
	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/progress"
)

type args struct {
	Bundle      string `json:"bundle"`
	Concurrency int    `json:"concurrency"`
}

func run(ctx context.Context, inv *module.Invocation) (*module.Result, error) {
	var a args
	if err := inv.Decode(&a); err != nil {
		return nil, err
	}
	opts := bundlesums.Options{Dir: a.Bundle, Concurrency: a.Concurrency, Check: inv.CheckMode}
	if inv.Progress != nil {
		line := progress.NewLine(inv.Progress)
		defer line.Done()
		var mu sync.Mutex // files are hashed at once; the line is drawn by one at a time
		opts.Progress = func(done, misses int, bytes int64) {
			mu.Lock()
			defer mu.Unlock()
			line.Update(done, misses, 0, bytes, "hashed")
		}
	}
	rep, err := bundlesums.Write(ctx, opts)
	if err != nil {
		return nil, err
	}
	for _, s := range rep.LeftOut {
		inv.Warn("%s: left out of %s: %s", s.Path, bundlesums.Name, s.Why)
	}
	verb := "unchanged"
	switch {
	case rep.Changed && inv.CheckMode:
		verb = "would be written"
	case rep.Changed:
		verb = "written"
	}
	res := &module.Result{
		Changed: rep.Changed,
		Msg: fmt.Sprintf("%s %s: %d files, %d hashed (%s), %d from their digest records", rep.Path, verb,
			rep.Files, rep.Hashed, progress.Bytes(rep.BytesHashed), rep.Cached),
		Data: map[string]any{
			"path": rep.Path, "files": rep.Files, "hashed": rep.Hashed, "cached": rep.Cached,
			"bytes_hashed": rep.BytesHashed, "left_out": rep.LeftOut,
		},
	}
	if inv.Diff && rep.Changed {
		h, b, a := bundlesums.FileDiff(rep.Path, rep.Before, rep.After)
		res.Diff = []module.Diff{{BeforeHeader: h, AfterHeader: h, Before: b, After: a}}
	}
	return res, nil
}

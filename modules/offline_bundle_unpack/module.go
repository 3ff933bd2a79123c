// Package bundleunpackmod is the airgap.kubespray.offline_bundle_unpack module: parts for media
// back into a bundle, on top of modules/internal/parts.
package bundleunpackmod

import (
	"context"
	"fmt"
	"strings"

	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/module"
	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/parts"
)

type args struct {
	Src         string `json:"src"`
	Dest        string `json:"dest"`
	Concurrency int    `json:"concurrency"`
}

func run(ctx context.Context, inv *module.Invocation) (*module.Result, error) {
	var a args
	if err := inv.Decode(&a); err != nil {
		return nil, err
	}
	rep, err := parts.Unpack(ctx, parts.UnpackOptions{Src: a.Src, Dest: a.Dest, Concurrency: a.Concurrency, Check: inv.CheckMode})
	if err != nil {
		return nil, err
	}
	counts := map[string]int{}
	for _, p := range rep.Parts {
		counts[p.Status]++
	}
	var done []string
	for _, s := range []string{parts.StatusUnpacked, parts.StatusWould, parts.StatusDone, parts.StatusDamaged, parts.StatusRefused} {
		if counts[s] > 0 {
			done = append(done, fmt.Sprintf("%d %s", counts[s], s))
		}
	}
	msg := fmt.Sprintf("%s: %d of %d parts here: %s", rep.Dest, len(rep.Parts), rep.Total, strings.Join(done, ", "))
	switch {
	case rep.Complete:
		msg += "; complete, every file checked"
	case len(rep.Missing) > 0:
		msg += "; still missing: " + strings.Join(rep.Missing, ", ")
	}
	for _, f := range rep.FailedItems {
		msg += fmt.Sprintf("; %s: %s", f.Part, f.Msg)
	}
	return &module.Result{Changed: rep.Changed, Failed: len(rep.FailedItems) > 0, Msg: msg, Data: rep}, nil
}

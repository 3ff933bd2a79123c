// Package bundlepackmod is the airgap.kubespray.offline_bundle_pack module: a bundle into parts
// for media, on top of modules/internal/parts.
package bundlepackmod

import (
	"context"
	"fmt"
	"strings"

	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/module"
	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/parts"
	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/progress"
)

type args struct {
	Src         string `json:"src"`
	Dest        string `json:"dest"`
	PartSize    string `json:"part_size"`
	Concurrency int    `json:"concurrency"`
}

func run(ctx context.Context, inv *module.Invocation) (*module.Result, error) {
	var a args
	if err := inv.Decode(&a); err != nil {
		return nil, err
	}
	size, err := parts.ParseSize(a.PartSize)
	if err != nil {
		return nil, fmt.Errorf("part_size: %w", err)
	}
	rep, err := parts.Pack(ctx, parts.PackOptions{Src: a.Src, Dest: a.Dest, PartSize: size, Concurrency: a.Concurrency, Check: inv.CheckMode})
	if err != nil {
		return nil, err
	}
	for _, l := range rep.LeftOut {
		inv.Warn("%s: not packed: %s", l.Path, l.Why)
	}
	counts := map[string]int{}
	for _, p := range rep.Parts {
		counts[p.Status]++
	}
	var done []string
	for _, s := range []string{parts.StatusWritten, parts.StatusWouldWrite, parts.StatusUnchanged} {
		if counts[s] > 0 {
			done = append(done, fmt.Sprintf("%d %s", counts[s], s))
		}
	}
	msg := fmt.Sprintf("%s: %d files (%s) in %d parts of at most %s: %s", rep.Dest, rep.Files, progress.Bytes(rep.Bytes),
		rep.Total, progress.Bytes(size), strings.Join(done, ", "))
	if len(rep.Spanning) > 0 {
		msg += fmt.Sprintf("; %d file(s) span parts", len(rep.Spanning))
	}
	return &module.Result{Changed: rep.Changed, Msg: msg, Data: rep}, nil
}

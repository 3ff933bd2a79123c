// Package bundlecheckmod is the airgap.kubespray.offline_bundle_check module: SHA256SUMS's
// signature and every sum of a bundle, checked before it is used, on top of
// modules/internal/bundlesums (the SHA256SUMS format) and modules/internal/gpgsig (gpgv).
package bundlecheckmod

import (
	"context"
	"fmt"
	"strings"

	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/bundlesums"
	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/module"
	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/progress"
)

type args struct {
	Bundle           string `json:"bundle"`
	TrustedKey       string `json:"trusted_key"`
	RequireSignature bool   `json:"require_signature"`
	Concurrency      int    `json:"concurrency"`
}

func run(ctx context.Context, inv *module.Invocation) (*module.Result, error) {
	var a args
	if err := inv.Decode(&a); err != nil {
		return nil, err
	}
	opts := bundlesums.CheckOptions{Dir: a.Bundle, TrustedKey: a.TrustedKey, RequireSignature: a.RequireSignature,
		Concurrency: a.Concurrency, Check: inv.CheckMode}
	update, stop := progress.Hashed(inv.Progress)
	defer stop()
	opts.Progress = update
	rep, err := bundlesums.Check(ctx, opts)
	if err != nil {
		return nil, err
	}
	for _, w := range rep.Warnings {
		inv.Warn("%s", w)
	}
	how := "not signed"
	switch {
	case rep.Signed:
		how = "signed by " + rep.Signer
	case rep.SiteWritten:
		how = "written by this site from inputs signed by " + rep.Signer
	}
	res := &module.Result{
		Data: map[string]any{
			"failed_items": rep.Failed, "files": rep.Files, "signer": rep.Signer, "signed": rep.Signed,
			"site_written": rep.SiteWritten, "trusted_from": rep.TrustedFrom, "hashed": rep.Hashed, "cached": rep.Cached,
		},
	}
	if len(rep.Failed) > 0 {
		lines := make([]string, len(rep.Failed))
		for i, f := range rep.Failed {
			lines[i] = f.Path + ": " + f.Reason
		}
		res.Failed = true
		res.Msg = fmt.Sprintf("%s: %d of its files fail the check (%s): %s", a.Bundle, len(rep.Failed), how, strings.Join(lines, "; "))
		return res, nil
	}
	res.Msg = fmt.Sprintf("%s: %s, all %d files match (%d hashed, %d from their digest records)", a.Bundle, how, rep.Files, rep.Hashed, rep.Cached)
	return res, nil
}

// Package bundlesumsmod is the airgap.kubespray.offline_bundle_sums module: a bundle's
// SHA256SUMS from the verified-digest records, on top of modules/internal/bundlesums.
package bundlesumsmod

import (
	"context"
	"fmt"

	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/bundlesums"
	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/module"
	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/progress"
)

type args struct {
	Bundle      string `json:"bundle"`
	Concurrency int    `json:"concurrency"`
	GnupgHome   string `json:"gnupg_home"`
	KeyID       string `json:"key_id"`
	SiteSigner  string `json:"site_signer"`
}

func run(ctx context.Context, inv *module.Invocation) (*module.Result, error) {
	var a args
	if err := inv.Decode(&a); err != nil {
		return nil, err
	}
	opts := bundlesums.Options{Dir: a.Bundle, Concurrency: a.Concurrency, Check: inv.CheckMode}
	update, stop := progress.Hashed(inv.Progress)
	defer stop()
	opts.Progress = update
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
	signed, signer, sigChanged, sigMsg := false, "", false, ""
	if a.GnupgHome != "" {
		srep, err := bundlesums.Sign(ctx, bundlesums.SignOptions{Dir: a.Bundle, GnupgHome: a.GnupgHome, KeyID: a.KeyID, Check: inv.CheckMode})
		if err != nil {
			return nil, err
		}
		signed, signer, sigChanged = true, srep.Signer, srep.Changed
		sigMsg = "; signature " + map[bool]string{true: "written", false: "up to date"}[srep.Changed]
		if srep.Changed && inv.CheckMode {
			sigMsg = "; signature would be written"
		}
		if signer != "" {
			sigMsg += " (key " + signer + ")"
		}
	} else if rep.Changed {
		// a signature of the SHA256SUMS this run replaced no longer holds
		if sigChanged, err = bundlesums.Unsign(a.Bundle, inv.CheckMode); err != nil {
			return nil, err
		}
		if sigChanged {
			sigMsg = fmt.Sprintf("; the stale %s and %s removed", bundlesums.SigName, bundlesums.KeyName)
		}
	}
	if a.SiteSigner != "" && a.GnupgHome != "" {
		return nil, fmt.Errorf("site_signer and gnupg_home: a bundle is signed by a key, or stamped by the site, not both")
	}
	if a.SiteSigner != "" {
		// the stamp follows SHA256SUMS: written again whenever it no longer names this file
		if signer, ok := bundlesums.SiteStamped(a.Bundle); rep.Changed || !ok || signer != a.SiteSigner {
			sigChanged = true
			if !inv.CheckMode {
				if err := bundlesums.StampSite(a.Bundle, a.SiteSigner); err != nil {
					return nil, err
				}
			}
			sigMsg += "; stamped as written by this site from inputs signed by " + a.SiteSigner
		}
	}
	res := &module.Result{
		Changed: rep.Changed || sigChanged,
		Msg: fmt.Sprintf("%s %s: %d files, %d hashed (%s), %d from their digest records%s", rep.Path, verb,
			rep.Files, rep.Hashed, progress.Bytes(rep.BytesHashed), rep.Cached, sigMsg),
		Data: map[string]any{
			"path": rep.Path, "files": rep.Files, "hashed": rep.Hashed, "cached": rep.Cached,
			"bytes_hashed": rep.BytesHashed, "left_out": rep.LeftOut, "signed": signed, "signer": signer,
		},
	}
	if inv.Diff && rep.Changed {
		h, b, a := bundlesums.FileDiff(rep.Path, rep.Before, rep.After)
		res.Diff = []module.Diff{{BeforeHeader: h, AfterHeader: h, Before: b, After: a}}
	}
	return res, nil
}

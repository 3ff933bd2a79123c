// Package repoconfigmod is the airgap.kubespray.offline_repo_config module: apt, dnf/yum and
// pip pointed at the offline mirror, reversibly, on top of modules/internal/repoconf.
package repoconfigmod

import (
	"context"
	"fmt"

	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/module"
	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/repoconf"
)

type args struct {
	State             string   `json:"state"`
	Root              string   `json:"root"`
	DebianRepo        string   `json:"debian_repo"`
	UbuntuRepo        string   `json:"ubuntu_repo"`
	YumRepo           string   `json:"yum_repo"`
	PyPIURL           string   `json:"pypi_url"`
	DisableOtherRepos bool     `json:"disable_other_repos"`
	GPGKey            string   `json:"gpg_key"`
	CAPath            string   `json:"ca_path"`
	AptSuites         []string `json:"apt_suites"`
	AptComponents     []string `json:"apt_components"`
}

func run(_ context.Context, inv *module.Invocation) (*module.Result, error) {
	var a args
	if err := inv.Decode(&a); err != nil {
		return nil, err
	}
	var plan *repoconf.Plan
	var err error
	if a.State == "absent" {
		plan, err = repoconf.Revert(a.Root)
	} else {
		plan, err = repoconf.Configure(repoconf.Config{
			Root: a.Root, DebianRepo: a.DebianRepo, UbuntuRepo: a.UbuntuRepo, YumRepo: a.YumRepo, PyPIURL: a.PyPIURL,
			DisableOtherRepos: a.DisableOtherRepos, GPGKey: a.GPGKey, CAPath: a.CAPath,
			AptSuites: a.AptSuites, AptComponents: a.AptComponents,
		})
	}
	if err != nil {
		return nil, err
	}
	defer plan.Close()
	for _, w := range plan.Warnings {
		inv.Warn("%s", w)
	}
	if !inv.CheckMode {
		if err := plan.Apply(); err != nil {
			return nil, err
		}
	}
	files := []repoconf.Change{}
	var diffs []module.Diff
	for _, c := range plan.Changes {
		files = append(files, c)
		after := c.Path
		if c.Action == repoconf.Moved {
			after = c.Path + " (moved to " + c.Backup + ")"
		}
		if c.Kept != "" {
			after += " (the version before kept as " + c.Kept + ")"
		}
		diffs = append(diffs, module.Diff{BeforeHeader: c.Path, AfterHeader: after, Before: c.Before(), After: c.After()})
	}
	verb := "configured"
	if a.State == "absent" {
		verb = "reverted"
	}
	msg := fmt.Sprintf("%s %s %s: %d files changed", verb, plan.OS.ID, plan.OS.VersionID, len(files))
	if !plan.Changed() {
		msg = fmt.Sprintf("%s %s %s: nothing to change", verb, plan.OS.ID, plan.OS.VersionID)
		if plan.Reason != "" {
			msg += ": " + plan.Reason
		}
	}
	return &module.Result{Changed: plan.Changed(), Msg: msg, Diff: diffs,
		Data: map[string]any{"os": plan.OS, "files": files, "backup_dir": plan.BackupDir(), "root": a.Root}}, nil
}

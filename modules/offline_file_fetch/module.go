// Package filefetch is the airgap.kubespray.offline_file_fetch module: parallel, resumable,
// checksum-verified downloads into the <host>/<url path> files layout, on top of
// modules/internal/fetch. It also runs as a plain command-line tool.
package filefetch

import (
	"context"
	"fmt"
	"os"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/fetch"
	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/mirror"
	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/module"
	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/progress"
	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/sitestate"
)

// args mirrors the argument spec.
type args struct {
	fetch.Access
	Items       []fetch.Item    `json:"items"`
	Dest        string          `json:"dest"`
	Concurrency int             `json:"concurrency"`
	Retries     int             `json:"retries"`
	Timeout     int             `json:"timeout"`
	Mirrors     []mirror.Mirror `json:"url_mirrors"`
	Mode        any             `json:"mode"`
	Force       bool            `json:"force"`
	SiteState   string          `json:"site_state"`
}

func run(ctx context.Context, inv *module.Invocation) (*module.Result, error) {
	var a args
	if err := inv.Decode(&a); err != nil {
		return nil, err
	}
	mode, err := parseMode(a.Mode)
	if err != nil {
		return nil, err
	}
	opts, err := a.Access.Options(time.Duration(a.Timeout) * time.Second)
	if err != nil {
		return nil, err
	}
	if !a.ValidateCerts {
		inv.Warn("validate_certs is false: TLS certificates of download servers are not checked")
	}
	var site *sitestate.State
	if a.SiteState != "" {
		if site, _, err = sitestate.Load(a.SiteState); err != nil {
			return nil, err
		}
	}
	line := progress.NewLine(inv.Progress)
	opts.Dest, opts.Concurrency, opts.Retries, opts.Mirrors = a.Dest, a.Concurrency, a.Retries, a.Mirrors
	opts.Mode, opts.Force, opts.DryRun, opts.Site = mode, a.Force, inv.CheckMode, site
	opts.OnProgress = func(p fetch.Progress) {
		line.Update(p.Done, p.Items, p.Failed, p.Bytes, activeNote(p.Active))
	}
	rep, err := fetch.Fetch(ctx, a.Items, opts)
	line.Done()
	if err != nil {
		return nil, err
	}
	failed := rep.FailedItems()
	res := &module.Result{
		Changed: rep.Changed(),
		Failed:  len(failed) > 0,
		Msg:     rep.Summary(),
		Data: map[string]any{
			"dest":         a.Dest,
			"items":        rep.Items,
			"totals":       rep.Totals,
			"failed_items": failed,
		},
	}
	if before, after := rep.DiffLines(); before != after {
		res.Diff = []module.Diff{{BeforeHeader: a.Dest, AfterHeader: a.Dest, Before: before, After: after}}
	}
	return res, nil
}

// parseMode reads an octal string ("0644", "755") or a number, as Ansible's mode does.
func parseMode(v any) (os.FileMode, error) {
	switch t := v.(type) {
	case nil:
		return 0o644, nil
	case float64:
		return os.FileMode(int64(t)) & os.ModePerm, nil
	case string:
		n, err := strconv.ParseUint(strings.TrimSpace(t), 8, 32)
		if err != nil || n > 0o7777 {
			return 0, fmt.Errorf("mode %q: want an octal mode such as '0644'", t)
		}
		return os.FileMode(n) & os.ModePerm, nil
	}
	return 0, fmt.Errorf("mode %v: want an octal mode such as '0644'", v)
}

func activeNote(urls []string) string {
	names := make([]string, len(urls))
	for i, u := range urls {
		names[i] = path.Base(u)
	}
	return strings.Join(names, " ")
}

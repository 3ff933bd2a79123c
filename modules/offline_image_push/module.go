// Package imagepushmod is the airgap.kubespray.offline_image_push module: the images of an
// OCI layout (or docker-save tarballs) into any registry, on top of modules/internal/imagepush.
package imagepushmod

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/imagename"
	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/imagepull"
	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/imagepush"
	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/module"
	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/ocistore"
	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/platform"
	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/progress"
	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/regclient"
	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/tagmerge"
)

type args struct {
	regclient.Access
	Src         []string `json:"src"`
	Registry    string   `json:"registry"`
	Archive     string   `json:"archive"`
	StorageDir  string   `json:"storage_dir"`
	Platform    string   `json:"platform"`
	Mapping     string   `json:"mapping"`
	Namespace   string   `json:"namespace"`
	StripHosts  []string `json:"strip_hosts"`
	OnExisting  string   `json:"on_existing"`
	Concurrency int      `json:"concurrency"`
	Retries     int      `json:"retries"`
	Timeout     int      `json:"timeout"`
	Images      []string `json:"images"`
}

func run(ctx context.Context, inv *module.Invocation) (*module.Result, error) {
	var a args
	if err := inv.Decode(&a); err != nil {
		return nil, err
	}
	if n := len(nonEmpty(a.Registry, a.Archive, a.StorageDir)); n != 1 {
		return nil, fmt.Errorf("exactly one of registry, archive and storage_dir is required (%d given)", n)
	}
	if a.Archive != "" {
		return archive(ctx, inv, a)
	}
	onExisting, err := tagmerge.ParseMode(a.OnExisting)
	if err != nil {
		return nil, err
	}
	if a.StorageDir != "" {
		return fill(ctx, inv, a, onExisting)
	}
	client, err := a.Access.Client(inv.Secret, a.Concurrency, time.Duration(a.Timeout)*time.Second)
	if err != nil {
		return nil, err
	}
	entries, _, cleanup, err := entriesOf(ctx, a)
	if err != nil {
		return nil, err
	}
	defer cleanup()
	line := progress.NewLine(inv.Progress)
	rep, err := imagepush.Push(ctx, entries, imagepush.Options{
		Registry: a.Registry, Client: client, Concurrency: a.Concurrency, Retries: a.Retries, DryRun: inv.CheckMode,
		OnExisting: onExisting,
		Mapping:    imagename.Mapping{Mode: a.Mapping, Namespace: a.Namespace, StripHosts: a.StripHosts},
		OnProgress: func(p imagepush.Progress) { line.Update(p.Done, p.Items, p.Failed, p.Bytes, "") },
	})
	line.Done()
	if err != nil {
		return nil, err
	}
	return result("registry", a.Registry, rep.Summary(a.Registry), rep), nil
}

// archive writes one image of src as a docker-save tarball (for a container runtime's load).
func archive(ctx context.Context, inv *module.Invocation, a args) (*module.Result, error) {
	pl := v1.Platform{OS: "linux", Architecture: runtime.GOARCH}
	if a.Platform != "" {
		p, err := platform.Parse(a.Platform)
		if err != nil {
			return nil, err
		}
		pl = p
	}
	if len(a.Images) > 1 {
		return nil, fmt.Errorf("archive holds one image: images names %d", len(a.Images))
	}
	entries, _, cleanup, err := entriesOf(ctx, a)
	if err != nil {
		return nil, err
	}
	defer cleanup()
	if len(entries) != 1 {
		return nil, fmt.Errorf("archive holds one image: name it with images (src has %d)", len(entries))
	}
	e := entries[0]
	data := map[string]any{"archive": a.Archive, "images": []map[string]string{{"source": e.Source, "digest": e.Digest.String()}}}
	changed, err := imagepush.Archive(e, pl, a.Archive, inv.CheckMode)
	if err != nil {
		return nil, err
	}
	msg := fmt.Sprintf("%s is up to date (%s, %s)", a.Archive, e.Source, pl.String())
	switch {
	case changed && inv.CheckMode:
		msg = fmt.Sprintf("would write %s (%s, %s)", a.Archive, e.Source, pl.String())
	case changed:
		msg = fmt.Sprintf("wrote %s (%s, %s)", a.Archive, e.Source, pl.String())
	}
	return &module.Result{Changed: changed, Msg: msg, Data: data}, nil
}

// entriesOf reads the images of src (only those named by images, when it names any), and
// returns the layout they are read from.
func entriesOf(ctx context.Context, a args) ([]imagepush.Entry, *ocistore.Store, func(), error) {
	var subset []string
	for _, s := range a.Images {
		n, err := imagename.Normalize(s)
		if err != nil {
			return nil, nil, nil, err
		}
		subset = append(subset, n)
	}
	store, broken, cleanup, err := source(ctx, a.Src)
	if err != nil {
		return nil, nil, nil, err
	}
	if len(broken) > 0 && len(subset) == 0 {
		if n, _ := store.Entries(); len(n) == 0 { // nothing imported: only the failures to report
			return broken, store, cleanup, nil
		}
	}
	entries, err := imagepush.FromLayout(store, subset)
	if err != nil {
		cleanup()
		return nil, nil, nil, err
	}
	return append(entries, broken...), store, cleanup, nil
}

// source opens the layout to push from: src's one folder, or a temporary layout (beside the
// first tarball) that the docker-save tarballs in src are imported into; a tarball that does
// not import is returned as a broken entry, so that the others are still pushed.
// Check mode imports too: it reads the tarballs and never writes the registry.
func source(ctx context.Context, src []string) (*ocistore.Store, []imagepush.Entry, func(), error) {
	nothing := func() {}
	if len(src) == 1 {
		if fi, err := os.Stat(src[0]); err == nil && fi.IsDir() {
			s, err := ocistore.Open(src[0], false)
			return s, nil, nothing, err
		}
	}
	for _, s := range src {
		if fi, err := os.Stat(s); err != nil || fi.IsDir() {
			return nil, nil, nothing, fmt.Errorf("src: want one OCI layout folder or a list of docker-save tarballs; %s is not a file", s)
		}
	}
	// Temporary layouts of killed pushes (stale, unlocked) go first.
	_, _ = ocistore.RemoveStale(filepath.Dir(src[0]), ".airgap-push-*")
	tmp, err := os.MkdirTemp(filepath.Dir(src[0]), ".airgap-push-")
	if err != nil {
		return nil, nil, nothing, fmt.Errorf("creating a temporary layout: %w", ocistore.DiskFull(err))
	}
	release, err := ocistore.Hold(tmp)
	if err != nil {
		release = nothing
	}
	cleanup := func() { os.RemoveAll(tmp); release() }
	store, err := ocistore.Open(tmp, true)
	if err != nil {
		cleanup()
		return nil, nil, nothing, err
	}
	rep, err := imagepull.Import(ctx, store, src, false)
	if err != nil {
		cleanup()
		return nil, nil, nothing, err
	}
	var broken []imagepush.Entry
	for _, f := range rep.Failures() {
		broken = append(broken, imagepush.Entry{Source: f.Source, Origin: f.Source,
			Err: fmt.Errorf("importing docker-save tarball: %w", f.Err())})
	}
	return store, broken, cleanup, nil
}

// result is the module's result: key (registry or storage_dir) names where the images went.
func result(key, registry, msg string, rep *imagepush.Report) *module.Result {
	res := &module.Result{Changed: rep.Changed(), Failed: len(rep.Failures()) > 0, Msg: msg,
		Data: map[string]any{key: registry, "images": rep.Images, "totals": rep.Totals(), "failed_items": rep.FailedItems()}}
	var after string
	for _, i := range rep.Images {
		if i.Status == imagepush.StatusPushed || i.Status == imagepush.StatusWouldPush {
			after += i.Target + "@" + i.Digest + "\n"
		}
	}
	if after != "" {
		res.Diff = []module.Diff{{BeforeHeader: registry, AfterHeader: registry, After: after}}
	}
	return res
}

// fill writes the images of src into a registry's filesystem storage.
func fill(ctx context.Context, inv *module.Invocation, a args, mode tagmerge.Mode) (*module.Result, error) {
	entries, store, cleanup, err := entriesOf(ctx, a)
	if err != nil {
		return nil, err
	}
	defer cleanup()
	line := progress.NewLine(inv.Progress)
	rep, err := imagepush.Fill(ctx, entries, imagepush.FillOptions{
		Dir: a.StorageDir, Layout: store, Concurrency: a.Concurrency, DryRun: inv.CheckMode, OnExisting: mode,
		Mapping:    imagename.Mapping{Mode: a.Mapping, Namespace: a.Namespace, StripHosts: a.StripHosts},
		OnProgress: func(p imagepush.Progress) { line.Update(p.Done, p.Items, p.Failed, p.Bytes, "") },
	})
	line.Done()
	if err != nil {
		return nil, err
	}
	return result("storage_dir", a.StorageDir, rep.FillSummary(a.StorageDir), rep), nil
}

func nonEmpty(s ...string) []string {
	var out []string
	for _, v := range s {
		if v != "" {
			out = append(out, v)
		}
	}
	return out
}

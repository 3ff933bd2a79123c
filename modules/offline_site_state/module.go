// Package sitestatemod is the airgap.kubespray.offline_site_state module: the site state file
// (what the offline mirror holds), on top of modules/internal/sitestate.
package sitestatemod

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/atomicfile"
	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/bundlesums"
	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/module"
	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/progress"
	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/sitestate"
)

type args struct {
	Bundle            string `json:"bundle"`
	StorageDir        string `json:"storage_dir"`
	Dest              string `json:"dest"`
	Site              string `json:"site"`
	CollectionVersion string `json:"collection_version"`
	Concurrency       int    `json:"concurrency"`
}

// privateDir is the bundle's dot folder for the site's own bookkeeping (never served, never in
// SHA256SUMS): the one place inside the bundle the state file may go.
const privateDir = ".airgap"

func run(ctx context.Context, inv *module.Invocation) (*module.Result, error) {
	var a args
	if err := inv.Decode(&a); err != nil {
		return nil, err
	}
	dest, err := filepath.Abs(a.Dest)
	if err != nil {
		return nil, err
	}
	if err := outside(dest, a.Bundle, a.StorageDir); err != nil {
		return nil, err
	}
	if a.StorageDir != "" {
		if _, err := os.Stat(a.StorageDir); errors.Is(err, fs.ErrNotExist) {
			inv.Warn("storage_dir %s does not exist: the state lists no image and no blob (has the mirror filled it?)", a.StorageDir)
		}
	}
	s, err := sitestate.Export(ctx, sitestate.ExportOptions{Bundle: a.Bundle, StorageDir: a.StorageDir, Site: a.Site,
		CollectionVersion: a.CollectionVersion, Concurrency: a.Concurrency, Check: inv.CheckMode})
	if err != nil {
		return nil, err
	}
	before, err := os.ReadFile(dest)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("reading %s: %w", dest, err)
	}
	// The file is rewritten only when what the site holds changed: an unchanged site keeps the
	// file (and its created time) as it is.
	var old struct {
		Created string `yaml:"created"`
	}
	if len(before) > 0 && yaml.Unmarshal(before, &old) == nil && old.Created != "" {
		created := s.Created
		s.Created = old.Created
		if b, err := s.Marshal(); err != nil || string(b) != string(before) {
			s.Created = created
		}
	}
	after, err := s.Marshal()
	if err != nil {
		return nil, err
	}
	digest := sitestate.Digest(after)
	sumLine := digest + "  " + filepath.Base(dest) + "\n"
	oldSum, _ := os.ReadFile(dest + ".sha256")
	changed := string(before) != string(after) || string(oldSum) != sumLine
	if changed && !inv.CheckMode {
		if err := os.MkdirAll(filepath.Dir(dest), 0o755); err != nil {
			return nil, fmt.Errorf("creating %s: %w", filepath.Dir(dest), err)
		}
		if err := atomicfile.Write(dest, after, 0o644); err != nil {
			return nil, err
		}
		if err := atomicfile.Write(dest+".sha256", []byte(sumLine), 0o644); err != nil {
			return nil, err
		}
	}
	verb := "unchanged"
	switch {
	case changed && inv.CheckMode:
		verb = "would be written"
	case changed:
		verb = "written"
	}
	res := &module.Result{
		Changed: changed,
		Msg: fmt.Sprintf("%s %s (%s): %d files, %d images, %d blobs, %d packages, %d views", dest, verb,
			progress.Bytes(int64(len(after))), len(s.Files), len(s.Images), len(s.Blobs), len(s.Packages), len(s.Views)),
		Data: map[string]any{
			"path": dest, "sha256": digest, "bytes": len(after),
			"files": len(s.Files), "images": len(s.Images), "blobs": len(s.Blobs), "packages": len(s.Packages), "views": len(s.Views),
		},
	}
	if inv.Diff && changed {
		h, b, af := bundlesums.FileDiff(dest, string(before), string(after))
		res.Diff = []module.Diff{{BeforeHeader: h, AfterHeader: h, Before: b, After: af}}
	}
	return res, nil
}

// outside refuses a state file the site would then hold: inside the bundle (but for its private
// dot folder) or inside the registry's storage.
func outside(dest, bundle, storage string) error {
	for _, d := range []struct{ dir, what string }{{bundle, "the bundle"}, {storage, "the registry's storage"}} {
		if d.dir == "" {
			continue
		}
		dir, err := filepath.Abs(d.dir)
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, dest)
		if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
			continue
		}
		if d.what == "the bundle" && strings.HasPrefix(rel, privateDir+string(filepath.Separator)) {
			continue
		}
		return fmt.Errorf("dest %s is inside %s (%s): the state would describe a site that holds it; write it outside (or under %s/%s/)",
			dest, d.what, dir, dir, privateDir)
	}
	return nil
}

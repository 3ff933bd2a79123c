package imagepull_test

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/imagepull"
	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/ocistore"
	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/sitestate"
)

func layerDigests(t *testing.T, img v1.Image) []v1.Hash {
	t.Helper()
	var out []v1.Hash
	for _, l := range mustLayers(t, img) {
		d, _ := l.Digest()
		out = append(out, d)
	}
	return out
}

func blobFiles(t *testing.T, store *ocistore.Store) map[string]bool {
	t.Helper()
	names, err := filepath.Glob(filepath.Join(store.Root(), "blobs", "sha256", "*"))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for _, n := range names {
		out["sha256:"+filepath.Base(n)] = true
	}
	return out
}

// With a site state holding two layers shared by two images, the layout holds every manifest,
// config and other layer but exactly not those two; each image names them as left out, and the
// totals count them once. A rerun skips both images (complete for a delta) and writes nothing; a
// run without the state finds them incomplete and pulls the missing layers.
func TestPullLeavesOutLayersTheSiteHolds(t *testing.T) {
	s := newStandIn(t)
	one, err := random.Image(2048, 3)
	if err != nil {
		t.Fatal(err)
	}
	extra, err := random.Layer(1024, types.DockerLayer)
	if err != nil {
		t.Fatal(err)
	}
	two, err := mutate.AppendLayers(one, extra)
	if err != nil {
		t.Fatal(err)
	}
	var sources []imagepull.Image
	for repo, img := range map[string]v1.Image{"site/one:1": one, "site/two:1": two} {
		ref, _ := name.ParseReference(s.host() + "/" + repo)
		if err := remote.Write(ref, img); err != nil {
			t.Fatal(err)
		}
		sources = append(sources, imagepull.Image{Source: s.host() + "/" + repo})
	}
	sort.Slice(sources, func(i, j int) bool { return sources[i].Source < sources[j].Source })
	ls := layerDigests(t, one)
	held := []string{ls[0].String(), ls[1].String()}
	sort.Strings(held)
	unrelated := "sha256:" + strings.Repeat("0", 64)
	st := &sitestate.State{Blobs: append([]string{unrelated}, held...)}
	b, _ := st.Marshal()
	statePath := filepath.Join(t.TempDir(), sitestate.FileName)
	if err := os.WriteFile(statePath, b, 0o644); err != nil {
		t.Fatal(err)
	}
	site, _, err := sitestate.Load(statePath)
	if err != nil {
		t.Fatal(err)
	}
	var heldBytes int64
	for _, l := range mustLayers(t, one)[:2] {
		n, _ := l.Size()
		heldBytes += n
	}

	store, err := ocistore.Open(filepath.Join(t.TempDir(), "layout"), true)
	if err != nil {
		t.Fatal(err)
	}
	c := client(t, s, 5*time.Second)
	pull := func(site *sitestate.State) *imagepull.Report {
		t.Helper()
		rep, err := imagepull.Pull(context.Background(), store, sources, imagepull.Options{Client: c, Site: site})
		if err != nil {
			t.Fatal(err)
		}
		return rep
	}
	// what the layout must hold: every manifest and config, every layer but the held ones
	want := map[string]bool{}
	for _, img := range []v1.Image{one, two} {
		d, _ := img.Digest()
		cfg, _ := img.ConfigName()
		want[d.String()], want[cfg.String()] = true, true
		for _, l := range layerDigests(t, img) {
			want[l.String()] = true
		}
	}
	for _, h := range held {
		delete(want, h)
	}

	rep := pull(site)
	for _, r := range rep.Images {
		got := append([]string(nil), r.LeftOut...)
		sort.Strings(got)
		if r.Status != imagepull.StatusPulled || !reflect.DeepEqual(got, held) || r.LeftOutBytes != heldBytes {
			t.Errorf("%s: %s, left out %v (%d bytes), want pulled leaving out %v (%d bytes)", r.Source, r.Status, got, r.LeftOutBytes, held, heldBytes)
		}
	}
	if got := blobFiles(t, store); !reflect.DeepEqual(got, want) {
		t.Errorf("layout blobs %v, want %v", got, want)
	}
	if tot := rep.Totals(); tot["left_out"] != 2 || tot["left_out_bytes"] != heldBytes {
		t.Errorf("totals %v: want left_out 2, left_out_bytes %d", tot, heldBytes)
	}

	rep = pull(site) // a rerun: complete for this purpose
	for _, r := range rep.Images {
		if r.Status != imagepull.StatusSkipped || len(r.LeftOut) != 2 || r.Bytes != 0 {
			t.Errorf("rerun: %s: %s, left out %v, %d bytes written; want skipped, the same two left out", r.Source, r.Status, r.LeftOut, r.Bytes)
		}
	}
	if rep.Changed() {
		t.Error("a rerun with the same state changed the layout")
	}

	rep = pull(nil) // a full run over the sparse layout completes it
	for _, r := range rep.Images {
		if r.Status != imagepull.StatusPulled || len(r.LeftOut) != 0 {
			t.Errorf("full run: %s: %s, left out %v; want pulled again", r.Source, r.Status, r.LeftOut)
		}
	}
	for _, h := range held {
		if !blobFiles(t, store)[h] {
			t.Errorf("full run: %s still missing", h)
		}
	}
}

func mustLayers(t *testing.T, img v1.Image) []v1.Layer {
	t.Helper()
	ls, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	return ls
}

package fetch_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/fetch"
	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/sitestate"
)

// loadState writes s as a site state file and reads it back, as the modules do.
func loadState(t *testing.T, s *sitestate.State) *sitestate.State {
	t.Helper()
	b, err := s.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), sitestate.FileName)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	got, _, err := sitestate.Load(p)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// With a site state holding one of two files (same path, same sha256), only the other is
// fetched; the held one is not requested, not written, and reported held with the site's size
// and sha256. A file the site holds with another sha256 is fetched. A rerun changes nothing.
func TestFetchLeavesOutWhatTheSiteHolds(t *testing.T) {
	a, b, c := blob(t, 3000), blob(t, 5000), blob(t, 700)
	up := newUpstream(t, map[string][]byte{"/a.bin": a, "/b.bin": b, "/c.bin": c})
	host := strings.TrimPrefix(up.srv.URL, "http://")
	items := []fetch.Item{
		{URL: up.srv.URL + "/a.bin", Checksum: sum(a)},
		{URL: up.srv.URL + "/b.bin", Checksum: sum(b)},
		{URL: up.srv.URL + "/c.bin", Checksum: sum(c)},
	}
	site := loadState(t, &sitestate.State{Files: []sitestate.File{
		{Path: host + "/b.bin", SHA256: strings.TrimPrefix(sum(b), "sha256:"), Size: int64(len(b))},
		{Path: host + "/c.bin", SHA256: strings.TrimPrefix(sum(a), "sha256:"), Size: 1}, // other content
	}})
	dest := t.TempDir()
	o := opts(dest)
	o.Site = site
	for run := 0; run < 2; run++ {
		up.hits.Store(0)
		rep, err := fetch.Fetch(context.Background(), items, o)
		if err != nil {
			t.Fatal(err)
		}
		want := []fetch.Status{fetch.StatusFetched, fetch.StatusHeld, fetch.StatusFetched}
		if run == 1 {
			want = []fetch.Status{fetch.StatusSkipped, fetch.StatusHeld, fetch.StatusSkipped}
		}
		for i, w := range want {
			if got := rep.Items[i].Status; got != w {
				t.Errorf("run %d: %s: status %s, want %s", run, items[i].URL, got, w)
			}
		}
		held := rep.Items[1]
		if held.SHA256 != strings.TrimPrefix(sum(b), "sha256:") || held.Size != int64(len(b)) || held.Path != host+"/b.bin" {
			t.Errorf("run %d: held item %+v", run, held)
		}
		if rep.Totals.Held != 1 || rep.Totals.Items != 3 || rep.Totals.Failed != 0 {
			t.Errorf("run %d: totals %+v", run, rep.Totals)
		}
		if _, err := os.Stat(filepath.Join(dest, host, "b.bin")); !os.IsNotExist(err) {
			t.Errorf("run %d: the held file was written (%v)", run, err)
		}
		wantHits := int64(2)
		if run == 1 {
			wantHits = 0
		}
		if up.hits.Load() != wantHits {
			t.Errorf("run %d: %d requests, want %d", run, up.hits.Load(), wantHits)
		}
		if changed := rep.Changed(); changed != (run == 0) {
			t.Errorf("run %d: changed %v", run, changed)
		}
		if !strings.Contains(rep.Summary(), "held by the site 1") {
			t.Errorf("run %d: summary %q does not count the held file", run, rep.Summary())
		}
	}
	// Without the state, the same folder is completed: the held file is fetched.
	rep, err := fetch.Fetch(context.Background(), items, opts(dest))
	if err != nil {
		t.Fatal(err)
	}
	if rep.Items[1].Status != fetch.StatusFetched || rep.Totals.Held != 0 {
		t.Errorf("full run after a delta: %+v", rep.Items[1])
	}
}

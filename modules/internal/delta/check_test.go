package delta_test

import (
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/delta"
	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/sitestate"
)

const (
	shaA = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	shaB = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
	b1   = "sha256:1111111111111111111111111111111111111111111111111111111111111111"
	b2   = "sha256:2222222222222222222222222222222222222222222222222222222222222222"
	b3   = "sha256:3333333333333333333333333333333333333333333333333333333333333333"
	m1   = "sha256:9999999999999999999999999999999999999999999999999999999999999999"
	m2   = "sha256:8888888888888888888888888888888888888888888888888888888888888888"
	m3   = "sha256:7777777777777777777777777777777777777777777777777777777777777777"
	b4   = "sha256:4444444444444444444444444444444444444444444444444444444444444444"
)

// site is a hand-built state: two files, two images and their blobs.
func site() *sitestate.State {
	return &sitestate.State{
		Files: []sitestate.File{{Path: "dl.k8s.io/v1.33.0/kubelet", SHA256: shaA}, {Path: "get.helm.sh/helm.tar.gz", SHA256: shaB}},
		Images: []sitestate.Image{
			{Reference: "registry.example/x:1.0", Digest: m1},
			{Reference: "pause:3.10", Digest: m2},
		},
		Blobs: []string{b1, b2, b3, m1, m2}, // the manifests are blobs of the registry too
	}
}

func reliesOn(files []delta.File, images []delta.Image) *delta.Delta {
	return &delta.Delta{ReliesOn: delta.ReliesOn{Files: files, Images: images}}
}

func TestCheck(t *testing.T) {
	cases := []struct {
		name   string
		delta  *delta.Delta
		state  func(*sitestate.State)
		want   []delta.Mismatch
		inMsgs []string // each in the mismatch's message of the same index
	}{
		{
			name: "everything the delta relies on is there",
			delta: reliesOn([]delta.File{{Path: "dl.k8s.io/v1.33.0/kubelet", SHA256: shaA}},
				[]delta.Image{{Reference: "registry.example/x:1.0", Digest: m1, Blobs: []string{b1, b2}}}),
			want: []delta.Mismatch{},
		},
		{
			name:  "nothing relied on: a full bundle's delta applies anywhere",
			delta: reliesOn(nil, nil),
			want:  []delta.Mismatch{},
		},
		{
			name:  "image removed from the site",
			delta: reliesOn(nil, []delta.Image{{Reference: "registry.example/x:1.0", Digest: m1, Blobs: []string{b1, b2, b3}}}),
			state: func(s *sitestate.State) { s.Images = s.Images[1:] },
			want: []delta.Mismatch{{Kind: delta.KindImage, Item: "registry.example/x:1.0", Expected: m1, Site: "",
				Msg: "the site no longer serves registry.example/x:1.0 (the delta relies on 3 of its blobs)"}},
		},
		{
			name:  "image served with another digest",
			delta: reliesOn(nil, []delta.Image{{Reference: "pause:3.10", Digest: m1, Blobs: []string{b1}}}),
			want: []delta.Mismatch{{Kind: delta.KindImage, Item: "pause:3.10", Expected: m1, Site: m2,
				Msg: "the site serves pause:3.10 as " + m2 + ", the delta relies on " + m1 + " (1 of its blobs)"}},
		},
		{
			name:   "a blob gone from the registry",
			delta:  reliesOn(nil, []delta.Image{{Reference: "pause:3.10", Digest: m2, Blobs: []string{b3, b2}}}),
			state:  func(s *sitestate.State) { s.Blobs = []string{b1, b2, m2} },
			inMsgs: []string{"lacks 1 of the 2 blobs of pause:3.10 the delta relies on: " + b3},
		},
		{
			name:  "an image the delta brings (the site lacks its manifest): only its blobs count",
			delta: reliesOn(nil, []delta.Image{{Reference: "registry.example/x:2.0", Digest: m3, Blobs: []string{b1, b2}}}),
			want:  []delta.Mismatch{},
		},
		{
			name:   "an image the delta brings whose blob the site lacks",
			delta:  reliesOn(nil, []delta.Image{{Reference: "registry.example/x:2.0", Digest: m3, Blobs: []string{b1, b4}}}),
			inMsgs: []string{"lacks 1 of the 2 blobs of registry.example/x:2.0 the delta relies on: " + b4},
		},
		{
			name: "file changed and file gone, each named, files before images, sorted",
			delta: reliesOn([]delta.File{{Path: "get.helm.sh/helm.tar.gz", SHA256: shaA}, {Path: "a/gone", SHA256: shaB}},
				[]delta.Image{{Reference: "registry.example/x:1.0", Digest: m1}}),
			state: func(s *sitestate.State) { s.Images = nil },
			want: []delta.Mismatch{
				{Kind: delta.KindFile, Item: "a/gone", Expected: "sha256:" + shaB,
					Msg: "the site no longer serves a/gone (the delta relies on it, sha256 " + shaB + ")"},
				{Kind: delta.KindFile, Item: "get.helm.sh/helm.tar.gz", Expected: "sha256:" + shaA, Site: "sha256:" + shaB,
					Msg: "the site serves get.helm.sh/helm.tar.gz with sha256 " + shaB + ", the delta relies on sha256 " + shaA},
				{Kind: delta.KindImage, Item: "registry.example/x:1.0", Expected: m1,
					Msg: "the site no longer serves registry.example/x:1.0 (the delta relies on 0 of its blobs)"},
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := site()
			if tc.state != nil {
				tc.state(s)
			}
			got := delta.Check(tc.delta, s)
			if tc.want != nil && !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Check =\n%#v\nwant\n%#v", got, tc.want)
			}
			if len(tc.inMsgs) > 0 && len(got) != len(tc.inMsgs) {
				t.Fatalf("Check = %#v, want %d mismatches", got, len(tc.inMsgs))
			}
			for i, s := range tc.inMsgs {
				if !strings.Contains(got[i].Msg, s) || got[i].Item == "" {
					t.Errorf("mismatch %d = %#v, want a message with %q", i, got[i], s)
				}
			}
		})
	}
}

// A state read back from its file answers as the one built in memory.
func TestCheckOnALoadedState(t *testing.T) {
	s := site()
	b, err := s.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	p := t.TempDir() + "/" + sitestate.FileName
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	loaded, _, err := sitestate.Load(p)
	if err != nil {
		t.Fatal(err)
	}
	d := reliesOn([]delta.File{{Path: "dl.k8s.io/v1.33.0/kubelet", SHA256: shaA}},
		[]delta.Image{{Reference: "registry.example/x:1.0", Digest: m1, Blobs: []string{b1, b2, b3}}, {Reference: "gone:1", Digest: m2}, {Reference: "new:1", Digest: m3, Blobs: []string{b1}}})
	got := delta.Check(d, loaded)
	if len(got) != 1 || got[0].Item != "gone:1" {
		t.Errorf("Check = %#v, want only gone:1 (new:1 is the delta's)", got)
	}
}

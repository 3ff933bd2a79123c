package tagmerge

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

func hash(s string) v1.Hash {
	return v1.Hash{Algorithm: "sha256", Hex: strings.Repeat(s, 64)[:64]}
}

// image is a single-image manifest for platform p ("" unknown).
func image(digest, p string) Manifest {
	m := Manifest{Descriptor: v1.Descriptor{MediaType: types.OCIManifestSchema1, Size: 100, Digest: hash(digest)}, Raw: []byte("{}")}
	if p != "" {
		pl, err := v1.ParsePlatform(p)
		if err != nil {
			panic(err)
		}
		m.Platform = func() (*v1.Platform, error) { return pl, nil }
	}
	return m
}

// index is an index of children "digest=os/arch".
func index(t *testing.T, mt types.MediaType, digest string, kids ...string) Manifest {
	t.Helper()
	im := v1.IndexManifest{SchemaVersion: 2, MediaType: mt}
	for _, k := range kids {
		d, p, _ := strings.Cut(k, "=")
		pl, err := v1.ParsePlatform(p)
		if err != nil {
			t.Fatal(err)
		}
		im.Manifests = append(im.Manifests, v1.Descriptor{MediaType: types.OCIManifestSchema1, Size: 100, Digest: hash(d), Platform: pl})
	}
	raw, err := json.Marshal(im)
	if err != nil {
		t.Fatal(err)
	}
	return Manifest{Descriptor: v1.Descriptor{MediaType: mt, Size: int64(len(raw)), Digest: hash(digest)}, Raw: raw}
}

func platforms(t *testing.T, m Manifest) map[string]string {
	t.Helper()
	im, err := v1.ParseIndexManifest(strings.NewReader(string(m.Raw)))
	if err != nil {
		t.Fatalf("merged index does not parse: %v", err)
	}
	out := map[string]string{}
	for _, d := range im.Manifests {
		out[d.Platform.String()] = d.Digest.Hex[:1]
	}
	return out
}

func TestAbsentOrSameIsPutOrKeep(t *testing.T) {
	in := image("a", "linux/amd64")
	d, err := Decide("pause:3.10", nil, in, Merge)
	if err != nil || d.Action != Put {
		t.Fatalf("absent tag: %+v, %v; want put", d, err)
	}
	for _, mode := range []Mode{Merge, Overwrite, Skip, Fail} {
		d, err := Decide("pause:3.10", &in, in, mode)
		if err != nil || d.Action != Keep {
			t.Errorf("%s, same digest: %+v, %v; want keep", mode, d, err)
		}
	}
}

func TestMergeOtherPlatforms(t *testing.T) {
	amd := image("a", "linux/amd64")
	arm := image("b", "linux/arm64")
	d, err := Decide("pause:3.10", &amd, arm, Merge)
	if err != nil || d.Action != PutMerged {
		t.Fatalf("amd64 then arm64: %+v, %v; want merge", d, err)
	}
	if got := platforms(t, d.Merged); got["linux/amd64"] != "a" || got["linux/arm64"] != "b" || len(got) != 2 {
		t.Errorf("merged index serves %v, want linux/amd64=a and linux/arm64=b", got)
	}
	if d.Merged.Descriptor.MediaType != types.OCIImageIndex || d.Merged.Descriptor.Size != int64(len(d.Merged.Raw)) {
		t.Errorf("merged descriptor %+v does not describe its bytes", d.Merged.Descriptor)
	}
	// The merged index serves both; a rerun of either bundle writes nothing.
	for _, in := range []Manifest{amd, arm} {
		if !Contains(d.Merged, in) {
			t.Errorf("merged index does not contain %s", in.Descriptor.Digest)
		}
		for _, mode := range []Mode{Merge, Skip, Fail} {
			again, err := Decide("pause:3.10", &d.Merged, in, mode)
			if err != nil || again.Action != Keep {
				t.Errorf("%s rerun of %s: %+v, %v; want keep", mode, in.Descriptor.Digest, again, err)
			}
		}
	}
}

func TestMergeIndexesKeepsDockerListType(t *testing.T) {
	old := index(t, types.DockerManifestList, "1", "a=linux/amd64")
	in := index(t, types.DockerManifestList, "2", "b=linux/arm64", "a=linux/amd64")
	d, err := Decide("coredns:v1.12", &old, in, Merge)
	if err != nil || d.Action != PutMerged {
		t.Fatalf("%+v, %v; want merge", d, err)
	}
	if d.Merged.Descriptor.MediaType != types.DockerManifestList {
		t.Errorf("merged type %s, want the Docker manifest list both sides are", d.Merged.Descriptor.MediaType)
	}
	if got := platforms(t, d.Merged); len(got) != 2 {
		t.Errorf("merged index serves %v, want 2 platforms once each", got)
	}
}

func TestSamePlatformOtherContentConflicts(t *testing.T) {
	old := image("a", "linux/amd64")
	in := image("c", "linux/amd64")
	for _, mode := range []Mode{Merge, Fail} {
		_, err := Decide("pause:3.10", &old, in, mode)
		if !errors.Is(err, ErrConflict) {
			t.Fatalf("%s: err %v, want a conflict", mode, err)
		}
		for _, want := range []string{"pause:3.10", hash("a").String(), hash("c").String()} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("%s: %q does not name %s", mode, err, want)
			}
		}
	}
	d, err := Decide("pause:3.10", &old, in, Overwrite)
	if err != nil || d.Action != Put {
		t.Errorf("overwrite: %+v, %v; want put", d, err)
	}
	d, err = Decide("pause:3.10", &old, in, Skip)
	if err != nil || d.Action != Keep {
		t.Errorf("skip: %+v, %v; want keep", d, err)
	}
}

func TestConflictInsideIndexNamesThePlatformDigests(t *testing.T) {
	old := index(t, types.OCIImageIndex, "1", "a=linux/amd64", "b=linux/arm64")
	in := index(t, types.OCIImageIndex, "2", "c=linux/arm64")
	_, err := Decide("kube-proxy:v1.33.1", &old, in, Merge)
	var c *Conflict
	if !errors.As(err, &c) || c.Platform != "linux/arm64" || c.Existing != hash("b") || c.Incoming != hash("c") {
		t.Fatalf("err %v (%+v), want a conflict on linux/arm64 between b and c", err, c)
	}
}

func TestUnknownPlatformCannotMerge(t *testing.T) {
	old := image("a", "")
	in := image("b", "linux/arm64")
	if _, err := Decide("x:1", &old, in, Merge); !errors.Is(err, ErrConflict) {
		t.Fatalf("err %v, want a conflict: the tag's platform is unknown", err)
	}
}

func TestContains(t *testing.T) {
	idx := index(t, types.OCIImageIndex, "1", "a=linux/amd64", "b=linux/arm64")
	part := index(t, types.OCIImageIndex, "2", "b=linux/arm64")
	other := index(t, types.OCIImageIndex, "3", "c=linux/arm64")
	cases := []struct {
		name         string
		served, want Manifest
		ok           bool
	}{
		{"same", idx, idx, true},
		{"image in index", idx, image("a", "linux/amd64"), true},
		{"sub-index", idx, part, true},
		{"other content", idx, other, false},
		{"index in image", image("a", "linux/amd64"), idx, false},
	}
	for _, c := range cases {
		if got := Contains(c.served, c.want); got != c.ok {
			t.Errorf("%s: Contains = %v, want %v", c.name, got, c.ok)
		}
	}
}

func TestParseMode(t *testing.T) {
	if m, err := ParseMode(""); err != nil || m != Merge {
		t.Errorf(`ParseMode("") = %q, %v; want merge`, m, err)
	}
	if _, err := ParseMode("replace"); err == nil || !strings.Contains(err.Error(), "replace") {
		t.Errorf("ParseMode(replace) = %v, want an error naming it", err)
	}
}

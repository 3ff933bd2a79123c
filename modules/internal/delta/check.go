package delta

import (
	"fmt"
	"sort"
	"strings"

	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/sitestate"
)

// Kinds of item a Mismatch names.
const (
	KindFile  = "file"
	KindImage = "image"
)

// Mismatch is one thing the delta relies on that the site no longer holds as the delta's base
// had it: the item (a file's path under files/, or an image's reference in the site's
// registry), what the delta expected, what the site has ("" when it has nothing), and a
// sentence saying so.
type Mismatch struct {
	Kind     string `yaml:"kind" json:"kind"`
	Item     string `yaml:"item" json:"item"`
	Expected string `yaml:"expected" json:"expected"`
	Site     string `yaml:"site" json:"site"`
	Msg      string `yaml:"msg" json:"msg"`
}

func (m Mismatch) String() string { return m.Msg }

// Check compares what the delta relies on with what the site holds now (current, as
// sitestate.Export describes it) and returns every difference, files first then images, each
// sorted by its item; none means the delta applies.
//
// Every file the delta relies on must be served with its sha256. Every blob the delta left out
// of an image must be in the site's registry. An image whose manifest the site holds (its
// digest among the site's blobs) is one the site had at the delta's base: it must still be
// served under its reference with that digest. An image whose manifest the site lacks is one the
// delta brings (a new version sharing layers with the site's images): only its blobs count.
func Check(d *Delta, current *sitestate.State) []Mismatch {
	out := []Mismatch{}
	served := make(map[string]string, len(current.Files))
	for _, f := range current.Files {
		served[f.Path] = f.SHA256
	}
	files := append([]File(nil), d.ReliesOn.Files...)
	sort.Slice(files, func(i, j int) bool { return files[i].Path < files[j].Path })
	for _, f := range files {
		if current.HasFile(f.Path, f.SHA256) {
			continue
		}
		m := Mismatch{Kind: KindFile, Item: f.Path, Expected: "sha256:" + f.SHA256}
		if got, ok := served[f.Path]; ok {
			m.Site = "sha256:" + got
			m.Msg = fmt.Sprintf("the site serves %s with sha256 %s, the delta relies on sha256 %s", f.Path, got, f.SHA256)
		} else {
			m.Msg = fmt.Sprintf("the site no longer serves %s (the delta relies on it, sha256 %s)", f.Path, f.SHA256)
		}
		out = append(out, m)
	}
	images := append([]Image(nil), d.ReliesOn.Images...)
	sort.Slice(images, func(i, j int) bool { return images[i].Reference < images[j].Reference })
	for _, img := range images {
		got, ok := current.Image(img.Reference)
		had := current.HasBlob(img.Digest)
		switch {
		case !ok && had:
			out = append(out, Mismatch{Kind: KindImage, Item: img.Reference, Expected: img.Digest,
				Msg: fmt.Sprintf("the site no longer serves %s (the delta relies on %d of its blobs)", img.Reference, len(img.Blobs))})
			continue
		case ok && got.Digest != img.Digest && had:
			out = append(out, Mismatch{Kind: KindImage, Item: img.Reference, Expected: img.Digest, Site: got.Digest,
				Msg: fmt.Sprintf("the site serves %s as %s, the delta relies on %s (%d of its blobs)", img.Reference, got.Digest, img.Digest, len(img.Blobs))})
			continue
		}
		var missing []string
		for _, b := range img.Blobs {
			if !current.HasBlob(b) {
				missing = append(missing, b)
			}
		}
		if len(missing) > 0 {
			sort.Strings(missing)
			out = append(out, Mismatch{Kind: KindImage, Item: img.Reference, Expected: strings.Join(img.Blobs, " "), Site: "lacks " + strings.Join(missing, " "),
				Msg: fmt.Sprintf("the site's registry lacks %d of the %d blobs of %s the delta relies on: %s", len(missing), len(img.Blobs), img.Reference, strings.Join(missing, ", "))})
		}
	}
	return out
}

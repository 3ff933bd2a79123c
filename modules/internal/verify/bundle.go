package verify

import (
	"fmt"

	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/imagename"
	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/ocistore"
	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/tagmerge"
)

// ExpectBundle sets the Digest of every image the bundle's OCI layout (at layout) holds to
// the digest of the layout's index.json entry, which is what the mirror's push sent (or what
// an index merged by the push lists, checked against the entry's manifest read here): the
// image's reference is matched with the entry's original reference mapped into the image's
// registry, by the same rule the push uses (mapping). Images the bundle does not hold keep
// their Digest. It returns how many images got one.
func ExpectBundle(images []Image, layout string, mapping imagename.Mapping) (int, error) {
	store, err := ocistore.Open(layout, false)
	if err != nil {
		return 0, fmt.Errorf("opening the bundle's images %s: %w", layout, err)
	}
	entries, err := store.Entries()
	if err != nil {
		return 0, fmt.Errorf("reading the bundle's images %s: %w", layout, err)
	}
	targets := map[string]map[string]ocistore.Entry{} // registry -> normalized target -> entry
	n := 0
	for i, img := range images {
		ref, err := imagename.Normalize(img.Ref)
		if err != nil {
			continue // named by Check
		}
		host := imagename.Host(ref)
		byTarget, ok := targets[host]
		if !ok {
			byTarget = map[string]ocistore.Entry{}
			for _, e := range entries {
				t, err := mapping.Target(host, e.Ref)
				if err != nil {
					continue
				}
				// An image pulled from where the bundle got it is not the mirror's: the bundle
				// may hold only some of its platforms, under another digest.
				orig, _ := imagename.Normalize(e.Ref)
				if t, err = imagename.Normalize(t); err == nil && t != orig {
					byTarget[t] = e
				}
			}
			targets[host] = byTarget
		}
		if e, ok := byTarget[ref]; ok {
			raw, err := store.ReadBytes(e.Descriptor.Digest)
			if err != nil {
				return 0, fmt.Errorf("the bundle's image %s: %w", e.Ref, err)
			}
			images[i].Digest = e.Descriptor.Digest.String()
			images[i].bundle = &tagmerge.Manifest{Descriptor: e.Descriptor, Raw: raw}
			n++
		}
	}
	return n, nil
}

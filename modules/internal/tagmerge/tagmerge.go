// Package tagmerge is the one rule for a push into a tag that already exists (on_existing),
// for every way the collection fills a registry (HTTP push, the registry's storage).
//
// A tag serves a manifest: one image, or an index of images for several platforms. The bundle
// brings its own. A tag that already serves everything of the bundle (the same manifest, or an
// index listing it) is left alone under every mode but Overwrite. With Merge (the default), a
// bundle for other platforms is added to what the tag serves: an amd64-only push then an
// arm64-only push of the same tag leave an index of both. A platform the tag already serves
// with other content is a conflict, never replaced silently: the error names both digests.
// Overwrite points the tag at the bundle's manifest, Skip leaves any existing tag alone, Fail
// refuses any change.
//
// Decide is pure: the caller reads the tag's manifest (HTTP or storage), and writes what the
// Decision says. Whatever it writes, the bundle's own manifest stays stored by digest, so the
// original digest remains pullable when the tag points at a merged index.
package tagmerge

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Mode is on_existing: what to do when the tag already serves other content.
type Mode string

// The modes of on_existing.
const (
	Merge     Mode = "merge"     // add the bundle's platforms; a platform with other content fails
	Overwrite Mode = "overwrite" // point the tag at the bundle's manifest
	Skip      Mode = "skip"      // leave an existing tag as it is
	Fail      Mode = "fail"      // an existing tag with other content fails
)

// Modes lists the values of on_existing, for the module's choices.
var Modes = []string{string(Merge), string(Overwrite), string(Skip), string(Fail)}

// ParseMode reads on_existing; empty is Merge.
func ParseMode(s string) (Mode, error) {
	switch m := Mode(s); m {
	case "":
		return Merge, nil
	case Merge, Overwrite, Skip, Fail:
		return m, nil
	}
	return "", fmt.Errorf("on_existing %q: want one of %s", s, strings.Join(Modes, ", "))
}

// Manifest is what a tag serves, or what the bundle would put there.
type Manifest struct {
	Descriptor v1.Descriptor // MediaType, Digest and Size of Raw
	Raw        []byte
	// Platform reads the platform of a single image (from its config) when the rule needs it;
	// nil, or a nil result: unknown.
	Platform func() (*v1.Platform, error)
}

// Action is what to write at the tag.
type Action string

// The actions of a Decision.
const (
	Keep      Action = "keep"  // write nothing at the tag: it serves the bundle's manifests already, or Skip
	Put       Action = "put"   // point the tag at the bundle's manifest
	PutMerged Action = "merge" // point the tag at Decision.Merged, an index of both
)

// Decision is the outcome of Decide.
type Decision struct {
	Action Action
	Merged Manifest // with PutMerged: the index to write (Raw, Descriptor)
}

// ErrConflict: the tag serves other content than the bundle, and the mode does not allow
// replacing it.
var ErrConflict = errors.New("the tag serves other content")

// Conflict is the error of a refused change; it names both digests.
type Conflict struct {
	Tag      string
	Platform string  // the platform in conflict; empty: the tag as a whole
	Existing v1.Hash // what the registry serves (for Platform, when set)
	Incoming v1.Hash // what the bundle has
	Mode     Mode
}

func (c *Conflict) Error() string {
	what := "serves " + c.Existing.String()
	if c.Platform != "" {
		what = fmt.Sprintf("serves %s for %s", c.Existing, c.Platform)
	}
	hint := "on_existing: overwrite replaces it"
	if c.Mode == Fail {
		hint = "on_existing: fail; merge adds other platforms, overwrite replaces it"
	}
	return fmt.Sprintf("%s already %s, the bundle has %s; nothing written (%s)", c.Tag, what, c.Incoming, hint)
}

// Is makes errors.Is(err, ErrConflict) true.
func (c *Conflict) Is(target error) bool { return target == ErrConflict }

// Decide says what to write at tag (named in errors), which serves existing (nil: the tag does
// not exist), to serve incoming, under mode.
func Decide(tag string, existing *Manifest, incoming Manifest, mode Mode) (Decision, error) {
	switch {
	case existing == nil:
		return Decision{Action: Put}, nil
	case existing.Descriptor.Digest == incoming.Descriptor.Digest:
		return Decision{Action: Keep}, nil
	}
	if mode == Overwrite {
		return Decision{Action: Put}, nil
	}
	// A tag that already serves all of the bundle (an index merged earlier) changes nothing.
	if Contains(*existing, incoming) {
		return Decision{Action: Keep}, nil
	}
	switch mode {
	case Skip:
		return Decision{Action: Keep}, nil
	case Merge, "":
	default:
		return Decision{}, &Conflict{Tag: tag, Existing: existing.Descriptor.Digest, Incoming: incoming.Descriptor.Digest, Mode: Fail}
	}
	have, err := children(*existing)
	if err != nil {
		return Decision{}, fmt.Errorf("%s: reading what the registry serves (%s): %w", tag, existing.Descriptor.Digest, err)
	}
	want, err := children(incoming)
	if err != nil {
		return Decision{}, fmt.Errorf("%s: reading the bundle's manifest (%s): %w", tag, incoming.Descriptor.Digest, err)
	}
	byPlatform := map[string]v1.Descriptor{}
	for _, d := range have {
		if k := key(d); k != "" {
			byPlatform[k] = d
		}
	}
	wholeConflict := &Conflict{Tag: tag, Existing: existing.Descriptor.Digest, Incoming: incoming.Descriptor.Digest, Mode: Merge}
	keyed := 0
	for _, d := range want {
		k := key(d)
		if k == "" {
			continue
		}
		keyed++
		if e, ok := byPlatform[k]; ok && e.Digest != d.Digest {
			return Decision{}, &Conflict{Tag: tag, Platform: k, Existing: e.Digest, Incoming: d.Digest, Mode: Merge}
		}
	}
	// Without platforms on both sides there is nothing to merge by: the tag would change.
	if keyed == 0 || len(byPlatform) == 0 {
		return Decision{}, wholeConflict
	}
	merged := append([]v1.Descriptor(nil), have...)
	seen := digests(have)
	for _, d := range want {
		if !seen[d.Digest] {
			merged = append(merged, d)
			seen[d.Digest] = true
		}
	}
	idx := v1.IndexManifest{SchemaVersion: 2, MediaType: indexType(existing.Descriptor.MediaType, incoming.Descriptor.MediaType), Manifests: merged}
	if existing.Descriptor.MediaType.IsIndex() {
		var old v1.IndexManifest
		if err := json.Unmarshal(existing.Raw, &old); err == nil {
			idx.Annotations = old.Annotations
		}
	}
	raw, err := json.Marshal(idx)
	if err != nil {
		return Decision{}, err
	}
	sum := sha256.Sum256(raw)
	desc := v1.Descriptor{MediaType: idx.MediaType, Size: int64(len(raw)),
		Digest: v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(sum[:])}}
	return Decision{Action: PutMerged, Merged: Manifest{Descriptor: desc, Raw: raw}}, nil
}

// Contains reports whether served (what a tag serves) serves every manifest of want: the same
// manifest, or an index listing want (an image) or every image of want (an index).
func Contains(served, want Manifest) bool {
	if served.Descriptor.Digest == want.Descriptor.Digest {
		return true
	}
	if !served.Descriptor.MediaType.IsIndex() {
		return false
	}
	have, err := indexChildren(served.Raw)
	if err != nil {
		return false
	}
	in := digests(have)
	if !want.Descriptor.MediaType.IsIndex() {
		return in[want.Descriptor.Digest]
	}
	need, err := indexChildren(want.Raw)
	if err != nil || len(need) == 0 {
		return false
	}
	for _, d := range need {
		if !in[d.Digest] {
			return false
		}
	}
	return true
}

// children lists the images m serves: an index's manifests, or m itself with its platform.
func children(m Manifest) ([]v1.Descriptor, error) {
	if m.Descriptor.MediaType.IsIndex() {
		return indexChildren(m.Raw)
	}
	d := v1.Descriptor{MediaType: m.Descriptor.MediaType, Size: m.Descriptor.Size, Digest: m.Descriptor.Digest}
	if m.Platform != nil {
		p, err := m.Platform()
		if err != nil {
			return nil, err
		}
		d.Platform = p
	}
	return []v1.Descriptor{d}, nil
}

func indexChildren(raw []byte) ([]v1.Descriptor, error) {
	im, err := v1.ParseIndexManifest(bytes.NewReader(raw))
	if err != nil {
		return nil, err
	}
	return im.Manifests, nil
}

// key identifies a child by platform; "" for one without (attestations: unknown/unknown),
// which is merged by digest only.
func key(d v1.Descriptor) string {
	p := d.Platform
	if p == nil || p.OS == "" || p.OS == "unknown" || p.Architecture == "unknown" {
		return ""
	}
	return p.String()
}

func digests(ds []v1.Descriptor) map[v1.Hash]bool {
	m := map[v1.Hash]bool{}
	for _, d := range ds {
		m[d.Digest] = true
	}
	return m
}

// indexType is a Docker manifest list when both sides are Docker's, else an OCI index.
func indexType(a, b types.MediaType) types.MediaType {
	docker := func(t types.MediaType) bool { return t == types.DockerManifestList || t == types.DockerManifestSchema2 }
	if docker(a) && docker(b) {
		return types.DockerManifestList
	}
	return types.OCIImageIndex
}

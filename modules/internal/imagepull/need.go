package imagepull

import (
	"context"
	"fmt"
	"sync"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/ocistore"
	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/pool"
	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/regclient"
	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/sitestate"
)

// Need is what pulling one image would add to the layout, as Needs forecasts it.
type Need struct {
	Source  string `json:"source"`
	PullRef string `json:"pull_ref,omitempty"`
	// Bytes of the blobs Pull would write: manifests, configs and layers not yet in the layout,
	// layers the site holds left out. A blob several images share counts for the first.
	Bytes int64 `json:"bytes"`
	Blobs int   `json:"blobs"`
	// Status: "in_place" (the layout has the image as the registry serves it: Pull skips it),
	// "to_pull", "unknown" (the registry could not be asked: see Msg).
	Status string `json:"status"`
	Msg    string `json:"msg,omitempty"`
}

// Need statuses.
const (
	NeedInPlace = "in_place"
	NeedToPull  = "to_pull"
	NeedUnknown = "unknown"
)

// Needs forecasts, without writing anything, how many bytes Pull(ctx, store, images, opts)
// would add to the layout: it resolves each image as Pull does (mirrors, pinned digests, the
// layout's entry), reads the manifests of the platforms Pull would keep, and sums the blobs the
// layout lacks. store may be nil (no layout yet). Layers the site holds (site, may be nil) are
// left out; manifests and configs are always counted, as a delta carries them.
func Needs(ctx context.Context, store *ocistore.Store, images []Image, site *sitestate.State, opts Options) ([]Need, error) {
	if opts.Client == nil {
		return nil, fmt.Errorf("no registry client")
	}
	if len(opts.Platforms) == 0 {
		opts.Platforms = []v1.Platform{{OS: "linux", Architecture: "amd64"}}
	}
	if opts.Concurrency <= 0 {
		opts.Concurrency = 4
	}
	p := &puller{opts: opts, store: store}
	c := &counter{store: store, site: site, seen: map[v1.Hash]bool{}}
	needs := make([]Need, len(images))
	pool.Each(len(images), opts.Concurrency, func(i int) {
		n := &needs[i]
		var blobs []v1.Descriptor
		if err := p.need(ctx, images[i], c, n, &blobs); err != nil {
			n.Status, n.Msg = NeedUnknown, regclient.Clean(fmt.Errorf("%s: %w", n.Source, err)).Error()
			return
		}
		c.commit(n, blobs)
	})
	if ctx.Err() != nil {
		return needs, fmt.Errorf("forecasting: %w", ctx.Err())
	}
	return needs, nil
}

func (p *puller) need(ctx context.Context, img Image, c *counter, n *Need, blobs *[]v1.Descriptor) error {
	r := Result{Source: img.Source}
	ref, pinned, current, err := p.resolve(ctx, img, &r)
	n.Source, n.PullRef = r.Source, r.PullRef
	if err != nil {
		return err
	}
	if current {
		n.Status = NeedInPlace
		return nil
	}
	n.Status = NeedToPull
	desc, err := remote.Get(ref, p.opts.Client.Remote(ctx)...)
	if err != nil {
		return fmt.Errorf("fetching %s: %w", pullRef(&r), err)
	}
	if !desc.MediaType.IsIndex() {
		img, err := desc.Image()
		if err != nil {
			return fmt.Errorf("reading image: %w", err)
		}
		c.add(blobs, desc.Digest, desc.Size, false)
		return c.addImage(blobs, img)
	}
	idx, err := desc.ImageIndex()
	if err != nil {
		return fmt.Errorf("reading index: %w", err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return fmt.Errorf("reading index: %w", err)
	}
	keep, err := children(im, pinned, p.opts.Platforms)
	if err != nil {
		return err
	}
	if pinned || len(keep) > 1 { // an index is stored (whole, or filtered: about as big)
		c.add(blobs, desc.Digest, desc.Size, false)
	}
	for _, m := range keep {
		img, err := idx.Image(m.Digest)
		if err != nil {
			return fmt.Errorf("reading %s: %w", m.Digest, err)
		}
		c.add(blobs, m.Digest, m.Size, false)
		if err := c.addImage(blobs, img); err != nil {
			return err
		}
	}
	return nil
}

// counter counts each blob once across the images of one forecast.
type counter struct {
	store *ocistore.Store
	site  *sitestate.State
	mu    sync.Mutex
	seen  map[v1.Hash]bool
}

// addImage lists an image's config and its distributable layers.
func (c *counter) addImage(blobs *[]v1.Descriptor, img v1.Image) error {
	m, err := img.Manifest()
	if err != nil {
		return fmt.Errorf("reading manifest: %w", err)
	}
	c.add(blobs, m.Config.Digest, m.Config.Size, false)
	for _, l := range m.Layers {
		if l.MediaType.IsDistributable() { // foreign layers are never stored
			c.add(blobs, l.Digest, l.Size, true)
		}
	}
	return nil
}

// add lists a blob unless the layout has it or the site holds it (layers only).
func (c *counter) add(blobs *[]v1.Descriptor, d v1.Hash, size int64, layer bool) {
	if c.store != nil && c.store.Has(d, size) {
		return
	}
	if layer && c.site != nil && c.site.HasBlob(d.String()) {
		return
	}
	*blobs = append(*blobs, v1.Descriptor{Digest: d, Size: size})
}

// commit counts an image's blobs for n, each unless another image counted it.
func (c *counter) commit(n *Need, blobs []v1.Descriptor) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, b := range blobs {
		if !c.seen[b.Digest] {
			c.seen[b.Digest] = true
			n.Bytes += b.Size
			n.Blobs++
		}
	}
}

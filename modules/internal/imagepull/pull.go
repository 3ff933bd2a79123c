// Package imagepull copies images from registries into an OCI image layout (ocistore), for
// the platforms asked for, verifying every blob, skipping blobs already there, and keeping
// each image's original reference; it also imports docker-save bundles into the layout.
//
// Retries are per image, here only (Options.Retries: N retries, N+1 attempts in all): the
// registry client sends each request once (see package regclient). Images are pulled on a
// bounded pool (package pool); results keep the input order.
package imagepull

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/imagename"
	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/mirror"
	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/ocistore"
	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/platform"
	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/pool"
	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/progress"
	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/regclient"
	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/report"
	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/sitestate"
)

// ErrDigestMismatch: a digest-pinned image resolves to another digest.
var ErrDigestMismatch = errors.New("digest mismatch")

// Image is one image to pull.
type Image struct {
	Source string `json:"source"`           // repo:tag, as upstream names it
	Digest string `json:"digest,omitempty"` // pinned manifest digest, if any
}

// Options configure Pull. Zero values are documented defaults.
type Options struct {
	Platforms   []v1.Platform // if empty, linux/amd64
	Mirrors     []mirror.Mirror
	Client      *regclient.Client
	Concurrency int           // images at once; if <= 0, 4
	Retries     int           // further attempts per image after a failure (not after a permanent one)
	Backoff     time.Duration // before the first retry, doubled after each; if <= 0, 1s
	DryRun      bool          // report what would be pulled; write nothing
	// Site, if set, is what the offline site already holds: a layer its registry holds
	// (State.HasBlob) is not written into the layout (a delta bundle's sparse layout), and an
	// image whose only missing blobs are such layers counts as complete. Manifests, indexes and
	// configs are always written.
	Site       *sitestate.State
	OnProgress func(Progress)
}

// Progress is a snapshot of a running Pull.
type Progress = progress.Counts

// Status is what happened to one image.
type Status = report.Status

// Image statuses.
const (
	StatusPulled    Status = "pulled"
	StatusImported  Status = "imported"
	StatusSkipped   Status = "skipped" // already in the layout, unchanged upstream
	StatusFailed    Status = report.Failed
	StatusWouldPull Status = "would_pull"
)

// Result reports one image.
type Result struct {
	Source       string   `json:"source"`
	PullRef      string   `json:"pull_ref,omitempty"` // after mirrors, when it differs
	Digest       string   `json:"digest,omitempty"`   // of the entry in the layout
	SourceDigest string   `json:"source_digest,omitempty"`
	MediaType    string   `json:"media_type,omitempty"`
	Platforms    []string `json:"platforms,omitempty"`
	Status       Status   `json:"status"`
	Bytes        int64    `json:"bytes"` // blob bytes written
	Blobs        int      `json:"blobs"` // blobs written
	// LeftOut lists the image's layers the layout lacks because the site holds them (Options.Site).
	LeftOut      []string `json:"left_out,omitempty"`
	LeftOutBytes int64    `json:"left_out_bytes,omitempty"`
	Attempts     int      `json:"attempts,omitempty"`
	Msg          string   `json:"msg,omitempty"`
	err          error
	leftOutSizes []int64 // beside LeftOut
}

// leaveOut records a layer left out of the layout, once.
func (r *Result) leaveOut(d v1.Hash, size int64) {
	for _, l := range r.LeftOut {
		if l == d.String() {
			return
		}
	}
	r.LeftOut = append(r.LeftOut, d.String())
	r.leftOutSizes = append(r.leftOutSizes, size)
	r.LeftOutBytes += size
}

// Err is the image's error, if it failed.
func (r Result) Err() error { return r.err }

func (r *Result) fail(err error) {
	err = regclient.Clean(err)
	r.Status, r.err, r.Msg = StatusFailed, err, err.Error()
}

// ItemStatus is the image's status (Result is a report.Item).
func (r Result) ItemStatus() Status { return r.Status }

// ItemMsg is the image's message (why it failed).
func (r Result) ItemMsg() string { return r.Msg }

// FailedItem is the image's entry in failed_items.
func (r Result) FailedItem() map[string]string {
	return map[string]string{"source": r.Source, "msg": r.Msg}
}

// Report is the result of Pull or Import.
type Report struct {
	Images  []Result `json:"images"`
	Bytes   int64    `json:"bytes"`
	Seconds float64  `json:"seconds"`
}

func (r *Report) list() report.List[Result] { return r.Images }

// Changed reports whether anything was (or would be) written.
func (r *Report) Changed() bool {
	return r.list().Any(StatusPulled, StatusImported, StatusWouldPull)
}

// Failures lists the failed images.
func (r *Report) Failures() []Result { return r.list().Failures() }

// Count returns how many images have status s.
func (r *Report) Count(s Status) int { return r.list().Count(s) }

// FailedItems is the module's failed_items (source, msg).
func (r *Report) FailedItems() []map[string]string { return r.list().FailedItems() }

// Totals is the module's totals: images, pulled, imported, skipped, failed, bytes, seconds, and
// left_out and left_out_bytes, the layers (each counted once) left out because the site holds them.
func (r *Report) Totals() map[string]any {
	t := r.list().Totals("images", r.Bytes, r.Seconds, StatusPulled, StatusImported, StatusSkipped)
	t["left_out"], t["left_out_bytes"] = r.LeftOut()
	return t
}

// LeftOut counts the layers left out of the layout over all images, each once, and their bytes.
func (r *Report) LeftOut() (blobs int, bytes int64) {
	seen := map[string]bool{}
	for _, i := range r.Images {
		for k, d := range i.LeftOut {
			if !seen[d] {
				seen[d] = true
				blobs++
				bytes += i.leftOutSizes[k]
			}
		}
	}
	return blobs, bytes
}

// Summary is a one-line account of the report, naming up to three failures.
func (r *Report) Summary() string {
	l := r.list()
	if n := l.Count(StatusWouldPull); n > 0 {
		return l.Summary(fmt.Sprintf("would pull %d, skipped %d of %d images", n, l.Count(StatusSkipped), len(l)))
	}
	held := ""
	if n, b := r.LeftOut(); n > 0 {
		held = fmt.Sprintf("; left out %d layers (%s) the site holds", n, progress.Bytes(b))
	}
	return l.Summary(fmt.Sprintf("pulled %d, imported %d, skipped %d, failed %d of %d images (%s in %.2fs%s)",
		l.Count(StatusPulled), l.Count(StatusImported), l.Count(StatusSkipped), l.Count(StatusFailed), len(l),
		progress.Bytes(r.Bytes), r.Seconds, held))
}

// Pull copies images into store. Every image is tried; failures are in the report.
func Pull(ctx context.Context, store *ocistore.Store, images []Image, opts Options) (*Report, error) {
	start := time.Now()
	if opts.Client == nil {
		return nil, errors.New("no registry client")
	}
	if len(opts.Platforms) == 0 {
		opts.Platforms = []v1.Platform{{OS: "linux", Architecture: "amd64"}}
	}
	if opts.Concurrency <= 0 {
		opts.Concurrency = 4
	}
	if opts.Backoff <= 0 {
		opts.Backoff = time.Second
	}
	if opts.Site != nil {
		opts.Site.HasBlob("") // builds the state's lookups here, before images run at once
	}
	p := &puller{opts: opts, store: store}
	rep := &Report{Images: make([]Result, len(images))}
	stop := p.watch(len(images))
	pool.Each(len(images), opts.Concurrency, func(i int) {
		p.pullWithRetries(ctx, images[i], &rep.Images[i])
		p.count.Finish(rep.Images[i].Status == StatusFailed)
	})
	stop()
	rep.Bytes, rep.Seconds = p.count.Bytes(), time.Since(start).Seconds()
	if ctx.Err() != nil {
		return rep, fmt.Errorf("pulling: %w", ctx.Err())
	}
	return rep, nil
}

type puller struct {
	opts  Options
	store *ocistore.Store
	count progress.Counter
	blobs sync.Map // digest -> *blobOnce: one download per blob, shared by images
}

type blobOnce struct {
	once sync.Once
	n    int64
	err  error
}

func (p *puller) pullWithRetries(ctx context.Context, img Image, r *Result) {
	delay := p.opts.Backoff
	for attempt := 0; ; attempt++ {
		*r = Result{Source: img.Source, Attempts: attempt + 1}
		err := p.pull(ctx, img, r)
		if err == nil {
			return
		}
		r.fail(fmt.Errorf("%s: %w", img.Source, err))
		if attempt >= p.opts.Retries || errors.Is(err, ErrDigestMismatch) || regclient.Permanent(err) || ctx.Err() != nil {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(delay):
		}
		delay *= 2
	}
}

func (p *puller) pull(ctx context.Context, img Image, r *Result) error {
	ref, pinned, current, err := p.resolve(ctx, img, r)
	if err != nil || current {
		return err
	}
	if p.opts.DryRun {
		r.Status = StatusWouldPull
		return nil
	}
	pullRef := pullRef(r)
	desc, err := remote.Get(ref, p.opts.Client.Remote(ctx)...)
	if err != nil {
		return fmt.Errorf("fetching %s: %w", pullRef, err)
	}
	if desc.Digest.String() != r.SourceDigest {
		return fmt.Errorf("%s changed while pulling (%s, then %s)", pullRef, r.SourceDigest, desc.Digest)
	}
	entry, err := p.write(ctx, desc, pinned, r)
	if err != nil {
		return err
	}
	if err := p.store.Put(r.Source, desc.Digest.String(), entry); err != nil {
		return err
	}
	r.Status, r.Digest, r.MediaType = StatusPulled, entry.Digest.String(), string(entry.MediaType)
	return nil
}

// resolve works out img's reference (normalized into r.Source, after mirrors into r.PullRef)
// and, unless the layout holds the pinned digest, asks the registry what it resolves to
// (r.SourceDigest). current means the layout already has the image as the registry serves it
// (r is then the skipped result); pinned, that a digest was pinned (the index is kept whole).
func (p *puller) resolve(ctx context.Context, img Image, r *Result) (ref name.Reference, pinned, current bool, err error) {
	source, err := imagename.Normalize(img.Source)
	if err != nil {
		return nil, false, false, err
	}
	r.Source = source
	pin := img.Digest
	if pin == "" {
		_, _, pin = imagename.Split(source)
	}
	pullRef := mirror.Rewrite(source, p.opts.Mirrors)
	if pullRef != source {
		r.PullRef = pullRef
	}
	if ref, err = p.opts.Client.Reference(pullRef); err != nil {
		return nil, false, false, err
	}
	var existing v1.Descriptor
	have := false
	if p.store != nil {
		if existing, have, err = p.store.Lookup(source); err != nil {
			return nil, false, false, err
		}
	}
	have = have && p.complete(existing, r) // an entry missing blobs is pulled again
	// A pinned digest never changes: if the layout has it, nothing needs asking.
	if have && pin != "" && existing.Annotations[ocistore.AnnotationSourceDigest] == pin {
		p.skipped(r, existing)
		return ref, true, true, nil
	}
	head, err := remote.Head(ref, p.opts.Client.Remote(ctx)...)
	if err != nil {
		return nil, false, false, fmt.Errorf("resolving %s: %w", pullRef, err)
	}
	if pin != "" && head.Digest.String() != pin {
		return nil, false, false, fmt.Errorf("%w: pinned %s, but %s resolves to %s", ErrDigestMismatch, pin, pullRef, head.Digest)
	}
	r.SourceDigest = head.Digest.String()
	if have && existing.Annotations[ocistore.AnnotationSourceDigest] == head.Digest.String() {
		p.skipped(r, existing)
		return ref, pin != "", true, nil
	}
	r.LeftOut, r.leftOutSizes, r.LeftOutBytes = nil, nil, 0 // the old entry's: this pull records its own
	return ref, pin != "", false, nil
}

// pullRef is the reference r is pulled by: after mirrors.
func pullRef(r *Result) string {
	if r.PullRef != "" {
		return r.PullRef
	}
	return r.Source
}

// complete reports whether the layout holds every blob entry references, but the layers the
// site holds (Options.Site), which it records in r as left out. It reads manifests only.
func (p *puller) complete(entry v1.Descriptor, r *Result) bool {
	c, err := p.store.Contents(entry)
	if err != nil {
		return false
	}
	layers := map[v1.Hash]bool{}
	for _, l := range c.Layers {
		layers[l.Digest] = true
	}
	for _, d := range p.store.Missing(c) {
		if !layers[d.Digest] || p.opts.Site == nil || !p.opts.Site.HasBlob(d.Digest.String()) {
			r.LeftOut, r.leftOutSizes, r.LeftOutBytes = nil, nil, 0
			return false
		}
		r.leaveOut(d.Digest, d.Size)
	}
	return true
}

func (p *puller) skipped(r *Result, d v1.Descriptor) {
	r.Status, r.Digest, r.MediaType = StatusSkipped, d.Digest.String(), string(d.MediaType)
	r.SourceDigest = d.Annotations[ocistore.AnnotationSourceDigest]
}

// write stores what desc names and returns the descriptor of the layout entry: the image
// itself, or for an index the one matching image, or an index filtered to the platforms.
// A pinned index is kept whole, every platform included, so that its digest survives.
func (p *puller) write(ctx context.Context, desc *remote.Descriptor, keepWhole bool, r *Result) (v1.Descriptor, error) {
	if !desc.MediaType.IsIndex() {
		img, err := desc.Image()
		if err != nil {
			return v1.Descriptor{}, fmt.Errorf("reading image: %w", err)
		}
		if err := p.writeImage(ctx, img, r); err != nil {
			return v1.Descriptor{}, err
		}
		return desc.Descriptor, nil
	}
	idx, err := desc.ImageIndex()
	if err != nil {
		return v1.Descriptor{}, fmt.Errorf("reading index: %w", err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return v1.Descriptor{}, fmt.Errorf("reading index: %w", err)
	}
	keep, err := children(im, keepWhole, p.opts.Platforms)
	if err != nil {
		return v1.Descriptor{}, err
	}
	for _, m := range keep {
		img, err := idx.Image(m.Digest)
		if err != nil {
			return v1.Descriptor{}, fmt.Errorf("reading %s image: %w", platform.Name(m.Platform), err)
		}
		if err := p.writeImage(ctx, img, r); err != nil {
			return v1.Descriptor{}, err
		}
		r.Platforms = append(r.Platforms, platform.Name(m.Platform))
	}
	if keepWhole {
		raw, err := idx.RawManifest()
		if err != nil {
			return v1.Descriptor{}, err
		}
		if _, err := p.store.WriteBlob(desc.Digest, desc.Size, strings.NewReader(string(raw))); err != nil {
			return v1.Descriptor{}, err
		}
		return desc.Descriptor, nil
	}
	if len(keep) == 1 {
		d := keep[0]
		d.Platform, d.Annotations = nil, nil
		return d, nil
	}
	filtered := *im
	filtered.Manifests = keep
	b, err := json.Marshal(filtered)
	if err != nil {
		return v1.Descriptor{}, fmt.Errorf("encoding filtered index: %w", err)
	}
	mt := im.MediaType
	if mt == "" {
		mt = desc.MediaType
	}
	return p.store.WriteBytes(mt, b)
}

// writeImage stores an image's layers, config and manifest, each blob once.
func (p *puller) writeImage(ctx context.Context, img v1.Image, r *Result) error {
	layers, err := img.Layers()
	if err != nil {
		return fmt.Errorf("reading layers: %w", err)
	}
	for _, l := range layers {
		d, err := l.Digest()
		if err != nil {
			return err
		}
		size, err := l.Size()
		if err != nil {
			return err
		}
		mt, err := l.MediaType()
		if err != nil {
			return err
		}
		if !mt.IsDistributable() {
			continue // foreign layers are never stored in registries
		}
		if p.opts.Site != nil && !p.store.Has(d, size) && p.opts.Site.HasBlob(d.String()) {
			r.leaveOut(d, size) // the site's registry holds it: the layout goes without
			continue
		}
		if err := p.blob(ctx, d, size, func() (int64, error) {
			rc, err := l.Compressed()
			if err != nil {
				return 0, err
			}
			defer rc.Close()
			return p.store.WriteBlob(d, size, rc)
		}, r); err != nil {
			return fmt.Errorf("layer %s: %w", d, err)
		}
	}
	cfgName, err := img.ConfigName()
	if err != nil {
		return err
	}
	cfg, err := img.RawConfigFile()
	if err != nil {
		return fmt.Errorf("reading config: %w", err)
	}
	if err := p.blob(ctx, cfgName, int64(len(cfg)), func() (int64, error) {
		return p.store.WriteBlob(cfgName, int64(len(cfg)), strings.NewReader(string(cfg)))
	}, r); err != nil {
		return fmt.Errorf("config %s: %w", cfgName, err)
	}
	raw, err := img.RawManifest()
	if err != nil {
		return err
	}
	d, err := img.Digest()
	if err != nil {
		return err
	}
	_, err = p.store.WriteBlob(d, int64(len(raw)), strings.NewReader(string(raw)))
	return err
}

// blob runs write once per digest across all images pulled at the same time, unless the
// blob is already in the layout.
func (p *puller) blob(ctx context.Context, d v1.Hash, size int64, write func() (int64, error), r *Result) error {
	if p.store.Has(d, size) {
		return nil
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	v, _ := p.blobs.LoadOrStore(d.String(), &blobOnce{})
	b := v.(*blobOnce)
	first := false
	b.once.Do(func() {
		first = true
		b.n, b.err = write()
		if b.err != nil {
			p.blobs.Delete(d.String()) // let a retry try again
		}
	})
	if b.err != nil {
		return b.err
	}
	if first {
		r.Bytes += b.n
		r.Blobs++
		p.count.AddBytes(b.n)
	}
	return nil
}

// children are the images of an index that a pull stores: those of the wanted platforms, or
// every one when the index is kept whole (pinned).
func children(im *v1.IndexManifest, keepWhole bool, wanted []v1.Platform) ([]v1.Descriptor, error) {
	var keep []v1.Descriptor
	for _, m := range im.Manifests {
		if keepWhole || platform.Match(m.Platform, wanted) {
			keep = append(keep, m)
		}
	}
	if len(keep) == 0 {
		return nil, fmt.Errorf("no image for %s in the index (it has %s)", platform.Names(wanted), platforms(im.Manifests))
	}
	for _, m := range keep {
		if !m.MediaType.IsImage() {
			return nil, fmt.Errorf("nested index %s is not supported", m.Digest)
		}
	}
	return keep, nil
}

func platforms(ms []v1.Descriptor) string {
	var s []string
	for _, m := range ms {
		s = append(s, platform.Name(m.Platform))
	}
	return strings.Join(s, ", ")
}

// ParsePlatform reads "os/arch[/variant]": platform.Parse (ggcr's v1.ParsePlatform).
func ParsePlatform(s string) (v1.Platform, error) { return platform.Parse(s) }

func (p *puller) watch(images int) func() { return p.count.Watch(images, p.opts.OnProgress) }

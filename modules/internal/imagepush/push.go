// Package imagepush copies the images of an OCI layout (or docker-save tarballs) into a
// registry, blob by blob, as they are: every digest stays the original one.
//
// It pushes only what is missing: an image whose target tag already serves its manifest is
// skipped (a tag serving other content is handled by Options.OnExisting, package tagmerge); a blob is uploaded once, to the first repository that needs it, and mounted into
// the others; the registry is asked (HEAD) before any upload. Every blob of an image is
// verified before anything of that image is sent.
//
// A push runs in phases (Push, pushAll): what is already there (a GET of each tag); then, per
// attempt, verify, upload the blobs, commit the manifests. Retries are per image, here only
// (Options.Retries: N retries, N+1 attempts in all); the registry client sends each request
// once (see package regclient).
package imagepush

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/imagename"
	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/pool"
	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/progress"
	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/regclient"
	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/report"
	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/tagmerge"
)

// Entry is one image to push.
type Entry struct {
	Source   string          // original reference, e.g. registry.k8s.io/pause:3.10.1
	Digest   v1.Hash         // of the manifest (or index) pushed
	Taggable remote.Taggable // a v1.Image or v1.ImageIndex
	Blobs    []Blob          // every layer and config blob, children's included
	Check    func() error    // verifies the manifests; nil: nothing to check
	Origin   string          // where the entry was read from, for messages
	Err      error           // the entry could not be read: it fails alone, the others are pushed
}

// Blob is a layer or config blob of an entry.
type Blob struct {
	Layer  v1.Layer
	Digest v1.Hash
	Size   int64
	Verify func() error // checks the stored content against Digest; nil: nothing to check
}

// Options configure Push. Zero values are documented defaults.
type Options struct {
	Registry    string // host[:port]
	Mapping     imagename.Mapping
	Client      *regclient.Client
	Concurrency int           // images and blobs at once; if <= 0, 4
	Retries     int           // further attempts per image after a failure
	Backoff     time.Duration // before the first retry, doubled after each; if <= 0, 1s
	DryRun      bool
	OnExisting  tagmerge.Mode // a target tag serving other content; "": merge
	OnProgress  func(Progress)
}

// Progress is a snapshot of a running Push.
type Progress = progress.Counts

// Status is what happened to one image.
type Status = report.Status

// Image statuses.
const (
	StatusPushed    Status = "pushed"
	StatusSkipped   Status = "skipped" // the target already has this manifest
	StatusFailed    Status = report.Failed
	StatusWouldPush Status = "would_push"
)

// Result reports one image.
type Result struct {
	Source string `json:"source"`
	Target string `json:"target"`
	Digest string `json:"digest"`
	// TagDigest is what the tag serves after the push when that is not Digest: an index merging
	// the bundle's platforms with those the tag served before.
	TagDigest string `json:"tag_digest,omitempty"`
	Status    Status `json:"status"`
	Bytes     int64  `json:"bytes"` // blob bytes uploaded for this image (shared blobs count once)
	Attempts  int    `json:"attempts,omitempty"`
	Msg       string `json:"msg,omitempty"`
	err       error
}

// Err is the image's error, if it failed.
func (r Result) Err() error { return r.err }

// ItemStatus is the image's status (Result is a report.Item).
func (r Result) ItemStatus() Status { return r.Status }

// ItemMsg is the image's message (why it failed).
func (r Result) ItemMsg() string { return r.Msg }

// FailedItem is the image's entry in failed_items.
func (r Result) FailedItem() map[string]string {
	return map[string]string{"source": r.Source, "target": r.Target, "msg": r.Msg}
}

// Report is the result of Push.
type Report struct {
	Images  []Result `json:"images"`
	Bytes   int64    `json:"bytes"`
	Seconds float64  `json:"seconds"`

	Fill *FillCounts `json:"-"` // Fill only: how the blobs came into the storage
}

func (r *Report) list() report.List[Result] { return r.Images }

// Changed reports whether anything was (or would be) pushed.
func (r *Report) Changed() bool { return r.list().Any(StatusPushed, StatusWouldPush) }

// Count returns how many images have status s.
func (r *Report) Count(s Status) int { return r.list().Count(s) }

// Failures lists the failed images.
func (r *Report) Failures() []Result { return r.list().Failures() }

// FailedItems is the module's failed_items (source, target, msg).
func (r *Report) FailedItems() []map[string]string { return r.list().FailedItems() }

// Totals is the module's totals: images, pushed, skipped, failed, bytes, seconds.
func (r *Report) Totals() map[string]any {
	t := r.list().Totals("images", r.Bytes, r.Seconds, StatusPushed, StatusSkipped)
	r.Fill.addTo(t)
	return t
}

// Summary is a one-line account of a push to registry, naming up to three failures.
func (r *Report) Summary(registry string) string {
	l := r.list()
	if n := l.Count(StatusWouldPush); n > 0 {
		return l.Summary(fmt.Sprintf("would push %d, skipped %d of %d images to %s", n, l.Count(StatusSkipped), len(l), registry))
	}
	return l.Summary(fmt.Sprintf("pushed %d, skipped %d, failed %d of %d images to %s (%s uploaded in %.2fs)",
		l.Count(StatusPushed), l.Count(StatusSkipped), l.Count(StatusFailed), len(l), registry,
		progress.Bytes(r.Bytes), r.Seconds))
}

// errUnreadable: the entry could not be read from its source (or is not an image name);
// retrying cannot help.
var errUnreadable = errors.New("not readable from the source")

// unreadable marks an entry's own error as errUnreadable, its message unchanged.
type unreadable struct{ err error }

func (u unreadable) Error() string   { return u.err.Error() }
func (u unreadable) Unwrap() []error { return []error{u.err, errUnreadable} }

// ErrAuth: the registry refused the credentials.
var ErrAuth = errors.New("registry refused the credentials")

// pusher holds what the images of one Push share: the connection, where each blob went.
type pusher struct {
	opts      Options
	pusher    *remote.Pusher
	mu        sync.Mutex
	mounts    map[string]name.Repository // blob digest -> a repository that has it
	decisions []tagmerge.Decision        // per entry: what to write at its tag
	count     progress.Counter
}

// Push copies entries to opts.Registry. Failures are per image; the error is for what stops
// everything (names that collide, a cancelled context).
func Push(ctx context.Context, entries []Entry, opts Options) (*Report, error) {
	start := time.Now()
	if opts.Client == nil || opts.Registry == "" {
		return nil, errors.New("no registry to push to")
	}
	if opts.Concurrency <= 0 {
		opts.Concurrency = 4
	}
	if opts.Backoff <= 0 {
		opts.Backoff = time.Second
	}
	// An entry that cannot be read, or whose name is not an image name, fails alone.
	broken := make([]error, len(entries))
	var sources []string
	for i, e := range entries {
		broken[i] = e.Err
		if broken[i] == nil {
			_, broken[i] = opts.Mapping.Target(opts.Registry, e.Source)
		}
		if broken[i] == nil {
			sources = append(sources, e.Source)
		}
	}
	targets, err := opts.Mapping.Targets(opts.Registry, sources)
	if err != nil {
		return nil, err
	}
	p := &pusher{opts: opts, mounts: map[string]name.Repository{}}
	p.pusher, err = remote.NewPusher(opts.Client.Remote(ctx)...)
	if err != nil {
		return nil, fmt.Errorf("setting up the push: %w", err)
	}
	rep := &Report{Images: make([]Result, len(entries))}
	stop := p.watch(len(entries))
	defer stop()

	// 1. What is already there: the manifest of each tag, and what to write there.
	p.decisions = make([]tagmerge.Decision, len(entries))
	p.each(len(entries), func(i int) {
		r := &rep.Images[i]
		*r = Result{Source: entries[i].Source, Target: targets[entries[i].Source], Digest: entries[i].Digest.String()}
		if broken[i] != nil {
			r.Attempts = 1
			p.fail(r, unreadable{broken[i]})
			return
		}
		d, err := p.decide(ctx, r.Target, entries[i])
		p.decisions[i] = d
		switch {
		case err != nil:
			p.fail(r, err)
		case d.Action == tagmerge.Keep:
			r.Status = StatusSkipped
			p.count.Finish(false)
		case opts.DryRun:
			r.Status = StatusWouldPush
			p.count.Finish(false)
		}
		if err == nil && d.Action == tagmerge.PutMerged {
			r.TagDigest = d.Merged.Descriptor.Digest.String()
		}
	})
	// 2. The rest, with retries; a retry finds what the failed attempt already uploaded.
	delay := opts.Backoff
	for attempt := 0; attempt <= opts.Retries && ctx.Err() == nil; attempt++ {
		todo := p.pending(rep, attempt)
		if len(todo) == 0 {
			break
		}
		if attempt > 0 {
			select {
			case <-ctx.Done():
			case <-time.After(delay):
			}
			delay *= 2
		}
		p.pushAll(ctx, entries, rep, todo)
	}
	for i := range rep.Images {
		if rep.Images[i].Status == "" || (rep.Images[i].Status == StatusFailed && rep.Images[i].Msg == "") {
			p.fail(&rep.Images[i], ctx.Err())
		}
		rep.Bytes += rep.Images[i].Bytes
	}
	rep.Seconds = time.Since(start).Seconds()
	if ctx.Err() != nil {
		return rep, fmt.Errorf("pushing: %w", ctx.Err())
	}
	return rep, nil
}

// pending lists the images still to push: not yet attempted, or failed in a retryable way.
func (p *pusher) pending(rep *Report, attempt int) []int {
	var todo []int
	for i, r := range rep.Images {
		if r.Status == "" || (attempt > 0 && r.Status == StatusFailed && retryable(r.err)) {
			todo = append(todo, i)
		}
	}
	return todo
}

// pushAll pushes the images todo: verify them, upload their blobs (each once, mounted
// elsewhere), then commit their manifests. An image failing a phase is left out of the next.
func (p *pusher) pushAll(ctx context.Context, entries []Entry, rep *Report, todo []int) {
	ok := p.verifyAll(entries, rep, todo)
	failedBlob := p.uploadBlobs(ctx, entries, rep, ok)
	p.commitAll(ctx, entries, rep, ok, failedBlob)
}

// verifyAll starts an attempt for each image of todo and verifies it: a corrupt blob keeps
// its whole image out of the registry. It returns the images that passed.
func (p *pusher) verifyAll(entries []Entry, rep *Report, todo []int) []int {
	var ok []int
	for _, i := range todo {
		r := &rep.Images[i]
		r.Attempts++
		r.Status, r.Msg, r.err = "", "", nil
		if err := verify(entries[i]); err != nil {
			p.fail(r, err)
			continue
		}
		ok = append(ok, i)
	}
	return ok
}

// uploadBlobs uploads each blob of the images ok once, to the first repository that needs
// it, and returns the blobs that could not be uploaded (by digest) with their errors.
func (p *pusher) uploadBlobs(ctx context.Context, entries []Entry, rep *Report, ok []int) map[string]error {
	type job struct {
		blob Blob
		repo name.Repository
		img  int
	}
	seen := map[string]bool{}
	var firsts []job
	for _, i := range ok {
		repo, err := p.repository(rep.Images[i].Target)
		if err != nil {
			p.fail(&rep.Images[i], err)
			continue
		}
		for _, b := range entries[i].Blobs {
			if !seen[b.Digest.String()] {
				seen[b.Digest.String()] = true
				firsts = append(firsts, job{b, repo, i})
			}
		}
	}
	blobErr := make([]error, len(firsts))
	p.each(len(firsts), func(j int) {
		f := firsts[j]
		if rep.Images[f.img].Status == StatusFailed {
			blobErr[j] = errors.New("skipped")
			return
		}
		n, err := p.upload(ctx, f.repo, f.blob)
		if err != nil {
			blobErr[j] = err
			return
		}
		p.mu.Lock()
		p.mounts[f.blob.Digest.String()] = f.repo
		rep.Images[f.img].Bytes += n
		p.mu.Unlock()
	})
	failedBlob := map[string]error{}
	for j, err := range blobErr {
		if err != nil {
			failedBlob[firsts[j].blob.Digest.String()] = err
		}
	}
	return failedBlob
}

// commitAll finishes each image of ok whose blobs are all uploaded: it mounts what other
// repositories hold and commits the manifest.
func (p *pusher) commitAll(ctx context.Context, entries []Entry, rep *Report, ok []int, failedBlob map[string]error) {
	p.each(len(ok), func(k int) {
		i := ok[k]
		r := &rep.Images[i]
		if r.Status == StatusFailed {
			return
		}
		for _, b := range entries[i].Blobs {
			if err := failedBlob[b.Digest.String()]; err != nil {
				p.fail(r, fmt.Errorf("uploading blob %s: %w", b.Digest, err))
				return
			}
		}
		if err := p.commit(ctx, entries[i], p.decisions[i], r); err != nil {
			p.fail(r, err)
			return
		}
		r.Status = StatusPushed
		p.count.Finish(false)
	})
}

// ErrVerify: a blob or manifest of the source does not match its digest.
var ErrVerify = errors.New("verification failed")

func verify(e Entry) error {
	checks := []func() error{e.Check}
	for _, b := range e.Blobs {
		checks = append(checks, b.Verify)
	}
	for _, check := range checks {
		if check == nil {
			continue
		}
		if err := check(); err != nil {
			return fmt.Errorf("%s (from %s): %w: %w; nothing of this image was pushed", e.Source, e.Origin, ErrVerify, err)
		}
	}
	return nil
}

func (p *pusher) repository(target string) (name.Repository, error) {
	ref, err := p.opts.Client.Reference(target)
	if err != nil {
		return name.Repository{}, err
	}
	return ref.Context(), nil
}

// upload sends one blob to repo unless the registry has it; it returns the bytes sent.
func (p *pusher) upload(ctx context.Context, repo name.Repository, b Blob) (int64, error) {
	c := &counted{Layer: b.Layer}
	if err := p.pusher.Upload(ctx, repo, c); err != nil {
		return 0, authError(err)
	}
	n := c.n.Load()
	p.count.AddBytes(n)
	return n, nil
}

// commit pushes an entry's manifest(s) to its target; its blobs are mounted from the
// repositories they were uploaded to. With a merge, the entry's manifest is pushed by digest
// and the tag gets the merged index.
func (p *pusher) commit(ctx context.Context, e Entry, d tagmerge.Decision, r *Result) error {
	ref, err := p.opts.Client.Reference(r.Target)
	if err != nil {
		return err
	}
	for _, b := range e.Blobs {
		p.mu.Lock()
		from, ok := p.mounts[b.Digest.String()]
		p.mu.Unlock()
		if ok && from.String() != ref.Context().String() {
			ml := &remote.MountableLayer{Layer: b.Layer, Reference: from.Digest(b.Digest.String())}
			if err := p.pusher.Upload(ctx, ref.Context(), ml); err != nil {
				return fmt.Errorf("mounting blob %s from %s: %w", b.Digest, from, authError(err))
			}
		}
	}
	if d.Action != tagmerge.PutMerged {
		if err := p.pusher.Push(ctx, ref, e.Taggable); err != nil {
			return fmt.Errorf("pushing %s to %s: %w", e.Source, r.Target, authError(err))
		}
		return nil
	}
	if err := p.pusher.Push(ctx, ref.Context().Digest(e.Digest.String()), e.Taggable); err != nil {
		return fmt.Errorf("pushing %s to %s@%s: %w", e.Source, ref.Context(), e.Digest, authError(err))
	}
	if err := remote.Put(ref, rawManifest(d.Merged), p.opts.Client.Remote(ctx)...); err != nil {
		return fmt.Errorf("pushing the index merging %s into %s: %w", e.Source, r.Target, authError(err))
	}
	return nil
}

// decide reads what target serves and says what to write there (package tagmerge).
func (p *pusher) decide(ctx context.Context, target string, e Entry) (tagmerge.Decision, error) {
	ref, err := p.opts.Client.Reference(target)
	if err != nil {
		return tagmerge.Decision{}, err
	}
	in, err := Manifest(e)
	if err != nil {
		return tagmerge.Decision{}, unreadable{fmt.Errorf("%s (from %s): %w", e.Source, e.Origin, err)}
	}
	desc, err := remote.Get(ref, p.opts.Client.Remote(ctx)...)
	var terr *transport.Error
	if errors.As(err, &terr) && terr.StatusCode == http.StatusNotFound {
		return tagmerge.Decide(target, nil, in, p.opts.OnExisting)
	}
	if err != nil {
		return tagmerge.Decision{}, fmt.Errorf("checking %s: %w", target, authError(err))
	}
	have := tagmerge.Manifest{Descriptor: desc.Descriptor, Raw: desc.Manifest, Platform: func() (*v1.Platform, error) {
		img, err := desc.Image()
		if err != nil {
			return nil, err
		}
		return configPlatform(img)
	}}
	return tagmerge.Decide(target, &have, in, p.opts.OnExisting)
}

// Manifest is what an entry puts at its tag, for package tagmerge.
func Manifest(e Entry) (tagmerge.Manifest, error) {
	raw, err := e.Taggable.RawManifest()
	if err != nil {
		return tagmerge.Manifest{}, err
	}
	var mt types.MediaType
	switch t := e.Taggable.(type) {
	case v1.Image:
		mt, err = t.MediaType()
	case v1.ImageIndex:
		mt, err = t.MediaType()
	default:
		err = fmt.Errorf("%s is neither an image nor an index", e.Digest)
	}
	if err != nil {
		return tagmerge.Manifest{}, err
	}
	m := tagmerge.Manifest{Descriptor: v1.Descriptor{MediaType: mt, Digest: e.Digest, Size: int64(len(raw))}, Raw: raw}
	if img, ok := e.Taggable.(v1.Image); ok {
		m.Platform = func() (*v1.Platform, error) { return configPlatform(img) }
	}
	return m, nil
}

func configPlatform(img v1.Image) (*v1.Platform, error) {
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("reading the image config: %w", err)
	}
	return cf.Platform(), nil
}

// rawManifest is a manifest as bytes, for remote.Put.
type rawManifest tagmerge.Manifest

func (m rawManifest) RawManifest() ([]byte, error)        { return m.Raw, nil }
func (m rawManifest) MediaType() (types.MediaType, error) { return m.Descriptor.MediaType, nil }

func (p *pusher) fail(r *Result, err error) {
	if err == nil {
		err = errors.New("not pushed")
	}
	if !strings.HasPrefix(err.Error(), r.Source) {
		err = fmt.Errorf("%s: %w", r.Source, err)
	}
	err = regclient.Clean(err)
	r.Status, r.err, r.Msg = StatusFailed, err, err.Error()
	p.count.Finish(true)
}

// each runs f(0..n-1), Concurrency at once.
func (p *pusher) each(n int, f func(int)) { pool.Each(n, p.opts.Concurrency, f) }

func retryable(err error) bool {
	return err != nil && !errors.Is(err, ErrAuth) && !errors.Is(err, ErrVerify) && !errors.Is(err, errUnreadable) &&
		!errors.Is(err, tagmerge.ErrConflict) && !regclient.Permanent(err)
}

// authError marks 401/403 answers, so they are not retried and read clearly.
func authError(err error) error {
	var terr *transport.Error
	if errors.As(err, &terr) && (terr.StatusCode == http.StatusUnauthorized || terr.StatusCode == http.StatusForbidden) {
		return fmt.Errorf("%w (HTTP %d): %v", ErrAuth, terr.StatusCode, err)
	}
	return err
}

// counted counts the compressed bytes read from a layer: the bytes actually uploaded.
type counted struct {
	v1.Layer
	n atomic.Int64
}

func (c *counted) Compressed() (io.ReadCloser, error) {
	rc, err := c.Layer.Compressed()
	if err != nil {
		return nil, err
	}
	return &countingReader{rc: rc, n: &c.n}, nil
}

type countingReader struct {
	rc io.ReadCloser
	n  *atomic.Int64
}

func (r *countingReader) Read(b []byte) (int, error) {
	n, err := r.rc.Read(b)
	r.n.Add(int64(n))
	return n, err
}

func (r *countingReader) Close() error { return r.rc.Close() }

func (p *pusher) watch(images int) func() { return p.count.Watch(images, p.opts.OnProgress) }

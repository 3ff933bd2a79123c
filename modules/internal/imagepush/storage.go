package imagepush

// Fill: the images of an OCI layout written straight into a distribution registry's
// filesystem storage (package regstore), with no registry running and no byte hashed twice.
//
// It runs in phases, each over every image before the next: what the storage has already (a
// tag's current link; on_existing decides when the tag serves something else); the plan
// (which blobs are missing, which can be hard-linked, which must be copied) and the disk space
// it needs, checked before anything is written; verification of every blob and manifest of
// the images to write (a bad one fails its image, and nothing of that image is written). Then
// the images at once, each its missing blobs (a shared one written once), then its links,
// manifests and, last, its tag. Every file appears
// by rename, a link only after what it points at, the tag last of all: a registry serving the
// storage meanwhile sees an image whole or not at all.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/imagename"
	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/ocistore"
	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/pool"
	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/progress"
	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/regstore"
	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/tagmerge"
	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/verified"
)

// FillOptions configure Fill. Zero values are documented defaults.
type FillOptions struct {
	Dir         string          // the registry's storage.filesystem rootdirectory
	Layout      *ocistore.Store // the layout the entries were read from (blob files)
	Mapping     imagename.Mapping
	OnExisting  tagmerge.Mode // "": merge
	Concurrency int           // images and blobs at once; if <= 0, 4
	DryRun      bool          // plan and check the space, write nothing
	OnProgress  func(Progress)
}

// FillCounts says how the blobs (layers and configs) came into the storage.
type FillCounts struct {
	Linked int // hard links to the layout's files: no second copy
	Copied int // copied (or reflinked) across filesystems
}

func (c *FillCounts) addTo(t map[string]any) {
	if c != nil {
		t["linked"], t["copied"] = c.Linked, c.Copied
	}
}

// ErrNoSpace: the storage's filesystem lacks the space the fill needs; nothing was written.
var ErrNoSpace = errors.New("not enough free space")

// spaceMargin is kept free beyond what the plan counts: folders and links, a few KiB each,
// and the filesystem's own bookkeeping.
const (
	spaceMargin  = 16 << 20
	spacePerFile = 8 << 10
)

// fillImage is one image's plan.
type fillImage struct {
	repo, tag string
	manifests []tagmerge.Manifest // children first, the entry's own manifest last
	decision  tagmerge.Decision
	todo      bool // to write
}

// Fill writes entries into the registry storage opts.Dir. Failures are per image; the error
// is for what stops everything (names that collide, too little space, a cancelled context).
func Fill(ctx context.Context, entries []Entry, opts FillOptions) (*Report, error) {
	start := time.Now()
	if opts.Dir == "" || opts.Layout == nil {
		return nil, errors.New("no storage folder or no layout to fill it from")
	}
	if opts.Concurrency <= 0 {
		opts.Concurrency = 4
	}
	broken := make([]error, len(entries))
	var sources []string
	for i, e := range entries {
		broken[i] = e.Err
		if broken[i] == nil {
			_, broken[i] = opts.Mapping.Target("", e.Source)
		}
		if broken[i] == nil {
			sources = append(sources, e.Source)
		}
	}
	targets, err := opts.Mapping.Targets("", sources)
	if err != nil {
		return nil, err
	}
	st, err := regstore.Open(opts.Dir, !opts.DryRun)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	f := &filler{opts: opts, st: st}
	rep := &Report{Images: make([]Result, len(entries)), Fill: &FillCounts{}}
	stop := f.count.Watch(len(entries), opts.OnProgress)
	defer stop()

	// 1. What the storage has: each image's tag, and what on_existing makes of it.
	plans := make([]fillImage, len(entries))
	f.each(len(entries), func(i int) {
		r := &rep.Images[i]
		*r = Result{Source: entries[i].Source, Target: strings.TrimPrefix(targets[entries[i].Source], "/"),
			Digest: entries[i].Digest.String(), Attempts: 1}
		if broken[i] != nil {
			f.fail(r, unreadable{broken[i]})
			return
		}
		p, err := f.plan(entries[i], r.Target)
		plans[i] = p
		if err == nil && p.decision.Action == tagmerge.PutMerged {
			r.TagDigest = p.decision.Merged.Descriptor.Digest.String()
		}
		switch {
		case err != nil:
			f.fail(r, err)
		case !p.todo:
			r.Status = StatusSkipped
			f.count.Finish(false)
		}
	})
	// 2. Which blobs are missing, and the space they need, before anything is written.
	blobs, err := f.space(entries, plans, rep)
	if err != nil {
		return rep, err
	}
	if opts.DryRun {
		for i := range rep.Images {
			if rep.Images[i].Status == "" {
				rep.Images[i].Status = StatusWouldPush
				f.count.Finish(false)
			}
		}
		rep.Seconds = time.Since(start).Seconds()
		return rep, nil
	}
	// 3. Verify every image to write; then 4. its blobs, each once, and 5. its links,
	// manifests and tag.
	f.each(len(entries), func(i int) {
		if plans[i].todo && rep.Images[i].Status == "" {
			if err := verify(entries[i]); err != nil {
				f.fail(&rep.Images[i], err)
			}
		}
	})
	// Images go at once, each writing its missing blobs (a blob shared by several is written
	// once, by the first; the others wait for it), then its links: one image's links are
	// written while another's blobs are.
	jobs := map[v1.Hash]*blobJob{}
	for _, bp := range blobs {
		jobs[bp.blob.Digest] = &blobJob{plan: bp}
	}
	f.each(len(entries), func(i int) {
		r := &rep.Images[i]
		if !plans[i].todo || r.Status != "" || ctx.Err() != nil {
			return
		}
		for _, b := range entries[i].Blobs {
			if j := jobs[b.Digest]; j != nil {
				if err := j.do(ctx, f, rep); err != nil {
					f.fail(r, fmt.Errorf("writing blob %s: %w", b.Digest, err))
					return
				}
			}
		}
		if err := f.commit(entries[i], plans[i]); err != nil {
			f.fail(r, err)
			return
		}
		r.Status = StatusPushed
		f.count.Finish(false)
	})
	for i := range rep.Images {
		if rep.Images[i].Status == "" {
			f.fail(&rep.Images[i], ctx.Err())
		}
		rep.Bytes += rep.Images[i].Bytes
	}
	rep.Seconds = time.Since(start).Seconds()
	if ctx.Err() != nil {
		return rep, fmt.Errorf("filling %s: %w", opts.Dir, ctx.Err())
	}
	return rep, nil
}

type filler struct {
	opts  FillOptions
	st    *regstore.Storage
	count progress.Counter
	mu    sync.Mutex
}

func (f *filler) each(n int, fn func(int)) { pool.Each(n, f.opts.Concurrency, fn) }

func (f *filler) fail(r *Result, err error) {
	if err == nil {
		err = errors.New("not written")
	}
	if !strings.HasPrefix(err.Error(), r.Source) {
		err = fmt.Errorf("%s: %w", r.Source, err)
	}
	r.Status, r.err, r.Msg = StatusFailed, err, err.Error()
	f.count.Finish(true)
}

// plan reads the image's manifests from the layout and decides, from the tag's current
// manifest in the storage, what to write.
func (f *filler) plan(e Entry, target string) (fillImage, error) {
	repo, tag, digest := imagename.Split(target)
	p := fillImage{repo: repo, tag: tag}
	if digest != "" && digest != e.Digest.String() {
		return p, fmt.Errorf("the layout holds %s for %s", e.Digest, e.Source)
	}
	var err error
	if p.manifests, err = f.manifests(e); err != nil {
		return p, err
	}
	own := p.manifests[len(p.manifests)-1]
	stored := f.st.HasLink(regstore.RevisionLink(repo, e.Digest), e.Digest)
	if tag == "" {
		p.todo = !stored
		return p, nil
	}
	cur, raw, ok, err := f.st.Tag(repo, tag)
	if err != nil {
		return p, err
	}
	var existing *tagmerge.Manifest
	if ok {
		existing = &tagmerge.Manifest{Descriptor: v1.Descriptor{MediaType: mediaType(raw), Digest: cur, Size: int64(len(raw))},
			Raw: raw, Platform: func() (*v1.Platform, error) { return f.storedPlatform(raw) }}
	}
	if p.decision, err = tagmerge.Decide(target, existing, own, f.opts.OnExisting); err != nil {
		return p, err
	}
	p.todo = p.decision.Action != tagmerge.Keep // as over HTTP: the tag serves it already, or skip
	return p, nil
}

// manifests lists the entry's manifests, children first, read (and verified) from the layout.
func (f *filler) manifests(e Entry) ([]tagmerge.Manifest, error) {
	var out []tagmerge.Manifest
	if idx, ok := e.Taggable.(v1.ImageIndex); ok {
		im, err := idx.IndexManifest()
		if err != nil {
			return nil, fmt.Errorf("reading index %s: %w", e.Digest, err)
		}
		for _, d := range im.Manifests {
			raw, err := f.opts.Layout.ReadBytes(d.Digest)
			if err != nil {
				return nil, err
			}
			out = append(out, tagmerge.Manifest{Descriptor: d, Raw: raw})
		}
	}
	own, err := Manifest(e)
	if err != nil {
		return nil, unreadable{fmt.Errorf("reading manifest %s: %w", e.Digest, err)}
	}
	return append(out, own), nil
}

// storedPlatform reads the platform of a single image the storage holds (from its config).
func (f *filler) storedPlatform(raw []byte) (*v1.Platform, error) {
	m, err := v1.ParseManifest(strings.NewReader(string(raw)))
	if err != nil {
		return nil, err
	}
	b, err := f.st.ReadBlob(m.Config.Digest)
	if err != nil {
		return nil, err
	}
	cf, err := v1.ParseConfigFile(strings.NewReader(string(b)))
	if err != nil {
		return nil, err
	}
	return cf.Platform(), nil
}

// mediaType is a manifest's own mediaType, or (when it has none, as OCI allows) what its
// fields say it is.
func mediaType(raw []byte) types.MediaType {
	var m struct {
		MediaType types.MediaType `json:"mediaType"`
		Manifests json.RawMessage `json:"manifests"`
	}
	_ = json.Unmarshal(raw, &m)
	switch {
	case m.MediaType != "":
		return m.MediaType
	case m.Manifests != nil:
		return types.OCIImageIndex
	}
	return types.OCIManifestSchema1
}

// blobPlan is one blob to write.
type blobPlan struct {
	blob Blob
	img  int  // the first image that needs it
	link bool // on the storage's filesystem: hard-linked
}

// space plans the blobs to write and checks the storage's free space for them, failing
// before anything is written.
func (f *filler) space(entries []Entry, plans []fillImage, rep *Report) ([]blobPlan, error) {
	var blobs []blobPlan
	seen := map[v1.Hash]bool{}
	var need, copies int64
	files := 0
	for i, e := range entries {
		if !plans[i].todo || rep.Images[i].Status != "" {
			continue
		}
		for _, b := range e.Blobs {
			files++
			if seen[b.Digest] {
				continue
			}
			seen[b.Digest] = true
			if f.st.HasBlob(b.Digest, b.Size) {
				continue
			}
			bp := blobPlan{blob: b, img: i, link: f.st.SameFilesystem(f.opts.Layout.BlobPath(b.Digest))}
			if !bp.link {
				copies += b.Size
			}
			blobs = append(blobs, bp)
		}
		for _, m := range plans[i].manifests {
			files += 2
			need += int64(len(m.Raw))
		}
	}
	need += copies + spaceMargin + int64(files)*spacePerFile
	if len(blobs) == 0 && files == 0 {
		return nil, nil
	}
	free, err := f.st.Free()
	if err != nil {
		return nil, err
	}
	if need > free {
		return nil, fmt.Errorf("%w on %s: the fill needs %s (%s of blobs to copy, the rest manifests, links and a margin), %s are free: %s short; nothing was written",
			ErrNoSpace, f.opts.Dir, progress.Bytes(need), progress.Bytes(copies), progress.Bytes(free), progress.Bytes(need-free))
	}
	return blobs, nil
}

// blobJob writes one planned blob, once, for every image that needs it.
type blobJob struct {
	plan blobPlan
	once sync.Once
	err  error
}

func (j *blobJob) do(ctx context.Context, f *filler, rep *Report) error {
	j.once.Do(func() { j.err = f.putBlob(ctx, j.plan, rep) })
	return j.err
}

// putBlob writes a planned blob (linked, cloned or copied) and counts it.
func (f *filler) putBlob(ctx context.Context, bp blobPlan, rep *Report) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	src := f.opts.Layout.BlobPath(bp.blob.Digest)
	how, n, err := f.st.PutBlob(src, bp.blob.Digest, bp.blob.Size, bp.link)
	if err != nil {
		return err
	}
	if how == regstore.Linked {
		// The link moved the file's change time: record the digest again, so that the next
		// run does not hash it (it was verified in this run).
		verified.Store(src, verified.Record{Size: bp.blob.Size, SHA256: bp.blob.Digest.Hex})
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	switch how {
	case regstore.Linked:
		rep.Fill.Linked++
	case regstore.Cloned, regstore.Copied:
		rep.Fill.Copied++
		n = bp.blob.Size
	}
	rep.Images[bp.img].Bytes += n
	f.count.AddBytes(n)
	return nil
}

// commit writes an image's links and manifests, its tag last: layer links; each manifest
// (children first) and its revision link; then the tag's index link and current link.
func (f *filler) commit(e Entry, p fillImage) error {
	// Every blob is in the storage: the plan found it, or putBlob wrote it.
	for _, b := range e.Blobs {
		if _, err := f.st.Link(regstore.LayerLink(p.repo, b.Digest), b.Digest); err != nil {
			return err
		}
	}
	put := func(m tagmerge.Manifest) error {
		if _, err := f.st.PutBytes(m.Descriptor.Digest, m.Raw); err != nil {
			return err
		}
		_, err := f.st.Link(regstore.RevisionLink(p.repo, m.Descriptor.Digest), m.Descriptor.Digest)
		return err
	}
	for _, m := range p.manifests {
		if err := put(m); err != nil {
			return err
		}
	}
	tagged := e.Digest
	switch p.decision.Action {
	case tagmerge.Keep:
		return nil
	case tagmerge.PutMerged:
		if err := put(p.decision.Merged); err != nil {
			return err
		}
		tagged = p.decision.Merged.Descriptor.Digest
	}
	if p.tag == "" {
		return nil
	}
	if _, err := f.st.Link(regstore.TagIndexLink(p.repo, p.tag, tagged), tagged); err != nil {
		return err
	}
	_, err := f.st.Link(regstore.TagCurrent(p.repo, p.tag), tagged)
	return err
}

// FillSummary is a one-line account of a fill of dir, naming up to three failures.
func (r *Report) FillSummary(dir string) string {
	l := r.list()
	if n := l.Count(StatusWouldPush); n > 0 {
		return l.Summary(fmt.Sprintf("would write %d, skipped %d of %d images into the registry storage %s", n, l.Count(StatusSkipped), len(l), dir))
	}
	c := r.Fill
	if c == nil {
		c = &FillCounts{}
	}
	return l.Summary(fmt.Sprintf("wrote %d, skipped %d, failed %d of %d images into the registry storage %s (%d blobs hard-linked, %d copied, %s written in %.2fs)",
		l.Count(StatusPushed), l.Count(StatusSkipped), l.Count(StatusFailed), len(l), dir,
		c.Linked, c.Copied, progress.Bytes(r.Bytes), r.Seconds))
}

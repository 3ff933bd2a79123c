package imageset

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"
)

// Options configure Generate. Zero values are the documented defaults.
type Options struct {
	BuildOptions
	// Registry is host:port[/prefix] to push the images to; if empty, nothing is pushed.
	Registry string
	Push     PushOptions
	// Out is the folder for the bundles, images.list and imageset.json; if empty, none.
	Out string
}

// Summary tells what Generate did.
type Summary struct {
	Images    int
	Platforms []string
	Stats     Stats
	Push      *PushResult   // nil without Registry
	Bundles   *BundleResult // nil without Out
	BuildTime time.Duration
	PushTime  time.Duration
	OutTime   time.Duration
}

// Generate builds the set, then pushes it and writes the bundles (at the same time).
func Generate(ctx context.Context, o Options) (*Summary, error) {
	start := time.Now()
	set, err := Build(ctx, o.BuildOptions)
	if err != nil {
		return nil, err
	}
	defer func() { _ = set.Close() }()
	sum := &Summary{
		Images:    len(set.Images),
		Platforms: set.Options.Platforms,
		Stats:     set.Stats,
		BuildTime: time.Since(start),
	}

	var wg sync.WaitGroup
	var pushErr, outErr error
	if o.Registry != "" {
		wg.Go(func() {
			t := time.Now()
			res, err := set.Push(ctx, o.Registry, o.Push)
			sum.Push, sum.PushTime = &res, time.Since(t)
			if err != nil {
				pushErr = fmt.Errorf("pushing to %s: %w", o.Registry, err)
			}
		})
	}
	if o.Out != "" {
		wg.Go(func() {
			t := time.Now()
			res, err := set.WriteBundles(ctx, o.Out, 0)
			sum.Bundles, sum.OutTime = &res, time.Since(t)
			if err != nil {
				outErr = fmt.Errorf("writing bundles to %s: %w", o.Out, err)
			}
		})
	}
	wg.Wait()
	if err := errors.Join(pushErr, outErr); err != nil {
		return sum, err
	}
	return sum, nil
}

// String is a short human report.
func (s *Summary) String() string {
	var b strings.Builder
	st := s.Stats
	fmt.Fprintf(&b, "images:          %d (%s)\n", s.Images, strings.Join(s.Platforms, ", "))
	fmt.Fprintf(&b, "unique layers:   %d (%d shared; %d generated, %d from cache)\n",
		st.Layers, st.SharedLayers, st.GeneratedLayers, st.CachedLayers)
	fmt.Fprintf(&b, "total bytes:     %s uncompressed, %s compressed (%s referenced by images)\n",
		mb(st.Bytes), mb(st.CompressedBytes), mb(st.ReferencedBytes))
	fmt.Fprintf(&b, "build:           %s\n", s.BuildTime.Round(time.Millisecond))
	if s.Push != nil {
		fmt.Fprintf(&b, "push:            %d pushed, %d already present, %s\n",
			s.Push.Pushed, s.Push.Present, s.PushTime.Round(time.Millisecond))
	}
	if s.Bundles != nil {
		state := "written"
		if s.Bundles.Reused {
			state = "up to date, reused"
		}
		fmt.Fprintf(&b, "bundles:         %s, %s: per-image tar.gz %s, container-images.tar.gz %s\n",
			state, s.OutTime.Round(time.Millisecond), mb(s.Bundles.KubesprayOfflineBytes), mb(s.Bundles.ContribBytes))
	}
	return b.String()
}

func mb(n int64) string { return fmt.Sprintf("%.1f MB", float64(n)/1e6) }

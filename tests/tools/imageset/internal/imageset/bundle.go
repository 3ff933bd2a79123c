package imageset

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// Files written by WriteBundles, relative to its folder.
const (
	ListFile             = "images.list"
	ManifestFile         = "imageset.json"
	KubesprayOfflineDir  = "kubespray-offline/images"
	ContribOfflineDir    = "contrib-offline"
	ContribArchive       = ContribOfflineDir + "/container-images.tar.gz"
	contribMemberDir     = "./container-images/"
	contribList          = "container-images.txt"
	contribRegistryFile  = "registry-latest.tar"
	manifestVersion      = 1
	manifestGeneratorTag = "tests/tools/imageset " + generatorVersion
)

// Manifest is imageset.json: what the set holds, for tests to compare digests after a round
// trip. It does not depend on where the set was pushed.
type Manifest struct {
	Version int            `json:"version"`
	Params  ManifestParams `json:"params"`
	Totals  Stats          `json:"totals"`
	Images  []ImageInfo    `json:"images"`
	// Extras are in the bundles only (contrib/offline's registry-latest.tar), never pushed.
	Extras []ImageInfo `json:"extras"`
}

// ManifestParams are the options the set was built with.
type ManifestParams struct {
	Generator string   `json:"generator"`
	Seed      int64    `json:"seed"`
	Scale     float64  `json:"scale"`
	Platforms []string `json:"platforms"`
}

// ImageInfo describes one image. Digest is what a registry holds under the tag (the manifest
// list with several platforms); Config and Layers are those of the first platform, the image
// the bundles carry (Platforms[0].Digest is its manifest digest).
type ImageInfo struct {
	Ref        string         `json:"ref"`
	Upstream   string         `json:"upstream"`
	Repository string         `json:"repository"`
	Tag        string         `json:"tag"`
	Digest     string         `json:"digest"`
	MediaType  string         `json:"media_type"`
	Config     string         `json:"config"`
	Layers     []LayerInfo    `json:"layers"`
	Platforms  []PlatformInfo `json:"platforms"`
	Files      ImageFiles     `json:"files"`
}

// PlatformInfo is one platform image of an ImageInfo.
type PlatformInfo struct {
	Platform string      `json:"platform"`
	Digest   string      `json:"digest"`
	Config   string      `json:"config"`
	Layers   []LayerInfo `json:"layers"`
}

// LayerInfo is one layer; Base names the shared base it is, if any.
type LayerInfo struct {
	Digest string `json:"digest"`
	DiffID string `json:"diff_id"`
	Size   int64  `json:"size"`
	Base   string `json:"base,omitempty"`
}

// ImageFiles locate the image in the bundles.
type ImageFiles struct {
	// KubesprayOffline is the per-image file, relative to the bundle folder ("" for extras).
	KubesprayOffline string `json:"kubespray_offline,omitempty"`
	// Contrib is the member of container-images.tar.gz, ContribListName its name in
	// container-images.txt ("" for registry-latest.tar, which the list does not name).
	Contrib         string `json:"contrib_offline"`
	ContribListName string `json:"contrib_list_name,omitempty"`
}

// Manifest describes the set.
func (s *Set) Manifest() (*Manifest, error) {
	m := &Manifest{
		Version: manifestVersion,
		Params: ManifestParams{
			Generator: manifestGeneratorTag,
			Seed:      s.Options.Seed,
			Scale:     s.Options.Scale,
			Platforms: s.Options.Platforms,
		},
		Totals: s.Stats,
		Images: []ImageInfo{},
		Extras: []ImageInfo{},
	}
	for _, im := range s.Images {
		info, err := im.info(false)
		if err != nil {
			return nil, err
		}
		m.Images = append(m.Images, info)
	}
	for _, im := range s.Extras {
		info, err := im.info(true)
		if err != nil {
			return nil, err
		}
		m.Extras = append(m.Extras, info)
	}
	return m, nil
}

func (im *Image) info(extra bool) (ImageInfo, error) {
	d, err := im.Pushed().Digest()
	if err != nil {
		return ImageInfo{}, fmt.Errorf("computing digest of %s: %w", im.Ref, err)
	}
	mt, err := im.Pushed().MediaType()
	if err != nil {
		return ImageInfo{}, fmt.Errorf("reading media type of %s: %w", im.Ref, err)
	}
	info := ImageInfo{
		Ref:        im.Ref,
		Upstream:   im.Upstream(),
		Repository: im.Repository,
		Tag:        im.Tag,
		Digest:     d.String(),
		MediaType:  string(mt),
		Files:      ImageFiles{Contrib: contribMemberDir + im.ContribFile()},
	}
	if extra {
		info.Files.Contrib = contribMemberDir + contribRegistryFile
	} else {
		info.Files.KubesprayOffline = KubesprayOfflineDir + "/" + im.KubesprayOfflineFile()
		info.Files.ContribListName = im.ContribListName()
	}
	for i, img := range im.Manifests {
		pi := PlatformInfo{Platform: im.Platforms[i].String()}
		m, err := img.Manifest()
		if err != nil {
			return ImageInfo{}, fmt.Errorf("reading manifest of %s: %w", im.Ref, err)
		}
		cf, err := img.ConfigFile()
		if err != nil {
			return ImageInfo{}, fmt.Errorf("reading config of %s: %w", im.Ref, err)
		}
		md, err := img.Digest()
		if err != nil {
			return ImageInfo{}, fmt.Errorf("computing digest of %s: %w", im.Ref, err)
		}
		pi.Digest, pi.Config = md.String(), m.Config.Digest.String()
		for j, l := range m.Layers {
			pi.Layers = append(pi.Layers, LayerInfo{
				Digest: l.Digest.String(),
				DiffID: cf.RootFS.DiffIDs[j].String(),
				Size:   l.Size,
				Base:   im.Bases[i][j],
			})
		}
		info.Platforms = append(info.Platforms, pi)
	}
	info.Config, info.Layers = info.Platforms[0].Config, info.Platforms[0].Layers
	return info, nil
}

// BundleResult tells what WriteBundles did.
type BundleResult struct {
	// Reused is true when dir already held this very set (same imageset.json, files present).
	Reused                bool
	KubesprayOfflineBytes int64 // the per-image tar.gz files
	ContribBytes          int64 // container-images.tar.gz
}

// WriteBundles writes into dir (upstream names preserved in each):
//
//   - images.list: the references, one a line, as listed;
//   - kubespray-offline/images/: kubespray-offline's bundle (scripts/images.sh get_image): one
//     `<runtime> save` tarball per image, gzip'd, named KubesprayOfflineFile, next to the
//     images.list it was made from;
//   - contrib-offline/container-images.tar.gz: what Kubespray's
//     contrib/offline/manage-offline-container-images.sh create makes (see writeContrib);
//   - imageset.json (last: its presence means the rest is complete).
//
// The save tarballs are docker-archive tars as go-containerregistry's tarball.Write makes them
// (manifest.json, config, gzip'd layers named <hex>.tar.gz; RepoTags is the listed reference), as
// nerdctl save and podman/docker load read them; docker save itself would store the layers
// uncompressed. The outer gzip is level 1 (the tools run gzip at level 6): the content is
// compressed layers already, so the size hardly differs and it is several times faster.
//
// If dir already holds the same imageset.json and every file, nothing is rewritten.
func (s *Set) WriteBundles(ctx context.Context, dir string, jobs int) (BundleResult, error) {
	var res BundleResult
	if jobs <= 0 {
		jobs = s.Options.Jobs
	}
	m, err := s.Manifest()
	if err != nil {
		return res, err
	}
	mdata, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return res, fmt.Errorf("encoding %s: %w", ManifestFile, err)
	}
	mdata = append(mdata, '\n')
	if s.upToDate(dir, mdata) {
		res.Reused = true
		res.KubesprayOfflineBytes, res.ContribBytes = s.bundleSizes(dir)
		return res, nil
	}
	if err := s.checkFileNames(); err != nil {
		return res, err
	}
	for _, p := range []string{ManifestFile, "kubespray-offline", ContribOfflineDir} {
		if err := os.RemoveAll(filepath.Join(dir, p)); err != nil {
			return res, fmt.Errorf("clearing %s: %w", p, err)
		}
	}
	for _, p := range []string{KubesprayOfflineDir, ContribOfflineDir} {
		if err := os.MkdirAll(filepath.Join(dir, p), 0o755); err != nil {
			return res, fmt.Errorf("creating bundle folder: %w", err)
		}
	}
	list := s.list()
	if err := writeFileAtomic(filepath.Join(dir, ListFile), list); err != nil {
		return res, fmt.Errorf("writing %s: %w", ListFile, err)
	}
	if err := writeFileAtomic(filepath.Join(dir, KubesprayOfflineDir, ListFile), list); err != nil {
		return res, fmt.Errorf("writing %s: %w", ListFile, err)
	}

	// The contrib archive is one gzip stream: it runs beside the per-image files.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	contribErr := make(chan error, 1)
	go func() {
		err := s.writeContrib(ctx, filepath.Join(dir, ContribArchive))
		if err != nil {
			cancel()
		}
		contribErr <- err
	}()
	err = forEach(ctx, len(s.Images), jobs, func(ctx context.Context, i int) error {
		im := s.Images[i]
		return writeGzipFile(filepath.Join(dir, KubesprayOfflineDir, im.KubesprayOfflineFile()), func(w io.Writer) error {
			return writeSave(ctx, w, im.Ref, im.Manifests[0])
		})
	})
	if err != nil {
		cancel()
	}
	// Report the cause, not the cancellation it made in the other writer.
	if cerr := <-contribErr; cerr != nil && (err == nil || errors.Is(err, context.Canceled)) {
		err = cerr
	}
	if err != nil {
		return res, err
	}
	if err := writeFileAtomic(filepath.Join(dir, ManifestFile), mdata); err != nil {
		return res, fmt.Errorf("writing %s: %w", ManifestFile, err)
	}
	res.KubesprayOfflineBytes, res.ContribBytes = s.bundleSizes(dir)
	return res, nil
}

// list is images.list: the references as listed.
func (s *Set) list() []byte {
	var b bytes.Buffer
	for _, im := range s.Images {
		b.WriteString(im.Ref + "\n")
	}
	return b.Bytes()
}

func (s *Set) upToDate(dir string, mdata []byte) bool {
	old, err := os.ReadFile(filepath.Join(dir, ManifestFile))
	if err != nil || !bytes.Equal(old, mdata) {
		return false
	}
	paths := []string{ListFile, filepath.Join(KubesprayOfflineDir, ListFile), ContribArchive}
	for _, im := range s.Images {
		paths = append(paths, filepath.Join(KubesprayOfflineDir, im.KubesprayOfflineFile()))
	}
	for _, p := range paths {
		if _, err := os.Stat(filepath.Join(dir, p)); err != nil {
			return false
		}
	}
	return true
}

func (s *Set) bundleSizes(dir string) (perImage, contrib int64) {
	for _, im := range s.Images {
		if fi, err := os.Stat(filepath.Join(dir, KubesprayOfflineDir, im.KubesprayOfflineFile())); err == nil {
			perImage += fi.Size()
		}
	}
	if fi, err := os.Stat(filepath.Join(dir, ContribArchive)); err == nil {
		contrib = fi.Size()
	}
	return perImage, contrib
}

// checkFileNames fails if two images would share a bundle file.
func (s *Set) checkFileNames() error {
	kso := map[string]string{}
	contrib := map[string]string{contribRegistryFile: registryLatest}
	for _, im := range s.Images {
		if other, ok := kso[im.KubesprayOfflineFile()]; ok {
			return fmt.Errorf("naming bundle files: %s and %s both map to %s", other, im.Ref, im.KubesprayOfflineFile())
		}
		kso[im.KubesprayOfflineFile()] = im.Ref
		if other, ok := contrib[im.ContribFile()]; ok {
			return fmt.Errorf("naming bundle files: %s and %s both map to %s", other, im.Ref, im.ContribFile())
		}
		contrib[im.ContribFile()] = im.Ref
	}
	return nil
}

// member is one save tarball of the contrib archive.
type member struct {
	file, ref string
	img       v1.Image
}

// writeContrib writes container-images.tar.gz as manage-offline-container-images.sh create
// does: it pulls and saves registry:latest as registry-latest.tar, then saves each image of
// the list as container-images/<ContribFile> (`<runtime> save -o FILE IMAGE`) and appends
// "<FILE>  <ContribListName>" (two spaces) to container-images/container-images.txt, then runs
// `tar -zcvf container-images.tar.gz ./container-images`, so members are named
// ./container-images/... . GNU tar stores them in directory order; here they come in list order
// with container-images.txt last, so a reader cannot count on seeing the list first.
func (s *Set) writeContrib(ctx context.Context, path string) error {
	return writeGzipFile(path, func(w io.Writer) error {
		tw := tar.NewWriter(w)
		if err := tw.WriteHeader(&tar.Header{
			Typeflag: tar.TypeDir, Name: contribMemberDir, Mode: 0o755, ModTime: epoch,
		}); err != nil {
			return fmt.Errorf("writing %s: %w", contribMemberDir, err)
		}
		var txt bytes.Buffer
		var members []member
		for _, im := range s.Extras {
			members = append(members, member{contribRegistryFile, im.Ref, im.Manifests[0]})
		}
		for _, im := range s.Images {
			members = append(members, member{im.ContribFile(), im.Ref, im.Manifests[0]})
			txt.WriteString(im.ContribFile() + "  " + im.ContribListName() + "\n")
		}
		for _, mb := range members {
			tag, err := name.NewTag(mb.ref)
			if err != nil {
				return fmt.Errorf("parsing reference %q: %w", mb.ref, err)
			}
			size, err := tarball.CalculateSize(map[name.Reference]v1.Image{tag: mb.img})
			if err != nil {
				return fmt.Errorf("sizing the save of %s: %w", mb.ref, err)
			}
			if err := tw.WriteHeader(&tar.Header{
				Typeflag: tar.TypeReg, Name: contribMemberDir + mb.file, Size: size, Mode: 0o644, ModTime: epoch,
			}); err != nil {
				return fmt.Errorf("writing %s: %w", mb.file, err)
			}
			if err := writeSave(ctx, tw, mb.ref, mb.img); err != nil {
				return err
			}
		}
		if err := tw.WriteHeader(&tar.Header{
			Typeflag: tar.TypeReg, Name: contribMemberDir + contribList, Size: int64(txt.Len()), Mode: 0o644, ModTime: epoch,
		}); err != nil {
			return fmt.Errorf("writing %s: %w", contribList, err)
		}
		if _, err := tw.Write(txt.Bytes()); err != nil {
			return fmt.Errorf("writing %s: %w", contribList, err)
		}
		if err := tw.Close(); err != nil {
			return fmt.Errorf("closing %s: %w", filepath.Base(path), err)
		}
		return nil
	})
}

// writeSave writes the docker-archive ("docker save") tarball of img tagged ref.
func writeSave(ctx context.Context, w io.Writer, ref string, img v1.Image) error {
	tag, err := name.NewTag(ref)
	if err != nil {
		return fmt.Errorf("parsing reference %q: %w", ref, err)
	}
	if err := tarball.Write(tag, img, ctxWriter{ctx, w}); err != nil {
		return fmt.Errorf("saving %s: %w", ref, err)
	}
	return nil
}

// writeGzipFile writes path (through a temporary file and a rename) as a gzip stream of what
// fill writes.
func writeGzipFile(path string, fill func(w io.Writer) error) (err error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("creating %s: %w", filepath.Base(path), err)
	}
	defer func() {
		if err != nil {
			_ = f.Close()
			_ = os.Remove(f.Name())
		}
	}()
	bw := bufio.NewWriterSize(f, 1<<20)
	gz, err := gzip.NewWriterLevel(bw, gzip.BestSpeed)
	if err != nil {
		return fmt.Errorf("creating gzip writer: %w", err)
	}
	if err := fill(gz); err != nil {
		return err
	}
	if err := gz.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", filepath.Base(path), err)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("writing %s: %w", filepath.Base(path), err)
	}
	if err := f.Chmod(0o644); err != nil {
		return fmt.Errorf("writing %s: %w", filepath.Base(path), err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", filepath.Base(path), err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("storing %s: %w", filepath.Base(path), err)
	}
	return nil
}

// ctxWriter stops a long write once ctx is done.
type ctxWriter struct {
	ctx context.Context
	w   io.Writer
}

func (c ctxWriter) Write(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.w.Write(p)
}

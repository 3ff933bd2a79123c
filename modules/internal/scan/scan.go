// Package scan finds the container images inside the charts and manifests Kubespray applies:
// the images its `downloads` variable does not list (Argo CD's install manifest, the cilium and
// kubelet-csr-approver charts). Manifests are parsed as YAML; charts are rendered with helm (the
// helm release the bundle carries) and the output parsed the same way. An image is every `image`
// of a container, init container or ephemeral container, in any document and at any depth, so
// Deployments, DaemonSets, CronJobs and bare Pods are all covered.
package scan

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/imagename"
)

// Kinds of source.
const (
	Chart    = "chart"    // a packaged helm chart (.tgz), rendered with helm template
	Manifest = "manifest" // Kubernetes YAML (one or more documents)
)

// Source is one file to look into.
type Source struct {
	Name   string         // the file's name in the manifest, named in Image.FoundIn
	Path   string         // the chart or manifest on disk
	Kind   string         // Chart or Manifest
	Values map[string]any // chart values, as Kubespray passes them (Chart only)
}

// Image is one image found.
type Image struct {
	Name    string   `json:"name"`   // the repository's last element, _ for -: "operator_generic"
	Source  string   `json:"source"` // normalized repo:tag (digest kept apart)
	Repo    string   `json:"repo"`
	Tag     string   `json:"tag"`
	Digest  string   `json:"digest,omitempty"`
	Target  string   `json:"target"` // where the private registry holds it (imagename's rule)
	Kind    string   `json:"kind"`   // the kind of source it was found in
	FoundIn []string `json:"found_in"`
}

// SourceResult is what one source gave.
type SourceResult struct {
	Name   string   `json:"name"`
	Kind   string   `json:"kind"`
	Path   string   `json:"path"`
	Images []string `json:"images"`
	OK     bool     `json:"ok"`
	Msg    string   `json:"msg,omitempty"`
}

// Options configure Scan.
type Options struct {
	Helm        string            // helm binary, or a helm release tarball holding one (charts only)
	KubeVersion string            // passed to helm template --kube-version when set
	Mapping     imagename.Mapping // names Image.Target
	TempDir     string            // where helm's scratch files go; default os.TempDir()
}

// Report is the result of Scan: the images (sorted by source) and every source's result.
type Report struct {
	Images  []Image        `json:"images"`
	Sources []SourceResult `json:"sources"`
}

// Failed lists the sources that could not be read.
func (r *Report) Failed() []SourceResult {
	out := []SourceResult{}
	for _, s := range r.Sources {
		if !s.OK {
			out = append(out, s)
		}
	}
	return out
}

// Scan looks into every source; a source that cannot be read is reported (not fatal), so every
// source is tried. The error is for the setup (no helm for a chart).
func Scan(ctx context.Context, sources []Source, o Options) (*Report, error) {
	rep := &Report{Images: []Image{}, Sources: []SourceResult{}}
	var helm string
	cleanup := func() {}
	defer func() { cleanup() }()
	found := map[string]*Image{}
	for _, src := range sources {
		r := SourceResult{Name: src.Name, Kind: src.Kind, Path: src.Path, Images: []string{}}
		var docs []byte
		var err error
		switch src.Kind {
		case Manifest:
			docs, err = os.ReadFile(src.Path)
		case Chart:
			if helm == "" {
				helm, cleanup, err = helmBinary(o.Helm, o.TempDir)
				if err != nil {
					return nil, err
				}
			}
			docs, err = render(ctx, helm, src, o)
		default:
			err = fmt.Errorf("unknown kind %q: want %s or %s", src.Kind, Chart, Manifest)
		}
		var refs []string
		if err == nil {
			refs, err = imagesIn(docs)
		}
		if err != nil {
			r.Msg = fmt.Sprintf("%s %s (%s): %v", src.Kind, src.Name, src.Path, err)
			rep.Sources = append(rep.Sources, r)
			continue
		}
		for _, ref := range refs {
			img, err := newImage(ref, src.Kind, o.Mapping)
			if err != nil {
				r.Msg = fmt.Sprintf("%s %s (%s): %v", src.Kind, src.Name, src.Path, err)
				break
			}
			key := img.Source + "@" + img.Digest
			if prev, ok := found[key]; ok {
				img = prev
			} else {
				found[key] = img
			}
			if !contains(img.FoundIn, src.Name) {
				img.FoundIn = append(img.FoundIn, src.Name)
			}
			r.Images = append(r.Images, img.Source)
		}
		r.OK = r.Msg == ""
		rep.Sources = append(rep.Sources, r)
	}
	for _, img := range found {
		sort.Strings(img.FoundIn)
		rep.Images = append(rep.Images, *img)
	}
	sort.Slice(rep.Images, func(i, j int) bool { return rep.Images[i].Source < rep.Images[j].Source })
	return rep, nil
}

func newImage(ref, kind string, m imagename.Mapping) (*Image, error) {
	n, err := imagename.Normalize(ref)
	if err != nil {
		return nil, err
	}
	repo, tag, digest := imagename.Split(n)
	source := repo + ":" + tag
	if tag == "" { // pinned by digest only: pulled by digest
		source = repo + "@" + digest
	}
	target, err := m.Repository(n)
	if err != nil {
		return nil, err
	}
	name := repo[strings.LastIndexByte(repo, '/')+1:]
	return &Image{Name: strings.ReplaceAll(name, "-", "_"), Source: source, Repo: repo, Tag: tag,
		Digest: digest, Target: target, Kind: kind}, nil
}

// containerLists are the pod spec fields that hold containers.
var containerLists = map[string]bool{"containers": true, "initContainers": true, "ephemeralContainers": true}

// imagesIn returns every container image in a YAML stream, in order of appearance, once each.
func imagesIn(stream []byte) ([]string, error) {
	dec := yaml.NewDecoder(bytes.NewReader(stream))
	var out []string
	seen := map[string]bool{}
	for n := 1; ; n++ {
		var doc any
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("YAML document %d: %w", n, err)
		}
		walk(doc, func(image string) {
			if !seen[image] {
				seen[image] = true
				out = append(out, image)
			}
		})
	}
}

func walk(node any, found func(string)) {
	switch v := node.(type) {
	case map[any]any: // a mapping with a non-string key somewhere
		m := make(map[string]any, len(v))
		for k, child := range v {
			m[fmt.Sprint(k)] = child
		}
		walk(m, found)
	case map[string]any:
		for k, child := range v {
			if list, ok := child.([]any); ok && containerLists[k] {
				for _, c := range list {
					if m, ok := c.(map[string]any); ok { // containers have string keys
						if image, ok := m["image"].(string); ok && strings.TrimSpace(image) != "" {
							found(strings.TrimSpace(image))
						}
					}
				}
			}
			walk(child, found)
		}
	case []any:
		for _, child := range v {
			walk(child, found)
		}
	}
}

// render runs helm template on a chart with its values.
func render(ctx context.Context, helm string, src Source, o Options) ([]byte, error) {
	scratch, err := os.MkdirTemp(o.TempDir, "airgap-helm-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(scratch)
	values := filepath.Join(scratch, "values.json")
	b, err := json.Marshal(nonNil(src.Values))
	if err != nil {
		return nil, fmt.Errorf("values: %w", err)
	}
	if err := os.WriteFile(values, b, 0o600); err != nil {
		return nil, err
	}
	args := []string{"template", "airgap-scan", src.Path, "--values", values}
	if o.KubeVersion != "" {
		args = append(args, "--kube-version", o.KubeVersion)
	}
	cmd := exec.CommandContext(ctx, helm, args...)
	// helm keeps caches and configuration under these; nothing outside scratch is written.
	cmd.Env = append(os.Environ(), "HELM_CACHE_HOME="+scratch+"/cache", "HELM_CONFIG_HOME="+scratch+"/config",
		"HELM_DATA_HOME="+scratch+"/data")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("helm template: %v: %s", err, strings.TrimSpace(stderr.String()))
	}
	return stdout.Bytes(), nil
}

func nonNil(m map[string]any) map[string]any {
	if m == nil {
		return map[string]any{}
	}
	return m
}

// helmBinary returns a runnable helm: the path itself, or the `helm` inside a release tarball
// (helm-vX-linux-<arch>.tar.gz), extracted to a scratch folder that cleanup removes.
func helmBinary(path, tmp string) (string, func(), error) {
	none := func() {}
	if path == "" {
		return "", none, errors.New("a chart needs helm: set helm to a helm binary or release tarball")
	}
	f, err := os.Open(path)
	if err != nil {
		return "", none, fmt.Errorf("helm: %w", err)
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil { // not a tarball: the binary itself
		return path, none, nil
	}
	dir, err := os.MkdirTemp(tmp, "airgap-helm-bin-")
	if err != nil {
		return "", none, err
	}
	cleanup := func() { os.RemoveAll(dir) }
	tr := tar.NewReader(gz)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			cleanup()
			return "", none, fmt.Errorf("helm: %s holds no helm binary", path)
		}
		if err != nil {
			cleanup()
			return "", none, fmt.Errorf("helm: reading %s: %w", path, err)
		}
		if h.Typeflag != tar.TypeReg || filepath.Base(h.Name) != "helm" {
			continue
		}
		out := filepath.Join(dir, "helm")
		w, err := os.OpenFile(out, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o755)
		if err != nil {
			cleanup()
			return "", none, err
		}
		_, err = io.Copy(w, io.LimitReader(tr, 512<<20))
		if cerr := w.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			cleanup()
			return "", none, fmt.Errorf("helm: extracting from %s: %w", path, err)
		}
		return out, cleanup, nil
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

package sitestate

import (
	"bufio"
	"compress/bzip2"
	"compress/gzip"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/zstdcmd"
)

// readPackages lists the packages of the OS repositories the os_repos role writes under the files
// root: files/debs/<target>/ (its Packages, else Packages.gz: dpkg-scanpackages' stanzas) and
// files/rpms/<target>/ (the primary metadata repodata/repomd.xml names, gzip, zstd or bzip2).
func (s *State) readPackages(files string) error {
	for _, kind := range []string{"debs", "rpms"} {
		des, err := readDir(filepath.Join(files, kind))
		if err != nil {
			return err
		}
		for _, de := range des {
			if !de.IsDir() {
				continue
			}
			repo := kind + "/" + de.Name()
			var pkgs []Package
			if kind == "debs" {
				pkgs, err = debPackages(files, repo)
			} else {
				pkgs, err = rpmPackages(files, repo)
			}
			if err != nil {
				return fmt.Errorf("OS repository %s: %w", filepath.Join(files, repo), err)
			}
			s.Packages = append(s.Packages, pkgs...)
		}
	}
	return nil
}

// open opens a file of the repository, refusing a symbolic link; ok is false when it does not exist.
func open(p string) (*os.File, bool, error) {
	fi, err := os.Lstat(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	if !fi.Mode().IsRegular() {
		return nil, false, fmt.Errorf("%s is not a regular file", p)
	}
	f, err := os.Open(p)
	return f, err == nil, err
}

// inRepo is the path under the files root of a file the repository's index names, refusing a
// name that leads out of the repository.
func inRepo(repo, name string) (string, error) {
	rel := path.Clean(strings.TrimPrefix(name, "./"))
	if rel == "." || path.IsAbs(rel) || rel == ".." || strings.HasPrefix(rel, "../") {
		return "", fmt.Errorf("its index names %q, which is not in the repository", name)
	}
	return repo + "/" + rel, nil
}

func debPackages(files, repo string) ([]Package, error) {
	dir := filepath.Join(files, repo)
	f, ok, err := open(filepath.Join(dir, "Packages"))
	var r io.Reader = f
	if err == nil && !ok {
		if f, ok, err = open(filepath.Join(dir, "Packages.gz")); ok {
			r, err = gzip.NewReader(f)
		}
	}
	if f != nil {
		defer f.Close()
	}
	if err != nil || !ok {
		return nil, err // no index: not an apt repository (yet)
	}
	var out []Package
	p := Package{Repo: repo}
	flush := func() error {
		if p.Name != "" {
			if p.Path == "" {
				return fmt.Errorf("package %s %s has no Filename", p.Name, p.Version)
			}
			out = append(out, p)
		}
		p = Package{Repo: repo}
		return nil
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 16<<20) // a Description may be long
	for sc.Scan() {
		line := sc.Text()
		if line == "" {
			if err := flush(); err != nil {
				return nil, err
			}
			continue
		}
		if line[0] == ' ' || line[0] == '\t' {
			continue // a continuation
		}
		k, v, _ := strings.Cut(line, ":")
		v = strings.TrimSpace(v)
		switch k {
		case "Package":
			p.Name = v
		case "Version":
			p.Version = v
		case "Architecture":
			p.Arch = v
		case "SHA256":
			p.SHA256 = strings.ToLower(v)
		case "Filename":
			if p.Path, err = inRepo(repo, v); err != nil {
				return nil, err
			}
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading its Packages: %w", err)
	}
	return out, flush()
}

func rpmPackages(files, repo string) ([]Package, error) {
	dir := filepath.Join(files, repo)
	f, ok, err := open(filepath.Join(dir, "repodata", "repomd.xml"))
	if err != nil || !ok {
		return nil, err // no metadata: not a repository (yet)
	}
	var md struct {
		Data []struct {
			Type     string `xml:"type,attr"`
			Location struct {
				Href string `xml:"href,attr"`
			} `xml:"location"`
		} `xml:"data"`
	}
	err = xml.NewDecoder(f).Decode(&md)
	f.Close()
	if err != nil {
		return nil, fmt.Errorf("reading repodata/repomd.xml: %w", err)
	}
	href := ""
	for _, d := range md.Data {
		if d.Type == "primary" {
			href = d.Location.Href
		}
	}
	if href == "" {
		return nil, errors.New("repodata/repomd.xml names no primary metadata")
	}
	rel, err := inRepo(repo, href)
	if err != nil {
		return nil, err
	}
	pf, ok, err := open(filepath.Join(files, filepath.FromSlash(rel)))
	if err == nil && !ok {
		err = fmt.Errorf("%s: %w", href, fs.ErrNotExist)
	}
	if err != nil {
		return nil, err
	}
	defer pf.Close()
	var r io.Reader = pf
	switch {
	case strings.HasSuffix(href, ".gz"):
		r, err = gzip.NewReader(pf)
	case strings.HasSuffix(href, ".zst"):
		var z *zstdcmd.Reader
		if z, err = zstdcmd.NewReader(context.Background(), pf); err == nil {
			defer z.Close()
			r = z
		}
	case strings.HasSuffix(href, ".bz2"):
		r = bzip2.NewReader(pf)
	case strings.HasSuffix(href, ".xml"):
	default:
		err = fmt.Errorf("%s: compression not supported (gzip, zstd and bzip2 are)", href)
	}
	if err != nil {
		return nil, err
	}
	var out []Package
	dec := xml.NewDecoder(r)
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", href, err)
		}
		se, ok := tok.(xml.StartElement)
		if !ok || se.Name.Local != "package" {
			continue
		}
		var p struct {
			Name    string `xml:"name"`
			Arch    string `xml:"arch"`
			Version struct {
				Epoch string `xml:"epoch,attr"`
				Ver   string `xml:"ver,attr"`
				Rel   string `xml:"rel,attr"`
			} `xml:"version"`
			Checksum struct {
				Type  string `xml:"type,attr"`
				Value string `xml:",chardata"`
			} `xml:"checksum"`
			Location struct {
				Href string `xml:"href,attr"`
			} `xml:"location"`
		}
		if err := dec.DecodeElement(&p, &se); err != nil {
			return nil, fmt.Errorf("reading %s: %w", href, err)
		}
		v := p.Version.Ver
		if p.Version.Rel != "" {
			v += "-" + p.Version.Rel
		}
		if p.Version.Epoch != "" && p.Version.Epoch != "0" {
			v = p.Version.Epoch + ":" + v
		}
		pkg := Package{Repo: repo, Name: p.Name, Version: v, Arch: p.Arch}
		if p.Checksum.Type == "sha256" {
			pkg.SHA256 = strings.ToLower(strings.TrimSpace(p.Checksum.Value))
		}
		if pkg.Path, err = inRepo(repo, p.Location.Href); err != nil {
			return nil, err
		}
		out = append(out, pkg)
	}
}

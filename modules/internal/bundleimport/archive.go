package bundleimport

import (
	"archive/tar"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/tarfile"
)

// openTar reads a tar archive (tarfile.Open); an unreadable compressed archive is refused.
func openTar(archive string) (*tarfile.Reader, func(), error) {
	r, err := tarfile.Open(archive)
	if errors.Is(err, tarfile.ErrCompression) {
		return nil, nil, refused("%s: not a readable tar archive (%v)", archive, err)
	}
	if err != nil {
		return nil, nil, err
	}
	return r, func() { r.Close() }, nil
}

type link struct{ rel, target, name string }

// scanTar checks and hashes every member; nothing is written. An archive with an unsafe
// member is refused whole, naming every such member.
func scanTar(archive string, maxBytes int64) ([]entry, []string, error) {
	label := filepath.Base(archive)
	tr, done, err := openTar(archive)
	if err != nil {
		return nil, nil, err
	}
	defer done()
	var entries []entry
	var unsafe []string
	var links []link
	symlinks := map[string]bool{}
	seen := map[string]bool{}
	var total int64
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, nil, refused("%s: not a readable tar archive (%v)", archive, err)
		}
		if tarfile.Regular(h) {
			total += h.Size // a sparse member counts what it unpacks to
		}
		if maxBytes > 0 && total > maxBytes {
			err := refused("%s: refused, nothing was extracted: with %s (%d bytes) its members unpack to more than "+
				"%d bytes (airgap_import_max_extract_bytes): a damaged or hostile archive, or raise the cap",
				archive, h.Name, h.Size, maxBytes)
			err.(*Refused).Members = []string{fmt.Sprintf("%s (%d bytes, over the cap of %d)", h.Name, h.Size, maxBytes)}
			return nil, nil, err
		}
		rel, ok := tarfile.Clean(h.Name)
		if !ok {
			unsafe = append(unsafe, h.Name+" (absolute path or ..)")
			continue
		}
		rel = stripTop(rel)
		if rel == "" || h.Typeflag == tar.TypeDir {
			continue
		}
		if reserved(rel) {
			unsafe = append(unsafe, h.Name+" (reserved name)")
			continue
		}
		if below := belowLink(rel, symlinks); below != "" {
			unsafe = append(unsafe, fmt.Sprintf("%s (below the symbolic link %s)", h.Name, below))
			continue
		}
		if seen[rel] {
			unsafe = append(unsafe, h.Name+" (appears twice)")
			continue
		}
		seen[rel] = true
		switch {
		case tarfile.Regular(h):
			sum := sha256.New()
			if _, err := io.Copy(sum, tr); err != nil {
				return nil, nil, refused("%s: not a readable tar archive (%v)", archive, err)
			}
			entries = append(entries, entry{rel: rel, sha: hex.EncodeToString(sum.Sum(nil)), origin: label + ":" + h.Name, member: rel})
		case h.Typeflag == tar.TypeSymlink:
			symlinks[rel] = true
			target := path.Clean(path.Join(path.Dir(rel), h.Linkname))
			if strings.HasPrefix(h.Linkname, "/") || target == ".." || strings.HasPrefix(target, "../") {
				unsafe = append(unsafe, fmt.Sprintf("%s (symbolic link to %s, outside the files)", h.Name, h.Linkname))
			} else {
				links = append(links, link{rel, target, h.Name})
			}
		case h.Typeflag == tar.TypeLink:
			target, ok := tarfile.Clean(h.Linkname)
			if ok {
				target = stripTop(target)
			}
			if !ok || target == "" {
				unsafe = append(unsafe, fmt.Sprintf("%s (hard link to %s, outside the files)", h.Name, h.Linkname))
			} else {
				links = append(links, link{rel, target, h.Name})
			}
		default:
			unsafe = append(unsafe, h.Name+" (device, fifo or other special file)")
		}
	}
	if len(unsafe) > 0 {
		err := refused("%s: refused, nothing was extracted: %d unsafe member(s): %s", archive, len(unsafe), strings.Join(unsafe, "; "))
		err.(*Refused).Members = unsafe
		return nil, nil, err
	}
	// Links become copies of the file they name (the bundle gets no links from an archive).
	byRel := map[string]entry{}
	for _, e := range entries {
		byRel[e.rel] = e
	}
	linkTo := map[string]string{}
	for _, l := range links {
		linkTo[l.rel] = l.target
	}
	skipped := []string{}
	for _, l := range links {
		target := l.target
		for hops := 0; hops < 16; hops++ {
			next, ok := linkTo[target]
			if !ok {
				break
			}
			target = next
		}
		if e, ok := byRel[target]; ok {
			entries = append(entries, entry{rel: l.rel, sha: e.sha, origin: label + ":" + l.name, member: e.member})
		} else {
			skipped = append(skipped, fmt.Sprintf("%s (link to %s, not a file of the archive)", l.name, target))
		}
	}
	return entries, skipped, nil
}

// belowLink is the symbolic link (of those seen) that rel lies below, or "".
func belowLink(rel string, symlinks map[string]bool) string {
	var hits []string
	for s := range symlinks {
		if strings.HasPrefix(rel, s+"/") {
			hits = append(hits, s)
		}
	}
	sort.Strings(hits)
	if len(hits) == 0 {
		return ""
	}
	return hits[0]
}

// extract is the second read of the archive: each wanted member to its destinations.
func extract(archive string, wanted map[string][]target, d *filesDir) error {
	tr, done, err := openTar(archive)
	if err != nil {
		return err
	}
	defer done()
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return refused("%s: not a readable tar archive (%v)", archive, err)
		}
		if !tarfile.Regular(h) {
			continue
		}
		rel, ok := tarfile.Clean(h.Name)
		if !ok {
			continue
		}
		dests := wanted[stripTop(rel)]
		if len(dests) == 0 {
			continue
		}
		delete(wanted, stripTop(rel))
		first := dests[0]
		if err := d.placeStream(first.rel, tr, first.sha, archive); err != nil {
			return err
		}
		for _, other := range dests[1:] {
			if _, err := d.placeFile(other.rel, filepath.Join(d.dir, filepath.FromSlash(first.rel)), other.sha, false); err != nil {
				return err
			}
		}
	}
	if len(wanted) > 0 {
		return refused("%s changed while it was read: %s no longer in it", archive, strings.Join(keysOf(wanted), ", "))
	}
	return nil
}

package fetch

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
)

const userAgent = "airgap.kubespray-offline_file_fetch"

// transfer is one HTTP download into an open partial file.
type transfer struct {
	url      string
	received atomic.Int64 // body bytes written in this transfer
}

// errRangeMismatch: a 206 answer whose range does not start where the partial file ends.
var errRangeMismatch = errors.New("server answered a resume with another byte range")

// fetchInto downloads rawURL into part (the open partial file, named name in pr), resuming
// what it holds when that is safe:
//
//   - with a stored validator (strong ETag or Last-Modified), the resume asks If-Range: a
//     changed upstream answers with the whole new file, which replaces the partial one;
//   - without a validator, only when a checksum will verify the result; otherwise the
//     partial file is dropped and the download starts from byte zero;
//   - a 206 answer is appended only if its Content-Range starts at the partial file's size.
//
// It returns whether the download continued the partial file.
func (f *fetcher) fetchInto(ctx context.Context, t *transfer, part *os.File, name string, sum Checksum) (resumed bool, err error) {
	pr, err := f.partialRoot()
	if err != nil {
		return false, err
	}
	for try := 0; try < 2; try++ {
		resumed, err = f.transferOnce(ctx, t, part, name, sum)
		if !errors.Is(err, errRangeMismatch) {
			return resumed, err
		}
		// Drop what the partial file holds and ask for the whole file once more.
		if err := truncate(part); err != nil {
			return false, err
		}
		_ = writeValidator(pr, name, "")
	}
	return false, err
}

func (f *fetcher) transferOnce(ctx context.Context, t *transfer, part *os.File, name string, sum Checksum) (bool, error) {
	pr, _ := f.partialRoot()
	fi, err := part.Stat()
	if err != nil {
		return false, localErr(err)
	}
	size, validator := fi.Size(), readValidator(pr, name)
	if size > 0 && validator == "" && sum.IsZero() {
		// Nothing tells whether the partial bytes come from the file upstream has now.
		if err := truncate(part); err != nil {
			return false, err
		}
		size = 0
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, t.url, nil)
	if err != nil {
		return false, fmt.Errorf("building request: %w", err)
	}
	req.Header.Set("User-Agent", userAgent)
	if size > 0 {
		req.Header.Set("Range", fmt.Sprintf("bytes=%d-", size))
		if validator != "" {
			req.Header.Set("If-Range", validator)
		}
	}
	resp, err := f.client.Do(req)
	if err != nil {
		return false, err
	}
	defer resp.Body.Close()

	resumed := false
	switch {
	case resp.StatusCode == http.StatusPartialContent && size > 0:
		start, _, ok := contentRange(resp.Header.Get("Content-Range"))
		if !ok || start != size {
			return false, fmt.Errorf("%w (asked from byte %d, got %q)", errRangeMismatch, size, resp.Header.Get("Content-Range"))
		}
		if !sameVersion(validator, resp) {
			return false, fmt.Errorf("%w (the answer names another version than %s)", errRangeMismatch, validator)
		}
		resumed = true
	case resp.StatusCode == http.StatusRequestedRangeNotSatisfiable && size > 0:
		// The partial file is as long as the remote one (complete: the checksum or the
		// validator the request carried vouches for it) or longer (stale: start over).
		if _, total, ok := contentRange(resp.Header.Get("Content-Range")); ok && total == size {
			return true, nil
		}
		return false, fmt.Errorf("%w (asked from byte %d, answered %s)", errRangeMismatch, size, resp.Status)
	case resp.StatusCode == http.StatusOK:
		// A fresh download, or a resume the server answered with the whole (maybe new) file.
		if size > 0 {
			if err := truncate(part); err != nil {
				return false, err
			}
		}
		if err := writeValidator(pr, name, validatorOf(resp)); err != nil {
			return false, localErr(err)
		}
	default:
		return false, StatusError(resp.StatusCode)
	}

	if _, err := part.Seek(0, io.SeekEnd); err != nil {
		return false, localErr(err)
	}
	n, err := io.CopyBuffer(&countingWriter{w: part, n: &t.received}, struct{ io.Reader }{resp.Body}, make([]byte, 256<<10))
	if err != nil {
		return resumed, err
	}
	if resp.ContentLength >= 0 && n != resp.ContentLength {
		return resumed, fmt.Errorf("got %d of %d bytes: %w", n, resp.ContentLength, io.ErrUnexpectedEOF)
	}
	return resumed, nil
}

// validatorOf is what a later resume may send as If-Range: a strong ETag, else Last-Modified
// (a weak ETag cannot be used there).
func validatorOf(resp *http.Response) string {
	if e := strings.TrimSpace(resp.Header.Get("ETag")); strings.HasPrefix(e, `"`) && len(e) <= 512 {
		return e
	}
	if lm := strings.TrimSpace(resp.Header.Get("Last-Modified")); lm != "" && len(lm) <= 64 {
		if _, err := http.ParseTime(lm); err == nil {
			return lm
		}
	}
	return ""
}

// sameVersion tells whether a 206 answer may continue a download started from validator: it
// may not when it names another version (a server that ignored If-Range).
func sameVersion(validator string, resp *http.Response) bool {
	if validator == "" {
		return true
	}
	if strings.HasPrefix(validator, `"`) {
		e := strings.TrimSpace(resp.Header.Get("ETag"))
		return e == "" || e == validator
	}
	lm := strings.TrimSpace(resp.Header.Get("Last-Modified"))
	return lm == "" || lm == validator
}

// contentRange reads "bytes <start>-<end>/<total>" or "bytes */<total>"; total is -1 when
// unknown ("*"), start -1 for the unsatisfied form.
func contentRange(h string) (start, total int64, ok bool) {
	rest, found := strings.CutPrefix(strings.TrimSpace(h), "bytes ")
	if !found {
		return 0, 0, false
	}
	span, tot, found := strings.Cut(rest, "/")
	if !found {
		return 0, 0, false
	}
	total = -1
	if tot != "*" {
		t, err := strconv.ParseInt(tot, 10, 64)
		if err != nil || t < 0 {
			return 0, 0, false
		}
		total = t
	}
	if span == "*" {
		return -1, total, true
	}
	s, e, found := strings.Cut(span, "-")
	if !found {
		return 0, 0, false
	}
	start, err1 := strconv.ParseInt(s, 10, 64)
	end, err2 := strconv.ParseInt(e, 10, 64)
	if err1 != nil || err2 != nil || start < 0 || end < start {
		return 0, 0, false
	}
	return start, total, true
}

func truncate(f *os.File) error {
	if err := f.Truncate(0); err != nil {
		return localErr(err)
	}
	return nil
}

// localError marks a failure of the local file system (a full disk, a denied write): it
// fails the item at once, as retrying cannot help.
type localError struct{ err error }

func (e localError) Error() string { return e.err.Error() }
func (e localError) Unwrap() error { return e.err }

func localErr(err error) error {
	if err == nil {
		return nil
	}
	return localError{err}
}

// countingWriter writes to w, counting bytes in n; its write errors are local ones.
type countingWriter struct {
	w io.Writer
	n *atomic.Int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n.Add(int64(n))
	return n, localErr(err)
}

package fetch

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/cavaliergopher/grab/v3"
)

const userAgent = "airgap.kubespray-offline_file_fetch"

// transfer is one item's download into its open partial file, by grab; it counts the body
// bytes received for the progress.
type transfer struct {
	url      string
	received atomic.Int64             // body bytes of finished grab transfers
	live     atomic.Pointer[liveGrab] // the grab transfer running, if any
}

type liveGrab struct {
	resp *grab.Response
	base int64 // bytes grab counts as complete that it did not receive (the resumed part)
}

// bytes is what the transfer received so far, the running grab transfer included.
func (t *transfer) bytes() int64 {
	n := t.received.Load()
	if l := t.live.Load(); l != nil {
		n += max(l.resp.BytesComplete()-l.base, 0)
	}
	return n
}

// errRangeMismatch: an answer that cannot continue the partial file (another byte range,
// another version, a remote file shorter than the partial one): it is emptied and the whole
// file asked for once more.
var errRangeMismatch = errors.New("server answered a resume with another byte range")

// fetchInto downloads rawURL into part (the open partial file, named name in pr), resuming
// what it holds when that is safe:
//
//   - with a stored validator (strong ETag or Last-Modified), the resume asks If-Range: a
//     changed upstream answers with the whole new file, which replaces the partial one;
//   - without a validator, only when a checksum will verify the result; otherwise the
//     partial file is dropped and the download starts from byte zero;
//   - a 206 answer is appended only if its Content-Range starts at the partial file's size
//     and it names the stored version.
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

// transferOnce is one grab transfer into part. grab writes through the name of part's open
// descriptor (fdPath), never through a path in dest: the file it appends to or truncates is
// the one openPartialFile checked. grab asks HEAD before resuming, then sends Range from the
// partial file's size; the validator rides along as If-Range, and beforeCopy judges the
// answer before a byte is written.
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
	file, err := fdPath(part)
	if err != nil {
		return false, err
	}
	req, err := grab.NewRequest(file, t.url)
	if err != nil {
		return false, fmt.Errorf("building request: %w", err)
	}
	req = req.WithContext(ctx)
	req.NoCreateDirectories = true // the partial file exists: nothing to create
	req.IgnoreRemoteTime = true    // its mtime tells when it was last written (orphanAge)
	req.NoResume = size == 0       // an empty partial file: a plain GET, no HEAD
	req.HTTPRequest.Header.Set("User-Agent", userAgent)
	if size > 0 && validator != "" {
		req.HTTPRequest.Header.Set("If-Range", validator)
	}
	req.BeforeCopy = func(resp *grab.Response) error {
		return beforeCopy(resp, part, pr, name, size, validator)
	}

	g := &grab.Client{HTTPClient: f.client, UserAgent: userAgent, BufferSize: 256 << 10}
	resp := g.Do(req)
	l := &liveGrab{resp: resp}
	if resp.DidResume {
		l.base = size
	}
	t.live.Store(l)
	<-resp.Done
	t.live.Store(nil)
	got := max(resp.BytesComplete()-l.base, 0)
	t.received.Add(got)
	return grabResult(resp, file, size, validator, got)
}

// beforeCopy judges the answer to a GET before grab writes its body: a resume may only
// continue with the range asked for, of the version the partial file holds; a whole file
// replaces what the partial file held.
func beforeCopy(resp *grab.Response, part *os.File, pr *os.Root, name string, size int64, validator string) error {
	h := resp.HTTPResponse
	switch {
	case resp.DidResume && h.StatusCode == http.StatusPartialContent:
		if start, _, ok := contentRange(h.Header.Get("Content-Range")); !ok || start != size {
			return fmt.Errorf("%w (asked from byte %d, got %q)", errRangeMismatch, size, h.Header.Get("Content-Range"))
		}
		if !sameVersion(validator, h) {
			return fmt.Errorf("%w (the answer names another version than %s)", errRangeMismatch, validator)
		}
		return nil
	case h.StatusCode == http.StatusOK:
		// A fresh download, or a resume the server answered with the whole (maybe new) file.
		// grab opened the file for appending when it asked a range: empty it here.
		if resp.DidResume {
			if err := truncate(part); err != nil {
				return err
			}
		}
		if err := writeValidator(pr, name, validatorOf(h)); err != nil {
			return localErr(err)
		}
		return nil
	}
	return StatusError(h.StatusCode)
}

// grabResult turns a finished grab transfer into (resumed, error): grab's errors in the
// package's terms, a resume grab completed by its HEAD answer alone checked against the
// validator, a short body reported.
func grabResult(resp *grab.Response, file string, size int64, validator string, got int64) (bool, error) {
	err := resp.Err()
	h := resp.HTTPResponse
	var code grab.StatusCodeError
	var pathErr *fs.PathError
	switch {
	case errors.As(err, &code):
		if int(code) == http.StatusRequestedRangeNotSatisfiable && resp.DidResume {
			// The partial file is as long as the remote one (complete: the checksum or the
			// validator the request carried vouches for it) or longer (stale: start over).
			if _, total, ok := contentRange(h.Header.Get("Content-Range")); ok && total == size {
				return true, nil
			}
			return false, fmt.Errorf("%w (asked from byte %d, answered %d)", errRangeMismatch, size, int(code))
		}
		return false, StatusError(int(code))
	case errors.Is(err, grab.ErrBadLength):
		return false, fmt.Errorf("%w (the remote file is shorter than the %d bytes held)", errRangeMismatch, size)
	case errors.As(err, &pathErr) && pathErr.Path == file, errors.Is(err, io.ErrShortWrite):
		return resp.DidResume, localErr(err) // writing the partial file failed
	case err != nil:
		return resp.DidResume, err
	}
	if h.Request.Method == http.MethodHead {
		// grab found the partial file as long as the remote one and asked nothing more.
		// Without a validator the checksum verifies it; with one, HEAD must name it.
		if validator != "" && validatorOf(h) != validator {
			return false, fmt.Errorf("%w (a complete partial file of another version than %s)", errRangeMismatch, validator)
		}
		return true, nil
	}
	if h.ContentLength >= 0 && got != h.ContentLength {
		return resp.DidResume, fmt.Errorf("got %d of %d bytes: %w", got, h.ContentLength, io.ErrUnexpectedEOF)
	}
	return resp.DidResume && h.StatusCode == http.StatusPartialContent, nil
}

// fdPath is a name of the open file f that leads to f itself, not through any folder: grab,
// which opens its file by name, then writes to the file openPartialFile checked even if the
// partial folder changed meanwhile. On Linux (the modules' targets) /proc/self/fd/<n> reopens
// the very inode; elsewhere /dev/fd/<n> duplicates the descriptor (a shared offset, which
// grab's seek before writing and truncate's seek make safe). A name that does not lead to f
// (no /proc) is refused.
func fdPath(f *os.File) (string, error) {
	dir := "/dev/fd"
	if runtime.GOOS == "linux" {
		dir = "/proc/self/fd"
	}
	p := dir + "/" + strconv.FormatUint(uint64(f.Fd()), 10)
	held, err := f.Stat()
	if err != nil {
		return "", localErr(err)
	}
	if via, err := os.Stat(p); err != nil || !os.SameFile(via, held) {
		return "", localErr(fmt.Errorf("%s cannot be reached through %s (is /proc mounted?): refused: %w", f.Name(), p, ErrUnsafePath))
	}
	return p, nil
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

// truncate empties the partial file and rewinds its offset.
func truncate(f *os.File) error {
	if err := f.Truncate(0); err != nil {
		return localErr(err)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
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

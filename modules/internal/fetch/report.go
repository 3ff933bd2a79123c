package fetch

import (
	"fmt"
	"strings"

	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/progress"
)

// Changed reports whether any item was (or, in a dry run, would be) fetched.
func (r *Report) Changed() bool {
	for _, it := range r.Items {
		if it.Status == StatusFetched || it.Status == StatusWouldFetch {
			return true
		}
	}
	return false
}

// Failures lists the failed items.
func (r *Report) Failures() []ItemResult {
	var out []ItemResult
	for _, it := range r.Items {
		if it.Status == StatusFailed {
			out = append(out, it)
		}
	}
	return out
}

// Summary is a one-line account of the report, naming up to three failures.
func (r *Report) Summary() string {
	t := r.Totals
	would := 0
	for _, it := range r.Items {
		if it.Status == StatusWouldFetch {
			would++
		}
	}
	var s string
	if would > 0 || (t.Fetched == 0 && t.Failed == 0 && t.Skipped < t.Items) {
		s = fmt.Sprintf("would fetch %d, skipped %d, failed %d of %d items", would, t.Skipped, t.Failed, t.Items)
	} else {
		s = fmt.Sprintf("fetched %d, skipped %d, failed %d of %d items (%s in %.2fs)",
			t.Fetched, t.Skipped, t.Failed, t.Items, progress.Bytes(t.Bytes), t.Seconds)
	}
	fails := r.Failures()
	if len(fails) == 0 {
		return s
	}
	var msgs []string
	for i, f := range fails {
		if i == 3 {
			msgs = append(msgs, fmt.Sprintf("and %d more (see failed_items)", len(fails)-3))
			break
		}
		msgs = append(msgs, f.Msg)
	}
	return s + ": " + strings.Join(msgs, "; ")
}

// DiffLines returns, for a diff display, the changed paths as they were and as they will be.
func (r *Report) DiffLines() (before, after string) {
	var b, a strings.Builder
	for _, it := range r.Items {
		switch it.Status {
		case StatusFetched, StatusWouldFetch:
			if it.Replaced {
				fmt.Fprintf(&b, "%s (other content)\n", it.Path)
			}
			if it.SHA256 != "" {
				fmt.Fprintf(&a, "%s sha256:%s\n", it.Path, it.SHA256)
			} else {
				fmt.Fprintf(&a, "%s\n", it.Path)
			}
		}
	}
	return b.String(), a.String()
}

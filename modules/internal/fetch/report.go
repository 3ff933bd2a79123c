package fetch

import (
	"fmt"
	"strings"

	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/progress"
	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/report"
)

// ItemStatus, ItemMsg and FailedItem make an ItemResult a report.Item.
func (r ItemResult) ItemStatus() Status { return r.Status }

// ItemMsg is the item's message (why it failed).
func (r ItemResult) ItemMsg() string { return r.Msg }

// FailedItem is the item's entry in failed_items.
func (r ItemResult) FailedItem() map[string]string {
	return map[string]string{"url": r.URL, "path": r.Path, "msg": r.Msg}
}

func (r *Report) list() report.List[ItemResult] { return r.Items }

// Changed reports whether any item was (or, in a dry run, would be) fetched.
func (r *Report) Changed() bool { return r.list().Any(StatusFetched, StatusWouldFetch) }

// Failures lists the failed items.
func (r *Report) Failures() []ItemResult { return r.list().Failures() }

// FailedItems is the module's failed_items (url, path, msg).
func (r *Report) FailedItems() []map[string]string { return r.list().FailedItems() }

// Summary is a one-line account of the report, naming up to three failures.
func (r *Report) Summary() string {
	t := r.Totals
	held := ""
	if t.Held > 0 {
		held = fmt.Sprintf(", held by the site %d", t.Held)
	}
	would := r.list().Count(StatusWouldFetch)
	if would > 0 || (t.Fetched == 0 && t.Failed == 0 && t.Skipped+t.Held < t.Items) {
		return r.list().Summary(fmt.Sprintf("would fetch %d, skipped %d%s, failed %d of %d items", would, t.Skipped, held, t.Failed, t.Items))
	}
	return r.list().Summary(fmt.Sprintf("fetched %d, skipped %d%s, failed %d of %d items (%s in %.2fs)",
		t.Fetched, t.Skipped, held, t.Failed, t.Items, progress.Bytes(t.Bytes), t.Seconds))
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

// Package report is the one shape of the per-item account the file and image modules return
// (offline_file_fetch, offline_image_pull, offline_image_push): every item with its status,
// and its message when it failed; "totals", counting the items per status; "failed_items",
// naming the failed ones; and a one-line msg ending with up to three failure messages.
//
// fetch, imagepull and imagepush keep their own item fields and status words (an item type
// implements Item); counting, listing failures and the msg's failure tail are done here only.
package report

import (
	"fmt"
	"strings"
)

// Status is what happened to one item; each package names its own statuses, but a failure is
// Failed everywhere.
type Status string

// Failed is the status of an item that failed (its message says why).
const Failed Status = "failed"

// Item is one item's result.
type Item interface {
	ItemStatus() Status
	ItemMsg() string
	// FailedItem is the item's entry in failed_items: the fields naming it, and "msg".
	FailedItem() map[string]string
}

// List is a run's results, one per item, in input order.
type List[T Item] []T

// Count returns how many items have one of statuses.
func (l List[T]) Count(statuses ...Status) int {
	n := 0
	for _, it := range l {
		for _, s := range statuses {
			if it.ItemStatus() == s {
				n++
				break
			}
		}
	}
	return n
}

// Any reports whether an item has one of statuses (for "changed": the statuses that write).
func (l List[T]) Any(statuses ...Status) bool { return l.Count(statuses...) > 0 }

// Failures lists the failed items.
func (l List[T]) Failures() []T {
	var out []T
	for _, it := range l {
		if it.ItemStatus() == Failed {
			out = append(out, it)
		}
	}
	return out
}

// FailedItems is the module's failed_items: never nil, empty when all succeeded.
func (l List[T]) FailedItems() []map[string]string {
	out := []map[string]string{}
	for _, it := range l.Failures() {
		out = append(out, it.FailedItem())
	}
	return out
}

// Totals is the module's totals: noun (e.g. "images") counts every item, each of counted and
// "failed" the items with that status, "bytes" and "seconds" the run's.
func (l List[T]) Totals(noun string, bytes int64, seconds float64, counted ...Status) map[string]any {
	t := map[string]any{noun: len(l), string(Failed): l.Count(Failed), "bytes": bytes, "seconds": seconds}
	for _, s := range counted {
		t[string(s)] = l.Count(s)
	}
	return t
}

// MaxMsgs is how many failure messages a summary names; failed_items has them all.
const MaxMsgs = 3

// Summary is head, followed when items failed by ": " and up to MaxMsgs of their messages.
func (l List[T]) Summary(head string) string {
	fails := l.Failures()
	if len(fails) == 0 {
		return head
	}
	var msgs []string
	for i, f := range fails {
		if i == MaxMsgs {
			msgs = append(msgs, fmt.Sprintf("and %d more (see failed_items)", len(fails)-MaxMsgs))
			break
		}
		msgs = append(msgs, f.ItemMsg())
	}
	return head + ": " + strings.Join(msgs, "; ")
}

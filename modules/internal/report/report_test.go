package report_test

import (
	"reflect"
	"testing"

	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/report"
)

type item struct {
	name   string
	status report.Status
	msg    string
}

func (i item) ItemStatus() report.Status { return i.status }
func (i item) ItemMsg() string           { return i.msg }
func (i item) FailedItem() map[string]string {
	return map[string]string{"name": i.name, "msg": i.msg}
}

func TestListCountsFailuresAndSummary(t *testing.T) {
	l := report.List[item]{
		{"a", "done", ""}, {"b", report.Failed, "b: broken"}, {"c", "skipped", ""},
		{"d", report.Failed, "d: 503"}, {"e", report.Failed, "e: 404"}, {"f", report.Failed, "f: stalled"},
	}
	if l.Count("done", "skipped") != 2 || !l.Any("done") || l.Any("would_do") {
		t.Errorf("Count/Any wrong")
	}
	want := map[string]any{"items": 6, "done": 1, "skipped": 1, "failed": 4, "bytes": int64(7), "seconds": 1.5}
	if got := l.Totals("items", 7, 1.5, "done", "skipped"); !reflect.DeepEqual(got, want) {
		t.Errorf("Totals = %v, want %v", got, want)
	}
	fi := l.FailedItems()
	if len(fi) != 4 || fi[0]["name"] != "b" || fi[3]["msg"] != "f: stalled" {
		t.Errorf("FailedItems = %v", fi)
	}
	if got := l.Summary("did 1"); got != "did 1: b: broken; d: 503; e: 404; and 1 more (see failed_items)" {
		t.Errorf("Summary = %q", got)
	}
	ok := report.List[item]{{"a", "done", ""}}
	if got := ok.Summary("did 1"); got != "did 1" || len(ok.FailedItems()) != 0 || ok.FailedItems() == nil {
		t.Errorf("no failures: %q, %v", got, ok.FailedItems())
	}
}

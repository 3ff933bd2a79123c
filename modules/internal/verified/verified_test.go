package verified_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/verified"
)

func TestRecordFollowsTheFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(p, []byte("abc"), 0o644); err != nil {
		t.Fatal(err)
	}
	verified.Store(p, verified.Record{Size: 3, SHA256: "aa", SHA512: "bb"})
	fi, _ := os.Stat(p)
	r, ok := verified.Lookup(p, fi)
	if !ok {
		t.Skip("extended attributes are not supported here")
	}
	if r.SHA256 != "aa" || r.SHA512 != "bb" || r.Size != 3 {
		t.Errorf("record = %+v", r)
	}
	// A write changes the mtime: the record no longer applies.
	time.Sleep(10 * time.Millisecond)
	if err := os.WriteFile(p, []byte("xyz"), 0o644); err != nil {
		t.Fatal(err)
	}
	fi, _ = os.Stat(p)
	if _, ok := verified.Lookup(p, fi); ok {
		t.Error("a record survived a write")
	}
	// A record for another size is not stored at all.
	verified.Store(p, verified.Record{Size: 99, SHA256: "cc"})
	fi, _ = os.Stat(p)
	if _, ok := verified.Lookup(p, fi); ok {
		t.Error("a record with the wrong size was stored")
	}
}

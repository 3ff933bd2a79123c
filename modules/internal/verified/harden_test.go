package verified_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/verified"
)

// TestRecordRejectsRewriteWithRestoredMtime: a byte flipped in place, same size, mtime set
// back: the record must not vouch for the file any more. An untouched file keeps its record.
func TestRecordRejectsRewriteWithRestoredMtime(t *testing.T) {
	p := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(p, []byte("abcdef"), 0o644); err != nil {
		t.Fatal(err)
	}
	verified.Store(p, verified.Record{Size: 6, SHA256: "aa"})
	fi, _ := os.Stat(p)
	if _, ok := verified.Lookup(p, fi); !ok {
		t.Skip("extended attributes are not supported here")
	}
	time.Sleep(200 * time.Millisecond) // past the record's ctime window
	fi, _ = os.Stat(p)
	if _, ok := verified.Lookup(p, fi); !ok {
		t.Fatal("an untouched file lost its record")
	}
	f, err := os.OpenFile(p, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte("X"), 2); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if err := os.Chtimes(p, fi.ModTime(), fi.ModTime()); err != nil {
		t.Fatal(err)
	}
	fi2, _ := os.Stat(p)
	if fi2.Size() != fi.Size() || !fi2.ModTime().Equal(fi.ModTime()) {
		t.Fatal("test setup: size or mtime differ")
	}
	if _, ok := verified.Lookup(p, fi2); ok {
		t.Error("the record still vouches for a rewritten file whose mtime was restored")
	}
}

package ocistore_test

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/ocistore"
)

// When set, the test binary is a child process adding images to a layout (see
// TestConcurrentProcessesKeepEveryEntry).
const childEnv = "OCISTORE_TEST_CHILD"

func TestMain(m *testing.M) {
	if spec := os.Getenv(childEnv); spec != "" {
		var c struct {
			Root, Prefix string
			N            int
		}
		if err := json.Unmarshal([]byte(spec), &c); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		s, err := ocistore.Open(c.Root, true)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		desc, err := s.WriteBytes(types.OCIManifestSchema1, []byte(`{"schemaVersion":2}`))
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		for i := 0; i < c.N; i++ {
			if err := s.Put(fmt.Sprintf("example.com/%s:%d", c.Prefix, i), "", desc); err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(1)
			}
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// Two processes adding different images to one layout at the same time, many times: every
// entry must be in index.json afterwards (issue 12, item 4).
func TestConcurrentProcessesKeepEveryEntry(t *testing.T) {
	root := filepath.Join(t.TempDir(), "layout")
	const n = 60
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for p := 0; p < 2; p++ {
		wg.Add(1)
		go func(p int) {
			defer wg.Done()
			spec, _ := json.Marshal(map[string]any{"Root": root, "Prefix": "p" + strconv.Itoa(p), "N": n})
			cmd := exec.Command(os.Args[0], "-test.run=^$")
			cmd.Env = append(os.Environ(), childEnv+"="+string(spec))
			if out, err := cmd.CombinedOutput(); err != nil {
				errs[p] = fmt.Errorf("child %d: %v: %s", p, err, out)
			}
		}(p)
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	s, err := ocistore.Open(root, false)
	if err != nil {
		t.Fatal(err)
	}
	entries, err := s.Entries()
	if err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{}
	for _, e := range entries {
		have[e.Ref] = true
	}
	var missing []string
	for p := 0; p < 2; p++ {
		for i := 0; i < n; i++ {
			if ref := fmt.Sprintf("example.com/p%d:%d", p, i); !have[ref] {
				missing = append(missing, ref)
			}
		}
	}
	if len(missing) > 0 || len(entries) != 2*n {
		t.Fatalf("index.json has %d entries, want %d; lost %d: %v", len(entries), 2*n, len(missing), missing)
	}
}

// Two Store values in one process (two open file descriptions of the lock) behave the same.
func TestTwoStoreValuesKeepEveryEntry(t *testing.T) {
	root := filepath.Join(t.TempDir(), "layout")
	stores := make([]*ocistore.Store, 2)
	for i := range stores {
		s, err := ocistore.Open(root, true)
		if err != nil {
			t.Fatal(err)
		}
		stores[i] = s
	}
	desc, err := stores[0].WriteBytes(types.OCIManifestSchema1, []byte(`{"schemaVersion":2}`))
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for p, s := range stores {
		wg.Add(1)
		go func(p int, s *ocistore.Store) {
			defer wg.Done()
			for i := 0; i < 100; i++ {
				if err := s.Put(fmt.Sprintf("example.com/s%d:%d", p, i), "", desc); err != nil {
					t.Error(err)
				}
			}
		}(p, s)
	}
	wg.Wait()
	entries, _ := stores[1].Entries()
	if len(entries) != 200 {
		t.Fatalf("index.json has %d entries, want 200", len(entries))
	}
}

// Leftovers of a killed run are removed when old and unlocked; a blob being written by a live
// process (locked) and fresh leftovers are kept.
func TestCleanRemovesOnlyStaleUnlockedLeftovers(t *testing.T) {
	root := filepath.Join(t.TempDir(), "layout")
	s, err := ocistore.Open(root, true)
	if err != nil {
		t.Fatal(err)
	}
	blobs := filepath.Join(root, "blobs", "sha256")
	old := time.Now().Add(-2 * time.Hour)
	mk := func(p string, age time.Time) string {
		if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, age, age); err != nil {
			t.Fatal(err)
		}
		return p
	}
	orphan := mk(filepath.Join(blobs, ".partial-111"), old)
	fresh := mk(filepath.Join(blobs, ".partial-222"), time.Now())
	held := mk(filepath.Join(blobs, ".partial-333"), old)
	tmpIndex := mk(filepath.Join(root, ".tmp-444"), old)
	blob := mk(filepath.Join(blobs, "0000"), old) // a blob is never a leftover
	release, err := ocistore.Hold(held)
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	// Open with create (what a pull does) cleans.
	if _, err := ocistore.Open(root, true); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{orphan, tmpIndex} {
		if _, err := os.Lstat(p); !os.IsNotExist(err) {
			t.Errorf("stale leftover %s was kept", p)
		}
	}
	for _, p := range []string{fresh, held, blob} {
		if _, err := os.Lstat(p); err != nil {
			t.Errorf("%s was removed: %v", p, err)
		}
	}
	// A folder of another kind beside the layout, removed only through a pattern asked for.
	imp := filepath.Join(filepath.Dir(root), ".import-555")
	if err := os.MkdirAll(filepath.Join(imp, "x"), 0o755); err != nil {
		t.Fatal(err)
	}
	_ = os.Chtimes(imp, old, old)
	removed, err := s.RemoveStale(filepath.Dir(root), ".import-*")
	if err != nil || len(removed) != 1 || removed[0] != imp {
		t.Fatalf("RemoveStale = %v, %v; want [%s]", removed, err, imp)
	}
	if _, err := s.RemoveStale(filepath.Dir(root), "*"); err == nil {
		t.Error("RemoveStale accepted a pattern that is not a hidden temporary name")
	}
}

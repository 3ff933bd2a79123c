package pool_test

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/pool"
)

// Every item runs once, never more than limit at once, and each result lands in its own slot
// (input order) even when later items finish first.
func TestEachBoundsAndKeepsOrder(t *testing.T) {
	const n, limit = 20, 3
	var running, peak atomic.Int32
	out := make([]int, n)
	pool.Each(n, limit, func(i int) {
		cur := running.Add(1)
		for {
			p := peak.Load()
			if cur <= p || peak.CompareAndSwap(p, cur) {
				break
			}
		}
		time.Sleep(time.Duration(n-i) * time.Millisecond) // later items finish first
		out[i] = i * i
		running.Add(-1)
	})
	for i, v := range out {
		if v != i*i {
			t.Fatalf("out[%d] = %d, want %d", i, v, i*i)
		}
	}
	if p := peak.Load(); p > limit || p < 2 {
		t.Errorf("peak concurrency %d, want 2..%d", p, limit)
	}
	calls := 0
	pool.Each(4, 0, func(int) { calls++ }) // limit <= 0: one at a time, not a hang
	if calls != 4 {
		t.Errorf("limit 0: %d calls, want 4", calls)
	}
}

package filefetch

import (
	"os"
	"testing"
)

func TestArgConversions(t *testing.T) {
	for in, want := range map[any]os.FileMode{nil: 0o644, "0755": 0o755, "750": 0o750, 493.0: 0o755} {
		if got, err := parseMode(in); err != nil || got != want {
			t.Errorf("parseMode(%v) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []any{"rwx", "99", "017777", []any{}} {
		if _, err := parseMode(bad); err == nil {
			t.Errorf("parseMode(%v) accepted", bad)
		}
	}
}

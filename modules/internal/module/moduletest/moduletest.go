// Package moduletest runs a binary module in a test as ansible-core does: the arguments in one
// JSON file named by the only command-line argument, one JSON object on stdout.
package moduletest

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/module"
)

// Run writes args to a file, runs m on it, checks that stdout is one line of JSON and returns
// it decoded, with the raw stdout.
func Run(t *testing.T, m *module.Module, args map[string]any) (map[string]any, string) {
	t.Helper()
	b, err := json.Marshal(args)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "args")
	if err := os.WriteFile(file, b, 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	module.Execute(context.Background(), m, []string{file}, &out, &errOut)
	var res map[string]any
	if err := json.Unmarshal(out.Bytes(), &res); err != nil {
		t.Fatalf("stdout is not one JSON object: %v\n%s%s", err, out.String(), errOut.String())
	}
	if strings.Count(strings.TrimSpace(out.String()), "\n") != 0 {
		t.Errorf("stdout has more than one line:\n%s", out.String())
	}
	return res, out.String()
}

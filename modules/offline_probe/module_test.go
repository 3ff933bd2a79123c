package probemod_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/module"
	probemod "github.com/airgap-kubespray/airgap.kubespray/modules/offline_probe"
)

// run runs the module from its command line (the flags its spec makes) and decodes the result.
func run(t *testing.T, args ...string) (map[string]any, int) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := module.Execute(context.Background(), probemod.Module, args, &out, &errOut)
	var res map[string]any
	if err := json.Unmarshal(out.Bytes(), &res); err != nil {
		t.Fatalf("stdout is not one JSON object: %v\n%s%s", err, out.String(), errOut.String())
	}
	return res, code
}

// The result's shape, in check mode as well (the probes only read): one entry per probe,
// the failed ones again under failed_probes, a table, never changed.
func TestResult(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/runc" {
			http.NotFound(w, r)
			return
		}
		w.Write([]byte("runc"))
	}))
	defer srv.Close()
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "etc/os-release"), []byte("ID=debian\nVERSION_ID=\"12\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, check := range []bool{false, true} {
		args := []string{"--root", root, "--file-url", srv.URL + "/runc"}
		if check {
			args = append(args, "--check")
		}
		res, code := run(t, args...)
		if code != 0 || res["failed"] == true || res["changed"] != false {
			t.Fatalf("check=%v: exit %d, result %v", check, code, res)
		}
		var got []string
		for _, p := range res["probes"].([]any) {
			p := p.(map[string]any)
			got = append(got, p["probe"].(string)+" "+p["status"].(string))
		}
		if strings.Join(got, ", ") != "files ok, packages skipped, containerd skipped" {
			t.Errorf("check=%v: probes %v", check, got)
		}
		if table := res["table"].([]any); len(table) != 4 || !strings.HasPrefix(table[0].(string), "PROBE") {
			t.Errorf("table %v", table)
		}
		if fp := res["failed_probes"].([]any); len(fp) != 0 {
			t.Errorf("failed_probes %v", fp)
		}
	}

	res, code := run(t, "--root", root, "--probes", "files", "--file-url", srv.URL+"/crictl")
	fp, _ := res["failed_probes"].([]any)
	if code == 0 || res["failed"] != true || len(fp) != 1 || fp[0].(map[string]any)["probe"] != "files" {
		t.Fatalf("a missing file: exit %d, result %v", code, res)
	}
	if msg := res["msg"].(string); !strings.Contains(msg, "the node cannot reach the mirror: files: ") || !strings.Contains(msg, "HTTP 404") {
		t.Errorf("msg %q", msg)
	}
}

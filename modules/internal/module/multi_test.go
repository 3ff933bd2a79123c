package module_test

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

func TestModuleName(t *testing.T) {
	for in, want := range map[string]string{
		"AnsiballZ_offline_file_fetch_linux_amd64":        "offline_file_fetch",
		"airgap.kubespray.offline_image_push_linux_arm64": "offline_image_push",
		"offline_file_fetch":                              "offline_file_fetch",
		"airgap":                                          "airgap",
	} {
		if got := module.ModuleName(in); got != want {
			t.Errorf("ModuleName(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestExecuteMultiRoutes(t *testing.T) {
	mk := func(name string) *module.Module {
		return &module.Module{Name: name, Spec: module.Spec{Options: []module.Option{{Name: "x"}}},
			Run: func(context.Context, *module.Invocation) (*module.Result, error) {
				return &module.Result{Msg: "ran " + name}, nil
			}}
	}
	mods := []*module.Module{mk("one"), mk("two")}
	args := filepath.Join(t.TempDir(), "args")
	if err := os.WriteFile(args, []byte(`{"_ansible_module_name": "airgap.kubespray.two_linux_amd64"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		argv []string
		want string
		code int
	}{
		{[]string{"/tmp/x/AnsiballZ_one_linux_amd64", args}, "ran one", 0},
		{[]string{"/usr/local/bin/two"}, "ran two", 0},
		{[]string{"airgap_linux_amd64", "one"}, "ran one", 0},
		{[]string{"airgap_linux_amd64", args}, "ran two", 0},
		{[]string{"airgap_linux_amd64"}, "", 2},
		{[]string{"airgap_linux_amd64", "three"}, "", 2},
	} {
		var out, errOut bytes.Buffer
		code := module.ExecuteMulti(context.Background(), mods, tc.argv, &out, &errOut)
		if code != tc.code {
			t.Errorf("%v: exit %d, want %d (%s)", tc.argv, code, tc.code, errOut.String())
		}
		if tc.want == "" {
			if !strings.Contains(errOut.String(), "modules: one, two") {
				t.Errorf("%v: usage lacks the module list: %q", tc.argv, errOut.String())
			}
			continue
		}
		var res map[string]any
		if err := json.Unmarshal(out.Bytes(), &res); err != nil || res["msg"] != tc.want {
			t.Errorf("%v: result %s, want msg %q", tc.argv, out.String(), tc.want)
		}
	}
}

package module_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/module"
	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/module/moduletest"
)

var spec = module.Spec{
	Options: []module.Option{
		{Name: "name", Required: true, Aliases: []string{"n"}},
		{Name: "count", Type: module.TypeInt, Default: 4, Short: "c"},
		{Name: "ratio", Type: module.TypeFloat},
		{Name: "enabled", Type: module.TypeBool, Default: true},
		{Name: "dest", Type: module.TypePath},
		{Name: "state", Default: "present", Choices: []any{"present", "absent"}},
		{Name: "tags", Type: module.TypeList, Elements: module.TypeStr},
		{Name: "ports", Type: module.TypeList, Elements: module.TypeInt},
		{Name: "checks", Type: module.TypeList, Elements: module.TypeStr, Choices: []any{"files", "images"}},
		{Name: "labels", Type: module.TypeDict},
		{Name: "password", NoLog: true},
		{Name: "token", NoLog: true},
		{Name: "items", Type: module.TypeList, Elements: module.TypeDict, Options: []module.Option{
			{Name: "url", Required: true},
			{Name: "secret", NoLog: true},
			{Name: "checksum", Default: ""},
		}},
	},
	MutuallyExclusive: [][]string{{"password", "token"}},
}

func TestValidate(t *testing.T) {
	home, _ := os.UserHomeDir()
	t.Setenv("AIRGAP_TEST_DIR", "/srv")
	v, err := module.Validate("demo", spec, map[string]any{
		"n":                        "x",
		"count":                    "7",
		"ratio":                    json.Number("1.5"),
		"enabled":                  "no",
		"dest":                     "~/$AIRGAP_TEST_DIR/a",
		"tags":                     "a,b",
		"ports":                    []any{"80", json.Number("443")},
		"checks":                   []any{"images", "files"},
		"labels":                   "a=1,b=2",
		"items":                    []any{map[string]any{"url": "u"}},
		"_ansible_check_mode":      true,
		"_ansible_target_log_info": "new in 2.19",
	})
	if err != nil {
		t.Fatal(err)
	}
	p := v.Params
	want := map[string]any{
		"name": "x", "count": int64(7), "ratio": 1.5, "enabled": false, "dest": filepath.Join(home, "/srv/a"),
		"state": "present", "password": nil,
	}
	for k, w := range want {
		if p[k] != w {
			t.Errorf("%s = %#v, want %#v", k, p[k], w)
		}
	}
	if tags := p["tags"].([]any); len(tags) != 2 || tags[1] != "b" {
		t.Errorf("tags = %#v", tags)
	}
	if ports := p["ports"].([]any); ports[0] != int64(80) || ports[1] != int64(443) {
		t.Errorf("ports = %#v", ports)
	}
	if checks := p["checks"].([]any); len(checks) != 2 || checks[0] != "images" {
		t.Errorf("checks = %#v", checks)
	}
	if labels := p["labels"].(map[string]any); labels["b"] != "2" {
		t.Errorf("labels = %#v", labels)
	}
	if item := p["items"].([]any)[0].(map[string]any); item["checksum"] != "" || item["url"] != "u" {
		t.Errorf("item = %#v, want the sub-option default applied", item)
	}
}

func TestValidateErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		raw  map[string]any
		want []string
	}{
		{"unknown", map[string]any{"name": "x", "colour": "red"},
			[]string{"Unsupported parameters for (demo) module: colour. Supported parameters include: ", "name (n)"}},
		{"missing", map[string]any{}, []string{"missing required arguments: name"}},
		{"null is missing", map[string]any{"name": nil}, []string{"missing required arguments: name"}},
		{"int", map[string]any{"name": "x", "count": "many"},
			[]string{"argument 'count' is of type <class 'str'> and we were unable to convert to int: <class 'str'> cannot be converted to an int"}},
		{"bool", map[string]any{"name": "x", "enabled": "maybe"},
			[]string{"argument 'enabled' is of type <class 'str'>", "not a valid boolean"}},
		{"choices", map[string]any{"name": "x", "state": "gone"},
			[]string{"value of state must be one of: present, absent, got: gone"}},
		{"list choices", map[string]any{"name": "x", "checks": []any{"files", "disks", "nets"}},
			[]string{"value of checks must be one or more of: files, images. Got no match for: disks, nets"}},
		{"exclusive", map[string]any{"name": "x", "password": "p", "token": "t"},
			[]string{"parameters are mutually exclusive: password|token"}},
		{"sub missing", map[string]any{"name": "x", "items": []any{map[string]any{"checksum": "c"}}},
			[]string{"missing required arguments: url found in items"}},
		{"sub unknown", map[string]any{"name": "x", "items": []any{map[string]any{"url": "u", "sha": "c"}}},
			[]string{"Unsupported parameters for (demo) module: items.sha"}},
		{"element not dict", map[string]any{"name": "x", "items": []any{json.Number("3")}},
			[]string{"Elements value for option 'items' is of type <class 'int'> and we were unable to convert to dict"}},
		{"list", map[string]any{"name": "x", "tags": map[string]any{}},
			[]string{"argument 'tags' is of type <class 'dict'> and we were unable to convert to list"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := module.Validate("demo", spec, tc.raw)
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

// runArgs runs the module as ansible-core would and decodes stdout.
func runArgs(t *testing.T, m *module.Module, args map[string]any) (map[string]any, string) {
	t.Helper()
	return moduletest.Run(t, m, args)
}

func demo(run func(ctx context.Context, inv *module.Invocation) (*module.Result, error)) *module.Module {
	return &module.Module{Name: "demo", Spec: spec, Run: run}
}

func TestExecuteCheckModeDiffAndMasking(t *testing.T) {
	var seen *module.Invocation
	m := demo(func(_ context.Context, inv *module.Invocation) (*module.Result, error) {
		seen = inv
		inv.Warn("careful with %s", inv.Params["password"])
		return &module.Result{
			Changed: true,
			Msg:     "logged in with s3cret-pw and sub-secret",
			Diff:    []module.Diff{{Before: "a", After: "b"}},
			Data:    map[string]any{"echo": []any{map[string]any{"s3cret-pw": "x"}}},
		}, nil
	})
	res, raw := runArgs(t, m, map[string]any{
		"name": "x", "password": "s3cret-pw", "items": []any{map[string]any{"url": "u", "secret": "sub-secret"}},
		"_ansible_check_mode": true, "_ansible_diff": true, "_ansible_verbosity": 3,
	})
	if !seen.CheckMode || !seen.Diff || seen.Verbosity != 3 {
		t.Errorf("invocation = %+v, want check mode, diff, verbosity 3", seen)
	}
	if strings.Contains(raw, "s3cret-pw") || strings.Contains(raw, "sub-secret") {
		t.Fatalf("a no_log value leaked:\n%s", raw)
	}
	if res["changed"] != true || res["diff"] == nil || res["msg"] != "logged in with ******** and ********" {
		t.Errorf("result = %v", res)
	}
	args := res["invocation"].(map[string]any)["module_args"].(map[string]any)
	if args["password"] != "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER" || args["count"] != float64(4) {
		t.Errorf("invocation = %v", args)
	}
	if w := res["warnings"].([]any); len(w) != 1 || w[0] != "careful with ********" {
		t.Errorf("warnings = %v", w)
	}

	res, _ = runArgs(t, m, map[string]any{"name": "x"})
	if _, ok := res["diff"]; ok || seen.CheckMode {
		t.Errorf("diff returned or check mode set without being asked: %v", res)
	}
}

func TestExecuteFailures(t *testing.T) {
	m := demo(func(_ context.Context, inv *module.Invocation) (*module.Result, error) {
		switch inv.Params["name"] {
		case "error":
			return nil, errors.New("broke with s3cret-pw")
		case "panic":
			panic("boom")
		}
		return &module.Result{Failed: true, Msg: "partly", Data: map[string]any{"done": 1}}, nil
	})
	for name, want := range map[string]string{"error": "broke with ********", "panic": "internal error: boom", "partial": "partly"} {
		res, _ := runArgs(t, m, map[string]any{"name": name, "password": "s3cret-pw"})
		if res["failed"] != true || !strings.Contains(res["msg"].(string), want) {
			t.Errorf("%s: result = %v, want failed with %q", name, res, want)
		}
	}
	res, raw := runArgs(t, m, map[string]any{"name": "x", "password": []any{"s3cret-pw"}})
	if res["failed"] != true || strings.Contains(raw, "s3cret-pw") {
		t.Errorf("a wrongly typed secret: %s", raw)
	}
}

func TestCLI(t *testing.T) {
	var seen *module.Invocation
	m := demo(func(_ context.Context, inv *module.Invocation) (*module.Result, error) {
		seen = inv
		return &module.Result{Msg: "ok"}, nil
	})
	var out, errOut bytes.Buffer
	code := module.Execute(context.Background(), m, []string{
		"--name", "x", "-c", "9", "--enabled=false", "--tags", "a,b", "--items", `[{url: u1}, {url: u2}]`,
		"--items", `{url: u3}`, "--labels", `{k: v}`, "--check",
	}, &out, &errOut)
	if code != 0 {
		t.Fatalf("exit %d: %s %s", code, out.String(), errOut.String())
	}
	p := seen.Params
	if p["count"] != int64(9) || p["enabled"] != false || len(p["items"].([]any)) != 3 || !seen.CheckMode {
		t.Errorf("params = %v", p)
	}
	if tags := p["tags"].([]any); len(tags) != 2 || tags[1] != "b" {
		// a plain value of a list option is comma-separated, as in Ansible
		t.Errorf("tags = %#v", tags)
	}
	out.Reset()
	if code := module.Execute(context.Background(), m, []string{"--count", "1"}, &out, &errOut); code == 0 ||
		!strings.Contains(out.String(), "missing required arguments: name") {
		t.Errorf("missing option: exit %d, %s", code, out.String())
	}
}

func TestDocStub(t *testing.T) {
	m := demo(nil)
	m.Doc = module.Doc{ShortDescription: "Demo", Examples: "- name: Demo\n  airgap.kubespray.demo:\n    name: x\n"}
	stub, err := m.DocStub()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"DOCUMENTATION = r'''", "EXAMPLES = r'''", "RETURN = r'''", "module: demo",
		"      url:\n", "\x27no_log\x27: True", "choices:", "aliases:", "mutually exclusive", "DO NOT EDIT"} {
		if !strings.Contains(stub, want) {
			t.Errorf("stub lacks %q", want)
		}
	}
}

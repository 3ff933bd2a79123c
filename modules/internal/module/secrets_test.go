package module_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/module"
	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/regclient"
)

// secretSpec has every shape of option that can carry a secret: a no_log option, a raw
// option whose entries hold a no_log key (auth), a dict of headers, and a URL.
var secretSpec = module.Spec{Options: []module.Option{
	{Name: "password", NoLog: true},
	{Name: "auth", Type: module.TypeRaw, Options: []module.Option{
		{Name: "registry"}, {Name: "username"}, {Name: "password", NoLog: true},
	}},
	{Name: "headers", Type: module.TypeDict, NoLogValues: true},
	{Name: "url"},
	{Name: "count", Type: module.TypeInt},
}}

// secretModule parses auth as the registry modules do, and echoes every option it got in
// its message and result, as a careless module might.
var secretModule = &module.Module{Name: "demo", Spec: secretSpec, Run: func(_ context.Context, inv *module.Invocation) (*module.Result, error) {
	if _, _, err := regclient.ParseAuth(inv.Params["auth"], inv.Secret); err != nil {
		return nil, fmt.Errorf("%w (options: %v)", err, inv.Params)
	}
	return &module.Result{Msg: fmt.Sprintf("options: %v", inv.Params), Data: map[string]any{"echo": inv.Params}}, nil
}}

const (
	strPW = "s3cret-Str1ng"
	numPW = 987654321
)

func TestSecretsNeverReturned(t *testing.T) {
	for _, tc := range []struct {
		name   string
		args   map[string]any
		secret []string
		fails  string // part of the expected error, "" when the run succeeds
	}{
		{"valid auth", map[string]any{"auth": []any{
			map[string]any{"registry": "a.example", "username": "u", "password": strPW},
			map[string]any{"registry": "b.example", "username": "u", "password": json.Number(fmt.Sprint(numPW))},
		}}, []string{strPW, fmt.Sprint(numPW)}, "auth[1].password"},
		{"valid auth strings", map[string]any{"auth": []any{
			map[string]any{"registry": "a.example", "username": "u", "password": strPW},
		}}, []string{strPW}, ""},
		{"auth entry with an unknown key first", map[string]any{"auth": []any{
			map[string]any{"registry": "a.example", "user": "u", "password": strPW},
		}}, []string{strPW}, "auth[0]"},
		{"auth entry without registry", map[string]any{"auth": []any{
			map[string]any{"username": "u", "password": json.Number(fmt.Sprint(numPW))},
		}}, []string{fmt.Sprint(numPW)}, "auth[0]"},
		{"auth entry not a dict, then a password", map[string]any{"auth": []any{"oops",
			map[string]any{"registry": "a.example", "password": strPW},
		}}, []string{strPW}, "auth[0]"},
		{"auth as one dict", map[string]any{"auth": map[string]any{"registry": "a.example", "password": strPW}},
			[]string{strPW}, "auth"},
		{"password of a list type", map[string]any{"password": []any{strPW, json.Number(fmt.Sprint(numPW))}},
			[]string{strPW, fmt.Sprint(numPW)}, "password"},
		{"numeric no_log option", map[string]any{"password": json.Number(fmt.Sprint(numPW))}, []string{fmt.Sprint(numPW)}, ""},
		{"numeric no_log option, bad other option", map[string]any{"password": json.Number(fmt.Sprint(numPW)), "count": "many"},
			[]string{fmt.Sprint(numPW)}, "count"},
		{"headers", map[string]any{"headers": map[string]any{"Authorization": "Bearer tok-" + strPW, "X-Api-Key": json.Number(fmt.Sprint(numPW))}},
			[]string{"tok-" + strPW, fmt.Sprint(numPW)}, ""},
		{"headers, bad other option", map[string]any{"headers": map[string]any{"Authorization": "Bearer tok-" + strPW}, "count": "many"},
			[]string{"tok-" + strPW}, "count"},
		{"URL with a password", map[string]any{"url": "https://bob:" + strPW + "@proxy.example:3128/x"}, []string{strPW}, ""},
		{"unknown option holding a URL", map[string]any{"proxy": "http://bob:" + strPW + "@proxy.example:3128"}, []string{strPW}, "proxy"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := map[string]any{"_ansible_verbosity": 3}
			for k, v := range tc.args {
				args[k] = v
			}
			res, raw := runArgs(t, secretModule, args)
			for _, s := range tc.secret {
				if strings.Contains(raw, s) {
					t.Errorf("%s leaked:\n%s", s, raw)
				}
			}
			if tc.fails != "" {
				if res["failed"] != true || !strings.Contains(fmt.Sprint(res["msg"]), tc.fails) {
					t.Errorf("want a failure naming %s: %v", tc.fails, res)
				}
				return
			}
			if res["failed"] == true {
				t.Fatalf("failed: %v", res["msg"])
			}
			inv := res["invocation"].(map[string]any)["module_args"].(map[string]any)
			if h, ok := tc.args["headers"].(map[string]any); ok {
				got, _ := inv["headers"].(map[string]any)
				for k := range h {
					if got[k] != "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER" {
						t.Errorf("invocation headers = %v, want the names with masked values", inv["headers"])
					}
				}
			}
			if a, ok := tc.args["auth"].([]any); ok {
				got, _ := inv["auth"].([]any)
				if len(got) != len(a) || got[0].(map[string]any)["registry"] != "a.example" ||
					got[0].(map[string]any)["password"] != "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER" {
					t.Errorf("invocation auth = %v, want registries shown, passwords masked", inv["auth"])
				}
			}
		})
	}
}

// A proxy from the environment with a password in it is masked too (the fetch and registry
// modules take proxies from there).
func TestProxyPasswordFromEnvironmentMasked(t *testing.T) {
	t.Setenv("https_proxy", "http://bob:"+strPW+"@proxy.example:3128")
	m := &module.Module{Name: "demo", Spec: secretSpec, Run: func(context.Context, *module.Invocation) (*module.Result, error) {
		return nil, fmt.Errorf("proxyconnect: %s refused", os.Getenv("https_proxy"))
	}}
	_, raw := runArgs(t, m, map[string]any{})
	if strings.Contains(raw, strPW) {
		t.Errorf("the proxy password leaked:\n%s", raw)
	}
}

// The command line takes a password from a file or the environment, not only from a flag
// (which ps shows to every user).
func TestCLIPasswordFromFileOrEnvironment(t *testing.T) {
	var got any
	m := &module.Module{Name: "demo", Spec: secretSpec, Run: func(_ context.Context, inv *module.Invocation) (*module.Result, error) {
		got = inv.Params["password"]
		return &module.Result{Msg: "ok"}, nil
	}}
	run := func(args ...string) (int, string) {
		var out, errOut bytes.Buffer
		code := module.Execute(context.Background(), m, args, &out, &errOut)
		return code, out.String() + errOut.String()
	}
	file := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(file, []byte("from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, out := run("--password-file", file); code != 0 || got != "from-file" {
		t.Errorf("--password-file: exit %d, password %v: %s", code, got, out)
	}
	t.Setenv("AIRGAP_PASSWORD", "from-env")
	if code, out := run(); code != 0 || got != "from-env" {
		t.Errorf("AIRGAP_PASSWORD: exit %d, password %v: %s", code, got, out)
	}
	if code, out := run("--password-file", file); code != 0 || got != "from-file" {
		t.Errorf("--password-file beats the environment: exit %d, password %v: %s", code, got, out)
	}
	if code, out := run("--password", "from-flag"); code != 0 || got != "from-flag" {
		t.Errorf("--password beats the environment: exit %d, password %v: %s", code, got, out)
	}
	if code, out := run("--password", "x", "--password-file", file); code == 0 || !strings.Contains(out, "password") {
		t.Errorf("--password and --password-file together: exit %d: %s", code, out)
	}
	if code, out := run("--password-file", filepath.Join(t.TempDir(), "missing")); code == 0 || !strings.Contains(out, "missing") {
		t.Errorf("a missing password file: exit %d: %s", code, out)
	}
	var help bytes.Buffer
	module.Execute(context.Background(), m, []string{"--help"}, &help, &help)
	if !strings.Contains(help.String(), "--password-file") || !strings.Contains(help.String(), "AIRGAP_PASSWORD") {
		t.Errorf("--help does not tell about --password-file and AIRGAP_PASSWORD:\n%s", help.String())
	}
}

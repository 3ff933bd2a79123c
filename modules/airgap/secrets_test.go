package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// bin is this binary, built once by TestMain: the tests below run it as ansible-core does,
// under a module's AnsiballZ name with a JSON args file as the only argument.
var bin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "airgap-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	bin = filepath.Join(dir, "airgap")
	gocmd, err := exec.LookPath("go")
	if err == nil {
		build := exec.Command(gocmd, "build", "-o", bin, ".")
		build.Env = append(os.Environ(), "CGO_ENABLED=0")
		var out []byte
		if out, err = build.CombinedOutput(); err != nil {
			err = fmt.Errorf("%v\n%s", err, out)
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "go build:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// runModule runs module as ansible-core does and returns its stdout and decoded result.
func runModule(t *testing.T, module string, args map[string]any) (string, map[string]any) {
	t.Helper()
	dir := t.TempDir()
	link := filepath.Join(dir, "AnsiballZ_"+module+"_linux_"+runtime.GOARCH)
	if err := os.Symlink(bin, link); err != nil {
		t.Fatal(err)
	}
	args["_ansible_verbosity"] = 3
	args["_ansible_module_name"] = "airgap.kubespray." + module + "_linux_" + runtime.GOARCH
	b, _ := json.Marshal(map[string]any{"ANSIBLE_MODULE_ARGS": args})
	file := filepath.Join(dir, "args")
	if err := os.WriteFile(file, b, 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(link, file)
	cmd.Env = append(os.Environ(), "https_proxy=", "http_proxy=", "HTTPS_PROXY=", "HTTP_PROXY=")
	out, _ := cmd.Output()
	var res map[string]any
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("%s: stdout is not one JSON object: %v\n%s", module, err, out)
	}
	return string(out), res
}

const (
	strPW = "s3cret-Str1ng"
	numPW = 987654321
)

// No password, token or header value is ever in what a module returns (msg, invocation,
// any field), be it a string or a number, in a valid or a malformed entry.
func TestSecretsNeverReturnedByTheBinary(t *testing.T) {
	num := json.Number(fmt.Sprint(numPW))
	for _, tc := range []struct {
		name, module string
		args         map[string]any
		secrets      []string
		check        func(t *testing.T, inv map[string]any)
	}{
		{"pull: numeric password", "offline_image_pull", map[string]any{"dest": "DIR", "images": []any{},
			"auth": []any{map[string]any{"registry": "r.example", "username": "u", "password": num}}}, []string{fmt.Sprint(numPW)}, nil},
		{"pull: malformed entry before a password", "offline_image_pull", map[string]any{"dest": "DIR", "images": []any{},
			"auth": []any{"oops", map[string]any{"registry": "r.example", "password": strPW}}}, []string{strPW}, nil},
		{"pull: unknown key beside a password", "offline_image_pull", map[string]any{"dest": "DIR", "images": []any{},
			"auth": []any{map[string]any{"registry": "r.example", "user": "u", "password": strPW}}}, []string{strPW}, nil},
		{"pull: valid", "offline_image_pull", map[string]any{"dest": "DIR", "images": []any{},
			"auth": []any{map[string]any{"registry": "r.example", "username": "u", "password": strPW}}}, []string{strPW},
			func(t *testing.T, inv map[string]any) {
				if e := inv["auth"].([]any)[0].(map[string]any); e["password"] != "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER" || e["registry"] != "r.example" {
					t.Errorf("invocation auth = %v", inv["auth"])
				}
			}},
		{"verify: numeric password, entry without registry", "offline_verify", map[string]any{
			"auth": []any{map[string]any{"username": "u", "password": num}}}, []string{fmt.Sprint(numPW)}, nil},
		{"verify: malformed", "offline_verify", map[string]any{
			"auth": []any{[]any{strPW}, map[string]any{"registry": "r.example", "password": strPW}}}, []string{strPW}, nil},
		{"push: numeric password", "offline_image_push", map[string]any{"src": "DIR", "registry": "127.0.0.1:1", "insecure_registries": []any{"127.0.0.1:1"},
			"retries": 0, "timeout": 2, "auth": []any{map[string]any{"registry": "127.0.0.1:1", "username": "u", "password": num}}}, []string{fmt.Sprint(numPW)}, nil},
		{"push: valid", "offline_image_push", map[string]any{"src": "DIR", "registry": "127.0.0.1:1", "insecure_registries": []any{"127.0.0.1:1"},
			"retries": 0, "timeout": 2, "auth": []any{map[string]any{"registry": "127.0.0.1:1", "username": "u", "password": strPW}}}, []string{strPW},
			func(t *testing.T, inv map[string]any) {
				if e := inv["auth"].([]any)[0].(map[string]any); e["password"] != "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER" || e["registry"] != "127.0.0.1:1" {
					t.Errorf("invocation auth = %v", inv["auth"])
				}
			}},
		{"fetch: headers, URL and url_password", "offline_file_fetch", map[string]any{"dest": "DIR", "retries": 0, "timeout": 2,
			"items":        []any{map[string]any{"url": "http://bob:url-" + strPW + "@127.0.0.1:1/f"}},
			"url_username": "bob", "url_password": num,
			"headers": map[string]any{"Authorization": "Bearer tok-" + strPW, "X-Api-Key": json.Number("55501234")}},
			[]string{"url-" + strPW, "tok-" + strPW, fmt.Sprint(numPW), "55501234"},
			func(t *testing.T, inv map[string]any) {
				h, _ := inv["headers"].(map[string]any)
				if len(h) != 2 || h["Authorization"] != "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER" || h["X-Api-Key"] != "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER" {
					t.Errorf("invocation headers = %v, want the names with masked values", inv["headers"])
				}
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			for k, v := range tc.args {
				if v == "DIR" {
					tc.args[k] = t.TempDir()
				}
			}
			out, res := runModule(t, tc.module, tc.args)
			for _, s := range tc.secrets {
				if strings.Contains(out, s) {
					t.Errorf("%s leaked:\n%s", s, out)
				}
			}
			if tc.check != nil {
				inv, ok := res["invocation"].(map[string]any)
				if !ok {
					t.Fatalf("no invocation: %s", out)
				}
				tc.check(t, inv["module_args"].(map[string]any))
			}
		})
	}
}

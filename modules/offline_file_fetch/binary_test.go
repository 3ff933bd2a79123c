// Black-box tests of the offline_file_fetch binary, driven as ansible-core drives it (one JSON
// args file as the only argument) and as users drive it (command-line flags). The fetch
// library's own behaviour (resume, ignored ranges, HTTP errors, stalls, path traversal,
// concurrency) is covered in modules/internal/fetch; these tests cover what the binary adds:
// argument handling, result shape, masking, exit codes, proxies from the environment and the
// progress line.
//
// Every server is an httptest server on 127.0.0.1; the one non-loopback name used,
// upstream.invalid, is only ever sent to a local forward proxy.
package filefetch_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// bin is the module binary, built once by TestMain.
var bin string

func TestMain(m *testing.M) {
	os.Exit(buildAndRun(m))
}

func buildAndRun(m *testing.M) int {
	dir, err := os.MkdirTemp("", "offline_file_fetch-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	bin = filepath.Join(dir, "offline_file_fetch")
	gocmd, err := exec.LookPath("go") // go test puts GOROOT/bin first on PATH
	if err != nil {
		fmt.Fprintln(os.Stderr, "finding the go command:", err)
		return 1
	}
	build := exec.Command(gocmd, "build", "-o", bin, "../airgap") // runs the module it is named after
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "go build: %v\n%s", err, out)
		return 1
	}
	return m.Run()
}

// ---------------------------------------------------------------------------------------------
// Ansible mode: bin ARGSFILE

func TestAnsibleFetchThenRerun(t *testing.T) {
	t.Parallel()
	a, b := blob(t, 70<<10), blob(t, 1000)
	up := newFileServer(t, map[string][]byte{"/release/v1/a.tar.gz": a, "/b": b})
	dest := filepath.Join(t.TempDir(), "files")
	opts := map[string]any{
		"dest": dest,
		"items": []any{
			map[string]any{"url": up.url("/release/v1/a.tar.gz"), "checksum": sha(a)},
			map[string]any{"url": up.url("/b")}, // no checksum: fetched, then kept as it is
		},
	}

	r := runAnsible(t, opts, nil)
	out := r.json
	if r.code != 0 || out["failed"] == true || out["changed"] != true {
		t.Fatalf("first run: exit %d, result %s", r.code, r.stdout)
	}
	if msg, _ := out["msg"].(string); !strings.HasPrefix(msg, "fetched 2, skipped 0, failed 0 of 2 items") {
		t.Errorf("msg = %q", msg)
	}
	if out["dest"] != dest {
		t.Errorf("dest = %v, want %s", out["dest"], dest)
	}
	if fi, ok := out["failed_items"].([]any); !ok || len(fi) != 0 {
		t.Errorf("failed_items = %#v, want an empty list (not null)", out["failed_items"])
	}
	wantTotals := map[string]float64{"items": 2, "fetched": 2, "skipped": 0, "failed": 0, "bytes": float64(len(a) + len(b))}
	totals := asMap(t, out["totals"])
	for k, want := range wantTotals {
		if totals[k] != want {
			t.Errorf("totals.%s = %v, want %v", k, totals[k], want)
		}
	}
	if _, ok := totals["seconds"].(float64); !ok {
		t.Errorf("totals.seconds = %#v, want a number", totals["seconds"])
	}
	items := asList(t, out["items"])
	if len(items) != 2 {
		t.Fatalf("items = %v", items)
	}
	for i, want := range []struct {
		path string
		data []byte
	}{{up.host + "/release/v1/a.tar.gz", a}, {up.host + "/b", b}} {
		it := asMap(t, items[i])
		full := filepath.Join(dest, filepath.FromSlash(want.path))
		if it["status"] != "fetched" || it["path"] != want.path || it["dest"] != full ||
			it["size"] != float64(len(want.data)) || it["sha256"] != hexSHA(want.data) {
			t.Errorf("items[%d] = %v, want fetched %s -> %s", i, it, want.path, full)
		}
		if got := readFile(t, full); !bytes.Equal(got, want.data) {
			t.Errorf("%s holds %d bytes, want the %d served", full, len(got), len(want.data))
		}
		assertMode(t, full, 0o644)
	}
	args := asMap(t, asMap(t, out["invocation"])["module_args"])
	if args["dest"] != dest || args["concurrency"] != float64(4) || args["force"] != false {
		t.Errorf("invocation.module_args = %v", args)
	}
	if _, leaked := args["_ansible_check_mode"]; leaked {
		t.Errorf("invocation.module_args carries _ansible_ keys: %v", args)
	}

	hits := up.hits.Load()
	r = runAnsible(t, opts, nil)
	if r.code != 0 || r.json["changed"] != false || r.json["failed"] == true {
		t.Fatalf("rerun: exit %d, result %s", r.code, r.stdout)
	}
	for i, it := range asList(t, r.json["items"]) {
		if s := asMap(t, it)["status"]; s != "skipped" {
			t.Errorf("rerun items[%d].status = %v, want skipped", i, s)
		}
	}
	if n := up.hits.Load() - hits; n != 0 {
		t.Errorf("rerun made %d requests, want none", n)
	}
}

func TestAnsibleCheckAndDiffModes(t *testing.T) {
	t.Parallel()
	data := blob(t, 4096)
	for _, tc := range []struct {
		name        string
		check, diff bool
		wantStatus  string
		wantAfter   func(rel string) string // the diff's "after"; nil means no diff key at all
	}{
		{name: "plain", wantStatus: "fetched"},
		{name: "check", check: true, wantStatus: "would_fetch"},
		{name: "diff", diff: true, wantStatus: "fetched", wantAfter: func(rel string) string { return rel + " " + sha(data) + "\n" }},
		{name: "check+diff", check: true, diff: true, wantStatus: "would_fetch", wantAfter: func(rel string) string { return rel + "\n" }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			up := newFileServer(t, map[string][]byte{"/pkg/f.bin": data})
			rel := up.host + "/pkg/f.bin"
			parent := t.TempDir()
			dest := filepath.Join(parent, "files")
			r := runAnsible(t, map[string]any{
				"dest":                dest,
				"items":               []any{map[string]any{"url": up.url("/pkg/f.bin"), "checksum": sha(data)}},
				"_ansible_check_mode": tc.check,
				"_ansible_diff":       tc.diff,
			}, nil)
			if r.code != 0 || r.json["changed"] != true || r.json["failed"] == true {
				t.Fatalf("exit %d, result %s", r.code, r.stdout)
			}
			if s := asMap(t, asList(t, r.json["items"])[0])["status"]; s != tc.wantStatus {
				t.Errorf("status = %v, want %s", s, tc.wantStatus)
			}
			if tc.check {
				if msg, _ := r.json["msg"].(string); !strings.HasPrefix(msg, "would fetch 1, skipped 0, failed 0 of 1 items") {
					t.Errorf("msg = %q, want 'would fetch 1, ...'", msg)
				}
				if got := listTree(t, parent); len(got) != 0 {
					t.Errorf("check mode wrote %v", got)
				}
				if n := up.hits.Load(); n != 0 {
					t.Errorf("check mode made %d requests", n)
				}
			} else if got := readFile(t, filepath.Join(dest, filepath.FromSlash(rel))); !bytes.Equal(got, data) {
				t.Errorf("fetched file differs from the served one")
			}
			d, hasDiff := r.json["diff"]
			if tc.wantAfter == nil {
				if hasDiff {
					t.Errorf("diff = %v without _ansible_diff", d)
				}
				return
			}
			diffs := asList(t, d)
			if len(diffs) != 1 {
				t.Fatalf("diff = %v, want one entry", d)
			}
			d0 := asMap(t, diffs[0])
			if want := tc.wantAfter(rel); d0["after"] != want || d0["before"] != "" || d0["before_header"] != dest || d0["after_header"] != dest {
				t.Errorf("diff[0] = %v, want after %q and headers %s", d0, want, dest)
			}
		})
	}
}

func TestAnsibleCheckModeMakesNoRequest(t *testing.T) {
	t.Parallel()
	up := newFileServer(t, map[string][]byte{"/f": []byte("x")})
	parent := t.TempDir()
	r := runAnsible(t, map[string]any{
		"dest":                filepath.Join(parent, "files"),
		"items":               []any{map[string]any{"url": up.url("/f")}, map[string]any{"url": up.url("/missing")}},
		"_ansible_check_mode": true,
	}, nil)
	if r.code != 0 || r.json["changed"] != true {
		t.Fatalf("exit %d, result %s", r.code, r.stdout)
	}
	if n := up.hits.Load(); n != 0 {
		t.Errorf("check mode made %d requests", n)
	}
	if got := listTree(t, parent); len(got) != 0 {
		t.Errorf("check mode wrote %v", got)
	}
}

func TestAnsibleArgumentErrors(t *testing.T) {
	t.Parallel()
	up := newFileServer(t, map[string][]byte{"/f": []byte("x")})
	t.Cleanup(func() { // after the parallel subtests
		if n := up.hits.Load(); n != 0 {
			t.Errorf("rejected invocations made %d requests", n)
		}
	})
	item := map[string]any{"url": up.url("/f")}
	for _, tc := range []struct {
		name string
		opts map[string]any // dest is added unless the case sets "dest": nil
		want string
	}{
		{"unknown option", map[string]any{"items": []any{item}, "bogus": 1},
			"Unsupported parameters for (offline_file_fetch) module: bogus. Supported parameters include: ca_path, concurrency, dest, force, headers, items, mode, retries, site_state, timeout, url_mirrors, url_password, url_username, validate_certs."},
		{"unknown item key", map[string]any{"items": []any{map[string]any{"url": up.url("/f"), "sha": "x"}}},
			"Unsupported parameters for (offline_file_fetch) module: items.sha"},
		{"missing dest", map[string]any{"items": []any{item}, "dest": nil},
			"missing required arguments: dest"},
		{"missing items", map[string]any{},
			"missing required arguments: items"},
		{"concurrency not an int", map[string]any{"items": []any{item}, "concurrency": "many"},
			"argument 'concurrency' is of type <class 'str'> and we were unable to convert to int: <class 'str'> cannot be converted to an int"},
		{"item without url", map[string]any{"items": []any{map[string]any{"checksum": ""}}},
			"missing required arguments: url found in items"},
		{"validate_certs not a bool", map[string]any{"items": []any{item}, "validate_certs": "maybe"},
			"argument 'validate_certs' is of type <class 'str'> and we were unable to convert to bool: The value 'maybe' is not a valid boolean"},
		{"mode not octal", map[string]any{"items": []any{item}, "mode": "rwxr-xr-x"},
			`mode "rwxr-xr-x": want an octal mode`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			parent := t.TempDir()
			opts := map[string]any{"dest": filepath.Join(parent, "files")}
			for k, v := range tc.opts {
				if v == nil {
					delete(opts, k)
				} else {
					opts[k] = v
				}
			}
			r := runAnsible(t, opts, nil)
			msg, _ := r.json["msg"].(string)
			if r.code == 0 || r.json["failed"] != true || r.json["changed"] != false || !strings.Contains(msg, tc.want) {
				t.Errorf("exit %d, failed %v, changed %v, msg %q; want a failure with %q",
					r.code, r.json["failed"], r.json["changed"], msg, tc.want)
			}
			if got := listTree(t, parent); len(got) != 0 {
				t.Errorf("a rejected invocation wrote %v", got)
			}
		})
	}
}

func TestAnsibleNoLogPasswordNeverPrinted(t *testing.T) {
	t.Parallel()
	const user, password = "mirror-user", "Pw-7kQ2zX-not-for-logs"
	data := []byte("private payload")
	var authSeen atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, p, ok := r.BasicAuth()
		if ok && u == user && p == password && r.URL.Path == "/private/f" {
			authSeen.Add(1)
			http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(data))
			return
		}
		// Echo the password back in every place a careless module might copy from.
		w.Header().Set("WWW-Authenticate", `Basic realm="`+password+`"`)
		w.Header().Set("X-Echo", password)
		http.Error(w, "wrong password, expected "+password, http.StatusUnauthorized)
	}))
	t.Cleanup(srv.Close)
	host := strings.TrimPrefix(srv.URL, "http://")
	dest := filepath.Join(t.TempDir(), "files")

	r := runAnsible(t, map[string]any{
		"dest":         dest,
		"url_username": user,
		"url_password": password,
		"headers":      map[string]any{"X-Token": "token-" + password},
		"items": []any{
			// The password in a query string: part of the item's URL in the result.
			map[string]any{"url": srv.URL + "/private/f?sig=" + password},
			// The password in the path: in url, path, dest and the failure message. It fails
			// with a 401 whose headers and body echo the password.
			map[string]any{"url": srv.URL + "/denied/" + password + "/g"},
		},
		"url_mirrors": []any{map[string]any{"prefix": "http://mirror.invalid/", "replace": srv.URL + "/" + password + "/"}},
	}, nil)

	for name, s := range map[string]string{"stdout": r.stdout, "stderr": r.stderr} {
		if strings.Contains(s, password) {
			t.Errorf("%s shows url_password:\n%s", name, s)
		}
	}
	if !strings.Contains(r.stdout, "********") {
		t.Errorf("stdout has no masked value; want the password replaced by ********:\n%s", r.stdout)
	}
	args := asMap(t, asMap(t, r.json["invocation"])["module_args"])
	if args["url_password"] != "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER" {
		t.Errorf("invocation.module_args.url_password = %#v", args["url_password"])
	}
	if args["url_username"] != user {
		t.Errorf("invocation.module_args.url_username = %#v, want it shown", args["url_username"])
	}
	// The masking must not have changed what was done: the first item was fetched with the
	// real password, the second failed.
	if authSeen.Load() == 0 {
		t.Errorf("the server never saw the right credentials")
	}
	items := asList(t, r.json["items"])
	if len(items) != 2 {
		t.Fatalf("items = %v", items)
	}
	if it := asMap(t, items[0]); it["status"] != "fetched" || it["url"] != srv.URL+"/private/f?sig=********" {
		t.Errorf("items[0] = %v", it)
	}
	if it := asMap(t, items[1]); it["status"] != "failed" || !strings.Contains(it["msg"].(string), "401") {
		t.Errorf("items[1] = %v", it)
	}
	if got := readFile(t, filepath.Join(dest, host, "private", "f")); !bytes.Equal(got, data) {
		t.Errorf("fetched %q", got)
	}
	if r.json["failed"] != true || r.code == 0 {
		t.Errorf("exit %d, failed %v; want a failure for the 401 item", r.code, r.json["failed"])
	}
}

func TestAnsibleFileMode(t *testing.T) {
	t.Parallel()
	data := []byte("#!/bin/sh\necho hi\n")
	up := newFileServer(t, map[string][]byte{"/bin/tool": data})
	for _, tc := range []struct {
		name string
		mode any
		want os.FileMode
	}{
		{"string 0755", "0755", 0o755},
		{"string without leading zero", "750", 0o750},
		{"YAML octal 0755 as ansible passes it (493)", 493, 0o755},
		{"string 0600", "0600", 0o600},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dest := t.TempDir()
			r := runAnsible(t, map[string]any{
				"dest":  dest,
				"items": []any{map[string]any{"url": up.url("/bin/tool"), "checksum": sha(data)}},
				"mode":  tc.mode,
			}, nil)
			if r.code != 0 || r.json["changed"] != true {
				t.Fatalf("exit %d, result %s", r.code, r.stdout)
			}
			assertMode(t, filepath.Join(dest, up.host, "bin", "tool"), tc.want)
		})
	}
}

func TestAnsibleChecksumMismatchFailsOnlyThatItem(t *testing.T) {
	t.Parallel()
	good, bad := blob(t, 2048), blob(t, 2048)
	up := newFileServer(t, map[string][]byte{"/good": good, "/bad": bad})
	dest := t.TempDir()
	badURL := up.url("/bad")
	wrong := sha([]byte("something else"))
	r := runAnsible(t, map[string]any{
		"dest": dest,
		"items": []any{
			map[string]any{"url": badURL, "checksum": wrong},
			map[string]any{"url": up.url("/good"), "checksum": sha(good)},
		},
		"retries": 0,
	}, nil)
	if r.code == 0 || r.json["failed"] != true {
		t.Fatalf("exit %d, result %s; want failed", r.code, r.stdout)
	}
	if r.json["changed"] != true {
		t.Errorf("changed = %v; the good item was fetched", r.json["changed"])
	}
	if got := readFile(t, filepath.Join(dest, up.host, "good")); !bytes.Equal(got, good) {
		t.Errorf("good file not fetched intact")
	}
	if _, err := os.Lstat(filepath.Join(dest, up.host, "bad")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the unverified file is at its final path (%v)", err)
	}
	if left := listTree(t, filepath.Join(dest, ".partial")); len(left) != 0 {
		t.Errorf("the mismatching download was left in .partial: %v", left)
	}
	failed := asList(t, r.json["failed_items"])
	if len(failed) != 1 {
		t.Fatalf("failed_items = %v, want one", failed)
	}
	f := asMap(t, failed[0])
	if f["url"] != badURL || f["path"] != up.host+"/bad" || !strings.Contains(f["msg"].(string), strings.TrimPrefix(wrong, "sha256:")) {
		t.Errorf("failed_items[0] = %v, want the bad URL, its path and the expected digest", f)
	}
	msg, _ := r.json["msg"].(string)
	if !strings.Contains(msg, badURL) || !strings.HasPrefix(msg, "fetched 1, skipped 0, failed 1 of 2 items") {
		t.Errorf("msg = %q, want the counts and the failed URL", msg)
	}
	if s := asMap(t, asList(t, r.json["items"])[0])["status"]; s != "failed" {
		t.Errorf("items[0].status = %v", s)
	}
}

// ---------------------------------------------------------------------------------------------
// Command-line mode

func TestCLIList(t *testing.T) {
	t.Parallel()
	files := map[string][]byte{}
	for _, p := range []string{"/release/v1.35.4/bin/linux/amd64/kubelet", "/release/v1.35.4/bin/linux/amd64/kubectl",
		"/containerd/containerd-2.1.4-linux-amd64.tar.gz", "/cni/cni-plugins.tgz", "/etcd.tar.gz"} {
		files[p] = blob(t, 8<<10)
	}
	up := newFileServer(t, files)
	paths := sortedKeys(files)
	var urls []string
	for _, p := range paths {
		urls = append(urls, up.url(p))
	}
	filesList := "# generated by contrib/offline/generate_list.sh\n\n" + strings.Join(urls[:3], "\n") +
		"\n   \n  # indented comment\n" + strings.Join(urls[3:], "\n") + "\n"
	var yamlItems strings.Builder
	yamlItems.WriteString("# items with checksums\n")
	for _, p := range paths {
		fmt.Fprintf(&yamlItems, "- url: %s\n  checksum: %s\n", up.url(p), sha(files[p]))
	}
	yamlItems.WriteString("- url: " + up.url(paths[0]) + "\n  path: custom/name.bin\n")

	for _, tc := range []struct {
		name   string
		list   string
		stdin  bool            // --list - with the list on stdin
		extra  map[string]bool // relative paths expected beside the default layout
		status string
	}{
		{name: "files.list", list: filesList, status: "fetched"},
		{name: "files.list with CRLF", list: strings.ReplaceAll(filesList, "\n", "\r\n"), status: "fetched"},
		{name: "files.list on stdin", list: filesList, stdin: true, status: "fetched"},
		{name: "YAML list of strings", list: "- " + strings.Join(urls, "\n- ") + "\n", status: "fetched"},
		{name: "YAML items with checksums", list: yamlItems.String(), extra: map[string]bool{"custom/name.bin": true}, status: "fetched"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			dest := filepath.Join(dir, "files")
			listArg := writeFile(t, dir, "files.list", tc.list)
			var stdin io.Reader
			if tc.stdin {
				listArg, stdin = "-", strings.NewReader(tc.list)
			}
			r := run(t, cleanEnv(), stdin, "--list", listArg, "--dest", dest, "-j", "8")
			if r.code != 0 {
				t.Fatalf("exit %d\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
			}
			out := decodeOne(t, r.stdout)
			if out["changed"] != true || out["failed"] == true {
				t.Errorf("result %s", r.stdout)
			}
			if _, ok := out["invocation"]; ok {
				t.Errorf("the CLI result carries invocation")
			}
			items := asList(t, out["items"])
			if want := len(paths) + len(tc.extra); len(items) != want {
				t.Fatalf("%d items, want %d: %v", len(items), want, items)
			}
			for _, it := range items {
				if s := asMap(t, it)["status"]; s != tc.status {
					t.Errorf("item %v: status %v, want %s", it, s, tc.status)
				}
			}
			for _, p := range paths {
				if got := readFile(t, filepath.Join(dest, up.host, filepath.FromSlash(p))); !bytes.Equal(got, files[p]) {
					t.Errorf("%s differs from the served file", p)
				}
			}
			for p := range tc.extra {
				if got := readFile(t, filepath.Join(dest, filepath.FromSlash(p))); !bytes.Equal(got, files[paths[0]]) {
					t.Errorf("%s differs from the served file", p)
				}
			}
			if strings.Contains(r.stderr, "\r[") {
				t.Errorf("progress drawn on a pipe: %q", r.stderr)
			}
		})
	}
}

func TestCLIExitCodes(t *testing.T) {
	t.Parallel()
	data := []byte("content")
	up := newFileServer(t, map[string][]byte{"/ok": data})
	for _, tc := range []struct {
		name     string
		list     string                          // written to DIR/files.list
		args     func(dir, list string) []string // the command line
		wantCode int
		wantOut  string // in the JSON result on stdout; "" means no result expected
		wantErr  string // in stderr
	}{
		{name: "404", list: up.url("/ok") + "\n" + up.url("/nope") + "\n",
			args: func(dir, list string) []string {
				return []string{"--list", list, "--dest", dir + "/files", "--retries", "0"}
			},
			wantCode: 1, wantOut: up.url("/nope") + ": server returned 404"},
		{name: "checksum mismatch", list: fmt.Sprintf("- url: %s\n  checksum: %s\n", up.url("/ok"), sha([]byte("other"))),
			args:     func(dir, list string) []string { return []string{"--list", list, "--dest", dir + "/files"} },
			wantCode: 1, wantOut: "checksum mismatch"},
		{name: "missing --dest", list: up.url("/ok") + "\n",
			args:     func(dir, list string) []string { return []string{"--list", list} },
			wantCode: 1, wantOut: "missing required arguments: dest"},
		{name: "no items", args: func(dir, _ string) []string { return []string{"--dest", dir + "/files"} },
			wantCode: 1, wantOut: "missing required arguments: items"},
		{name: "missing list file", args: func(dir, _ string) []string { return []string{"--list", dir + "/none.list", "--dest", dir + "/files"} },
			wantCode: 1, wantOut: "reading --list"},
		{name: "bad concurrency", list: up.url("/ok") + "\n",
			args: func(dir, list string) []string {
				return []string{"--list", list, "--dest", dir + "/files", "-j", "many"}
			},
			wantCode: 2, wantErr: "invalid argument \"many\""},
		{name: "unknown flag", args: func(dir, _ string) []string { return []string{"--dest", dir + "/files", "--bogus"} },
			wantCode: 2, wantErr: "unknown flag: --bogus"},
		{name: "stray argument", list: up.url("/ok") + "\n",
			args:     func(dir, list string) []string { return []string{list, "--dest", dir + "/files"} },
			wantCode: 2, wantErr: "unexpected argument"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			list := ""
			if tc.list != "" {
				list = writeFile(t, dir, "files.list", tc.list)
			}
			r := run(t, cleanEnv(), nil, tc.args(dir, list)...)
			if r.code != tc.wantCode {
				t.Errorf("exit %d, want %d\nstdout: %s\nstderr: %s", r.code, tc.wantCode, r.stdout, r.stderr)
			}
			if tc.wantOut != "" {
				out := decodeOne(t, r.stdout)
				if out["failed"] != true {
					t.Errorf("failed = %v", out["failed"])
				}
				if !strings.Contains(r.stdout, tc.wantOut) {
					t.Errorf("stdout lacks %q:\n%s", tc.wantOut, r.stdout)
				}
			} else if r.stdout != "" {
				t.Errorf("usage error printed a result: %s", r.stdout)
			}
			if !strings.Contains(r.stderr, tc.wantErr) {
				t.Errorf("stderr lacks %q:\n%s", tc.wantErr, r.stderr)
			}
		})
	}
}

func TestCLICheckWritesNothing(t *testing.T) {
	t.Parallel()
	up := newFileServer(t, map[string][]byte{"/a": []byte("a"), "/b": []byte("b")})
	dir := t.TempDir()
	list := writeFile(t, dir, "files.list", up.url("/a")+"\n"+up.url("/b")+"\n")
	dest := filepath.Join(dir, "files")
	r := run(t, cleanEnv(), nil, "--list", list, "--dest", dest, "--check", "--diff")
	if r.code != 0 {
		t.Fatalf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	out := decodeOne(t, r.stdout)
	if out["changed"] != true {
		t.Errorf("changed = %v, want true (would fetch)", out["changed"])
	}
	for _, it := range asList(t, out["items"]) {
		if s := asMap(t, it)["status"]; s != "would_fetch" {
			t.Errorf("status %v, want would_fetch", s)
		}
	}
	if d := asList(t, out["diff"]); len(d) != 1 || asMap(t, d[0])["after"] != up.host+"/a\n"+up.host+"/b\n" {
		t.Errorf("diff = %v", out["diff"])
	}
	if got := listTree(t, dir); len(got) != 1 || got[0] != "files.list" {
		t.Errorf("--check wrote %v", got)
	}
	if n := up.hits.Load(); n != 0 {
		t.Errorf("--check made %d requests", n)
	}
}

func TestCLIHelp(t *testing.T) {
	t.Parallel()
	r := run(t, cleanEnv(), nil, "--help")
	if r.code != 0 {
		t.Fatalf("--help: exit %d", r.code)
	}
	help := r.stdout // help goes to stdout, like any requested output
	for _, want := range []string{"offline_file_fetch", "--list", "--concurrency", "-j,", "--dest", "--check", "ARGS_FILE"} {
		if !strings.Contains(help, want) {
			t.Errorf("--help lacks %q:\n%s", want, help)
		}
	}
	if strings.Contains(help, "doc-stub") {
		t.Errorf("--help shows the hidden --doc-stub flag")
	}
	r = run(t, cleanEnv(), nil, "--doc-stub")
	if r.code != 0 || !strings.Contains(r.stdout, "DOCUMENTATION = r'''") || !strings.Contains(r.stdout, "module: offline_file_fetch") {
		t.Errorf("--doc-stub: exit %d\n%.300s", r.code, r.stdout)
	}
}

// ---------------------------------------------------------------------------------------------
// Proxies from the environment

func TestProxyFromEnvironment(t *testing.T) {
	t.Parallel()
	data := blob(t, 32<<10)
	for _, tc := range []struct {
		name string
		env  func(proxyURL string) []string
	}{
		{"HTTP_PROXY", func(p string) []string { return []string{"HTTP_PROXY=" + p, "NO_PROXY="} }},
		{"http_proxy", func(p string) []string { return []string{"http_proxy=" + p, "no_proxy="} }},
		{"both", func(p string) []string {
			return []string{"HTTP_PROXY=" + p, "http_proxy=" + p, "NO_PROXY=", "no_proxy="}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var mu sync.Mutex
			var seen []string // request URIs the proxy received
			proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				seen = append(seen, r.Method+" "+r.RequestURI)
				mu.Unlock()
				// A forward proxy gets absolute-form request URIs. This one never dials out: it
				// answers for upstream.invalid itself.
				if !r.URL.IsAbs() || r.URL.Host != "upstream.invalid" || r.URL.Path != "/f" {
					http.Error(w, "not a proxy request for http://upstream.invalid/f", http.StatusBadGateway)
					return
				}
				http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(data))
			}))
			t.Cleanup(proxy.Close)

			dest := t.TempDir()
			env := append(cleanEnv(), tc.env(proxy.URL)...)
			r := runAnsible(t, map[string]any{
				"dest":    dest,
				"items":   []any{map[string]any{"url": "http://upstream.invalid/f", "checksum": sha(data)}},
				"retries": 0,
				"timeout": 10,
			}, env)
			if r.code != 0 || r.json["failed"] == true {
				t.Fatalf("exit %d, result %s", r.code, r.stdout)
			}
			mu.Lock()
			got := append([]string(nil), seen...)
			mu.Unlock()
			if len(got) == 0 || got[len(got)-1] != "GET http://upstream.invalid/f" {
				t.Errorf("proxy saw %v, want GET http://upstream.invalid/f", got)
			}
			if it := asMap(t, asList(t, r.json["items"])[0]); it["path"] != "upstream.invalid/f" || it["status"] != "fetched" {
				t.Errorf("item = %v", it)
			}
			if b := readFile(t, filepath.Join(dest, "upstream.invalid", "f")); !bytes.Equal(b, data) {
				t.Errorf("file at upstream.invalid/f differs from the one served")
			}
		})
	}
}

// ---------------------------------------------------------------------------------------------
// Progress on a terminal

// progressLine matches one redraw of the progress line: "\r[done/total] bytes  rate/s  elapsed".
var progressLine = regexp.MustCompile(`\r\[\d+/\d+\] [^\r\n]*/s`)

func TestProgress(t *testing.T) {
	t.Parallel()
	const size = 3 << 20
	srv := newSlowServer(t, size, 24, 60*time.Millisecond) // 3 MiB in ~1.4 s
	url := srv.URL + "/big.bin"
	rel := filepath.Join(strings.TrimPrefix(srv.URL, "http://"), "big.bin")

	t.Run("CLI on a terminal", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		list := writeFile(t, dir, "files.list", url+"\n")
		dest := filepath.Join(dir, "files")
		r := runOnTerminal(t, bin, "--list", list, "--dest", dest)
		if r.code != 0 {
			t.Fatalf("exit %d under a terminal:\n%q", r.code, r.stdout)
		}
		// A redraw about every 500 ms while the file downloads ("[0/1] ..."), and a last one
		// when it is done ("[1/1] ...").
		lines := progressLine.FindAllString(r.stdout, -1)
		if len(lines) < 2 || !strings.HasPrefix(lines[0], "\r[0/1] ") || !strings.HasPrefix(lines[len(lines)-1], "\r[1/1] ") {
			t.Errorf("terminal output has progress redraws %q, want some while the download runs and a last one:\n%q", lines, r.stdout)
		}
		if !strings.Contains(r.stdout, `"changed": true`) {
			t.Errorf("terminal output lacks the result:\n%q", r.stdout)
		}
		if fi, err := os.Stat(filepath.Join(dest, rel)); err != nil || fi.Size() != size {
			t.Errorf("file not fetched: %v", err)
		}
	})

	t.Run("CLI on a pipe", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		list := writeFile(t, dir, "files.list", url+"\n")
		r := run(t, cleanEnv(), nil, "--list", list, "--dest", filepath.Join(dir, "files"))
		if r.code != 0 {
			t.Fatalf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
		}
		if strings.Contains(r.stderr, "\r") || progressLine.MatchString(r.stderr) {
			t.Errorf("stderr on a pipe has a progress line: %q", r.stderr)
		}
		if strings.Contains(r.stdout, "\r") {
			t.Errorf("stdout on a pipe has a carriage return: %q", r.stdout)
		}
		decodeOne(t, r.stdout)
	})

	t.Run("ansible mode on a terminal", func(t *testing.T) {
		// ansible-core's ssh connection runs modules under ssh -tt: the module's stdout and
		// stderr are a terminal, and stdout must still be exactly one JSON object.
		t.Parallel()
		dir := t.TempDir()
		argsFile := writeArgsFile(t, dir, map[string]any{
			"dest":  filepath.Join(dir, "files"),
			"items": []any{map[string]any{"url": url}},
		})
		r := runOnTerminal(t, bin, argsFile)
		if r.code != 0 {
			t.Fatalf("exit %d under a terminal:\n%q", r.code, r.stdout)
		}
		if strings.Contains(r.stdout, "\r[") {
			t.Errorf("ansible mode drew progress on the terminal: %q", r.stdout)
		}
		// The terminal turns the final "\n" into "\r\n".
		out := decodeOne(t, strings.TrimSuffix(r.stdout, "\r\n")+"\n")
		if out["changed"] != true {
			t.Errorf("result %v", out)
		}
	})
}

// ---------------------------------------------------------------------------------------------
// Helpers

// result is one run of the binary.
type result struct {
	stdout, stderr string
	code           int
}

// ansibleResult is one run in Ansible mode, with stdout decoded.
type ansibleResult struct {
	result
	json map[string]any
}

// run runs the binary with args and env, and returns its output and exit code.
func run(t *testing.T, env []string, stdin io.Reader, args ...string) result {
	t.Helper()
	return runCmd(t, env, stdin, bin, args...)
}

func runCmd(t *testing.T, env []string, stdin io.Reader, name string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = env
	cmd.Dir = t.TempDir()
	cmd.Stdin = stdin
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("%s %q timed out\nstdout: %s\nstderr: %s", name, args, stdout.String(), stderr.String())
	}
	code := 0
	if err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			t.Fatalf("running %s: %v", name, err)
		}
		code = ee.ExitCode()
	}
	return result{stdout: stdout.String(), stderr: stderr.String(), code: code}
}

// runOnTerminal runs a command under a pseudo-terminal with util-linux script(1); the
// command's stdout and stderr both end up, as the terminal shows them, in the result's stdout.
func runOnTerminal(t *testing.T, name string, args ...string) result {
	t.Helper()
	script, err := exec.LookPath("script")
	if err != nil {
		t.Skip("script(1) from util-linux is not installed: cannot run under a terminal")
	}
	return runCmd(t, cleanEnv(), nil, script, "-qec", shellJoin(append([]string{name}, args...)...), "/dev/null")
}

// runAnsible writes opts as ansible-core writes a binary module's args file, runs the binary
// with that file as its only argument, checks that stdout is exactly one JSON object and
// returns it decoded. env nil means cleanEnv().
func runAnsible(t *testing.T, opts map[string]any, env []string) ansibleResult {
	t.Helper()
	if env == nil {
		env = cleanEnv()
	}
	dir := t.TempDir()
	r := runCmd(t, env, nil, bin, writeArgsFile(t, dir, opts))
	if r.stderr != "" {
		t.Errorf("Ansible mode wrote to stderr: %q", r.stderr)
	}
	if !strings.HasPrefix(r.stdout, "{") || !strings.HasSuffix(r.stdout, "}\n") || strings.Count(r.stdout, "\n") != 1 {
		t.Errorf("Ansible mode stdout is not one JSON line: %q", r.stdout)
	}
	return ansibleResult{result: r, json: decodeOne(t, r.stdout)}
}

// writeArgsFile writes dir/ansible-tmp-*/args the way ansible-core 2.19 does for a binary
// module: the task's options plus the internal _ansible_* keys, as one JSON object. Keys in
// opts override the internal defaults (e.g. _ansible_check_mode).
func writeArgsFile(t *testing.T, dir string, opts map[string]any) string {
	t.Helper()
	tmp := filepath.Join(dir, "ansible-tmp-1751129048.1234-4321-98765")
	if err := os.MkdirAll(tmp, 0o700); err != nil {
		t.Fatal(err)
	}
	args := map[string]any{
		"_ansible_check_mode":               false,
		"_ansible_no_log":                   false,
		"_ansible_debug":                    false,
		"_ansible_diff":                     false,
		"_ansible_verbosity":                0,
		"_ansible_version":                  "2.19.2",
		"_ansible_module_name":              "airgap.kubespray.offline_file_fetch",
		"_ansible_syslog_facility":          "LOG_USER",
		"_ansible_selinux_special_fs":       []string{"fuse", "nfs", "vboxsf", "ramfs", "9p", "vfat"},
		"_ansible_string_conversion_action": "warn",
		"_ansible_socket":                   nil,
		"_ansible_shell_executable":         "/bin/sh",
		"_ansible_keep_remote_files":        false,
		"_ansible_tmpdir":                   tmp + "/",
		"_ansible_remote_tmp":               "~/.ansible/tmp",
		"_ansible_ignore_unknown_opts":      false,
		"_ansible_target_log_info":          nil,
		"_ansible_tracebacks_for":           []string{},
	}
	for k, v := range opts {
		args[k] = v
	}
	b, err := json.Marshal(args)
	if err != nil {
		t.Fatal(err)
	}
	return writeFile(t, tmp, "args", string(b))
}

// decodeOne decodes s, which must hold exactly one JSON object and nothing else.
func decodeOne(t *testing.T, s string) map[string]any {
	t.Helper()
	if !strings.HasPrefix(s, "{") {
		t.Fatalf("output does not start with a JSON object: %q", s)
	}
	dec := json.NewDecoder(strings.NewReader(s))
	var out map[string]any
	if err := dec.Decode(&out); err != nil {
		t.Fatalf("output is not a JSON object: %v\n%s", err, s)
	}
	var extra any
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		t.Fatalf("output holds more than one JSON object (%v): %q", err, s)
	}
	return out
}

func asMap(t *testing.T, v any) map[string]any {
	t.Helper()
	m, ok := v.(map[string]any)
	if !ok {
		t.Fatalf("%#v is not an object", v)
	}
	return m
}

func asList(t *testing.T, v any) []any {
	t.Helper()
	l, ok := v.([]any)
	if !ok {
		t.Fatalf("%#v is not a list", v)
	}
	return l
}

// fileServer serves files by path, with Range support, and counts requests.
type fileServer struct {
	srv  *httptest.Server
	host string // 127.0.0.1:port, the first path segment in the files layout
	hits atomic.Int64
}

func newFileServer(t *testing.T, files map[string][]byte) *fileServer {
	t.Helper()
	fsrv := &fileServer{}
	fsrv.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fsrv.hits.Add(1)
		b, ok := files[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(b))
	}))
	t.Cleanup(fsrv.srv.Close)
	fsrv.host = strings.TrimPrefix(fsrv.srv.URL, "http://")
	return fsrv
}

func (f *fileServer) url(p string) string { return f.srv.URL + p }

// newSlowServer serves size bytes at any path, in chunks with a pause before each.
func newSlowServer(t *testing.T, size, chunks int, pause time.Duration) *httptest.Server {
	t.Helper()
	chunk := bytes.Repeat([]byte("0123456789abcdef"), size/chunks/16)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", fmt.Sprint(len(chunk)*chunks))
		w.Header().Set("Content-Type", "application/octet-stream")
		if r.Method == http.MethodHead {
			return
		}
		rc := http.NewResponseController(w)
		for i := 0; i < chunks; i++ {
			select {
			case <-r.Context().Done():
				return
			case <-time.After(pause):
			}
			if _, err := w.Write(chunk); err != nil {
				return
			}
			_ = rc.Flush()
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

// cleanEnv is the test's environment without proxy settings, so that only the proxy test
// uses a proxy, whatever the machine running the tests has set.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		switch strings.ToUpper(name) {
		case "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "ALL_PROXY", "REQUEST_METHOD":
			continue
		}
		env = append(env, kv)
	}
	return env
}

// shellJoin quotes words for sh -c.
func shellJoin(words ...string) string {
	q := make([]string, len(words))
	for i, w := range words {
		q[i] = "'" + strings.ReplaceAll(w, "'", `'\''`) + "'"
	}
	return strings.Join(q, " ")
}

func blob(t *testing.T, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

func hexSHA(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

func sha(b []byte) string { return "sha256:" + hexSHA(b) }

func readFile(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func assertMode(t *testing.T, p string, want os.FileMode) {
	t.Helper()
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != want {
		t.Errorf("%s has mode %#o, want %#o", p, got, want)
	}
}

// listTree lists everything below dir, relative to it; a missing dir lists nothing.
func listTree(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if p != dir {
			rel, _ := filepath.Rel(dir, p)
			out = append(out, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func sortedKeys(m map[string][]byte) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

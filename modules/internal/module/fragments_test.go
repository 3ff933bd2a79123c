package module_test

import (
	"bytes"
	"context"
	"reflect"
	"strings"
	"testing"

	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/module"
)

// --help shows an option's first sentence, whole: "e.g." and an ellipsis do not end it.
func TestCLIHelpFirstSentence(t *testing.T) {
	m := &module.Module{Name: "demo", Spec: module.Spec{Options: []module.Option{
		{Name: "registry", Description: []string{"The registry to push to, C(host[:port]), e.g. C(registry.example.internal:35000). Exactly one of C(registry) and C(archive) is required."}},
		{Name: "retries", Type: module.TypeInt, Description: []string{"Retries, waiting 1s, 2s, 4s, ... in between, i.e. longer each time. A rerun resumes."}},
		{Name: "plain", Description: []string{"One sentence without a period"}},
	}}}
	var out, errOut bytes.Buffer
	if code := module.Execute(context.Background(), m, []string{"--help"}, &out, &errOut); code != 0 {
		t.Fatalf("--help: exit %d: %s", code, errOut.String())
	}
	help := out.String()
	for _, want := range []string{
		"The registry to push to, host[:port], e.g. registry.example.internal:35000.\n",
		"Retries, waiting 1s, 2s, 4s, ... in between, i.e. longer each time.\n",
		"One sentence without a period\n",
	} {
		if !strings.Contains(help, want) {
			t.Errorf("--help lacks %q:\n%s", want, help)
		}
	}
	for _, unwanted := range []string{"Exactly one", "A rerun"} {
		if strings.Contains(help, unwanted) {
			t.Errorf("--help shows more than the first sentence (%q):\n%s", unwanted, help)
		}
	}
}

// A module declaring a fragment's options unchanged extends the doc fragment instead of
// repeating them; an option it changes (another default) stays in its own stub.
func TestDocStubExtendsFragments(t *testing.T) {
	m := &module.Module{Name: "demo", Doc: module.Doc{ShortDescription: "Demo"}, Spec: module.Spec{Options: module.Join(
		[]module.Option{{Name: "dest", Type: module.TypePath}},
		module.RegistryAccess(),
		[]module.Option{module.Concurrency(8), module.Timeout(module.DefaultTimeout)},
	)}}
	stub, err := m.DocStub()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stub, "extends_documentation_fragment:\n  - airgap.kubespray.registry_access\n") {
		t.Errorf("stub does not extend registry_access:\n%s", stub)
	}
	if strings.Contains(stub, "airgap.kubespray.transfer") {
		t.Errorf("stub extends transfer without declaring retries:\n%s", stub)
	}
	for _, own := range []string{"  dest:\n", "  concurrency:\n", "default: 8", "  timeout:\n"} {
		if !strings.Contains(stub, own) {
			t.Errorf("stub lacks its own %q:\n%s", own, stub)
		}
	}
	for _, shared := range []string{"  auth:\n", "  insecure_registries:\n", "  validate_certs:\n", "  ca_path:\n"} {
		if strings.Contains(stub, shared) {
			t.Errorf("stub repeats the fragment's %q:\n%s", shared, stub)
		}
	}
	doc, err := module.RegistryAccessFragment.DocFragment()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"class ModuleDocFragment(object):", "DOCUMENTATION = r'''\noptions:\n  auth:\n", "  insecure_registries:\n"} {
		if !strings.Contains(doc, want) {
			t.Errorf("doc fragment lacks %q:\n%s", want, doc)
		}
	}
	// no_log belongs to the argument spec, not to the documentation (validate-modules)
	if strings.Contains(doc, "no_log") {
		t.Errorf("doc fragment documents no_log:\n%s", doc)
	}
}

// A raw option with sub-options (auth) takes a YAML list on the command line, or a plain
// value (a config.json path) as typed.
func TestCLIRawFlag(t *testing.T) {
	var seen *module.Invocation
	m := &module.Module{Name: "demo", Spec: module.Spec{Options: module.RegistryAccess()},
		Run: func(_ context.Context, inv *module.Invocation) (*module.Result, error) {
			seen = inv
			return &module.Result{Msg: "ok"}, nil
		}}
	for _, tc := range []struct {
		flag string
		want any
	}{
		{"/root/.docker/config.json", "/root/.docker/config.json"},
		{"[{registry: 'r:5000', username: u, password: p}]", []any{map[string]any{"registry": "r:5000", "username": "u", "password": "p"}}},
	} {
		var out, errOut bytes.Buffer
		if code := module.Execute(context.Background(), m, []string{"--auth", tc.flag}, &out, &errOut); code != 0 {
			t.Fatalf("--auth %s: exit %d: %s %s", tc.flag, code, out.String(), errOut.String())
		}
		if got := seen.Params["auth"]; !reflect.DeepEqual(got, tc.want) {
			t.Errorf("--auth %s: auth = %#v, want %#v", tc.flag, got, tc.want)
		}
	}
}

package main

import (
	"os"
	"reflect"
	"sort"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/module"
	probemod "github.com/airgap-kubespray/airgap.kubespray/modules/offline_probe"
	repoconfigmod "github.com/airgap-kubespray/airgap.kubespray/modules/offline_repo_config"
)

// meta/runtime.yml's `offline` action group holds exactly the modules that share the
// registry-access fragment, and every member takes every key the group may set through
// module_defaults, with one type and one description: no member answers "Unsupported
// parameters" to a value meant for another.
func TestOfflineActionGroup(t *testing.T) {
	b, err := os.ReadFile("../../meta/runtime.yml")
	if err != nil {
		t.Fatal(err)
	}
	var runtime struct {
		ActionGroups map[string][]string `yaml:"action_groups"`
	}
	if err := yaml.Unmarshal(b, &runtime); err != nil {
		t.Fatal(err)
	}
	group := runtime.ActionGroups["offline"]
	all := append(append([]*module.Module{}, modules...), repoconfigmod.Module, probemod.Module)
	var sharing []string
	for _, m := range all {
		if declaresAll(m, module.RegistryAccessFragment.Options) {
			sharing = append(sharing, m.Name)
		}
	}
	sorted := append([]string{}, group...)
	sort.Strings(sorted)
	sort.Strings(sharing)
	if !reflect.DeepEqual(sorted, sharing) {
		t.Errorf("action group offline = %v; the modules sharing the registry_access fragment are %v", group, sharing)
	}

	// The values a playbook may set once for the group (the shape of every key).
	defaults := map[string]any{
		"auth":                []any{map[string]any{"registry": "r.example:5000", "username": "u", "password": "p"}},
		"ca_path":             "/etc/ssl/ca.pem",
		"validate_certs":      true,
		"insecure_registries": []any{"127.0.0.1:5001"},
		"concurrency":         int64(2),
		"timeout":             int64(10),
	}
	keys := module.OfflineGroup()
	if len(keys) != len(defaults) {
		t.Fatalf("the group's keys %v changed: update this test's values", keys)
	}
	reference := map[string]module.Option{}
	for _, name := range group {
		m := byName(all, name)
		if m == nil {
			t.Errorf("action group offline names %s, which is no module", name)
			continue
		}
		for _, k := range keys {
			o := option(m, k)
			if o == nil {
				t.Errorf("%s does not take %s, which group/%s.offline may set", name, k, module.Collection)
				continue
			}
			// one type and one description in every member (defaults may differ)
			if ref, ok := reference[k]; !ok {
				reference[k] = *o
			} else if o.Type != ref.Type || !reflect.DeepEqual(o.Description, ref.Description) || !reflect.DeepEqual(o.Options, ref.Options) {
				t.Errorf("%s's %s differs from the other members' (type %s, %q)", name, k, o.Type, o.Description)
			}
		}
		_, err := module.Validate(name, m.Spec, defaults)
		if err != nil && strings.Contains(err.Error(), "Unsupported parameters") {
			t.Errorf("%s refuses the group's defaults: %v", name, err)
		}
	}
}

func declaresAll(m *module.Module, opts []module.Option) bool {
	for _, o := range opts {
		if got := option(m, o.Name); got == nil || !reflect.DeepEqual(*got, o) {
			return false
		}
	}
	return true
}

func option(m *module.Module, name string) *module.Option {
	for i, o := range m.Spec.Options {
		if o.Name == name {
			return &m.Spec.Options[i]
		}
	}
	return nil
}

func byName(all []*module.Module, name string) *module.Module {
	for _, m := range all {
		if m.Name == name {
			return m
		}
	}
	return nil
}

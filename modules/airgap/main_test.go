package main

import (
	"go/parser"
	"go/token"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// Every module package must run in the binary make links it to: registered here, or, for a
// module that runs on every node, listed in the Makefile's NODE and imported by
// modules/airgap_node (and only there).
func TestEveryModuleIsRegistered(t *testing.T) {
	dirs, err := filepath.Glob("../offline_*/module.go")
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no module packages found: %v", err)
	}
	node := makefileNode(t)
	registered := map[string]bool{}
	for _, m := range modules {
		registered[m.Name] = true
		if node[m.Name] {
			t.Errorf("module %s is in the Makefile's NODE and registered in modules/airgap/main.go too", m.Name)
		}
	}
	for _, d := range dirs {
		name := filepath.Base(filepath.Dir(d))
		if !registered[name] && !node[name] {
			t.Errorf("module %s is neither registered in modules/airgap/main.go nor in the Makefile's NODE", name)
		}
	}
	if got, want := nodeImports(t), sortedKeys(node); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("modules/airgap_node imports the modules %v, the Makefile's NODE is %v", got, want)
	}
}

// makefileNode reads the Makefile's NODE list.
func makefileNode(t *testing.T) map[string]bool {
	b, err := os.ReadFile("../../Makefile")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^NODE\s*:=\s*(.*)$`).FindSubmatch(b)
	if m == nil {
		t.Fatal("no NODE := line in the Makefile")
	}
	out := map[string]bool{}
	for _, n := range strings.Fields(string(m[1])) {
		out[n] = true
	}
	return out
}

// nodeImports lists the module packages modules/airgap_node/main.go imports.
func nodeImports(t *testing.T) []string {
	f, err := parser.ParseFile(token.NewFileSet(), "../airgap_node/main.go", nil, parser.ImportsOnly)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, imp := range f.Imports {
		p, _ := strconv.Unquote(imp.Path.Value)
		if strings.HasPrefix(path.Base(p), "offline_") {
			names = append(names, path.Base(p))
		}
	}
	sort.Strings(names)
	return names
}

func sortedKeys(m map[string]bool) []string {
	var keys []string
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

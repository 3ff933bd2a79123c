package main

import (
	"os"
	"path/filepath"
	"testing"
)

// Every module package must be registered, or make would link a module to a binary that
// does not run it.
func TestEveryModuleIsRegistered(t *testing.T) {
	dirs, err := filepath.Glob("../offline_*/module.go")
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no module packages found: %v", err)
	}
	registered := map[string]bool{}
	for _, m := range modules {
		registered[m.Name] = true
	}
	for _, d := range dirs {
		name := filepath.Base(filepath.Dir(d))
		if _, err := os.Stat(filepath.Join("..", name, "cmd", "main.go")); err == nil {
			continue // a standalone module with its own small binary
		}
		if !registered[name] {
			t.Errorf("module %s is not registered in modules/airgap/main.go", name)
		}
	}
}

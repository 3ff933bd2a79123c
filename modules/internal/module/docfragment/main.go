// Command docfragment writes (or checks) plugins/doc_fragments/<name>.py, the one documentation
// of each option fragment the modules share (module.Fragments):
//
//	go run ./modules/internal/module/docfragment write plugins/doc_fragments
//	go run ./modules/internal/module/docfragment check plugins/doc_fragments
package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/module"
)

// generatedBy marks a file this command wrote, so that a fragment no longer declared is found.
const generatedBy = "from modules/internal/module/fragments.go; DO NOT EDIT."

func main() {
	if len(os.Args) != 3 || (os.Args[1] != "write" && os.Args[1] != "check") {
		fmt.Fprintln(os.Stderr, "usage: docfragment write|check DIR")
		os.Exit(2)
	}
	if err := run(os.Args[1] == "check", os.Args[2]); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func run(check bool, dir string) error {
	want := map[string]bool{}
	var stale []string
	for _, f := range module.Fragments {
		text, err := f.DocFragment()
		if err != nil {
			return err
		}
		path := filepath.Join(dir, f.Name+".py")
		want[path] = true
		if !check {
			tmp := path + ".tmp"
			if err := os.WriteFile(tmp, []byte(text), 0o644); err != nil {
				return err
			}
			if err := os.Rename(tmp, path); err != nil {
				return err
			}
			fmt.Println("wrote", path)
			continue
		}
		if old, err := os.ReadFile(path); err != nil || !bytes.Equal(old, []byte(text)) {
			stale = append(stale, path+" is stale: run 'make docs' and commit it")
		}
	}
	others, _ := filepath.Glob(filepath.Join(dir, "*.py"))
	for _, p := range others {
		if b, err := os.ReadFile(p); err == nil && !want[p] && strings.Contains(string(b), generatedBy) {
			stale = append(stale, p+" documents no fragment of modules/internal/module/fragments.go: remove it")
		}
	}
	if len(stale) > 0 {
		return fmt.Errorf("%s", strings.Join(stale, "\n"))
	}
	return nil
}

package module

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
)

// MultiMain runs one of several modules from a single binary, so that the collection ships
// one binary per architecture (plugins/bin/airgap_linux_<arch>) and each module is a link to
// it (plugins/modules/<name>_linux_<arch>). It never returns.
func MultiMain(modules ...*Module) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := ExecuteMulti(ctx, modules, os.Args, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// ExecuteMulti picks the module by, in order: the name the binary was run as (ansible-core
// copies a module to AnsiballZ_<name>_linux_<arch>; a link may be called <name>), the first
// argument, or the _ansible_module_name key of an args file.
func ExecuteMulti(ctx context.Context, modules []*Module, argv []string, stdout, stderr io.Writer) int {
	byName := map[string]*Module{}
	for _, m := range modules {
		byName[m.Name] = m
	}
	if m := byName[ModuleName(filepath.Base(argv[0]))]; m != nil {
		return Execute(ctx, m, argv[1:], stdout, stderr)
	}
	if len(argv) > 1 {
		if m := byName[ModuleName(argv[1])]; m != nil {
			return Execute(ctx, m, argv[2:], stdout, stderr)
		}
		if len(argv) == 2 {
			if raw, ok := readArgsFile(argv[1]); ok {
				name, _ := raw["_ansible_module_name"].(string)
				if m := byName[ModuleName(name)]; m != nil {
					return m.runAnsible(ctx, raw, stdout)
				}
				return writeJSON(stdout, map[string]any{"failed": true, "changed": false,
					"msg": fmt.Sprintf("unknown module %q: this binary runs %s", name, names(modules))}, false)
			}
		}
	}
	fmt.Fprintf(stderr, "usage: %s MODULE [flags]   (or run it as a link named MODULE)\nmodules: %s\n",
		filepath.Base(argv[0]), names(modules))
	return 2
}

// ModuleName turns what a module may be called into its short name:
// "AnsiballZ_offline_file_fetch_linux_amd64", "airgap.kubespray.offline_file_fetch_linux_arm64"
// and "offline_file_fetch" all give "offline_file_fetch".
func ModuleName(s string) string {
	s = strings.TrimPrefix(s, "AnsiballZ_")
	s = strings.TrimPrefix(s, Collection+".")
	if i := strings.LastIndex(s, "_linux_"); i > 0 {
		s = s[:i]
	}
	return s
}

func names(modules []*Module) string {
	var n []string
	for _, m := range modules {
		n = append(n, m.Name)
	}
	sort.Strings(n)
	return strings.Join(n, ", ")
}

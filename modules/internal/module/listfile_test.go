package module_test

import (
	"reflect"
	"testing"

	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/module"
)

// One rule reads every module's --list file: a YAML list or one entry a line.
func TestListFileForms(t *testing.T) {
	l := module.ListFile{Option: "images", Key: "source",
		List: func(doc any) any {
			if m, ok := doc.(map[string]any); ok {
				return m["images"]
			}
			return doc
		},
		Entry: func(v map[string]any) map[string]any { return map[string]any{"source": v["source"]} }}
	for _, c := range []struct {
		name, in string
		want     []any
	}{
		{"lines", "# images.list\nquay.io/a:1\n\n  docker.io/b:2  \n", []any{map[string]any{"source": "quay.io/a:1"}, map[string]any{"source": "docker.io/b:2"}}},
		{"yaml list", "- quay.io/a:1\n- {source: docker.io/b:2, found_in: x}\n", []any{map[string]any{"source": "quay.io/a:1"}, map[string]any{"source": "docker.io/b:2"}}},
		{"document", "images:\n  - {source: quay.io/a:1, origin: downloads}\n", []any{map[string]any{"source": "quay.io/a:1"}}},
	} {
		got, err := l.Parse([]byte(c.in))
		if err != nil || !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s: got %v, %v; want %v", c.name, got, err, c.want)
		}
	}
}

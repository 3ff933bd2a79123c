package module

import (
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

func TestFoldYAMLKeepsContentAndWidth(t *testing.T) {
	long := strings.Repeat("word: it's C(x) - 'quoted' #not a comment ", 12)
	doc, err := render(mapping("description", []string{long, "short"}, "key", long+"end"))
	if err != nil {
		t.Fatal(err)
	}
	folded, err := foldYAML(doc, 80)
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(folded, "\n") {
		if len(line) > 80 {
			t.Errorf("line of %d characters: %q", len(line), line)
		}
	}
	var got struct {
		Description []string
		Key         string
	}
	if err := yaml.Unmarshal([]byte(folded), &got); err != nil {
		t.Fatal(err)
	}
	if len(got.Description) != 2 || got.Description[0] != long || got.Key != long+"end" {
		t.Errorf("folding changed the content: %+v", got)
	}
}

func TestPyArgSpec(t *testing.T) {
	spec := pyArgSpec([]Option{
		{Name: "auth", Type: TypeList, Elements: TypeDict, Options: []Option{
			{Name: "password", Type: TypeStr, NoLog: true, Required: true},
		}},
		{Name: "mode", Type: TypeRaw, Default: "0644", Choices: []any{"0644", 420}, Aliases: []string{"m"}},
	}, "")
	want := `{
    'auth': {'type': 'list', 'elements': 'dict', 'options': {
        'password': {'type': 'str', 'required': True, 'no_log': True},
    }},
    'mode': {'type': 'raw', 'default': '0644', 'choices': ['0644', 420], 'aliases': ['m']},
}`
	if spec != want {
		t.Errorf("got\n%s\nwant\n%s", spec, want)
	}
}

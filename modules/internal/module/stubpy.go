package module

import (
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// The Python side of a doc stub: what ansible-test's validate-modules and import tests read.

// stubMaxLine is where the stub's YAML lines are folded (ansible-test's pep8 allows 160).
const stubMaxLine = 120

// pyArgSpec renders opts as the argument_spec of an AnsibleModule: the stub instantiates it, so that
// validate-modules compares the documentation with the spec both come from.
func pyArgSpec(opts []Option, indent string) string {
	var b strings.Builder
	b.WriteString("{\n")
	for _, o := range opts {
		fields := []string{"'type': " + pyValue(string(o.typ()))}
		if o.typ() == TypeList {
			fields = append(fields, "'elements': "+pyValue(string(o.elements())))
		}
		if o.Required {
			fields = append(fields, "'required': True")
		}
		if o.Default != nil {
			fields = append(fields, "'default': "+pyValue(o.Default))
		}
		if len(o.Choices) > 0 {
			fields = append(fields, "'choices': "+pyValue(o.Choices))
		}
		if len(o.Aliases) > 0 {
			fields = append(fields, "'aliases': "+pyValue(o.Aliases))
		}
		if o.NoLog {
			fields = append(fields, "'no_log': True")
		}
		if len(o.Options) > 0 {
			fields = append(fields, "'options': "+pyArgSpec(o.Options, indent+"    "))
		}
		fmt.Fprintf(&b, "%s    %s: {%s},\n", indent, pyValue(o.Name), strings.Join(fields, ", "))
	}
	b.WriteString(indent + "}")
	return b.String()
}

// pyValue renders a spec value (nil, bool, number, string, list, map) as a Python literal.
func pyValue(v any) string {
	switch x := v.(type) {
	case nil:
		return "None"
	case bool:
		if x {
			return "True"
		}
		return "False"
	case string:
		if q := strconv.Quote(x); q[1:len(q)-1] != x || strings.Contains(x, "'") {
			return q
		}
		return "'" + x + "'"
	case []string:
		parts := make([]string, len(x))
		for i, s := range x {
			parts[i] = pyValue(s)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Slice, reflect.Array:
		parts := make([]string, rv.Len())
		for i := range parts {
			parts[i] = pyValue(rv.Index(i).Interface())
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case reflect.Map:
		keys := make([]string, 0, rv.Len())
		vals := map[string]string{}
		for _, k := range rv.MapKeys() {
			ks := pyValue(k.Interface())
			keys = append(keys, ks)
			vals[ks] = pyValue(rv.MapIndex(k).Interface())
		}
		sort.Strings(keys)
		parts := make([]string, len(keys))
		for i, k := range keys {
			parts[i] = k + ": " + vals[k]
		}
		return "{" + strings.Join(parts, ", ") + "}"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Float32, reflect.Float64:
		return fmt.Sprint(v)
	}
	panic(fmt.Sprintf("no Python literal for %T", v))
}

// pyList renders groups of option names ([][]string) as a Python list of lists.
func pyList(groups [][]string) string {
	parts := make([]string, len(groups))
	for i, g := range groups {
		parts[i] = pyValue(g)
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

// foldYAML folds the plain and single-quoted scalars of rendered YAML at spaces so that no line
// is longer than width where a fold is possible (YAML reads a folded line break as one space).
// The result must load to the same data as the input, or it is an error.
func foldYAML(doc string, width int) (string, error) {
	var out []string
	for _, line := range strings.Split(doc, "\n") {
		out = append(out, foldLine(line, width)...)
	}
	folded := strings.Join(out, "\n")
	var a, b any
	if err := yaml.Unmarshal([]byte(doc), &a); err != nil {
		return "", err
	}
	if err := yaml.Unmarshal([]byte(folded), &b); err != nil {
		return "", fmt.Errorf("folding documentation: %w", err)
	}
	if !reflect.DeepEqual(a, b) {
		return "", fmt.Errorf("folding documentation changed its content")
	}
	return folded, nil
}

// foldLine splits one "- scalar" or "key: scalar" line; other lines are kept as they are.
func foldLine(line string, width int) []string {
	if len(line) <= width {
		return []string{line}
	}
	indent := len(line) - len(strings.TrimLeft(line, " "))
	rest := line[indent:]
	var start int
	switch {
	case strings.HasPrefix(rest, "- "):
		start = indent + 2
	default:
		i := strings.Index(rest, ": ")
		if i <= 0 || strings.ContainsAny(rest[:i], " '\"#") {
			return []string{line}
		}
		start = indent + i + 2
	}
	scalar := line[start:]
	quoted := strings.HasPrefix(scalar, "'") && strings.HasSuffix(scalar, "'") && len(scalar) > 1
	if !quoted && (scalar == "" || strings.ContainsRune("-?:,[]{}#&*!|>'\"%@`", rune(scalar[0]))) {
		return []string{line}
	}
	cont := strings.Repeat(" ", indent+2)
	var lines []string
	cur := line[:start]
	words := strings.Split(scalar, " ")
	for i, w := range words {
		if i == 0 {
			cur += w
			continue
		}
		// Break only at a single space between words, before a word that cannot start a line
		// of a plain scalar otherwise.
		breakable := words[i-1] != "" && w != "" && (quoted || !strings.ContainsRune("-?:,[]{}#&*!|>'\"%@`", rune(w[0])))
		if breakable && len(cur)+1+len(w) > width && strings.TrimSpace(cur) != "" && len(cur) > len(cont) {
			lines = append(lines, cur)
			cur = cont + w
			continue
		}
		cur += " " + w
	}
	return append(lines, cur)
}

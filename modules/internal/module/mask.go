package module

import (
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// Masked replaces every secret value, wherever it appears inside a string, map key or
// list of the output, as Ansible's remove_values does for Python modules.
const Masked = "********"

// noLogPlaceholder stands for a no_log option's own value in the returned invocation.
const noLogPlaceholder = "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER"

type masker struct{ secrets []string }

func newMasker(secrets []string) *masker {
	s := append([]string(nil), secrets...)
	// Longest first, so a secret that contains another is replaced whole.
	sort.Slice(s, func(i, j int) bool { return len(s[i]) > len(s[j]) })
	return &masker{secrets: s}
}

func (m *masker) str(s string) string {
	for _, sec := range m.secrets {
		if sec != "" && strings.Contains(s, sec) {
			s = strings.ReplaceAll(s, sec, Masked)
		}
	}
	return s
}

// value masks v recursively; v holds only JSON-decoded shapes.
func (m *masker) value(v any) any {
	if len(m.secrets) == 0 {
		return v
	}
	switch t := v.(type) {
	case string:
		return m.str(t)
	case float64, int64, json.Number:
		// A number holding a secret (a numeric password echoed back) is masked whole, as
		// Ansible's remove_values does.
		for _, n := range []string{fmt.Sprint(t), strconv.FormatFloat(toF(t), 'f', -1, 64)} {
			if m.str(n) != n {
				return Masked
			}
		}
		return v
	case []any:
		out := make([]any, len(t))
		for i, e := range t {
			out[i] = m.value(e)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, e := range t {
			out[m.str(k)] = m.value(e)
		}
		return out
	}
	return v
}

// invocation returns the module arguments as Ansible shows them at -vvv: no_log options
// replaced by a placeholder, other secrets masked wherever they appear.
func invocation(opts []Option, params map[string]any, m *masker) map[string]any {
	out := make(map[string]any, len(params))
	for _, o := range opts {
		v, ok := params[o.Name]
		if !ok {
			continue
		}
		switch {
		case o.NoLog && v != nil:
			out[o.Name] = noLogPlaceholder
		case o.NoLogValues && v != nil:
			out[o.Name] = noLogValues(v)
		case len(o.Options) > 0:
			out[o.Name] = subInvocation(o.Options, v, m)
		default:
			out[o.Name] = m.value(v)
		}
	}
	return out
}

func subInvocation(opts []Option, v any, m *masker) any {
	switch t := v.(type) {
	case map[string]any:
		return invocation(opts, t, m)
	case []any:
		out := make([]any, len(t))
		for i, e := range t {
			out[i] = subInvocation(opts, e, m)
		}
		return out
	}
	return m.value(v)
}

// noLogValues shows a dict's keys, every value replaced by the placeholder.
func noLogValues(v any) any {
	d, ok := v.(map[string]any)
	if !ok {
		return noLogPlaceholder
	}
	out := make(map[string]any, len(d))
	for k := range d {
		out[k] = noLogPlaceholder
	}
	return out
}

func toF(v any) float64 {
	f, _ := toFloat(v)
	return f
}

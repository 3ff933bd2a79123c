package module

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// Validated is the outcome of checking raw arguments against a Spec.
type Validated struct {
	Params   map[string]any // every option, with defaults, converted to its type
	Secrets  []string       // the values of no_log options, to mask in any output
	Warnings []string
}

// Validate checks raw arguments against spec the way Ansible's ArgumentSpecValidator does:
// unknown options, missing required ones, wrong types, bad choices and mutually exclusive
// options fail with Ansible-style messages. Keys starting with _ansible_ are ignored.
// Values are converted to string, int64, float64, bool, []any or map[string]any. The secrets
// are found first (see secretsOf): on error the result carries them, so that the error output
// can be masked.
func Validate(name string, spec Spec, raw map[string]any) (*Validated, error) {
	v := &validator{module: name, secrets: secretsOf(spec.Options, raw)}
	params := v.options(spec.Options, raw, "")
	for _, group := range spec.MutuallyExclusive {
		var set []string
		for _, n := range group {
			if p, ok := raw[n]; ok && p != nil {
				set = append(set, n)
			}
		}
		if len(set) > 1 {
			v.fail("parameters are mutually exclusive: %s", strings.Join(group, "|"))
		}
	}
	out := &Validated{Params: params, Secrets: v.secrets, Warnings: v.warnings}
	if len(v.errs) > 0 {
		return out, errors.New(strings.Join(v.errs, ". "))
	}
	return out, nil
}

type validator struct {
	module   string
	errs     []string
	warnings []string
	secrets  []string
}

func (v *validator) fail(format string, args ...any) {
	v.errs = append(v.errs, fmt.Sprintf(format, args...))
}

// options validates one level of options; where names the parent option for sub-options.
func (v *validator) options(opts []Option, raw map[string]any, where string) map[string]any {
	known := map[string]*Option{}
	for i := range opts {
		known[opts[i].Name] = &opts[i]
		for _, a := range opts[i].Aliases {
			known[a] = &opts[i]
		}
	}
	var unknown []string
	for k := range raw {
		if where == "" && strings.HasPrefix(k, "_ansible_") {
			continue
		}
		if known[k] == nil {
			unknown = append(unknown, qualify(where, k))
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		v.fail("Unsupported parameters for (%s) module: %s. Supported parameters include: %s",
			v.module, strings.Join(unknown, ", "), supported(opts))
	}

	out := map[string]any{}
	var missing []string
	for i := range opts {
		o := &opts[i]
		val, given := lookup(raw, o)
		if !given {
			if o.Required {
				missing = append(missing, o.Name)
				continue
			}
			val = o.Default
			if val == nil {
				out[o.Name] = nil
				continue
			}
		}
		conv, err := v.convert(o, val, where)
		if err != nil {
			v.fail("%s", err)
			continue
		}
		if list, ok := conv.([]any); ok && len(o.Choices) > 0 {
			// As Ansible: each element of a list option must be one of the choices.
			var bad []string
			for _, e := range list {
				if !inChoices(e, o.Choices) {
					bad = append(bad, fmt.Sprint(e))
				}
			}
			if len(bad) > 0 {
				v.fail("value of %s must be one or more of: %s. Got no match for: %s%s", o.Name, joinAny(o.Choices), strings.Join(bad, ", "), foundIn(where))
				continue
			}
		} else if len(o.Choices) > 0 && !inChoices(conv, o.Choices) {
			v.fail("value of %s must be one of: %s, got: %v%s", o.Name, joinAny(o.Choices), conv, foundIn(where))
			continue
		}
		out[o.Name] = conv
	}
	if len(missing) > 0 {
		v.fail("missing required arguments: %s%s", strings.Join(missing, ", "), foundIn(where))
	}
	return out
}

func lookup(raw map[string]any, o *Option) (any, bool) {
	for _, n := range append([]string{o.Name}, o.Aliases...) {
		if val, ok := raw[n]; ok && val != nil {
			return val, true
		}
	}
	return nil, false
}

func (v *validator) convert(o *Option, val any, where string) (any, error) {
	switch o.typ() {
	case TypeList:
		list, err := toList(val)
		if err != nil {
			return nil, typeError(o.Name, val, TypeList, err, where)
		}
		out := make([]any, 0, len(list))
		for _, e := range list {
			if o.elements() == TypeDict && len(o.Options) > 0 {
				m, err := toDict(e)
				if err != nil {
					return nil, fmt.Errorf("Elements value for option '%s'%s is of type %s and we were unable to convert to dict: %v",
						o.Name, foundIn(where), pyType(e), err)
				}
				out = append(out, v.options(o.Options, m, qualify(where, o.Name)))
				continue
			}
			c, err := v.scalar(o.Name, e, o.elements(), where)
			if err != nil {
				return nil, fmt.Errorf("Elements value for option '%s'%s is of type %s and we were unable to convert to %s: %v",
					o.Name, foundIn(where), pyType(e), o.elements(), err)
			}
			out = append(out, c)
		}
		return out, nil
	case TypeDict:
		m, err := toDict(val)
		if err != nil {
			return nil, typeError(o.Name, val, TypeDict, err, where)
		}
		if len(o.Options) > 0 {
			return v.options(o.Options, m, qualify(where, o.Name)), nil
		}
		return m, nil
	default:
		c, err := v.scalar(o.Name, val, o.typ(), where)
		if err != nil {
			return nil, typeError(o.Name, val, o.typ(), err, where)
		}
		return c, nil
	}
}

func (v *validator) scalar(name string, val any, t Type, where string) (any, error) {
	switch t {
	case TypeStr, TypePath:
		s, err := toStr(val)
		if err != nil {
			return nil, err
		}
		if _, isStr := val.(string); !isStr {
			v.warnings = append(v.warnings, fmt.Sprintf(
				"The value %s (type %s) in a string field%s was converted to '%s' (type str). "+
					"If this does not look like what you expect, quote the entire value to ensure it does not change.",
				s, pyName(val), foundIn(qualify(where, name)), s))
		}
		if t == TypePath {
			return expandPath(s), nil
		}
		return s, nil
	case TypeInt:
		return toInt(val)
	case TypeFloat:
		return toFloat(val)
	case TypeBool:
		return toBool(val)
	case TypeDict:
		return toDict(val)
	case TypeList:
		return toList(val)
	default:
		return normalize(val), nil
	}
}

func typeError(name string, val any, t Type, err error, where string) error {
	return fmt.Errorf("argument '%s' is of type %s%s and we were unable to convert to %s: %v",
		name, pyType(val), foundIn(where), t, err)
}

func foundIn(where string) string {
	if where == "" {
		return ""
	}
	return " found in " + where
}

func qualify(where, name string) string {
	if where == "" {
		return name
	}
	return where + "." + name
}

func supported(opts []Option) string {
	var names []string
	for _, o := range opts {
		n := o.Name
		if len(o.Aliases) > 0 {
			n += " (" + strings.Join(o.Aliases, ", ") + ")"
		}
		names = append(names, n)
	}
	sort.Strings(names)
	return strings.Join(names, ", ") + "."
}

// pyType names a value's type as Python prints it ("<class 'str'>"), since users read these
// messages next to the same messages from Python modules.
func pyType(val any) string { return "<class '" + pyName(val) + "'>" }

// pyName is the bare Python type name of a value.
func pyName(val any) string {
	switch val.(type) {
	case nil:
		return "NoneType"
	case string:
		return "str"
	case bool:
		return "bool"
	case json.Number:
		if _, err := val.(json.Number).Int64(); err == nil {
			return "int"
		}
		return "float"
	case int, int64, int32, uint64:
		return "int"
	case float64, float32:
		return "float"
	case []any, []string:
		return "list"
	case map[string]any:
		return "dict"
	}
	return fmt.Sprintf("%T", val)
}

func toStr(val any) (string, error) {
	switch t := val.(type) {
	case string:
		return t, nil
	case json.Number:
		return t.String(), nil
	case bool:
		if t {
			return "True", nil
		}
		return "False", nil
	case int, int64, int32, uint64, float64, float32:
		return fmt.Sprint(t), nil
	}
	return "", fmt.Errorf("%s cannot be converted to a str", pyType(val))
}

func toInt(val any) (int64, error) {
	switch t := val.(type) {
	case json.Number:
		if i, err := t.Int64(); err == nil {
			return i, nil
		}
		f, err := t.Float64()
		if err == nil && f == math.Trunc(f) {
			return int64(f), nil
		}
	case int:
		return int64(t), nil
	case int64:
		return t, nil
	case float64:
		if t == math.Trunc(t) {
			return int64(t), nil
		}
	case string:
		if i, err := strconv.ParseInt(strings.TrimSpace(t), 10, 64); err == nil {
			return i, nil
		}
	}
	return 0, fmt.Errorf("%s cannot be converted to an int", pyType(val))
}

func toFloat(val any) (float64, error) {
	switch t := val.(type) {
	case json.Number:
		return t.Float64()
	case int:
		return float64(t), nil
	case int64:
		return float64(t), nil
	case float64:
		return t, nil
	case string:
		if f, err := strconv.ParseFloat(strings.TrimSpace(t), 64); err == nil {
			return f, nil
		}
	}
	return 0, fmt.Errorf("%s cannot be converted to a float", pyType(val))
}

func toBool(val any) (bool, error) {
	switch t := val.(type) {
	case bool:
		return t, nil
	case string:
		switch strings.ToLower(strings.TrimSpace(t)) {
		case "yes", "on", "1", "true", "y", "t":
			return true, nil
		case "no", "off", "0", "false", "n", "f", "":
			return false, nil
		}
	case json.Number:
		switch t.String() {
		case "1", "1.0":
			return true, nil
		case "0", "0.0":
			return false, nil
		}
	case int, int64:
		switch fmt.Sprint(t) {
		case "1":
			return true, nil
		case "0":
			return false, nil
		}
	}
	return false, fmt.Errorf("The value '%v' is not a valid boolean. Valid booleans include: 'yes', 'on', '1', 'true', 'y', 't', 'no', 'off', '0', 'false', 'n', 'f'", val)
}

func toList(val any) ([]any, error) {
	switch t := val.(type) {
	case []any:
		return t, nil
	case []string:
		out := make([]any, len(t))
		for i, s := range t {
			out[i] = s
		}
		return out, nil
	case string:
		if t == "" {
			return []any{}, nil
		}
		var out []any
		for _, s := range strings.Split(t, ",") {
			out = append(out, s)
		}
		return out, nil
	case json.Number, int, int64, float64, bool:
		s, _ := toStr(t)
		return []any{s}, nil
	}
	return nil, fmt.Errorf("%s cannot be converted to a list", pyType(val))
}

func toDict(val any) (map[string]any, error) {
	switch t := val.(type) {
	case map[string]any:
		return t, nil
	case string:
		s := strings.TrimSpace(t)
		if strings.HasPrefix(s, "{") {
			d := json.NewDecoder(strings.NewReader(s))
			d.UseNumber()
			var m map[string]any
			if err := d.Decode(&m); err != nil {
				return nil, fmt.Errorf("dictionary requested, could not parse JSON or key=value: %v", err)
			}
			return m, nil
		}
		m := map[string]any{}
		for _, field := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' }) {
			k, v, ok := strings.Cut(field, "=")
			if !ok {
				return nil, fmt.Errorf("dictionary requested, could not parse JSON or key=value")
			}
			m[strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
		return m, nil
	}
	return nil, fmt.Errorf("%s cannot be converted to a dict", pyType(val))
}

// normalize turns json.Number into int64 or float64, recursively, for raw values.
func normalize(val any) any {
	switch t := val.(type) {
	case json.Number:
		if i, err := t.Int64(); err == nil {
			return i
		}
		f, _ := t.Float64()
		return f
	case []any:
		out := make([]any, len(t))
		for i, e := range t {
			out[i] = normalize(e)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, e := range t {
			out[k] = normalize(e)
		}
		return out
	}
	return val
}

func expandPath(p string) string {
	p = os.ExpandEnv(p)
	if p == "~" || strings.HasPrefix(p, "~/") {
		if home, err := os.UserHomeDir(); err == nil {
			p = filepath.Join(home, p[1:])
		}
	}
	return p
}

func inChoices(val any, choices []any) bool {
	for _, c := range choices {
		if fmt.Sprint(c) == fmt.Sprint(val) {
			return true
		}
	}
	return false
}

func joinAny(vals []any) string {
	s := make([]string, len(vals))
	for i, v := range vals {
		s[i] = fmt.Sprint(v)
	}
	return strings.Join(s, ", ")
}

package module

import (
	"context"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"

	"github.com/spf13/pflag"
	"gopkg.in/yaml.v3"
)

// runCLI runs the module from command-line flags made from the same Spec; it prints the
// result as indented JSON and exits non-zero on failure.
func (m *Module) runCLI(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := pflag.NewFlagSet(m.Name, pflag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.SetNormalizeFunc(func(_ *pflag.FlagSet, name string) pflag.NormalizedName {
		return pflag.NormalizedName(strings.ReplaceAll(name, "_", "-"))
	})
	fs.SortFlags = false
	for _, o := range m.Spec.Options {
		addFlag(fs, o)
	}
	secretFiles := addSecretSources(fs, m.Spec.Options)
	var apply func(map[string]any) error
	if m.CLI != nil {
		apply = m.CLI(fs)
	}
	check := fs.Bool("check", false, "report what would change, change nothing")
	diff := fs.Bool("diff", false, "include a diff of what changes in the result")
	verbose := fs.CountP("verbose", "v", "more output")
	docStub := fs.Bool("doc-stub", false, "print the Ansible documentation stub and exit")
	_ = fs.MarkHidden("doc-stub")
	usage := func(w io.Writer) {
		fmt.Fprintf(w, "%s: %s\n\nUsage: %s [flags]\n   or: %s ARGS_FILE   (as an Ansible module)\n\nFlags:\n%s",
			m.Name, m.Doc.ShortDescription, m.Name, m.Name, fs.FlagUsages())
	}
	fs.Usage = func() {} // errors and --help are reported below
	if err := fs.Parse(args); err != nil {
		if err == pflag.ErrHelp {
			usage(stdout)
			return 0
		}
		fmt.Fprintf(stderr, "%s: %v\nRun '%s --help' for usage.\n", m.Name, err, m.Name)
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "%s: unexpected argument %q (an args file must be the only argument)\nRun '%s --help' for usage.\n",
			m.Name, fs.Arg(0), m.Name)
		return 2
	}
	if *docStub {
		stub, err := m.DocStub()
		if err != nil {
			fmt.Fprintf(stderr, "%s: %v\n", m.Name, err)
			return 1
		}
		_, _ = io.WriteString(stdout, stub)
		return 0
	}

	raw := map[string]any{}
	var flagErr error
	fs.VisitAll(func(f *pflag.Flag) {
		if f.Changed && flagErr == nil {
			if o := m.option(f.Name); o != nil {
				raw[o.Name], flagErr = flagValue(fs, f, *o)
			}
		}
	})
	if flagErr == nil {
		flagErr = readSecretSources(fs, secretFiles, raw)
	}
	if flagErr == nil && apply != nil {
		flagErr = apply(raw)
	}
	if flagErr != nil {
		return writeJSON(stdout, map[string]any{"failed": true, "changed": false, "msg": flagErr.Error()}, true)
	}
	inv := &Invocation{CheckMode: *check, Diff: *diff, Verbosity: *verbose}
	if isTerminal(stderr) {
		inv.Progress = stderr
	}
	out := m.execute(ctx, inv, raw)
	delete(out, "invocation")
	return writeJSON(stdout, out, true)
}

// secretSource is where a no_log option's value may come from besides its flag, which ps
// shows to every user: a file (--password-file) or the environment (AIRGAP_PASSWORD).
type secretSource struct {
	opt      Option
	fileFlag string
	env      string
}

// secretEnv is the environment variable the command line reads a no_log option from.
func secretEnv(option string) string { return "AIRGAP_" + strings.ToUpper(option) }

// addSecretSources adds a --NAME-file flag for every scalar no_log option.
func addSecretSources(fs *pflag.FlagSet, opts []Option) []secretSource {
	var out []secretSource
	for _, o := range opts {
		if !o.NoLog || (o.typ() != TypeStr && o.typ() != TypeRaw) {
			continue
		}
		src := secretSource{opt: o, fileFlag: flagName(o.Name) + "-file", env: secretEnv(o.Name)}
		fs.String(src.fileFlag, "", fmt.Sprintf("read --%s from this file (its first line); or set %s. A value on the command line is visible to every user in ps",
			flagName(o.Name), src.env))
		out = append(out, src)
	}
	return out
}

// readSecretSources fills raw with each no_log option not given as a flag: from its file,
// else from its environment variable.
func readSecretSources(fs *pflag.FlagSet, srcs []secretSource, raw map[string]any) error {
	for _, src := range srcs {
		name := flagName(src.opt.Name)
		file := fs.Lookup(src.fileFlag)
		switch {
		case fs.Changed(name) && file.Changed:
			return fmt.Errorf("give --%s or --%s, not both", name, src.fileFlag)
		case file.Changed:
			b, err := os.ReadFile(file.Value.String())
			if err != nil {
				return fmt.Errorf("--%s: %w", src.fileFlag, err)
			}
			line, _, _ := strings.Cut(string(b), "\n")
			raw[src.opt.Name] = strings.TrimSuffix(line, "\r")
		case !fs.Changed(name) && os.Getenv(src.env) != "":
			raw[src.opt.Name] = os.Getenv(src.env)
		}
	}
	return nil
}

func (m *Module) option(flag string) *Option {
	for i, o := range m.Spec.Options {
		if flagName(o.Name) == flag {
			return &m.Spec.Options[i]
		}
	}
	return nil
}

func flagName(name string) string { return strings.ReplaceAll(name, "_", "-") }

func addFlag(fs *pflag.FlagSet, o Option) {
	name, usage := flagName(o.Name), firstSentence(plainText(strings.Join(o.Description, " "))) // enough for --help
	switch o.typ() {
	case TypeBool:
		def, _ := toBool(orFalse(o.Default))
		fs.BoolP(name, o.Short, def, usage)
	case TypeInt:
		def, _ := toInt(orZero(o.Default))
		fs.Int64P(name, o.Short, def, usage)
	case TypeFloat:
		def, _ := toFloat(orZero(o.Default))
		fs.Float64P(name, o.Short, def, usage)
	case TypeList, TypeDict:
		fs.StringArrayP(name, o.Short, nil, usage+" (YAML or JSON, or @FILE; repeatable)")
	default:
		if o.typ() == TypeRaw && len(o.Options) > 0 {
			usage += " (a value, or a YAML or JSON list or mapping, or @FILE)"
		}
		def, _ := toStr(o.Default)
		fs.StringP(name, o.Short, def, usage)
	}
}

// abbreviations end in a period without ending the sentence.
var abbreviations = map[string]bool{"e.g": true, "i.e": true, "cf": true, "vs": true}

// firstSentence is s up to the end of its first sentence: the first ". " that ends neither an
// abbreviation (e.g., i.e.) nor an ellipsis ("1s, 2s, 4s, ... in between").
func firstSentence(s string) string {
	for from := 0; ; {
		i := strings.Index(s[from:], ". ")
		if i < 0 {
			return s
		}
		end := from + i
		word := s[strings.LastIndexAny(s[:end], " (")+1 : end]
		if !abbreviations[strings.ToLower(word)] && !strings.HasSuffix(word, ".") {
			return s[:end+1]
		}
		from = end + 2
	}
}

// markup matches Ansible's documentation markup: C(x), I(x), B(x), M(x), U(x).
var markup = regexp.MustCompile(`\b[CIBMU]\(([^)]*)\)`)

// plainText strips documentation markup for --help.
func plainText(s string) string { return markup.ReplaceAllString(s, "$1") }

func orZero(v any) any {
	if v == nil {
		return 0
	}
	return v
}

// flagValue turns a flag into the raw value an args file would carry.
func flagValue(fs *pflag.FlagSet, f *pflag.Flag, o Option) (any, error) {
	switch o.typ() {
	case TypeBool:
		return fs.GetBool(f.Name)
	case TypeInt:
		return fs.GetInt64(f.Name)
	case TypeFloat:
		return fs.GetFloat64(f.Name)
	case TypeList, TypeDict:
		vals, err := fs.GetStringArray(f.Name)
		if err != nil {
			return nil, err
		}
		var list []any
		for _, s := range vals {
			v, err := parseFlagYAML(s)
			if err != nil {
				return nil, fmt.Errorf("--%s: %w", f.Name, err)
			}
			switch l := v.(type) {
			case []any:
				list = append(list, l...)
			case string:
				if o.typ() == TypeList && o.elements() != TypeDict {
					// A plain value of a list option is comma-separated, as Ansible reads it.
					for _, part := range strings.Split(l, ",") {
						list = append(list, part)
					}
					continue
				}
				list = append(list, l)
			default:
				list = append(list, v)
			}
		}
		if o.typ() == TypeDict {
			if len(list) != 1 {
				return nil, fmt.Errorf("--%s: give one mapping", f.Name)
			}
			return list[0], nil
		}
		return list, nil
	case TypeRaw:
		// a list or a mapping in YAML (JSON) or @FILE, e.g. --auth '[{registry: r, ...}]'; any
		// other value stays the string typed (a path, an octal mode)
		return parseFlagYAML(f.Value.String())
	default:
		return f.Value.String(), nil
	}
}

// parseFlagYAML reads a flag value as YAML (JSON is YAML), or a YAML file when it starts with @.
// A plain scalar stays the string it was typed as.
func parseFlagYAML(s string) (any, error) {
	text := s
	if strings.HasPrefix(s, "@") {
		b, err := os.ReadFile(s[1:])
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", s[1:], err)
		}
		text = string(b)
	}
	var v any
	if err := yaml.Unmarshal([]byte(text), &v); err != nil {
		return nil, fmt.Errorf("parsing %q as YAML: %w", s, err)
	}
	switch v.(type) {
	case []any, map[string]any:
		return normalizeYAML(v), nil
	}
	return s, nil
}

// normalizeYAML turns yaml.v3's ints into int64 for the validator.
func normalizeYAML(v any) any {
	switch t := v.(type) {
	case int:
		return int64(t)
	case []any:
		for i, e := range t {
			t[i] = normalizeYAML(e)
		}
	case map[string]any:
		for k, e := range t {
			t[k] = normalizeYAML(e)
		}
	}
	return v
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

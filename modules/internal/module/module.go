package module

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/spf13/pflag"
)

// Module is one binary module: its argument spec, its documentation and the function that
// does the work. A module's main is a single call: module.Main(&Module{...}).
type Module struct {
	Name string // short name, e.g. "offline_file_fetch"
	Doc  Doc
	Spec Spec
	// CLI optionally adds command-line-only flags; the function it returns folds their values
	// into the raw arguments before validation.
	CLI func(fs *pflag.FlagSet) func(raw map[string]any) error
	Run func(ctx context.Context, inv *Invocation) (*Result, error)
}

// Invocation is what a module's Run receives.
type Invocation struct {
	Params    map[string]any // validated options, every one present (nil when unset)
	CheckMode bool           // report what would change, change nothing
	Diff      bool           // return a diff of what changes
	Verbosity int
	Progress  io.Writer // a terminal to draw progress on, or nil
	warnings  []string
	secrets   []string
}

// Secret marks a value found inside an option as secret: it is masked anywhere in the output,
// like a no_log option. Declare secrets in the Spec first (NoLog, NoLogValues, no_log
// sub-options of a raw option): those are known before validation, this only after it.
func (inv *Invocation) Secret(value string) {
	if value != "" {
		inv.secrets = append(inv.secrets, value)
	}
}

// Decode fills dst, a pointer to a struct with json tags, from the validated options.
func (inv *Invocation) Decode(dst any) error {
	b, err := json.Marshal(inv.Params)
	if err != nil {
		return fmt.Errorf("encoding options: %w", err)
	}
	if err := json.Unmarshal(b, dst); err != nil {
		return fmt.Errorf("decoding options: %w", err)
	}
	return nil
}

// Warn adds a warning to the result.
func (inv *Invocation) Warn(format string, args ...any) {
	inv.warnings = append(inv.warnings, fmt.Sprintf(format, args...))
}

// Result is what a module reports. Data holds the module's own keys (a struct with json tags
// or a map); they are merged into the top level of the result.
type Result struct {
	Changed bool
	Failed  bool
	Msg     string
	Diff    []Diff
	Data    any
}

// Diff is one entry of Ansible's diff output.
type Diff struct {
	BeforeHeader string `json:"before_header,omitempty"`
	AfterHeader  string `json:"after_header,omitempty"`
	Before       string `json:"before"`
	After        string `json:"after"`
}

// Main runs m as an Ansible module when the only argument is an args file, and as a
// command-line tool otherwise. It never returns.
func Main(m *Module) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := Execute(ctx, m, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// Execute is Main without the process around it, for tests.
func Execute(ctx context.Context, m *Module, args []string, stdout, stderr io.Writer) int {
	if len(args) == 1 {
		if raw, ok := readArgsFile(args[0]); ok {
			return m.runAnsible(ctx, raw, stdout)
		}
	}
	return m.runCLI(ctx, args, stdout, stderr)
}

// readArgsFile reads the JSON args file ansible-core passes as argv[1].
func readArgsFile(path string) (map[string]any, bool) {
	b, err := os.ReadFile(path)
	if err != nil || !bytes.HasPrefix(bytes.TrimSpace(b), []byte("{")) {
		return nil, false
	}
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var raw map[string]any
	if err := d.Decode(&raw); err != nil {
		return nil, false
	}
	if wrapped, ok := raw["ANSIBLE_MODULE_ARGS"].(map[string]any); ok && len(raw) == 1 {
		raw = wrapped
	}
	return raw, true
}

func (m *Module) runAnsible(ctx context.Context, raw map[string]any, stdout io.Writer) int {
	inv := &Invocation{}
	inv.CheckMode, _ = toBool(orFalse(raw["_ansible_check_mode"]))
	inv.Diff, _ = toBool(orFalse(raw["_ansible_diff"]))
	if n, err := toInt(raw["_ansible_verbosity"]); err == nil {
		inv.Verbosity = int(n)
	}
	out := m.execute(ctx, inv, raw)
	return writeJSON(stdout, out, false)
}

func orFalse(v any) any {
	if v == nil {
		return false
	}
	return v
}

// execute validates raw, runs the module and returns the masked result object.
func (m *Module) execute(ctx context.Context, inv *Invocation, raw map[string]any) map[string]any {
	val, err := Validate(m.Name, m.Spec, raw)
	val.Secrets = append(val.Secrets, environmentSecrets()...)
	mask := newMasker(val.Secrets)
	if err != nil {
		return mask.value(map[string]any{"failed": true, "msg": err.Error(), "changed": false}).(map[string]any)
	}
	inv.Params = val.Params
	inv.warnings = append(inv.warnings, val.Warnings...)

	res, err := m.call(ctx, inv)
	mask = newMasker(append(val.Secrets, inv.secrets...))
	out := map[string]any{}
	if res != nil && res.Data != nil {
		data, derr := toMap(res.Data)
		if derr != nil {
			err = derr
		}
		for k, v := range data {
			out[k] = v
		}
	}
	out["changed"] = res != nil && res.Changed
	switch {
	case err != nil:
		out["failed"] = true
		out["msg"] = err.Error()
	case res.Failed:
		out["failed"] = true
		out["msg"] = res.Msg
	default:
		out["msg"] = res.Msg
	}
	if inv.Diff && res != nil && len(res.Diff) > 0 {
		diffs, _ := toAny(res.Diff)
		out["diff"] = diffs
	}
	if len(inv.warnings) > 0 {
		warnings, _ := toAny(inv.warnings)
		out["warnings"] = warnings
	}
	out["invocation"] = map[string]any{"module_args": invocation(m.Spec.Options, val.Params, mask)}
	return mask.value(out).(map[string]any)
}

// call runs the module, turning a panic into an error so the result stays valid JSON.
func (m *Module) call(ctx context.Context, inv *Invocation) (res *Result, err error) {
	defer func() {
		if r := recover(); r != nil {
			res, err = nil, fmt.Errorf("%s: internal error: %v\n%s", m.Name, r, debug.Stack())
		}
	}()
	res, err = m.Run(ctx, inv)
	if err == nil && res == nil {
		res = &Result{}
	}
	return res, err
}

// toMap turns a struct or map into the JSON-decoded map shape the masker walks.
func toMap(v any) (map[string]any, error) {
	a, err := toAny(v)
	if err != nil {
		return nil, err
	}
	m, ok := a.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("module result data is %T, not an object", v)
	}
	return m, nil
}

func toAny(v any) (any, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encoding result: %w", err)
	}
	var a any
	if err := json.Unmarshal(b, &a); err != nil {
		return nil, fmt.Errorf("decoding result: %w", err)
	}
	return a, nil
}

func writeJSON(w io.Writer, out map[string]any, indent bool) int {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	if indent {
		enc.SetIndent("", "  ")
	}
	if err := enc.Encode(out); err != nil {
		fmt.Fprintf(w, `{"failed": true, "msg": "encoding result: %s"}`+"\n", err)
		return 1
	}
	if failed, _ := out["failed"].(bool); failed {
		return 1
	}
	return 0
}

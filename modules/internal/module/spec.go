// Package module runs a Go program as an Ansible binary module.
//
// ansible-core gives a binary module nothing but a JSON args file: no argument validation, no
// check-mode skip, no no_log masking. This package supplies all of it from one argument Spec,
// and the same Spec drives the plain command-line interface and the generated documentation stub.
package module

// Type is an option's type, named as in Ansible's argument_spec.
type Type string

// The option types a Spec can use.
const (
	TypeStr   Type = "str"
	TypeInt   Type = "int"
	TypeBool  Type = "bool"
	TypeFloat Type = "float"
	TypePath  Type = "path"
	TypeList  Type = "list"
	TypeDict  Type = "dict"
	TypeRaw   Type = "raw"
)

// Option describes one module option, like one entry of Ansible's argument_spec.
type Option struct {
	Name        string
	Type        Type
	Elements    Type     // element type when Type is TypeList
	Required    bool     // a missing or null value fails
	Default     any      // applied when the option is absent or null
	Choices     []any    // the allowed values, if not empty
	Aliases     []string // other names accepted for the option
	NoLog       bool     // the value is masked everywhere in the output
	NoLogValues bool     // a dict whose keys are shown, and whose values are masked (headers)
	Options     []Option // sub-options of a dict, or of each dict element of a list
	Description []string // one paragraph each
	Short       string   // one-letter command-line shorthand
}

// Spec is a module's whole argument specification.
type Spec struct {
	Options           []Option
	MutuallyExclusive [][]string // groups of options of which at most one may be set
}

// Doc is the human part of a module's documentation; options come from the Spec.
type Doc struct {
	ShortDescription string
	Description      []string
	Notes            []string
	SeeAlso          []string // module names (FQCN)
	Examples         string   // YAML, as in a module's EXAMPLES
	Return           []ReturnValue
	CheckMode        string // "full", "partial" or "none"
	DiffMode         string
	Author           string
}

// ReturnValue documents one key of the module's result.
type ReturnValue struct {
	Name        string
	Description string
	Returned    string
	Type        string
	Elements    string
	Sample      any
	Contains    []ReturnValue
}

func (o Option) elements() Type {
	if o.Elements == "" {
		return TypeStr
	}
	return o.Elements
}

func (o Option) typ() Type {
	if o.Type == "" {
		return TypeStr
	}
	return o.Type
}

// RegistryAuth is the sub-options of a raw "auth" option that is a docker config.json path or
// a list of {registry, username, password}: the module checks the shape, the declaration
// makes every password a secret before anything is checked (see secretsOf).
var RegistryAuth = []Option{
	{Name: "registry", Description: []string{"The registry host (C(host[:port]))."}},
	{Name: "username", Description: []string{"The user name."}},
	{Name: "password", NoLog: true, Description: []string{"The password (or token), masked in all output whatever its type."}},
}

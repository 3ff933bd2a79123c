package module

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/pflag"
	"gopkg.in/yaml.v3"
)

// ListFile describes a module's --list flag: a file (or "-" for stdin) whose entries are
// appended to the list option Option. The file is a YAML list, its string elements becoming
// {Key: s}, or else contrib/offline's form: one entry a line, blank lines and # comments
// skipped.
type ListFile struct {
	Option string // the list option the entries join, e.g. "items"
	Key    string // the key a plain string entry fills, e.g. "url"
	Usage  string
	// List, if set, finds the list in a YAML document that is not one (e.g. a manifest's
	// images); Entry, if set, rewrites a mapping entry (keeps only what the module takes).
	List  func(doc any) any
	Entry func(map[string]any) map[string]any
}

// Flag registers --list on fs and returns the CLI hook that reads it into raw.
func (l ListFile) Flag(fs *pflag.FlagSet) func(raw map[string]any) error {
	name := fs.String("list", "", l.Usage)
	return func(raw map[string]any) error {
		if *name == "" {
			return nil
		}
		entries, err := l.Read(*name)
		if err != nil {
			return err
		}
		prev, _ := raw[l.Option].([]any)
		raw[l.Option] = append(prev, entries...)
		return nil
	}
}

// Read reads the entries of the file name ("-": standard input).
func (l ListFile) Read(name string) ([]any, error) {
	var b []byte
	var err error
	if name == "-" {
		b, err = io.ReadAll(os.Stdin)
	} else {
		b, err = os.ReadFile(name)
	}
	if err != nil {
		return nil, fmt.Errorf("reading --list: %w", err)
	}
	return l.Parse(b)
}

// Parse reads the entries of a list file's content.
func (l ListFile) Parse(b []byte) ([]any, error) {
	var doc any
	if yaml.Unmarshal(b, &doc) == nil {
		if l.List != nil {
			if _, ok := doc.([]any); !ok {
				doc = l.List(doc)
			}
		}
		if list, ok := doc.([]any); ok {
			for i, e := range list {
				switch v := e.(type) {
				case string:
					list[i] = map[string]any{l.Key: v}
				case map[string]any:
					if l.Entry != nil {
						list[i] = l.Entry(v)
					}
				}
			}
			return list, nil
		}
	}
	var out []any
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		if line := strings.TrimSpace(sc.Text()); line != "" && !strings.HasPrefix(line, "#") {
			out = append(out, map[string]any{l.Key: line})
		}
	}
	return out, sc.Err()
}

package module

import (
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
)

// Secrets are found here, in one place, before anything is validated, so that no message
// (a type error, a malformed entry, the module's own error) and no field of the result can
// print one. A secret is:
//   - the value of a no_log option or sub-option, at any depth of lists and dicts, whatever
//     its type (a YAML password of 12345 is a number);
//   - every value of a NoLogValues dict (HTTP headers: bearer tokens, API keys), and the
//     credentials after its scheme word ("Bearer xyz": xyz);
//   - the password of a URL with user:password@ anywhere in the arguments, and in the proxy
//     variables of the environment the modules take their proxies from.
//
// The sub-options of a raw option (auth: a path, or a list of {registry, username,
// password}) are followed where the value is a dict or a list of dicts, and nowhere checked:
// the module checks the shape, after its secrets are known.

// secretsOf returns the secrets in raw arguments, walking them along the spec's options.
func secretsOf(opts []Option, raw map[string]any) []string {
	s := &secretSet{}
	s.options(opts, raw)
	s.urls(raw)
	return s.list
}

type secretSet struct{ list []string }

func (s *secretSet) add(v string) {
	if v = strings.TrimSpace(v); v != "" {
		s.list = append(s.list, v)
	}
}

// options registers the secrets of one level of options.
func (s *secretSet) options(opts []Option, raw map[string]any) {
	for i := range opts {
		o := &opts[i]
		for _, n := range append([]string{o.Name}, o.Aliases...) {
			if v, ok := raw[n]; ok && v != nil {
				s.option(o, v)
			}
		}
	}
}

func (s *secretSet) option(o *Option, v any) {
	switch {
	case o.NoLog:
		s.all(v)
	case o.NoLogValues:
		m, err := toDict(v)
		if err != nil {
			s.all(v) // not a dict: all of it, whatever it is
			return
		}
		for _, e := range m {
			s.all(e)
			if str, ok := e.(string); ok {
				if _, cred, found := strings.Cut(strings.TrimSpace(str), " "); found {
					s.add(cred) // "Bearer xyz", "Basic xyz"
				}
			}
		}
	case len(o.Options) > 0:
		switch t := v.(type) {
		case map[string]any:
			s.options(o.Options, t)
		case []any:
			for _, e := range t {
				if m, err := toDict(e); err == nil {
					s.options(o.Options, m)
				}
			}
		case string:
			if m, err := toDict(t); err == nil {
				s.options(o.Options, m)
			}
		}
	}
}

// leaves calls f with every value inside v that is not a list or a dict.
func leaves(v any, f func(any)) {
	switch t := v.(type) {
	case []any:
		for _, e := range t {
			leaves(e, f)
		}
	case map[string]any:
		for _, e := range t {
			leaves(e, f)
		}
	default:
		f(v)
	}
}

// all registers v, and everything inside it, as secret: strings as they are, numbers in
// every form they may be printed in.
func (s *secretSet) all(v any) { leaves(v, s.leaf) }

func (s *secretSet) leaf(v any) {
	switch t := v.(type) {
	case nil, bool:
		// A boolean is no secret worth hiding (and masking "true" would mask every flag);
		// the option's own value is still replaced in the invocation.
	case string:
		s.add(t)
	case json.Number:
		s.add(t.String())
		s.leaf(normalize(t))
	case int64:
		s.add(strconv.FormatInt(t, 10))
	case int:
		s.add(strconv.Itoa(t))
	case float64:
		s.add(strconv.FormatFloat(t, 'f', -1, 64))
		s.add(fmt.Sprint(t))
	default:
		s.add(fmt.Sprint(t))
	}
}

// userinfo finds user:password@ in URLs inside a string.
var userinfo = regexp.MustCompile(`[A-Za-z][A-Za-z0-9+.-]*://[^/?#@\s:]*:([^/?#@\s]*)@`)

// urls registers the password of every URL with credentials in any string of v.
func (s *secretSet) urls(v any) {
	leaves(v, func(l any) {
		str, _ := l.(string)
		for _, m := range userinfo.FindAllStringSubmatch(str, -1) {
			s.add(m[1])
			if dec, err := url.PathUnescape(m[1]); err == nil {
				s.add(dec)
			}
		}
	})
}

// proxyVariables are the environment variables Go's and curl's clients take proxies from.
var proxyVariables = []string{"https_proxy", "HTTPS_PROXY", "http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY", "no_proxy", "NO_PROXY"}

// environmentSecrets are the passwords in the proxy variables of the environment.
func environmentSecrets() []string {
	s := &secretSet{}
	for _, k := range proxyVariables {
		s.urls(os.Getenv(k))
	}
	return s.list
}

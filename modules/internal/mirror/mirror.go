// Package mirror rewrites upstream locations (download URLs, image references) to go through
// a mirror: a corporate proxy, a pull-through cache, or a local test upstream.
package mirror

import "strings"

// Mirror rewrites what starts with Prefix to start with Replace instead.
type Mirror struct {
	Prefix  string `json:"prefix"`
	Replace string `json:"replace"`
}

// Rewrite applies the mirror with the longest matching prefix, if any.
func Rewrite(s string, mirrors []Mirror) string {
	best := -1
	for i, m := range mirrors {
		if m.Prefix != "" && strings.HasPrefix(s, m.Prefix) && (best < 0 || len(m.Prefix) > len(mirrors[best].Prefix)) {
			best = i
		}
	}
	if best < 0 {
		return s
	}
	return mirrors[best].Replace + strings.TrimPrefix(s, mirrors[best].Prefix)
}

// Package platform is the one rule for image platforms ("os/arch[/variant]"): parsed with
// go-containerregistry's v1.ParsePlatform and matched with v1.Platform.Satisfies, for pull
// (which images of an index to keep), verify (which platforms a registry serves) and push's
// archive alike.
package platform

import (
	"fmt"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// Parse reads "os/arch[/variant]" (ggcr's syntax, ":osversion" allowed); os and arch are
// required. The error names s.
func Parse(s string) (v1.Platform, error) {
	p, err := v1.ParsePlatform(s)
	if err != nil || p.OS == "" || p.Architecture == "" {
		return v1.Platform{}, fmt.Errorf("platform %q: want os/arch[/variant], e.g. linux/amd64", s)
	}
	return *p, nil
}

// Match reports whether have satisfies any of wants (v1.Platform.Satisfies: what a want
// leaves empty, such as the variant, matches anything). A nil have matches nothing.
func Match(have *v1.Platform, wants []v1.Platform) bool {
	if have == nil {
		return false
	}
	for _, w := range wants {
		if have.Satisfies(w) {
			return true
		}
	}
	return false
}

// Name is p as "os/arch[/variant]", or "unknown" when nil.
func Name(p *v1.Platform) string {
	if p == nil {
		return "unknown"
	}
	return p.String()
}

// Names joins the names of ps with ", ".
func Names(ps []v1.Platform) string {
	var s []string
	for i := range ps {
		s = append(s, Name(&ps[i]))
	}
	return strings.Join(s, ", ")
}

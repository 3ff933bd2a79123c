package platform_test

import (
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/platform"
)

func TestParseAndMatch(t *testing.T) {
	for _, bad := range []string{"", "linux", "/amd64", "linux/", "a/b/c/d"} {
		if _, err := platform.Parse(bad); err == nil || !strings.Contains(err.Error(), `"`+bad+`"`) {
			t.Errorf("Parse(%q) = %v, want an error naming it", bad, err)
		}
	}
	arm, err := platform.Parse("linux/arm/v7")
	if err != nil || !arm.Equals(v1.Platform{OS: "linux", Architecture: "arm", Variant: "v7"}) {
		t.Fatalf("Parse(linux/arm/v7) = %+v, %v", arm, err)
	}
	amd, _ := platform.Parse("linux/amd64")
	wants := []v1.Platform{amd, arm}
	for _, tc := range []struct {
		have *v1.Platform
		ok   bool
	}{
		{&v1.Platform{OS: "linux", Architecture: "amd64"}, true},
		{&v1.Platform{OS: "linux", Architecture: "amd64", Variant: "v3"}, true}, // no variant wanted: any
		{&v1.Platform{OS: "linux", Architecture: "arm", Variant: "v7"}, true},
		{&v1.Platform{OS: "linux", Architecture: "arm", Variant: "v6"}, false},
		{&v1.Platform{OS: "linux", Architecture: "arm64"}, false},
		{&v1.Platform{OS: "unknown", Architecture: "unknown"}, false}, // an attestation
		{nil, false},
	} {
		if got := platform.Match(tc.have, wants); got != tc.ok {
			t.Errorf("Match(%s) = %v, want %v", platform.Name(tc.have), got, tc.ok)
		}
	}
	if got := platform.Names(wants); got != "linux/amd64, linux/arm/v7" {
		t.Errorf("Names = %q", got)
	}
}

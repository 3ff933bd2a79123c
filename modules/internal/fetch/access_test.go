package fetch_test

import (
	"testing"

	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/fetch"
)

// Header values arrive from JSON: numbers as float64, which must not become "1e+06".
func TestAccessHeaderValues(t *testing.T) {
	a := fetch.Access{Headers: map[string]any{"X-Big": 1e6, "X-Half": 1.5, "X-Text": "abc", "X-Bool": true},
		URLUsername: "u", URLPassword: "p", ValidateCerts: true}
	o, err := a.Options(0)
	if err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]string{"X-Big": "1000000", "X-Half": "1.5", "X-Text": "abc", "X-Bool": "true"} {
		if got := o.Header.Get(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	if o.Client == nil || o.Username != "u" || o.Password != "p" {
		t.Errorf("options %+v: want a client and the credentials", o)
	}
}

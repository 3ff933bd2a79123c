package bundleforecastmod_test

import (
	"reflect"
	"testing"

	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/module"
	bundleforecastmod "github.com/airgap-kubespray/airgap.kubespray/modules/offline_bundle_forecast"
	filefetch "github.com/airgap-kubespray/airgap.kubespray/modules/offline_file_fetch"
	imagepullmod "github.com/airgap-kubespray/airgap.kubespray/modules/offline_image_pull"
)

func option(m *module.Module, name string) *module.Option {
	for i := range m.Spec.Options {
		if m.Spec.Options[i].Name == name {
			return &m.Spec.Options[i]
		}
	}
	return nil
}

// The forecast takes what the fetch and the pull take, under the same names and types: the
// items (plus a file's size), platforms, mirrors, access options and site_state.
func TestOptionsAreTheFetchAndPullOnes(t *testing.T) {
	f := bundleforecastmod.Module
	for _, tc := range []struct {
		name, theirs string
		from         *module.Module
	}{
		{"url_mirrors", "url_mirrors", filefetch.Module}, {"url_username", "url_username", filefetch.Module},
		{"url_password", "url_password", filefetch.Module}, {"headers", "headers", filefetch.Module},
		{"ca_path", "ca_path", filefetch.Module}, {"validate_certs", "validate_certs", filefetch.Module},
		{"registry_mirrors", "registry_mirrors", imagepullmod.Module}, {"platforms", "platforms", imagepullmod.Module},
		{"auth", "auth", imagepullmod.Module}, {"insecure_registries", "insecure_registries", imagepullmod.Module},
		{"concurrency", "concurrency", imagepullmod.Module}, {"timeout", "timeout", imagepullmod.Module},
	} {
		ours, theirs := option(f, tc.name), option(tc.from, tc.theirs)
		if ours == nil || theirs == nil || !reflect.DeepEqual(*ours, *theirs) {
			t.Errorf("%s: %+v, want %s's %+v", tc.name, ours, tc.from.Name, theirs)
		}
	}
	if got, want := option(f, "images").Options, option(imagepullmod.Module, "images").Options; !reflect.DeepEqual(got, want) {
		t.Errorf("images' suboptions %+v, want offline_image_pull's %+v", got, want)
	}
	files, items := option(f, "files").Options, option(filefetch.Module, "items").Options
	if !reflect.DeepEqual(files[:len(items)], items) || len(files) != len(items)+1 || files[len(items)].Name != "size" || files[len(items)].Type != module.TypeInt {
		t.Errorf("files' suboptions %+v, want offline_file_fetch's items' and size", files)
	}
	if !reflect.DeepEqual(*option(f, "site_state"), module.SiteState()) {
		t.Errorf("site_state is not module.SiteState()")
	}
}

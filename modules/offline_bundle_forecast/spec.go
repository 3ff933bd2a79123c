package bundleforecastmod

import (
	"fmt"

	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/module"
	filefetch "github.com/airgap-kubespray/airgap.kubespray/modules/offline_file_fetch"
	imagepullmod "github.com/airgap-kubespray/airgap.kubespray/modules/offline_image_pull"
)

// Module is the module's one description: validation, CLI flags and the doc stub. The items,
// platforms and mirrors are offline_file_fetch's and offline_image_pull's own options, so that
// the forecast takes exactly what those modules take.
var Module = &module.Module{
	Name: "offline_bundle_forecast",
	Run:  run,
	Spec: module.Spec{Options: module.Join([]module.Option{
		{Name: "dest", Type: module.TypePath, Required: true, Description: []string{
			"The bundle folder: files go to C(<dest>/files) (offline_file_fetch's C(dest)), images to the OCI layout C(<dest>/images) (offline_image_pull's C(dest)). It need not exist yet; free space is read on the file system that holds it (or its nearest existing parent).",
		}},
		{Name: "files", Type: module.TypeList, Elements: module.TypeDict, Default: []any{}, Description: []string{
			"The files offline_file_fetch would fetch (its C(items), their C(path) relative to C(<dest>/files)), each with its C(size) when known.",
			"A file verified in place (the check offline_file_fetch skips it by) counts 0; else its C(size), else the Content-Length its server answers a HEAD request with (after C(url_mirrors)); a server that refuses HEAD is asked for the first byte (C(Range: bytes=0-0)).",
		}, Options: append(suboptions(filefetch.Module, "items"), module.Option{Name: "size", Type: module.TypeInt, Description: []string{
			"The file's size in bytes, when known (no request is made then).",
		}})},
		{Name: "images", Type: module.TypeList, Elements: module.TypeDict, Default: []any{}, Description: []string{
			"The images offline_image_pull would pull (its C(images)).",
			"Each is resolved as offline_image_pull resolves it; an image already in the layout and unchanged upstream counts 0, else its manifests, configs and the layers of the platforms kept that the layout lacks.",
		}, Options: suboptions(imagepullmod.Module, "images")},
		option(imagepullmod.Module, "platforms"),
		module.SiteState(),
	}, []module.Option{option(filefetch.Module, "url_mirrors"), option(imagepullmod.Module, "registry_mirrors")},
		module.RegistryAccess(), httpOnly(), []module.Option{module.Concurrency(module.DefaultConcurrency), module.Timeout(module.DefaultTimeout)})},
	Doc: module.Doc{
		ShortDescription: "Forecast the bytes a download adds to a bundle folder, against the free space there",
		Description: []string{
			"Before a download, tells how many bytes offline_file_fetch and offline_image_pull would add to the bundle folder, and how many are free on the file system that holds it; fails, naming what is needed, what is free and the shortfall, when the download would not fit.",
			"Nothing is downloaded or written: files are sized from their C(size) or with HEAD requests, images from their manifests; what the bundle already holds, and what the site holds (C(site_state)), counts 0.",
			"Items whose size cannot be learnt (no Content-Length, a request refused, a registry unreachable) are listed in C(unknown), counted as 0, with a warning.",
		},
		Notes: []string{
			"Check mode runs the same forecast (the module writes nothing either way).",
			"Images added later by offline_image_scan (found inside charts and manifests) are not known yet and not counted.",
		},
		SeeAlso:   []string{"airgap.kubespray.offline_file_fetch", "airgap.kubespray.offline_image_pull"},
		CheckMode: "full",
		DiffMode:  "none",
		Examples: `- name: Check that the download fits in the bundle folder
  airgap.kubespray.offline_bundle_forecast:
    dest: /srv/bundle
    files: "{{ manifest | airgap.kubespray.manifest_items('fetch') }}"
    images: "{{ manifest | airgap.kubespray.manifest_items('pull') }}"
    platforms: [linux/amd64, linux/arm64]
  register: forecast

- name: Show it
  ansible.builtin.debug:
    msg: "{{ forecast.msg }}"
`,
		Return: []module.ReturnValue{
			{Name: "dest", Description: "The bundle folder, absolute.", Returned: "always", Type: "str", Sample: "/srv/bundle"},
			{Name: "needed_bytes", Description: "Bytes the download would add (files_bytes + images_bytes).", Returned: "always", Type: "int", Sample: 13207024435},
			{Name: "free_bytes", Description: "Bytes available on the file system holding C(dest).", Returned: "always", Type: "int", Sample: 43057056563},
			{Name: "short_bytes", Description: "How many bytes are missing (needed_bytes - free_bytes), 0 when the download fits.", Returned: "always", Type: "int", Sample: 0},
			{Name: "files_bytes", Description: "Bytes of the files to fetch.", Returned: "always", Type: "int"},
			{Name: "images_bytes", Description: "Bytes of the image blobs to pull (a blob several images share counts once).", Returned: "always", Type: "int"},
			{Name: "unknown", Description: "The items whose size could not be learnt, counted as 0.", Returned: "always", Type: "list", Elements: "dict", Contains: []module.ReturnValue{
				{Name: "kind", Description: "C(file) or C(image).", Returned: "always", Type: "str"},
				{Name: "name", Description: "The file's URL or the image's reference.", Returned: "always", Type: "str"},
				{Name: "msg", Description: "Why its size is unknown.", Returned: "always", Type: "str"},
			}},
			{Name: "files", Description: "One entry per file: C(url), C(path), C(bytes), C(status) (C(in_place), C(site), C(to_fetch), C(unknown)), C(msg).", Returned: "always", Type: "list", Elements: "dict"},
			{Name: "images", Description: "One entry per image: C(source), C(pull_ref), C(bytes), C(blobs), C(status) (C(in_place), C(to_pull), C(unknown)), C(msg).", Returned: "always", Type: "list", Elements: "dict"},
			{Name: "msg", Description: "The forecast in one line; when short, what is needed, what is free and the shortfall.", Returned: "always", Type: "str", Sample: "needs 12.3 GiB (files 1.9 GiB, images 10.4 GiB), 40.1 GiB free in /srv/bundle"},
		},
	},
}

// option is m's option called name (the module's own, so that both take it the same way).
func option(m *module.Module, name string) module.Option {
	for _, o := range m.Spec.Options {
		if o.Name == name {
			return o
		}
	}
	panic(fmt.Sprintf("%s has no option %s", m.Name, name))
}

func suboptions(m *module.Module, name string) []module.Option {
	return append([]module.Option(nil), option(m, name).Options...)
}

// httpOnly are the HTTP-access options the registry-access ones do not already hold (both
// share ca_path and validate_certs).
func httpOnly() []module.Option {
	shared := map[string]bool{}
	for _, o := range module.RegistryAccess() {
		shared[o.Name] = true
	}
	var out []module.Option
	for _, o := range module.HTTPAccess() {
		if !shared[o.Name] {
			out = append(out, o)
		}
	}
	return out
}

package bundledeltamod

import "github.com/airgap-kubespray/airgap.kubespray/modules/internal/module"

// Module is the module's one description: validation, CLI flags and the doc stub.
var Module = &module.Module{
	Name: "offline_bundle_delta",
	Run:  run,
	Spec: module.Spec{Options: []module.Option{
		{Name: "bundle", Type: module.TypePath, Required: true, Description: []string{
			"The bundle folder, as the download role lays it out: the manifest's files under C(<bundle>/files), the images in the OCI layout C(<bundle>/images). C(<bundle>/delta.yaml) is written there.",
		}},
		module.SiteState(),
		{Name: "files", Type: module.TypeList, Elements: module.TypeDict, Default: []any{}, Description: []string{
			"The manifest's files, as M(airgap.kubespray.offline_file_fetch) took them (C(airgap.kubespray.manifest_items(manifest, 'fetch'))): each is carried when it is under C(<bundle>/files), else relied on when the site serves it at the same path with the same sha256.",
		}, Options: []module.Option{
			{Name: "url", Required: true, Description: []string{"The file's URL."}},
			{Name: "checksum", Default: "", Description: []string{"Its digest, C(sha256:<hex>) (an item without a sha256 is never left out)."}},
			{Name: "path", Description: []string{"Its path under C(<bundle>/files); defaults to C(<host>/<url path>), as for offline_file_fetch."}},
		}},
	}},
	Doc: module.Doc{
		ShortDescription: "Write delta.yaml: what a bundle downloaded against a site state carries and relies on the site holding",
		Description: []string{
			"A bundle downloaded with a C(site_state) (M(airgap.kubespray.offline_file_fetch) and M(airgap.kubespray.offline_image_pull) left out what the site holds) is a delta: this module writes its C(<bundle>/delta.yaml), computed from the bundle on disk and the state, never from what the download reported.",
			"C(base) names the state (its file's sha256, when it was written, the site and its views); C(relies_on.files) the manifest files the bundle lacks because the site serves them; C(relies_on.images) each image of the layout that lacks layers because the site's registry holds them (its reference in the site's registry, its manifest digest, those layers); C(carries) counts what the bundle holds and what it leaves out. The offline mirror checks C(relies_on) against the site before it applies the delta.",
			"Anything else the bundle lacks (a file or blob the site does not hold) fails the module, naming each, and nothing is written; in check mode (where the download fetched nothing) it is counted in the message instead, and the result says delta.yaml would change.",
			"Without C(site_state) the bundle is a full one: an old C(delta.yaml) is removed.",
			"With C(--diff), the diff shows delta.yaml as it was and as it is (or would be). delta.yaml is written only when its content changes, to a temporary file renamed into place; it lies inside the bundle, so C(SHA256SUMS) (written after it) covers it.",
		},
		Notes: []string{
			"An image new to the site is named where the mirror role pushes it (C(offline_image_push)'s default mapping, C(strip), no namespace); an image the site state lists by its bundle reference (C(source)) keeps the site's name.",
			"Files and layers in the bundle folder are carried even when the site holds them (the charts and helm the image scan reads, which the download role always fetches; what an earlier download left in the folder); the result counts them in C(redundant), and the message names them.",
		},
		SeeAlso:   []string{"airgap.kubespray.offline_file_fetch", "airgap.kubespray.offline_image_pull", "airgap.kubespray.offline_bundle_sums"},
		CheckMode: "full",
		DiffMode:  "full",
		Examples: `- name: Write delta.yaml (before SHA256SUMS, which covers it)
  airgap.kubespray.offline_bundle_delta:
    bundle: /srv/airgap-delta
    site_state: /srv/airgap-site-state.yaml
    files: "{{ manifest | airgap.kubespray.manifest_items('fetch') }}"
  register: delta

- name: Show what the delta leaves to the site
  ansible.builtin.debug:
    var: delta.delta.relies_on
`,
		Return: []module.ReturnValue{
			{Name: "path", Description: "The delta.yaml file.", Returned: "always", Type: "str"},
			{Name: "delta", Description: "delta.yaml's content (schema C(airgap.kubespray/delta/v1)): C(base), C(relies_on) (C(files), C(images)) and C(carries) (C(files), C(images), C(blobs), C(bytes), C(left_out_blobs), C(left_out_bytes)).", Returned: "with site_state", Type: "dict"},
			{Name: "redundant", Description: "What the bundle carries although the site holds it (C(files), C(blobs), C(bytes)).", Returned: "with site_state", Type: "dict"},
		},
	},
}

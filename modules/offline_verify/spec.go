package verifymod

import "github.com/airgap-kubespray/airgap.kubespray/modules/internal/module"

// manifestKeys are the other keys of manifest.yaml entries, accepted so that the lists can be
// passed as they are.
var manifestKeys = []module.Option{
	{Name: "path", Description: []string{"Ignored."}},
	{Name: "repo", Description: []string{"Ignored."}},
	{Name: "tag", Description: []string{"Ignored."}},
	{Name: "digest", Description: []string{"Ignored."}},
	{Name: "target", Description: []string{"Ignored."}},
	{Name: "groups", Type: module.TypeList, Description: []string{"Ignored."}},
	{Name: "enabled", Type: module.TypeBool, Description: []string{"Ignored."}},
	{Name: "extra", Type: module.TypeBool, Description: []string{"Ignored."}},
}

// Module is the module's one description: validation, CLI flags and the doc stub.
var Module = &module.Module{
	Name: "offline_verify",
	Run:  run,
	Spec: module.Spec{Options: module.Join([]module.Option{
		{Name: "files", Type: module.TypeList, Elements: module.TypeDict, Default: []any{}, Description: []string{
			"Files Kubespray will download, as the C(files) of a manifest evaluated with the offline variables: each is fetched (streamed, not stored) and its sha256 compared with C(checksum).",
		}, Options: append([]module.Option{
			{Name: "name", Description: []string{"The download's name, for messages."}},
			{Name: "url", Required: true, Description: []string{"The URL Kubespray will fetch."}},
			{Name: "checksum", Default: "", Description: []string{"C(sha256:<hex>) Kubespray expects; empty checks presence only."}},
			{Name: "arches", Type: module.TypeList, Description: []string{"Ignored."}},
		}, manifestKeys...)},
		{Name: "images", Type: module.TypeList, Elements: module.TypeDict, Default: []any{}, Description: []string{
			"Images Kubespray will pull, as the C(images) of a manifest evaluated with the offline variables: each must resolve in its registry, for every arch in C(arches).",
		}, Options: append([]module.Option{
			{Name: "name", Description: []string{"The image's name, for messages."}},
			{Name: "source", Required: true, Description: []string{"The reference Kubespray will pull, registry included."}},
			{Name: "arches", Type: module.TypeList, Elements: module.TypeStr, Default: []any{}, Description: []string{"Architectures the image must serve (C(linux/<arch>))."}},
		}, manifestKeys...)},
		{Name: "bundle_images", Type: module.TypePath, Description: []string{
			"The bundle's OCI layout (C(<bundle>/images)): every image it holds must be served by its registry under the very manifest digest of the layout's C(index.json) entry (the one the mirror pushed); another image under that tag fails, naming both digests.",
			"Matched by the push's own naming rule (the upstream host stripped). Images the bundle does not hold are checked for presence and platforms only; without this option no digest is compared.",
		}},
	}, module.RegistryAccess(), []module.Option{
		// verify waits less and checks more at once than a transfer: it only reads.
		module.Concurrency(8),
		module.Timeout(30),
	})},
	Doc: module.Doc{
		ShortDescription: "Check that the offline mirror holds every file and image Kubespray will ask for",
		Description: []string{
			"Fetches every file (checking its sha256 against Kubespray's) and resolves every image (checking its platforms) exactly as given, and fails listing each missing or wrong item by name.",
			"Changes nothing. Used by the C(airgap.kubespray.verify) playbook, which asks Kubespray for the lists with the inventory's offline variables.",
		},
		SeeAlso:   []string{"airgap.kubespray.kubespray_downloads"},
		CheckMode: "full",
		DiffMode:  "none",
		Examples: `- name: Check the mirror against what Kubespray will ask for
  airgap.kubespray.offline_verify:
    files: "{{ airgap_verify_manifest.files }}"
    images: "{{ airgap_verify_manifest.images }}"
    bundle_images: /srv/airgap-bundle/images
    ca_path: /etc/airgap/registry/ca.pem
`,
		Return: []module.ReturnValue{
			{Name: "items", Description: "One entry per file and image: kind, name, where (URL or reference), ok, detail.", Returned: "always", Type: "list", Elements: "dict"},
			{Name: "failed_items", Description: "The missing or wrong items.", Returned: "always", Type: "list", Elements: "dict"},
			{Name: "totals", Description: "files, images, failed, digests (images whose manifest digest was compared with the bundle's).", Returned: "always", Type: "dict"},
		},
	},
}

package verifymod

import "github.com/airgap-kubespray/airgap.kubespray/modules/internal/module"

// Module is the module's one description: validation, CLI flags and the doc stub.
var Module = &module.Module{
	Name: "offline_verify",
	Run:  run,
	Spec: module.Spec{Options: module.Join([]module.Option{
		{Name: "files", Type: module.TypeList, Elements: module.TypeDict, Default: []any{}, Description: []string{
			"Files Kubespray will download (from a manifest evaluated with the offline variables: C(airgap.kubespray.manifest_items(manifest, 'verify')).files; other keys are refused): each is fetched (streamed, not stored) and its sha256 compared with C(checksum).",
		}, Options: []module.Option{
			{Name: "name", Description: []string{"The download's name, for messages."}},
			{Name: "url", Required: true, Description: []string{"The URL Kubespray will fetch."}},
			{Name: "checksum", Default: "", Description: []string{"C(sha256:<hex>) Kubespray expects; empty checks presence only."}},
		}},
		{Name: "images", Type: module.TypeList, Elements: module.TypeDict, Default: []any{}, Description: []string{
			"Images Kubespray will pull (C(airgap.kubespray.manifest_items(manifest, 'verify')).images; other keys are refused): each must resolve in its registry, for every arch in C(arches).",
		}, Options: []module.Option{
			{Name: "name", Description: []string{"The image's name, for messages."}},
			{Name: "source", Required: true, Description: []string{"The reference Kubespray will pull, registry included."}},
			{Name: "arches", Type: module.TypeList, Elements: module.TypeStr, Default: []any{}, Description: []string{"Architectures the image must serve (C(linux/<arch>))."}},
		}},
		{Name: "bundle_images", Type: module.TypePath, Description: []string{
			"The bundle's OCI layout (C(<bundle>/images)): every image it holds must be served by its registry under the very manifest digest of the layout's C(index.json) entry (the one the mirror pushed), or by an index that a push merged it into (C(on_existing=merge): every manifest of the bundle's listed, the bundle's own still stored by digest); another image under that tag fails, naming both digests.",
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
    files: "{{ (airgap_verify_manifest | airgap.kubespray.manifest_items('verify')).files }}"
    images: "{{ (airgap_verify_manifest | airgap.kubespray.manifest_items('verify')).images }}"
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

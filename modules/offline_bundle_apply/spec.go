package bundleapplymod

import "github.com/airgap-kubespray/airgap.kubespray/modules/internal/module"

// Module is the module's one description: validation, CLI flags and the doc stub.
var Module = &module.Module{
	Name: "offline_bundle_apply",
	Run:  run,
	Spec: module.Spec{Options: []module.Option{
		{Name: "src", Type: module.TypePath, Required: true, Description: []string{
			"The delta bundle: a bundle downloaded with a site state (C(airgap.kubespray.download -e airgap_site_state=...)), with C(delta.yaml) at its top. A folder without one is refused: a full bundle is served as it is, not applied.",
		}},
		{Name: "bundle", Type: module.TypePath, Required: true, Description: []string{
			"The site's bundle, the one the mirror serves: the delta's C(files/) go into C(<bundle>/files), its images into the layout C(<bundle>/images).",
		}},
		{Name: "storage_dir", Type: module.TypePath, Default: "", Description: []string{
			"The registry's filesystem storage (as for M(airgap.kubespray.offline_image_push)): what the site's registry holds is read from it, and a blob the delta left out that C(<bundle>/images) lacks is taken from it. Empty: a remote registry, the site's images are those of C(<bundle>/images).",
		}},
		module.Concurrency(module.DefaultConcurrency),
	}},
	Doc: module.Doc{
		ShortDescription: "Apply a delta bundle on the bundle an offline mirror serves",
		Description: []string{
			"Describes what the site holds now (its files, the images and blobs of its registry, as the C(airgap.kubespray.site_state) playbook does) and checks that it still holds everything the delta relies on (C(relies_on) in its C(delta.yaml)): each file with its sha256, each blob the delta left out in the registry, and each image the site had at the delta's base (the site holds its manifest) still served under its reference with its digest. Any difference refuses the delta before anything is written, naming every item that differs (C(mismatches)).",
			"Each image the delta brings must be made whole from the delta, the site's bundle or the registry's storage; one that cannot is refused the same way, naming the image and the blobs it lacks.",
			"Then merges: the delta's files into C(<bundle>/files) (a hard link when on one filesystem, else a copy checked against its sha256, always to a temporary name renamed into place; nothing is written through a symbolic link found there), its blobs into C(<bundle>/images) (verified while written) and its images' index entries into the site's C(index.json), keeping the site's other images. The free space is checked first, against the bytes copied.",
			"Keeps the delta's C(delta.yaml), C(manifest.yaml) and C(SHA256SUMS) (with its signature and key) in C(<bundle>/.airgap/deltas/<delta sha256>/) and records the delta in C(<bundle>/.airgap/applied.yaml) (a dot folder: never in C(SHA256SUMS)). Applying the same delta again writes nothing (changed false).",
			"In check mode everything is read and checked, nothing is written; the result says what would be applied.",
		},
		SeeAlso:   []string{"airgap.kubespray.offline_bundle_sums", "airgap.kubespray.offline_image_push"},
		CheckMode: "full",
		DiffMode:  "full",
		Examples: `- name: Apply the delta carried in on /media/delta
  airgap.kubespray.offline_bundle_apply:
    src: /media/delta
    bundle: /srv/site-bundle
    storage_dir: /var/lib/airgap-registry
  register: applied
`,
		Return: []module.ReturnValue{
			{Name: "applied", Description: "What was written (in check mode, would be): files, blobs, from_storage (blobs the delta left out, taken from the registry's storage), images (index entries), bytes (copied); all 0 on a rerun.", Returned: "always", Type: "dict"},
			{Name: "mismatches", Description: "Each item the site no longer holds as the delta's base had it: kind (file, image), item (a path under files/, an image reference), expected, site (what the site has; empty: nothing), msg.", Returned: "always", Type: "list", Elements: "dict"},
			{Name: "failed_items", Description: "The same as mismatches.", Returned: "always", Type: "list", Elements: "dict"},
			{Name: "delta", Description: "The sha256 of the delta's delta.yaml: its name in C(.airgap/deltas/) and C(.airgap/applied.yaml).", Returned: "always", Type: "str"},
			{Name: "base", Description: "The sha256 of the site state the delta was made against.", Returned: "always", Type: "str"},
			{Name: "manifest", Description: "Where the delta's manifest.yaml is kept in the site's bundle (empty when the delta has none).", Returned: "success", Type: "str"},
			{Name: "lines", Description: "The summary, then one line per file and image applied.", Returned: "success", Type: "list", Elements: "str"},
		},
	},
}

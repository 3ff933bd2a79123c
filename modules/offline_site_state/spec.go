package sitestatemod

import "github.com/airgap-kubespray/airgap.kubespray/modules/internal/module"

// Module is the module's one description: validation, CLI flags and the doc stub.
var Module = &module.Module{
	Name: "offline_site_state",
	Run:  run,
	Spec: module.Spec{Options: []module.Option{
		{Name: "bundle", Type: module.TypePath, Required: true, Description: []string{
			"The site's bundle folder, the one the mirror serves: C(files/) (every regular file listed with its sha256; dot files, files in dot folders and symbolic links left out, a link never followed), C(images/) (the OCI layout: each image's bundle reference), C(manifest.yaml) (the views).",
			"The OS repositories under C(files/debs/<target>) (C(Packages) or C(Packages.gz)) and C(files/rpms/<target>) (the primary metadata C(repodata/repomd.xml) names) give the packages.",
		}},
		{Name: "storage_dir", Type: module.TypePath, Description: []string{
			"The filesystem storage of the site's registry (what the mirror filled, C(offline_image_push) C(storage_dir)): every tag, with the digest it serves and its platforms, and every blob.",
			"Unset (a remote registry, which this host cannot look into): the images and blobs are those of the bundle's layout, under the names the mirror pushes them to.",
		}},
		{Name: "dest", Type: module.TypePath, Required: true, Description: []string{
			"The state file to write, with its checksum beside it in C(<dest>.sha256) (the C(sha256sum) format). Its folder is created if missing.",
			"Not inside the bundle (except its private C(.airgap/) folder) nor inside the storage: the site would then hold it.",
		}},
		{Name: "site", Description: []string{"A name for the site, written into the file."}},
		{Name: "collection_version", Description: []string{
			"The collection's version, written into the file when the bundle's C(manifest.yaml) names none.",
		}},
		module.Concurrency(module.DefaultConcurrency),
	}},
	Doc: module.Doc{
		ShortDescription: "Write what an offline airgap.kubespray site holds (the site state file)",
		Description: []string{
			"Writes the site state file: the files the mirror serves (path, sha256, size), the images its registry serves (reference, manifest digest, platforms, the bundle reference they came from), every blob of the registry's storage, the OS repositories' packages (name, version, architecture, sha256) and the Kubespray views and collection version the bundle was made for.",
			"It is carried online, where the download playbook (C(airgap_site_state)) leaves out what the site already holds, making a delta bundle; the mirror reads it back to check a delta's base.",
			"A file's digest comes from the record kept in an extended attribute beside it while the file is unchanged (as for SHA256SUMS); a file without one is read and gets one, so a rerun reads no file. Nothing else is written into the site; blobs are listed by name, not read.",
			"The file and its C(.sha256) are written (each to a temporary file renamed into place) only when what the site holds changed: a rerun over an unchanged site changes nothing, and keeps the file's C(created) time.",
			"In check mode nothing is written, not even digest records; the result says whether the file would change.",
		},
		SeeAlso:   []string{"airgap.kubespray.offline_bundle_sums", "airgap.kubespray.offline_image_push"},
		CheckMode: "full",
		DiffMode:  "full",
		Examples: `- name: Write what the site holds
  airgap.kubespray.offline_site_state:
    bundle: /srv/airgap-bundle
    storage_dir: /var/lib/airgap-kubespray/registry
    dest: /srv/airgap-site-state.yaml
    site: dc1
  register: state
`,
		Return: []module.ReturnValue{
			{Name: "path", Description: "The state file.", Returned: "always", Type: "str"},
			{Name: "sha256", Description: "The state file's sha256 (what C(<path>.sha256) holds and a delta's base names).", Returned: "always", Type: "str"},
			{Name: "bytes", Description: "The state file's size.", Returned: "always", Type: "int"},
			{Name: "files", Description: "How many served files it lists.", Returned: "always", Type: "int"},
			{Name: "images", Description: "How many images (tags) it lists.", Returned: "always", Type: "int"},
			{Name: "blobs", Description: "How many registry blobs it lists.", Returned: "always", Type: "int"},
			{Name: "packages", Description: "How many OS packages it lists.", Returned: "always", Type: "int"},
			{Name: "views", Description: "How many views (Kubespray releases) it lists.", Returned: "always", Type: "int"},
		},
	},
}

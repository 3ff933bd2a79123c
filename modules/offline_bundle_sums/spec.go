package bundlesumsmod

import "github.com/airgap-kubespray/airgap.kubespray/modules/internal/module"

// Module is the module's one description: validation, CLI flags and the doc stub.
var Module = &module.Module{
	Name: "offline_bundle_sums",
	Run:  run,
	Spec: module.Spec{Options: []module.Option{
		{Name: "bundle", Type: module.TypePath, Required: true, Description: []string{
			"The bundle folder; C(<bundle>/SHA256SUMS) lists every regular file under it but dot files, files in dot folders and C(SHA256SUMS) itself.",
		}},
		module.Concurrency(module.DefaultConcurrency),
	}},
	Doc: module.Doc{
		ShortDescription: "Write the SHA256SUMS of an airgap.kubespray bundle from the digests already known",
		Description: []string{
			"Writes C(<bundle>/SHA256SUMS) in the format of C(sha256sum), so that C(cd <bundle> && sha256sum -c SHA256SUMS) checks the bundle after it was carried across: one line per file, each folder's files (sorted) before its subfolders (sorted).",
			"A file's digest comes from the record kept in an extended attribute beside it (by M(airgap.kubespray.offline_file_fetch), M(airgap.kubespray.offline_image_pull) and this module) while its size, modification time, inode and change time are those recorded; any other file is read and its record written. A rerun over an unchanged bundle reads no file.",
			"A symbolic link is never followed: it is left out, with a warning naming it, as is anything that is not a regular file.",
			"SHA256SUMS is written only when its content changes, to a temporary file renamed into place, so it never holds a part.",
			"In check mode nothing is written, neither SHA256SUMS nor digest records; the result says whether it would change (it would when the bundle folder does not exist yet).",
		},
		SeeAlso:   []string{"airgap.kubespray.offline_file_fetch", "airgap.kubespray.offline_image_pull"},
		CheckMode: "full",
		DiffMode:  "full",
		Examples: `- name: Write SHA256SUMS over the bundle
  airgap.kubespray.offline_bundle_sums:
    bundle: /srv/airgap-bundle
  register: sums

- name: Every file of the bundle was already known
  ansible.builtin.assert:
    that: sums.hashed == 0
`,
		Return: []module.ReturnValue{
			{Name: "path", Description: "The SHA256SUMS file.", Returned: "always", Type: "str"},
			{Name: "files", Description: "How many files SHA256SUMS lists.", Returned: "always", Type: "int"},
			{Name: "hashed", Description: "How many files were read this run (no valid digest record).", Returned: "always", Type: "int"},
			{Name: "cached", Description: "How many files' digests came from their records, without reading them.", Returned: "always", Type: "int"},
			{Name: "bytes_hashed", Description: "The bytes read this run.", Returned: "always", Type: "int"},
			{Name: "left_out", Description: "Files left out: path (relative to the bundle) and why (a symbolic link, not a regular file).", Returned: "always", Type: "list", Elements: "dict"},
		},
	},
}

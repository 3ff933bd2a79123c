package bundlesumsmod

import "github.com/airgap-kubespray/airgap.kubespray/modules/internal/module"

// Module is the module's one description: validation, CLI flags and the doc stub.
var Module = &module.Module{
	Name: "offline_bundle_sums",
	Run:  run,
	Spec: module.Spec{Options: []module.Option{
		{Name: "bundle", Type: module.TypePath, Required: true, Description: []string{
			"The bundle folder; C(<bundle>/SHA256SUMS) lists every regular file under it but dot files, files in dot folders, and C(SHA256SUMS), C(SHA256SUMS.asc) and C(SHA256SUMS.key) at its top.",
		}},
		module.Concurrency(module.DefaultConcurrency),
		{Name: "gnupg_home", Type: module.TypePath, Description: []string{
			"A GnuPG home holding the secret key to sign C(SHA256SUMS) with (the one the OS repositories are signed with). When set, C(<bundle>/SHA256SUMS.asc) (armored detached signature) and C(<bundle>/SHA256SUMS.key) (the signer's armored public key) are written beside it, unless they already are a good signature of it by that key. The secret key never enters the bundle.",
			"When not set, a signature left from an earlier C(SHA256SUMS) is removed when C(SHA256SUMS) changes.",
		}},
		{Name: "key_id", Description: []string{
			"The signing key's id or fingerprint in I(gnupg_home); empty, its first secret key.",
		}},
		{Name: "site_signer", Description: []string{
			"For a bundle the offline site merged itself from signed inputs (the mirror applying a delta, whose signature and sums it checked first): the fingerprint of the key those inputs were signed with. The site holds no secret key, so C(SHA256SUMS) is not signed; instead C(<bundle>/.airgap/site-sums.json) records it (content, inode, change time), and M(airgap.kubespray.offline_bundle_check) accepts that C(SHA256SUMS) unsigned while it is this very file, still checking every sum. A copy of the bundle, or a C(SHA256SUMS) changed afterwards, is not accepted.",
			"Not with I(gnupg_home).",
		}},
	}},
	Doc: module.Doc{
		ShortDescription: "Write the SHA256SUMS of an airgap.kubespray bundle from the digests already known",
		Description: []string{
			"Writes C(<bundle>/SHA256SUMS) in the format of C(sha256sum), so that C(cd <bundle> && sha256sum -c SHA256SUMS) checks the bundle after it was carried across: one line per file, each folder's files (sorted) before its subfolders (sorted).",
			"A file's digest comes from the record kept in an extended attribute beside it (by M(airgap.kubespray.offline_file_fetch), M(airgap.kubespray.offline_image_pull) and this module) while its size, modification time, inode and change time are those recorded; any other file is read and its record written. A rerun over an unchanged bundle reads no file.",
			"A symbolic link is never followed: it is left out, with a warning naming it, as is anything that is not a regular file.",
			"SHA256SUMS is written only when its content changes, to a temporary file renamed into place, so it never holds a part.",
			"With I(gnupg_home), C(SHA256SUMS) is signed; the signature is written again only when C(SHA256SUMS) changed (or the signature does not hold), each file to a temporary name renamed into place. M(airgap.kubespray.offline_bundle_check) checks it before the bundle is used.",
			"In check mode nothing is written, neither SHA256SUMS nor digest records; the result says whether it would change (it would when the bundle folder does not exist yet).",
		},
		SeeAlso:   []string{"airgap.kubespray.offline_file_fetch", "airgap.kubespray.offline_image_pull", "airgap.kubespray.offline_bundle_check"},
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
			{Name: "signed", Description: "Whether SHA256SUMS is signed (I(gnupg_home) was given).", Returned: "always", Type: "bool"},
			{Name: "signer", Description: "The signing key's fingerprint (empty when not signed, or in check mode before the key exists).", Returned: "always", Type: "str"},
			{Name: "left_out", Description: "Files left out: path (relative to the bundle) and why (a symbolic link, not a regular file).", Returned: "always", Type: "list", Elements: "dict"},
		},
	},
}

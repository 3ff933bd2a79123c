package bundlecheckmod

import "github.com/airgap-kubespray/airgap.kubespray/modules/internal/module"

// Module is the module's one description: validation, CLI flags and the doc stub.
var Module = &module.Module{
	Name: "offline_bundle_check",
	Run:  run,
	Spec: module.Spec{Options: []module.Option{
		{Name: "bundle", Type: module.TypePath, Required: true, Description: []string{
			"The bundle folder, with C(SHA256SUMS) and, when signed, C(SHA256SUMS.asc) and C(SHA256SUMS.key).",
		}},
		{Name: "trusted_key", Type: module.TypePath, Description: []string{
			"An armored OpenPGP public key file; C(SHA256SUMS.asc) must be a good signature by a key in it.",
			"Not set, the key beside the signature (C(<bundle>/SHA256SUMS.key)) is trusted on first use, with a warning naming its fingerprint: give the key you expect (the roles pass the one the site recorded) to refuse a bundle signed by anyone else.",
		}},
		{Name: "require_signature", Type: module.TypeBool, Default: true, Description: []string{
			"Fail, naming C(SHA256SUMS), when it is not signed (no C(SHA256SUMS.asc)) or its signature does not hold. C(false) checks the sums alone, with a warning.",
		}},
		module.Concurrency(module.DefaultConcurrency),
	}},
	Doc: module.Doc{
		ShortDescription: "Check a bundle's signature and every sum before it is used",
		Description: []string{
			"Checks that C(<bundle>/SHA256SUMS.asc) is a good detached signature of C(SHA256SUMS) by I(trusted_key), with Debian's C(gpgv) in a private temporary GnuPG home (never the user's keyrings), then that every file C(SHA256SUMS) lists has that sha256.",
			"Fails naming every file that fails: C(SHA256SUMS) itself (unsigned, bad signature, malformed line), a listed file that is missing, whose content differs, that is a symbolic link or not a regular file, and a file in the bundle that C(SHA256SUMS) does not list (dot files and dot folders aside, and C(SHA256SUMS.asc) and C(SHA256SUMS.key) at its top).",
			"A file's digest comes from the record kept beside it (as M(airgap.kubespray.offline_bundle_sums) keeps them) while its size, modification time, inode and change time are those recorded; any other file is read, so a file changed since, or copied in from elsewhere, is always read. A symbolic link is never followed.",
			"A C(SHA256SUMS) the site wrote itself after checking the signed inputs it was made from (a delta applied on top of the bundle) is accepted without a signature while it is that same file (the record C(<bundle>/.airgap/site-sums.json): its sha256, inode and change time) and those inputs were signed by I(trusted_key); every sum is still checked.",
			"Writes nothing but digest records (none in check mode); never changes anything (C(changed) is always false).",
		},
		Notes: []string{
			"Needs C(gpg) and C(gpgv) on the host that holds the bundle (Debian's C(gnupg), which the admin node's package list carries, or EL's C(gnupg2)).",
		},
		SeeAlso:   []string{"airgap.kubespray.offline_bundle_sums"},
		CheckMode: "full",
		DiffMode:  "none",
		Examples: `- name: Check the bundle before serving it
  airgap.kubespray.offline_bundle_check:
    bundle: /srv/airgap-bundle
    trusted_key: /srv/airgap-bundle/.airgap/trusted-key.asc
  register: check

- name: Who signed it
  ansible.builtin.debug:
    msg: "{{ check.signer }}"
`,
		Return: []module.ReturnValue{
			{Name: "failed_items", Description: "Every file that fails: path (relative to the bundle; C(SHA256SUMS) for the signature) and reason.", Returned: "always", Type: "list", Elements: "dict"},
			{Name: "files", Description: "How many files C(SHA256SUMS) lists.", Returned: "always", Type: "int"},
			{Name: "signed", Description: "Whether C(SHA256SUMS.asc) is a good signature by the trusted key.", Returned: "always", Type: "bool"},
			{Name: "signer", Description: "The signing key's fingerprint (for a site-written C(SHA256SUMS), the key of the inputs it was made from); empty when unsigned.", Returned: "always", Type: "str"},
			{Name: "site_written", Description: "Whether C(SHA256SUMS) is the one this site wrote itself (C(.airgap/site-sums.json)).", Returned: "always", Type: "bool"},
			{Name: "trusted_from", Description: "Where the trusted key came from - C(trusted_key), or C(bundle) (C(SHA256SUMS.key), trust on first use).", Returned: "always", Type: "str"},
			{Name: "hashed", Description: "How many files were read this run.", Returned: "always", Type: "int"},
			{Name: "cached", Description: "How many files' digests came from their records.", Returned: "always", Type: "int"},
		},
	},
}

package repoconfigmod

import "github.com/airgap-kubespray/airgap.kubespray/modules/internal/module"

// Module is the module's one description: validation, CLI flags and the doc stub.
var Module = &module.Module{
	Name: "offline_repo_config",
	Run:  run,
	Spec: module.Spec{Options: []module.Option{
		{Name: "state", Default: "present", Choices: []any{"present", "absent"}, Description: []string{
			"C(present) points the host at the mirror; C(absent) restores every original file byte for byte (mode, owner and mtime included) and removes what was added.",
			"A file changed by someone else after C(present) wrote it (or put back after C(present) moved it) is never lost by C(absent): that version is kept beside it as C(<file>.airgap-kubespray-modified), which apt, dnf and pip do not read, with a warning.",
			"Without the journal, C(absent) changes nothing, leaves the backups in place and says so.",
		}},
		{Name: "debian_repo", Description: []string{"Base URL of the apt repository for Debian hosts, as Kubespray's C(debian_repo)."}},
		{Name: "ubuntu_repo", Description: []string{"Base URL of the apt repository for Ubuntu hosts, as Kubespray's C(ubuntu_repo)."}},
		{Name: "yum_repo", Description: []string{"C(baseurl) of the repository for RHEL, Rocky, AlmaLinux and Fedora hosts, as Kubespray's C(yum_repo) (C($releasever) and C($basearch) are expanded by dnf)."}},
		{Name: "pypi_url", Description: []string{
			"A PEP 503 simple index (e.g. C(http://mirror:8080/pypi/simple/)), written to the global C(/etc/pip.conf) so that root and every user's pip use it.",
			"Over plain HTTP its host becomes pip's C(trusted-host); over HTTPS the certificate is verified (with C(ca_path) if given).",
		}},
		{Name: "disable_other_repos", Type: module.TypeBool, Default: true, Description: []string{
			"Move every other apt source (C(sources.list), C(sources.list.d/*)) or yum repository (C(yum.repos.d/*.repo)) into the backup folder, so nothing reaches for the internet.",
		}},
		{Name: "gpg_key", Type: module.TypePath, Description: []string{
			"The mirror's signing key, a file on the host (for dnf also a URL). With it, apt sources use C(Signed-By) and yum repositories C(gpgcheck=1); without it, apt sources are C(Trusted: yes) and C(gpgcheck=0), with a warning.",
		}},
		{Name: "ca_path", Type: module.TypePath, Description: []string{"CA bundle on the host for an https mirror: an apt.conf.d drop-in (C(CaInfo)), C(sslcacert) and pip's C(cert)."}},
		{Name: "apt_suites", Type: module.TypeList, Elements: module.TypeStr, Default: []any{"./"}, Description: []string{
			"apt suites. The default C(./) is a flat repository, as C(dpkg-scanpackages) makes (no components); for an archive-style mirror give e.g. C([bookworm, bookworm-updates]) and C(apt_components).",
		}},
		{Name: "apt_components", Type: module.TypeList, Elements: module.TypeStr, Default: []any{}, Description: []string{"apt components for archive-style suites, e.g. C([main])."}},
		{Name: "root", Type: module.TypePath, Default: "/", Description: []string{"The filesystem root to configure (a chroot, an image being built); its C(etc/os-release) decides the distribution.",
			"Below a root other than C(/), every path is resolved inside it: a symlink or a journal entry leading out of it is refused with an error naming it.",
		}},
	}},
	Doc: module.Doc{
		ShortDescription: "Point apt, dnf/yum and pip at the offline mirror, reversibly",
		Description: []string{
			"Writes the repository configuration the host's release uses: deb822 C(.sources) files on Ubuntu 24.04+ and Debian 12+, one-line C(.list) files before; C(.repo) files for dnf/yum; a global C(/etc/pip.conf).",
			"Every file it replaces or moves aside is first copied, with a journal, into C(/var/lib/airgap-kubespray/repos/), so C(state=absent) puts the host back exactly as it was.",
			"Reads C(/etc/os-release): Ubuntu 20.04, 22.04, 24.04; Debian 11, 12, 13; RHEL, Rocky, AlmaLinux 8, 9, 10; Fedora. Anything else fails.",
			"Idempotent: a second run reports C(changed=false). In check mode nothing is written; with C(--diff) each file's change is shown.",
			"Part of the small node-side binary (with M(airgap.kubespray.offline_probe)), as it runs on every node.",
		},
		SeeAlso:   []string{"ansible.builtin.deb822_repository", "ansible.builtin.yum_repository"},
		CheckMode: "full",
		DiffMode:  "full",
		Examples: `- name: Use the offline mirror for OS and Python packages
  airgap.kubespray.offline_repo_config:
    debian_repo: "{{ debian_repo }}"
    ubuntu_repo: "{{ ubuntu_repo }}"
    yum_repo: "{{ yum_repo }}"
    pypi_url: "{{ files_repo }}/pypi/simple/"
  become: true

- name: Put every node back as it was
  airgap.kubespray.offline_repo_config:
    state: absent
  become: true
`,
		Return: []module.ReturnValue{
			{Name: "os", Description: "The distribution read from os-release (id, version_id, codename, family, deb822).", Returned: "success", Type: "dict"},
			{Name: "files", Description: "The files changed (or, in check mode, to change).", Returned: "success", Type: "list", Elements: "dict", Contains: []module.ReturnValue{
				{Name: "path", Description: "The file.", Returned: "always", Type: "str", Sample: "/etc/apt/sources.list.d/airgap-kubespray.sources"},
				{Name: "action", Description: "C(created), C(updated), C(replaced) (backed up, then overwritten), C(moved) (into the backup folder), C(restored) or C(removed).", Returned: "always", Type: "str"},
				{Name: "backup", Description: "Where the original is kept.", Returned: "when replaced, moved or restored", Type: "str"},
				{Name: "kept", Description: "Where the version someone else changed is kept, on C(absent).", Returned: "when that version differs from what C(present) wrote", Type: "str", Sample: "/etc/pip.conf.airgap-kubespray-modified"},
			}},
			{Name: "backup_dir", Description: "The backup folder (with its journal.json).", Returned: "success", Type: "str", Sample: "/var/lib/airgap-kubespray/repos"},
		},
	},
}

package probemod

import (
	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/module"
	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/probe"
)

// Module is the module's one description: validation, CLI flags and the doc stub.
var Module = &module.Module{
	Name: "offline_probe",
	Run:  run,
	Spec: module.Spec{Options: []module.Option{
		{Name: "probes", Type: module.TypeList, Elements: module.TypeStr, Default: []any{probe.Files, probe.Packages, probe.Containerd},
			Choices: []any{probe.Files, probe.Packages, probe.Containerd}, Description: []string{"The probes to run, in this order."}},
		{Name: "file_url", Description: []string{
			"C(files): a URL under C(files_repo) the node will download, as Kubespray evaluates it with the inventory's offline variables.",
			"Fetched (streamed, not stored) with the proxies of the node's environment and, over https, the node's own OS CA bundle (C(/etc/ssl/certs/ca-certificates.crt), C(/etc/pki/tls/certs/ca-bundle.crt), ...) and nothing else; certificates are always verified.",
			"Empty: the probe is skipped.",
		}},
		{Name: "file_checksum", Default: "", Description: []string{"C(sha256:<hex>) Kubespray expects for C(file_url); empty checks only that it downloads."}},
		{Name: "debian_repo", Description: []string{
			"C(packages): Kubespray's C(debian_repo) from offline.yml. On Debian the node's apt source written by M(airgap.kubespray.offline_repo_config) must point there; set but missing is a failure.",
		}},
		{Name: "ubuntu_repo", Description: []string{"C(packages): Kubespray's C(ubuntu_repo), the same for Ubuntu."}},
		{Name: "yum_repo", Description: []string{"C(packages): Kubespray's C(yum_repo), the same for RHEL, Rocky, AlmaLinux and Fedora."}},
		{Name: "image", Description: []string{
			"C(containerd): the reference to pull, as Kubespray will pull it (e.g. the pause image). Empty: the probe is skipped.",
		}},
		{Name: "containerd_socket", Type: module.TypePath, Default: "/run/containerd/containerd.sock", Description: []string{
			"containerd's socket on the node; without it (containerd not installed or not running yet) the probe is skipped.",
		}},
		{Name: "containerd_hosts_dir", Type: module.TypePath, Default: "/etc/containerd/certs.d", Description: []string{
			"containerd's C(config_path), where Kubespray writes C(<registry>/hosts.toml); reported, and given to C(ctr --hosts-dir) when there is no C(crictl).",
		}},
		{Name: "root", Type: module.TypePath, Default: "/", Description: []string{
			"The node's filesystem root: os-release, the package sources, key and CA paths in them, the CA bundle, containerd's socket and hosts dir are all read under it (a chroot; scratch roots in tests).",
			"The commands (C(apt-get), C(dnf), C(crictl), C(ctr)) are the host's own.",
		}},
		{Name: "timeout", Type: module.TypeInt, Default: 60, Description: []string{"Seconds each probe may take."}},
	}},
	Doc: module.Doc{
		ShortDescription: "Check the offline mirror from a node: one file, the package index, one image",
		Description: []string{
			"Runs on a node and reaches the mirror the way Kubespray's run will from there.",
			"C(files): one file through C(files_repo) with the node's own CA bundle, its checksum compared with Kubespray's.",
			"C(packages): C(apt-get update) or C(dnf makecache) from the mirror's repository alone (the source M(airgap.kubespray.offline_repo_config) wrote; no other source can hide or fake the result), into a temporary folder, reporting the package manager's own error.",
			"C(containerd): where containerd runs, one image pulled through containerd's CRI with C(crictl), as kubelet pulls it (so containerd's C(config_path) and the C(hosts.toml) Kubespray writes decide the way); an image that was not there before is removed again. Without C(crictl), C(ctr content fetch-object --hosts-dir) resolves it through the same C(hosts.toml). Where containerd does not run, skipped with the reason.",
			"Each probe is C(ok), C(FAILED) or C(skipped) with a detail; the module fails when any probe failed.",
			"Changes nothing on the node (C(changed) is always false), so it runs in check mode as well.",
			"Part of the small node-side binary (with M(airgap.kubespray.offline_repo_config)).",
		},
		SeeAlso:   []string{"airgap.kubespray.offline_verify", "airgap.kubespray.offline_repo_config"},
		CheckMode: "full",
		DiffMode:  "none",
		Examples: `- name: Check the mirror from every node
  airgap.kubespray.offline_probe:
    file_url: "{{ files_repo }}/github.com/opencontainers/runc/releases/download/v1.3.0/runc.amd64"
    file_checksum: "sha256:{{ runc_binary_checksum }}"
    debian_repo: "{{ debian_repo | default(omit) }}"
    ubuntu_repo: "{{ ubuntu_repo | default(omit) }}"
    yum_repo: "{{ yum_repo | default(omit) }}"
    image: "{{ pod_infra_image_repo }}:{{ pod_infra_image_tag }}"
  become: true
  register: probe

- name: Only the package repository
  airgap.kubespray.offline_probe:
    probes: [packages]
    debian_repo: "{{ debian_repo }}"
  become: true
`,
		Return: []module.ReturnValue{
			{Name: "probes", Description: "One entry per probe run.", Returned: "always", Type: "list", Elements: "dict", Contains: []module.ReturnValue{
				{Name: "probe", Description: "C(files), C(packages) or C(containerd).", Returned: "always", Type: "str"},
				{Name: "status", Description: "C(ok), C(FAILED) or C(skipped).", Returned: "always", Type: "str"},
				{Name: "target", Description: "The URL, repository or image probed.", Returned: "when known", Type: "str"},
				{Name: "detail", Description: "What was done, or why the probe failed (the package manager's or crictl's own error) or was skipped.", Returned: "always", Type: "str"},
				{Name: "command", Description: "The command run (argv).", Returned: "for packages and containerd, when one ran", Type: "list", Elements: "str"},
			}},
			{Name: "failed_probes", Description: "The entries of C(probes) whose status is C(FAILED).", Returned: "always", Type: "list", Elements: "dict"},
			{Name: "table", Description: "C(probes) as aligned lines (probe, status, detail) under a header.", Returned: "always", Type: "list", Elements: "str"},
		},
	},
}

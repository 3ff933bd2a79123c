package imagescanmod

import "github.com/airgap-kubespray/airgap.kubespray/modules/internal/module"

// Module is the module's one description: validation, CLI flags and the doc stub.
var Module = &module.Module{
	Name: "offline_image_scan",
	Run:  run,
	Spec: module.Spec{Options: []module.Option{
		{Name: "sources", Type: module.TypeList, Elements: module.TypeDict, Required: true, Description: []string{
			"The charts and manifests to look into: the files of a manifest marked C(scan), as the manifest filter C(manifest_scan_sources) projects them.",
		}, Options: []module.Option{
			{Name: "name", Required: true, Description: []string{"The file's name in the manifest; every image found names it in C(found_in)."}},
			{Name: "path", Type: module.TypePath, Required: true, Description: []string{"The file, absolute or relative to C(files_dir)."}},
			{Name: "kind", Required: true, Choices: []any{"chart", "manifest"}, Description: []string{
				"C(chart): a packaged helm chart, rendered with C(helm template) and its C(values); C(manifest): Kubernetes YAML, read as it is.",
			}},
			{Name: "values", Type: module.TypeDict, Default: map[string]any{}, Description: []string{"Chart values, as Kubespray passes them (charts only)."}},
		}},
		{Name: "files_dir", Type: module.TypePath, Description: []string{"Base folder of relative C(path)s and of C(helm): the bundle's or the mirror's C(files/)."}},
		{Name: "helm", Type: module.TypePath, Description: []string{
			"helm, to render charts: a binary or a helm release tarball (C(helm-vX-linux-<arch>.tar.gz), the file Kubespray downloads), absolute or relative to C(files_dir). Needed when a source is a chart.",
		}},
		{Name: "kube_version", Description: []string{"The Kubernetes version charts are rendered for (C(helm template --kube-version)): Kubespray's C(kube_version)."}},
		{Name: "namespace", Default: "", Description: []string{"The namespace (project) images are pushed under, as for offline_image_push; names C(target)."}},
	}},
	Doc: module.Doc{
		ShortDescription: "Find the container images inside charts and manifests",
		Description: []string{
			"Lists every container image (containers, init and ephemeral containers, in any document and at any depth) of Kubernetes manifests, and of helm charts rendered with C(helm template) and the values Kubespray passes.",
			"Used by the C(airgap.kubespray.download) and C(airgap.kubespray.verify) playbooks for what Kubespray's C(downloads) does not list: the images inside Argo CD's install manifest and inside the cilium and kubelet-csr-approver charts.",
			"Changes nothing; helm's scratch files go to a temporary folder that is removed.",
		},
		SeeAlso:   []string{"airgap.kubespray.offline_image_pull", "airgap.kubespray.offline_verify"},
		CheckMode: "full",
		DiffMode:  "none",
		Examples: `- name: Images inside the bundle's charts and manifests
  airgap.kubespray.offline_image_scan:
    files_dir: /srv/airgap-bundle/files
    helm: get.helm.sh/helm-v3.18.4-linux-amd64.tar.gz
    kube_version: v1.35.4
    sources:
      - {name: cilium_helm_chart, path: helm.cilium.io/cilium-1.19.3.tgz, kind: chart, values: {image: {useDigest: false}}}
      - {name: argocd_install, path: raw.githubusercontent.com/argoproj/argo-cd/v3.2.1/manifests/install.yaml, kind: manifest}
`,
		Return: []module.ReturnValue{
			{Name: "images", Description: "Every image found, sorted by source.", Returned: "always", Type: "list", Elements: "dict", Contains: []module.ReturnValue{
				{Name: "name", Description: "The repository's last element, C(-) as C(_).", Returned: "always", Type: "str", Sample: "operator_generic"},
				{Name: "source", Description: "Normalized C(repo:tag) (C(repo@digest) when pinned by digest only).", Returned: "always", Type: "str", Sample: "quay.io/cilium/operator-generic:v1.19.3"},
				{Name: "repo", Description: "The repository.", Returned: "always", Type: "str"},
				{Name: "tag", Description: "The tag.", Returned: "always", Type: "str"},
				{Name: "digest", Description: "The digest the reference pins.", Returned: "when pinned", Type: "str"},
				{Name: "target", Description: "Where the private registry holds it (offline_image_push's strip mapping).", Returned: "always", Type: "str"},
				{Name: "kind", Description: "C(chart) or C(manifest): what it was found in.", Returned: "always", Type: "str"},
				{Name: "found_in", Description: "The names of the sources holding it.", Returned: "always", Type: "list", Elements: "str"},
			}},
			{Name: "sources", Description: "One entry per source: name, kind, path, images (sources), ok, msg.", Returned: "always", Type: "list", Elements: "dict"},
			{Name: "failed_items", Description: "The sources that could not be read or rendered.", Returned: "always", Type: "list", Elements: "dict"},
		},
	},
}

package imagepullmod

import "github.com/airgap-kubespray/airgap.kubespray/modules/internal/module"

// Module is the module's one description: validation, CLI flags and the doc stub.
var Module = &module.Module{
	Name: "offline_image_pull",
	Run:  run,
	CLI:  listFlag,
	Spec: module.Spec{Options: module.Join([]module.Option{
		{Name: "images", Type: module.TypeList, Elements: module.TypeDict, Default: []any{}, Description: []string{
			"The images to pull: C({source, digest}). From airgap.kubespray's C(manifest.yaml), project its images with C(airgap.kubespray.manifest_items(manifest, 'pull')); other keys are refused.",
			"An image already in the layout and unchanged upstream is skipped without downloading anything.",
		}, Options: []module.Option{
			{Name: "source", Required: true, Description: []string{"The image reference upstream, C(repo:tag), e.g. C(registry.k8s.io/pause:3.10.1). Docker Hub short names are normalized (C(nginx) is C(docker.io/library/nginx:latest))."}},
			{Name: "digest", Description: []string{"Pinned manifest digest (C(sha256:...)). The image must resolve to it, and is stored with every platform of its index so that the digest survives."}},
		}},
		{Name: "dest", Type: module.TypePath, Required: true, Description: []string{
			"The OCI image layout folder (created if missing). All images share its C(blobs/), so a base layer is stored once.",
			"Each image's reference is recorded in C(index.json) as C(org.opencontainers.image.ref.name) and C(io.containerd.image.name), so skopeo (C(oci:DIR:REF)), crane, nerdctl and containerd read it too.",
		}},
		{Name: "platforms", Type: module.TypeList, Elements: module.TypeStr, Default: []any{"linux/amd64"}, Description: []string{
			"Platforms to keep, C(os/arch[/variant]). With one, a multi-platform image is stored as that platform's image; with several, as an index filtered to them.",
		}},
		{Name: "registry_mirrors", Type: module.TypeList, Elements: module.TypeDict, Default: []any{}, Description: []string{
			"Reference rewrites applied before pulling (the longest matching prefix wins), e.g. C({prefix: docker.io, replace: mirror.example.com/dockerhub}) for a pull-through cache. The image keeps its original reference in the layout.",
			"Named apart from offline_file_fetch's C(url_mirrors) (URL prefixes), so that neither reaches the other module through C(module_defaults).",
		}, Options: []module.Option{
			{Name: "prefix", Required: true, Description: []string{"Reference prefix to replace, e.g. C(registry.k8s.io)."}},
			{Name: "replace", Required: true, Description: []string{"What to put in its place, e.g. C(127.0.0.1:5001/registry.k8s.io)."}},
		}},
	}, module.RegistryAccess(), module.Transfer(), []module.Option{
		{Name: "archives", Type: module.TypeList, Elements: module.TypePath, Default: []any{}, Description: []string{
			"docker-save bundles to import into the layout instead of pulling: kubespray-offline's C(images/) folder (C(*.tar.gz)), single docker-save tarballs, or contrib/offline's C(container-images.tar.gz) (with its C(container-images.txt)).",
			"Their layers are gzipped on import; the registry's original digests are not in a docker-save bundle.",
		}},
		module.SiteState(),
	})},
	Doc: module.Doc{
		ShortDescription: "Pull container images into an OCI image layout, without a container runtime",
		Description: []string{
			"Copies images from registries into one OCI image layout folder that all images share, for the platforms asked for. No Docker, Podman or containerd is needed.",
			"Every blob is verified against its digest while it is written, to a temporary file renamed into place; blobs already in the layout are skipped, so an interrupted pull resumes and a rerun with nothing new downloads nothing and reports C(changed=false).",
			"Every image is tried before the module fails; the result lists each image's status and the failed ones.",
		},
		Notes: []string{
			"In check mode the registries are asked which images changed (HEAD requests), and nothing is written.",
			"With C(site_state), a layer the site's registry already holds is not written into the layout (which is then sparse, a delta bundle's): manifests, indexes and configs always are. An image whose only missing blobs are such layers counts as complete, so a rerun skips it; an image missing any other blob is pulled again. C(archives) are imported whole.",
			"As a command-line tool, C(offline_image_pull --list images.list --dest DIR) reads contrib/offline's C(images.list), a YAML list, or C(manifest.yaml).",
		},
		SeeAlso:   []string{"airgap.kubespray.offline_image_push"},
		CheckMode: "full",
		DiffMode:  "full",
		Examples: `- name: Pull the manifest's images for amd64 and arm64
  airgap.kubespray.offline_image_pull:
    images: "{{ lookup('ansible.builtin.file', 'airgap-bundle/manifest.yaml') | from_yaml | airgap.kubespray.manifest_items('pull') }}"
    dest: /srv/bundle/images
    platforms: [linux/amd64, linux/arm64]

- name: Pull through a pull-through cache with credentials
  airgap.kubespray.offline_image_pull:
    images:
      - source: registry.k8s.io/pause:3.10.1
      - source: quay.io/calico/node:v3.31.5
    dest: /srv/bundle/images
    registry_mirrors:
      - prefix: quay.io
        replace: harbor.example.com/quay-proxy
    auth:
      - registry: harbor.example.com
        username: robot
        password: "{{ vault_harbor_password }}"

- name: Import kubespray-offline's images instead of pulling again
  airgap.kubespray.offline_image_pull:
    dest: /srv/bundle/images
    archives: [/srv/kubespray-offline/outputs/images]
`,
		Return: []module.ReturnValue{
			{Name: "dest", Description: "The layout folder.", Returned: "always", Type: "str"},
			{Name: "images", Description: "One entry per image.", Returned: "always", Type: "list", Elements: "dict", Contains: []module.ReturnValue{
				{Name: "source", Description: "The image's normalized original reference.", Returned: "always", Type: "str", Sample: "docker.io/library/nginx:1.28.2-alpine"},
				{Name: "pull_ref", Description: "The reference pulled, after C(registry_mirrors).", Returned: "when a mirror applied", Type: "str"},
				{Name: "digest", Description: "Digest of the layout entry.", Returned: "success", Type: "str"},
				{Name: "source_digest", Description: "Digest the registry served (differs from C(digest) when an index was filtered).", Returned: "success", Type: "str"},
				{Name: "status", Description: "C(pulled), C(imported), C(skipped), C(failed), or C(would_pull) in check mode.", Returned: "always", Type: "str"},
				{Name: "bytes", Description: "Blob bytes written for this image (a blob shared with another image counts once).", Returned: "always", Type: "int"},
				{Name: "left_out", Description: "The image's layers (digests) the layout lacks because the C(site_state) says the site's registry holds them.", Returned: "when some were left out", Type: "list", Elements: "str"},
				{Name: "left_out_bytes", Description: "Their bytes.", Returned: "when some were left out", Type: "int"},
				{Name: "msg", Description: "Why the image failed.", Returned: "when failed", Type: "str"},
			}},
			{Name: "totals", Description: "Counts (images, pulled, imported, skipped, failed), bytes written and seconds; C(left_out) and C(left_out_bytes), the layers left out because the site holds them (each counted once) and their bytes.", Returned: "always", Type: "dict"},
			{Name: "failed_items", Description: "The failed images (source, msg).", Returned: "always", Type: "list", Elements: "dict"},
		},
	},
}

// listFlag adds --list FILE: contrib/offline's images.list (one reference a line), a YAML list
// of references or {source, digest}, or a manifest.yaml (its images, of every view).
var listFlag = listFile.Flag

var listFile = module.ListFile{Option: "images", Key: "source",
	Usage: "read images from FILE: contrib/offline's images.list (one reference a line), a YAML list, or airgap.kubespray's manifest.yaml",
	List: func(doc any) any {
		if m, ok := doc.(map[string]any); ok {
			return m["images"]
		}
		return doc
	},
	// a manifest entry: only what pulling takes (origin, found_in, ... are the manifest's)
	Entry: func(v map[string]any) map[string]any {
		img := map[string]any{"source": v["source"]}
		if d, ok := v["digest"]; ok && d != nil {
			img["digest"] = d
		}
		return img
	},
}

package imagepushmod

import "github.com/airgap-kubespray/airgap.kubespray/modules/internal/module"

// Module is the module's one description: validation, CLI flags and the doc stub.
var Module = &module.Module{
	Name: "offline_image_push",
	Run:  run,
	Spec: module.Spec{Options: module.Join([]module.Option{
		{Name: "src", Type: module.TypeList, Elements: module.TypePath, Required: true, Description: []string{
			"An OCI image layout folder (as C(offline_image_pull) writes it), or a list of docker-save tarballs (gzipped or not), which are imported into a temporary layout beside the first one.",
		}},
		{Name: "registry", Description: []string{"The registry to push to, C(host[:port]), e.g. C(registry.example.internal:35000). Exactly one of C(registry), C(archive) and C(storage_dir) is required."}},
		{Name: "storage_dir", Type: module.TypePath, Description: []string{
			"Instead of pushing over HTTP, write the images straight into the filesystem storage of a CNCF distribution registry on this host: the C(rootdirectory) of its C(storage.filesystem) driver (Debian's C(docker-registry) uses C(/var/lib/docker-registry)). A registry started on it serves every image with its original digest, at the same names C(mapping) and C(namespace) give over HTTP.",
			"Blobs are hard-linked from C(src) when both are on one filesystem (no second copy), else reflinked where the filesystem can, else copied; only what is missing is written. Every blob and manifest of an image is verified against its digest before anything of that image is written (a digest cache beside each blob makes a rerun read nothing), and every file appears by rename, the tag last: a registry may keep running while images are added.",
			"The free space of the storage's filesystem is checked before anything is written: the module fails naming what is needed, what is free and the shortfall.",
			"Tested with distribution 2.8 (Debian's C(docker-registry)) and 3.1. Files are written with the module's user; make them readable (and the folders writable, for later HTTP pushes) by the registry's user.",
		}},
		{Name: "archive", Type: module.TypePath, Description: []string{
			"Instead of pushing, write one image (C(images) names it, unless C(src) holds only one) as a docker-save tarball at this path, tagged with its original reference, for C(docker load), C(podman load) or C(nerdctl load): how the mirror's own registry and nginx reach a container runtime before any registry exists.",
			"The file is replaced only when its content changes (atomically), so a rerun is C(changed=false).",
		}},
		{Name: "platform", Default: "", Description: []string{"With C(archive): the platform (C(os/arch[/variant])) taken from a multi-platform image; default the host's, C(linux/<arch>)."}},
		{Name: "mapping", Default: "strip", Choices: []any{"strip", "keep"}, Description: []string{
			"C(strip) drops the upstream registry (C(registry.k8s.io), C(k8s.gcr.io), C(gcr.io), C(ghcr.io), C(docker.io), C(quay.io) and C(strip_hosts)): C(registry.k8s.io/pause:3.10) goes to C(<registry>/pause:3.10) and C(docker.io/library/nginx) to C(<registry>/library/nginx), exactly where Kubespray looks once C(kube_image_repo), C(gcr_image_repo), C(docker_image_repo), C(quay_image_repo) and C(github_image_repo) point at the registry. Images from other registries keep their host as the first path part.",
			"C(keep) keeps the upstream host as the first path part (C(<registry>/registry.k8s.io/pause:3.10)), for containerd mirror configurations.",
			"Two sources that map to one target fail the module, naming both.",
		}},
		{Name: "namespace", Description: []string{"A prefix for every repository, C(<registry>/<namespace>/...), e.g. a Harbor project."}},
		{Name: "strip_hosts", Type: module.TypeList, Elements: module.TypeStr, Default: []any{}, Description: []string{"More upstream registry hosts to strip with C(mapping=strip)."}},
		{Name: "on_existing", Default: "merge", Choices: []any{"merge", "overwrite", "skip", "fail"}, Description: []string{
			"What to do when a target tag already serves other content than the bundle's.",
			"C(merge) adds the bundle's platforms to those the tag serves: an amd64-only push, then an arm64-only push of the same tag, leave an index of both. A platform the tag already serves with other content fails that image, naming both digests, and nothing of it is written.",
			"C(overwrite) points the tag at the bundle's manifest. C(skip) leaves any existing tag as it is (status C(skipped)). C(fail) fails every image whose tag serves other content, naming both digests.",
			"Whatever the tag ends up serving, the bundle's own manifest is stored by digest, so C(<repository>@<digest>) keeps pulling the original.",
		}},
	}, module.RegistryAccess(), module.Transfer(), []module.Option{
		{Name: "images", Type: module.TypeList, Elements: module.TypeStr, Default: []any{}, Description: []string{"Push only these images (their original references); default every image of C(src)."}},
	})},
	Doc: module.Doc{
		ShortDescription: "Push the images of an OCI layout into any registry, without a container runtime",
		Description: []string{
			"Copies images blob by blob, as they are, so every digest (and so every digest-pinned reference) stays the original one. No Docker, Podman or containerd is needed.",
			"Only what is missing is sent: an image whose tag already serves its manifest is skipped (a rerun is C(changed=false)); each blob is uploaded once, to the first repository that needs it, and mounted into the others; the registry is asked before any upload.",
			"Every blob and manifest of an image is verified against its digest before anything of that image is sent: a corrupted bundle is reported, naming the blob, and not pushed.",
			"Basic auth and the distribution token flow are supported, with the credentials C(auth) holds for the registry; TLS is verified unless the registry is in C(insecure_registries) (plain HTTP) or C(validate_certs) is off.",
		},
		Notes: []string{
			"In check mode the registry is asked what each tag serves (one manifest request per image), and nothing is sent; with C(storage_dir) the storage is read, its free space checked, and nothing is written.",
			"As a command-line tool: C(offline_image_push --src DIR --registry HOST:PORT), C(--src DIR --storage-dir /var/lib/docker-registry), or C(--src DIR --images REF --archive FILE.tar).",
		},
		SeeAlso:   []string{"airgap.kubespray.offline_image_pull"},
		CheckMode: "full",
		DiffMode:  "full",
		Examples: `- name: Push the bundle's images where Kubespray will look for them
  airgap.kubespray.offline_image_push:
    src: /srv/bundle/images
    registry: "{{ registry_host }}"
    ca_path: /etc/airgap/registry/ca.pem
    auth:
      - registry: "{{ registry_host }}"
        username: admin
        password: "{{ vault_registry_password }}"

- name: Push into a Harbor project, keeping the upstream hosts
  airgap.kubespray.offline_image_push:
    src: /srv/bundle/images
    registry: harbor.example.internal
    namespace: kubespray
    mapping: keep
    auth: /root/.docker/config.json

- name: Fill the local registry's storage from the bundle, at disk speed
  airgap.kubespray.offline_image_push:
    src: /srv/bundle/images
    storage_dir: /var/lib/docker-registry

- name: The mirror's registry image, for podman load
  airgap.kubespray.offline_image_push:
    src: /srv/bundle/images
    images: [docker.io/library/registry:2.8.1]
    archive: /var/lib/airgap-kubespray/registry-image.tar
`,
		Return: []module.ReturnValue{
			{Name: "registry", Description: "The registry pushed to.", Returned: "with registry", Type: "str"},
			{Name: "archive", Description: "The docker-save tarball written.", Returned: "with archive", Type: "str"},
			{Name: "storage_dir", Description: "The registry storage written.", Returned: "with storage_dir", Type: "str"},
			{Name: "images", Description: "One entry per image.", Returned: "always", Type: "list", Elements: "dict", Contains: []module.ReturnValue{
				{Name: "source", Description: "The image's original reference.", Returned: "always", Type: "str"},
				{Name: "target", Description: "Where it is in the registry (with C(storage_dir): the repository and tag, C(calico/node:v3.31.5)).", Returned: "always", Type: "str", Sample: "registry.example.internal:35000/calico/node:v3.31.5"},
				{Name: "digest", Description: "The manifest digest pushed.", Returned: "always", Type: "str"},
				{Name: "tag_digest", Description: "What the tag serves after a merge (an index of the platforms it served and the bundle's), when that is not C(digest).", Returned: "when merged", Type: "str"},
				{Name: "status", Description: "C(pushed) (or written into C(storage_dir)), C(skipped) (already there), C(failed), or C(would_push) in check mode.", Returned: "always", Type: "str"},
				{Name: "bytes", Description: "Blob bytes uploaded (with C(storage_dir): copied, not hard-linked) for this image (a blob shared with another image counts once).", Returned: "always", Type: "int"},
				{Name: "msg", Description: "Why the image failed.", Returned: "when failed", Type: "str"},
			}},
			{Name: "totals", Description: "Counts (images, pushed, skipped, failed), bytes uploaded (with C(storage_dir): copied) and seconds; with C(storage_dir) also C(linked) and C(copied), the blobs hard-linked and copied.", Returned: "always", Type: "dict"},
			{Name: "failed_items", Description: "The failed images (source, target, msg).", Returned: "always", Type: "list", Elements: "dict"},
		},
	},
}

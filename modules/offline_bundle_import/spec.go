package bundleimportmod

import (
	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/bundleimport"
	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/module"
)

// Module is the module's one description: validation, CLI flags and the doc stub.
var Module = &module.Module{
	Name: "offline_bundle_import",
	Run:  run,
	Spec: module.Spec{Options: []module.Option{
		{Name: "bundle", Type: module.TypePath, Required: true, Description: []string{
			"The bundle folder. Files go to C(<bundle>/files), at their manifest C(path); images are looked up in C(<bundle>/images).",
		}},
		{Name: "files", Type: module.TypeList, Elements: module.TypeDict, Default: []any{}, Description: []string{
			"The manifest's files, as C(airgap.kubespray.manifest_items(manifest, 'import')).files projects them. Each is placed when some source file has its sha256.",
		}, Options: []module.Option{
			{Name: "name", Required: true, Description: []string{"The download's name."}},
			{Name: "path", Required: true, Description: []string{"Its place under C(<bundle>/files) (the layout rule of offline_file_fetch)."}},
			{Name: "checksum", Default: "", Description: []string{"C(sha256:<hex>); without it the file can only be found at its path."}},
			{Name: "url", Default: "", Description: []string{"The upstream URL, for messages."}},
		}},
		{Name: "images", Type: module.TypeList, Elements: module.TypeDict, Default: []any{}, Description: []string{
			"The manifest's images (C(airgap.kubespray.manifest_items(manifest, 'import')).images): reported as found or missing in C(<bundle>/images) (read only).",
		}, Options: []module.Option{
			{Name: "name", Required: true, Description: []string{"The image's name."}},
			{Name: "source", Required: true, Description: []string{"Its upstream reference; compared in the image modules' normal form."}},
			{Name: "digest", Default: "", Description: []string{"The digest Kubespray pins; the layout must hold the image under it."}},
		}},
		{Name: "kubespray_offline_files", Type: module.TypePath, Default: "", Description: []string{"kubespray-offline's C(outputs/files) folder; empty: none."}},
		{Name: "contrib_files", Type: module.TypePath, Default: "", Description: []string{
			"contrib/offline's C(offline-files.tar.gz) (gzip, bzip2 or plain tar) or its C(offline-files/) folder; empty: none.",
			"An archive is read twice: first every member is checked and hashed, and an archive with a member that would leave the files folder (absolute, C(..), links pointing out, special files) is refused whole, naming each such member, before anything is written.",
		}},
		{Name: "repos", Type: module.TypeList, Elements: module.TypeDict, Default: []any{}, Description: []string{
			"Package repository folders mirrored as they are under C(<bundle>/files) (kubespray-offline's C(debs/), C(rpms/), C(pypi/)); a file of the same size and time is kept.",
		}, Options: []module.Option{
			{Name: "src", Type: module.TypePath, Required: true, Description: []string{"The folder."}},
			{Name: "dest", Required: true, Description: []string{"Where under C(<bundle>/files), e.g. C(pypi/simple)."}},
		}},
		{Name: "max_extract_bytes", Type: module.TypeInt, Default: bundleimport.DefaultMaxExtract, Description: []string{
			"Refuse an archive whose members unpack to more than this many bytes (a gzip bomb, huge sparse files), naming the member that crosses it; 0: no cap.",
		}},
		{Name: "hardlink", Type: module.TypeBool, Default: true, Description: []string{
			"Hard-link a source file readable by all when it is on the bundle's filesystem; false: always copy (verified while written).",
		}},
	}},
	Doc: module.Doc{
		ShortDescription: "Place kubespray-offline's and contrib/offline's outputs in an airgap.kubespray bundle",
		Description: []string{
			"Finds each manifest file among kubespray-offline's files (whose paths differ from the bundle's) and contrib/offline's C(offline-files.tar.gz) by its sha256, and puts it at its manifest path: a hard link when possible, else a copy verified while written, always to a temporary name renamed into place. A wrong file is never put at a manifest path.",
			"Nothing is written outside C(<bundle>/files), not even through a symbolic link found there. A full disk is reported as such, naming the path; the temporary file is removed.",
			"Reports which manifest files and images are still missing, by name, with the reason.",
			"In check mode everything is read and nothing is written; the result says what would be placed.",
		},
		SeeAlso:   []string{"airgap.kubespray.offline_image_pull", "airgap.kubespray.offline_file_fetch"},
		CheckMode: "full",
		DiffMode:  "full",
		Examples: `- name: Import kubespray-offline's files into the bundle
  airgap.kubespray.offline_bundle_import:
    bundle: /srv/airgap-bundle
    files: "{{ (manifest | airgap.kubespray.manifest_items('import')).files }}"
    kubespray_offline_files: /srv/kubespray-offline/outputs/files
    contrib_files: /srv/kubespray/contrib/offline/offline-files.tar.gz
    repos: [{src: /srv/kubespray-offline/outputs/debs, dest: debs}]
`,
		Return: []module.ReturnValue{
			{Name: "found", Description: "Names of the manifest files now in the bundle (or, in check mode, that would be).", Returned: "always", Type: "list", Elements: "str"},
			{Name: "placed", Description: "Files placed now: name (null for another file of the archive), path, from, how (C(link), C(copy), C(extract)).", Returned: "always", Type: "list", Elements: "dict"},
			{Name: "already", Description: "Names of the manifest files already in place.", Returned: "always", Type: "list", Elements: "str"},
			{Name: "missing", Description: "Manifest files no source provides: name, path, url, why.", Returned: "always", Type: "list", Elements: "dict"},
			{Name: "mismatched", Description: "Archive members at a manifest path with another content: name, path, source.", Returned: "always", Type: "list", Elements: "dict"},
			{Name: "unmatched", Description: "kubespray-offline files matching no manifest file.", Returned: "always", Type: "list", Elements: "str"},
			{Name: "skipped_links", Description: "Links of the archive naming no file of it.", Returned: "always", Type: "list", Elements: "str"},
			{Name: "repos", Description: "Files placed per package repository folder.", Returned: "always", Type: "dict"},
			{Name: "images", Description: "found (names) and missing (name, source, why) manifest images of C(<bundle>/images).", Returned: "always", Type: "dict"},
			{Name: "refused", Description: "When an input was refused (nothing was written for it): the archive members it was refused for, each with the reason, e.g. C(offline-files/../x (absolute path or ..)); empty for another refusal (the message names it).", Returned: "failure", Type: "list", Elements: "str"},
			{Name: "totals", Description: "Counts: files, found, placed, already, missing, images, images_found, images_missing.", Returned: "always", Type: "dict"},
			{Name: "lines", Description: "The summary, one line per fact.", Returned: "always", Type: "list", Elements: "str"},
		},
	},
}

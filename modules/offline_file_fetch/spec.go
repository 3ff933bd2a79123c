package filefetch

import "github.com/airgap-kubespray/airgap.kubespray/modules/internal/module"

// Module is the module's one description: it drives argument validation, the CLI flags and
// the generated documentation stub plugins/modules/offline_file_fetch.py.
var Module = &module.Module{
	Name: "offline_file_fetch",
	Run:  run,
	CLI:  listFlag,
	Spec: module.Spec{Options: module.Join([]module.Option{
		{Name: "items", Type: module.TypeList, Elements: module.TypeDict, Required: true,
			Description: []string{
				"The files to fetch.",
				"Each file lands at C(dest)/<path>; a file already there whose checksum matches is skipped without any network request.",
			},
			Options: []module.Option{
				{Name: "url", Required: true, Description: []string{"Where to download the file from (http or https)."}},
				{Name: "checksum", Default: "", Description: []string{
					"Expected digest, C(sha256:<hex>) (or C(sha512:<hex>); a bare hex digest is taken by its length).",
					"Empty means the file is not verified, and a file already in place is kept as it is.",
				}},
				{Name: "path", Description: []string{
					"Where to put the file, relative to C(dest).",
					"Defaults to C(<host>/<url path>), for example C(dl.k8s.io/release/v1.35.4/bin/linux/amd64/kubelet): the layout Kubespray's offline docs recommend, so that C(github_url: \"{{ files_repo }}/github.com\") and the other base URLs resolve every file.",
					"Absolute paths and C(..) segments are rejected.",
				}},
			}},
		{Name: "dest", Type: module.TypePath, Required: true, Description: []string{
			"Root folder of the files layout. Created if missing.",
			"Downloads in progress live in C(<dest>/.partial/) and are renamed into place only once verified.",
		}},
	}, module.Transfer(), module.HTTPAccess(), []module.Option{
		{Name: "url_mirrors", Type: module.TypeList, Elements: module.TypeDict, Default: []any{}, Description: []string{
			"URL rewrites applied before fetching, for corporate proxies, pull-through caches and local test upstreams.",
			"The longest matching C(url_mirrors[].prefix) wins. The file's place in the layout still comes from the original URL.",
			"Named apart from offline_image_pull's C(registry_mirrors) (image reference prefixes), so that neither reaches the other module through C(module_defaults).",
		}, Options: []module.Option{
			{Name: "prefix", Required: true, Description: []string{"URL prefix to replace, for example C(https://dl.k8s.io)."}},
			{Name: "replace", Required: true, Description: []string{"What to put in its place, for example C(https://mirror.example.com/dl.k8s.io)."}},
		}},
		{Name: "mode", Type: module.TypeRaw, Default: "0644", Description: []string{"Permissions of fetched files, as an octal string such as C('0755')."}},
		{Name: "force", Type: module.TypeBool, Default: false, Description: []string{"Download every file again even when a verified copy is in place."}},
		module.SiteState(),
	})},
	Doc: module.Doc{
		ShortDescription: "Download files in parallel, resumably and checksum-verified, into an offline files layout",
		Description: []string{
			"Downloads many files at once into a folder laid out as C(<host>/<url path>), ready to be served as Kubespray's C(files_repo).",
			"Each download is written under C(<dest>/.partial/), resumed with HTTP Range after an interruption, verified against its checksum, then renamed into place, so that a half-written or unverified file is never at its final path.",
			"Every item is tried before the module fails; the result lists each item's status, size and sha256, and the failed ones.",
			"Proxies are taken from the environment (C(https_proxy), C(http_proxy), C(no_proxy)).",
		},
		Notes: []string{
			"In check mode nothing is downloaded or written; items not yet in place are reported with status C(would_fetch).",
			"With C(--diff), the diff lists the paths that are (or would be) fetched.",
			"With C(site_state), an item whose file the site serves at the same path with the same sha256 is not fetched when nothing is at its path, and is reported with status C(held); an item without a sha256 checksum is always fetched. A file already in place is kept and checked as usual, so start a delta in its own C(dest).",
			"As a command-line tool, C(offline_file_fetch --list files.list --dest DIR -j 8) reads contrib/offline's C(files.list) (one URL a line) or a YAML list of items, and shows progress on a terminal.",
		},
		SeeAlso:   []string{"ansible.builtin.get_url"},
		CheckMode: "full",
		DiffMode:  "full",
		Examples: `- name: Fetch Kubespray's files into the bundle
  airgap.kubespray.offline_file_fetch:
    dest: /srv/bundle/files
    items:
      - url: https://dl.k8s.io/release/v1.35.4/bin/linux/amd64/kubelet
        checksum: "sha256:{{ kubelet_binary_checksum }}"
      - url: https://github.com/containerd/containerd/releases/download/v2.1.4/containerd-2.1.4-linux-amd64.tar.gz
        checksum: "sha256:{{ containerd_archive_checksum }}"
    concurrency: 8

- name: Fetch through a corporate mirror, keeping the upstream layout
  airgap.kubespray.offline_file_fetch:
    dest: /srv/bundle/files
    items: "{{ airgap_files }}"
    url_mirrors:
      - prefix: https://github.com
        replace: https://artifactory.example.com/github
    ca_path: /etc/pki/ca-trust/source/anchors/corp.pem
    url_username: "{{ vault_mirror_user }}"
    url_password: "{{ vault_mirror_password }}"
  register: fetched

- name: Show what failed
  ansible.builtin.debug:
    var: fetched.failed_items
  when: fetched.failed_items | length > 0
`,
		Return: []module.ReturnValue{
			{Name: "dest", Description: "The root folder of the files layout.", Returned: "always", Type: "str", Sample: "/srv/bundle/files"},
			{Name: "items", Description: "One entry per item, in the order given.", Returned: "always", Type: "list", Elements: "dict",
				Contains: []module.ReturnValue{
					{Name: "url", Description: "The item's URL.", Returned: "always", Type: "str"},
					{Name: "fetch_url", Description: "The URL actually requested, after C(url_mirrors).", Returned: "when a mirror applied", Type: "str"},
					{Name: "path", Description: "Path of the file relative to C(dest).", Returned: "always", Type: "str", Sample: "dl.k8s.io/release/v1.35.4/bin/linux/amd64/kubelet"},
					{Name: "dest", Description: "Absolute path of the file.", Returned: "always", Type: "str"},
					{Name: "status", Description: "C(fetched), C(skipped) (already in place and verified), C(held) (not fetched: the C(site_state) says the site serves it), C(failed), or C(would_fetch) in check mode.", Returned: "always", Type: "str"},
					{Name: "size", Description: "Size in bytes (when held, as the site state gives it).", Returned: "always", Type: "int"},
					{Name: "sha256", Description: "sha256 of the file in place (when held, the one the site serves).", Returned: "when fetched, skipped or held", Type: "str"},
					{Name: "resumed", Description: "Whether a partial download was continued.", Returned: "when true", Type: "bool"},
					{Name: "replaced", Description: "Whether a file with other content was in place.", Returned: "when true", Type: "bool"},
					{Name: "attempts", Description: "HTTP attempts made.", Returned: "when downloaded", Type: "int"},
					{Name: "msg", Description: "Why the item failed; names the URL, and for a checksum mismatch the expected and actual digests.", Returned: "when failed", Type: "str"},
				}},
			{Name: "totals", Description: "Counts and sums over all items.", Returned: "always", Type: "dict",
				Sample: map[string]any{"items": 20, "fetched": 3, "skipped": 17, "held": 0, "failed": 0, "bytes": 153092096, "seconds": 2.4}},
			{Name: "failed_items", Description: "The failed items (url, path, msg); empty when all succeeded.", Returned: "always", Type: "list", Elements: "dict"},
		},
	},
}

// listFlag adds --list FILE ('-' for stdin): contrib/offline's files.list (one URL a line) or a
// YAML list of items, appended to --items.
var listFlag = module.ListFile{Option: "items", Key: "url",
	Usage: "read items from FILE ('-' for stdin): contrib/offline's files.list (one URL a line) or a YAML list of {url, checksum, path}"}.Flag

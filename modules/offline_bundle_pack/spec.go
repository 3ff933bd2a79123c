package bundlepackmod

import "github.com/airgap-kubespray/airgap.kubespray/modules/internal/module"

// Module is the module's one description: validation, CLI flags and the doc stub.
var Module = &module.Module{
	Name: "offline_bundle_pack",
	Run:  run,
	Spec: module.Spec{Options: []module.Option{
		{Name: "src", Type: module.TypePath, Required: true, Description: []string{
			"The bundle folder (full or delta). Every file of it is packed, C(SHA256SUMS), C(SHA256SUMS.asc) and C(SHA256SUMS.key) first, then the files C(SHA256SUMS) lists, in its order; dot files and dot folders are not (the walk of M(airgap.kubespray.offline_bundle_sums)).",
		}},
		{Name: "dest", Type: module.TypePath, Required: true, Description: []string{
			"The folder the parts are written to (created), outside the bundle: C(<bundle name>.part-0001-of-0005.tar.zst) and so on, each with its C(.sha256), and C(PARTS.SHA256SUMS) over them all.",
		}},
		{Name: "part_size", Required: true, Description: []string{
			"The most bytes a part file holds: a number of bytes, or one with C(K), C(M), C(G) or C(T), binary units (C(4G) is 4 GiB; for a 4.7 GB DVD, C(4480M)).",
			"Parts are planned on their uncompressed tar size less 1/256 and 4 KiB (zstd's worst-case growth on data it cannot compress), so no part file is ever bigger, whatever the data; compressible data gives smaller parts.",
		}},
		module.Concurrency(2),
	}},
	Doc: module.Doc{
		ShortDescription: "Pack an airgap.kubespray bundle into numbered parts that fit a medium",
		Description: []string{
			"Turns a bundle folder into parts, each a complete zstd-compressed tar archive on its own (C(zstd -dc <part> | tar -x) extracts it) led by an index member C(.airgap-part.yaml): the bundle's name, the pack's id, the part's number and the total, and every member with its size and sha256.",
			"A file larger than the room left in a part spans parts: its pieces are members C(.airgap-chunks/<path>.chunk-0001), ... each with its own sha256 and its place in the file; M(airgap.kubespray.offline_bundle_unpack) puts them together and checks the whole file's sha256.",
			"Before writing, the bytes the parts may take are compared with the free space of C(dest); too little fails naming needed, free and short.",
			"A part already in C(dest) for the same bundle and part size (same id) that still hashes to its C(.sha256) is kept; only the others are written (a rerun over an unchanged bundle writes nothing; a damaged part is written again). Parts of an earlier pack of this bundle into another count are removed. Each part is written to a temporary dot file, renamed into place when complete.",
			"Runs the C(zstd) command (Debian's C(zstd) package), one per part being written.",
		},
		SeeAlso:   []string{"airgap.kubespray.offline_bundle_unpack", "airgap.kubespray.offline_bundle_sums"},
		CheckMode: "full",
		DiffMode:  "none",
		Examples: `- name: Pack the bundle into 4 GiB parts
  airgap.kubespray.offline_bundle_pack:
    src: /srv/airgap-bundle
    dest: /media/usb/airgap-parts
    part_size: 4G
`,
		Return: []module.ReturnValue{
			{Name: "parts", Description: "Every part: name, path, size, sha256, members, status (written, unchanged, would write).", Returned: "always", Type: "list", Elements: "dict"},
			{Name: "total", Description: "How many parts.", Returned: "always", Type: "int"},
			{Name: "id", Description: "The pack's id (sha256 of the files' paths, sizes and sha256s, and the part size), in every part's index.", Returned: "always", Type: "str"},
			{Name: "files", Description: "How many files were packed.", Returned: "always", Type: "int"},
			{Name: "bytes", Description: "The files' bytes.", Returned: "always", Type: "int"},
			{Name: "spanning", Description: "The files split across parts.", Returned: "always", Type: "list", Elements: "str"},
			{Name: "removed", Description: "Parts of an earlier pack into another count, removed.", Returned: "always", Type: "list", Elements: "str"},
			{Name: "left_out", Description: "Files not packed: path and why (a symbolic link, not a regular file).", Returned: "always", Type: "list", Elements: "dict"},
			{Name: "sums", Description: "The PARTS.SHA256SUMS file.", Returned: "always", Type: "str"},
			{Name: "needed", Description: "Bytes the parts to write may take (the space forecast).", Returned: "always", Type: "int"},
			{Name: "free", Description: "Bytes free in dest.", Returned: "always", Type: "int"},
		},
	},
}

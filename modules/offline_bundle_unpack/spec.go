package bundleunpackmod

import "github.com/airgap-kubespray/airgap.kubespray/modules/internal/module"

// Module is the module's one description: validation, CLI flags and the doc stub.
var Module = &module.Module{
	Name: "offline_bundle_unpack",
	Run:  run,
	Spec: module.Spec{Options: []module.Option{
		{Name: "src", Type: module.TypePath, Required: true, Description: []string{
			"The folder holding the parts M(airgap.kubespray.offline_bundle_pack) wrote (any of them, in any order), each with its C(.sha256) or a line in C(PARTS.SHA256SUMS) beside it.",
		}},
		{Name: "dest", Type: module.TypePath, Required: true, Description: []string{
			"The bundle folder the files go to (created). Its dot folder C(.airgap-unpack/) keeps what an unpack needs to resume: a done marker per part and the chunks of files that span parts not yet in.",
		}},
		module.Concurrency(2),
	}},
	Doc: module.Doc{
		ShortDescription: "Unpack the parts of an airgap.kubespray bundle, in any order, resuming",
		Description: []string{
			"Unpacks the parts found in C(src) into the bundle folder C(dest). Each part's sha256 is checked against its C(.sha256) (and C(PARTS.SHA256SUMS)) before it is read: a damaged part is named in C(failed_items) and the others are still unpacked; carry it again and rerun.",
			"Every member name is checked before anything is written (a clean relative path: no absolute path, no C(..), no dot folder), must match the part's index, and is written below C(dest) through a root that no symbolic link leads out of; a part with an unsafe member is refused whole.",
			"Each file is written to a temporary name, checked against its sha256 from the part's index, then renamed into place; a file that spans parts is kept in chunks until all are in, then put together and checked against the whole file's sha256.",
			"A part unpacked before is skipped, so a rerun resumes after an interruption and a run with more parts adds them; C(complete) is true once every part is in and every file checked. The bundle's signature is checked by the mirror playbook (and C(sha256sum -c SHA256SUMS) checks it by hand).",
			"Before writing, the bytes the parts still to unpack hold are compared with the free space of C(dest); too little fails naming needed, free and short.",
			"In check mode only the parts' indexes are read: the result says which parts would be unpacked and which are missing; damage is found by a real run.",
		},
		SeeAlso:   []string{"airgap.kubespray.offline_bundle_pack"},
		CheckMode: "full",
		DiffMode:  "none",
		Examples: `- name: Unpack the parts carried so far
  airgap.kubespray.offline_bundle_unpack:
    src: /media/usb/airgap-parts
    dest: /srv/airgap-bundle
  register: unpacked

- name: Name the parts still to carry
  ansible.builtin.debug:
    msg: "Still missing: {{ unpacked.missing | join(', ') }}"
  when: not unpacked.complete
`,
		Return: []module.ReturnValue{
			{Name: "parts", Description: "Every part found: name, part, status (unpacked, unpacked before, would unpack, damaged, refused), files, bytes.", Returned: "always", Type: "list", Elements: "dict"},
			{Name: "missing", Description: "The parts neither in src nor unpacked before, by name.", Returned: "always", Type: "list", Elements: "str"},
			{Name: "failed_items", Description: "The damaged or refused parts (part, msg).", Returned: "always", Type: "list", Elements: "dict"},
			{Name: "complete", Description: "Every part is in and every file checked.", Returned: "always", Type: "bool"},
			{Name: "assembled", Description: "Files put together from their chunks this run.", Returned: "always", Type: "list", Elements: "str"},
			{Name: "pending", Description: "Files that span parts not yet unpacked.", Returned: "always", Type: "list", Elements: "str"},
			{Name: "bundle", Description: "The bundle's name when it was packed.", Returned: "always", Type: "str"},
			{Name: "id", Description: "The pack's id.", Returned: "always", Type: "str"},
			{Name: "total", Description: "How many parts the bundle was packed into.", Returned: "always", Type: "int"},
			{Name: "files", Description: "Files and chunks written this run.", Returned: "always", Type: "int"},
			{Name: "bytes", Description: "Their bytes.", Returned: "always", Type: "int"},
			{Name: "needed", Description: "Bytes the parts to unpack write (the space forecast).", Returned: "always", Type: "int"},
			{Name: "free", Description: "Bytes free in dest.", Returned: "always", Type: "int"},
		},
	},
}

package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/fetch"
	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/imagename"
)

// rulesCommand is the subcommand through which the collection's Python side asks for the rules
// that live in Go only, instead of keeping copies of them: `airgap rules` reads one question a
// line on stdin and answers each, in order, with one JSON line, {"ask", "value"} or
// {"ask", "error"}, flushed at once, so that one process serves a whole evaluation:
//
//	path URL     the files layout: fetch.PathFor (the manifest's `path`)
//	target REF   the repository in the private registry: imagename's default mapping, what
//	             offline_image_push and offline_image_scan name (the manifest's `target`)
const rulesCommand = "rules"

type answer struct {
	Ask   string `json:"ask"`
	Value string `json:"value,omitempty"`
	Error string `json:"error,omitempty"`
}

func ruleAnswer(line string) answer {
	a := answer{Ask: line}
	kind, arg, _ := strings.Cut(line, " ")
	var err error
	switch kind {
	case "path":
		a.Value, err = fetch.PathFor(arg)
	case "target":
		a.Value, err = imagename.Mapping{}.Repository(arg)
	default:
		err = fmt.Errorf("unknown question %q: ask `path URL` or `target REF`", kind)
	}
	if err != nil {
		a.Value, a.Error = "", err.Error()
	}
	return a
}

// rules answers every line of r on w; it stops at the end of r.
func rules(r io.Reader, w io.Writer) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	out := bufio.NewWriter(w)
	enc := json.NewEncoder(out)
	for sc.Scan() {
		if err := enc.Encode(ruleAnswer(strings.TrimRight(sc.Text(), "\r"))); err != nil {
			return err
		}
		if err := out.Flush(); err != nil {
			return err
		}
	}
	return sc.Err()
}

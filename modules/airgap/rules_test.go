package main

import (
	"bufio"
	"encoding/json"
	"io"
	"strings"
	"testing"
)

func TestRulesAnswerEachLineInOrder(t *testing.T) {
	cases := []struct{ ask, value, errPart string }{
		{ask: "path https://dl.k8s.io/release/v1.35.4/bin/linux/amd64/kubelet", value: "dl.k8s.io/release/v1.35.4/bin/linux/amd64/kubelet"},
		{ask: "path https://GitHub.com:443/a//b/c.tgz", value: "github.com:443/a/b/c.tgz"},
		{ask: "path http://127.0.0.1:8080/x%2Fy", value: "127.0.0.1:8080/x/y"},
		{ask: "path ftp://example.com/x", errPart: "scheme must be http or https"},
		{ask: "path https://example.com/dir/", errPart: "names a directory"},
		{ask: "path https://example.com/a/../../etc/passwd", errPart: "unsafe"},
		{ask: "target registry.k8s.io/coredns/coredns:v1.12.1", value: "coredns/coredns"},
		{ask: "target nginx", value: "library/nginx"},
		{ask: "target quay.io/calico/node", value: "calico/node"},
		{ask: "target public.ecr.aws/docker/library/redis:7", value: "public.ecr.aws/docker/library/redis"},
		{ask: "target ../../etc/passwd:x", errPart: "invalid image reference"},
		{ask: "size x", errPart: "unknown question"},
	}
	var in strings.Builder
	for _, c := range cases {
		in.WriteString(c.ask + "\n")
	}
	var out strings.Builder
	if err := rules(strings.NewReader(in.String()), &out); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != len(cases) {
		t.Fatalf("%d answers for %d questions:\n%s", len(lines), len(cases), out.String())
	}
	for i, c := range cases {
		var a answer
		if err := json.Unmarshal([]byte(lines[i]), &a); err != nil {
			t.Fatalf("line %q: %v", lines[i], err)
		}
		if a.Ask != c.ask {
			t.Errorf("answer %d is for %q, want %q", i, a.Ask, c.ask)
		}
		if c.errPart == "" && (a.Value != c.value || a.Error != "") {
			t.Errorf("%s: value %q, error %q; want %q", c.ask, a.Value, a.Error, c.value)
		}
		if c.errPart != "" && (a.Value != "" || !strings.Contains(a.Error, c.errPart)) {
			t.Errorf("%s: value %q, error %q; want an error with %q", c.ask, a.Value, a.Error, c.errPart)
		}
	}
}

// The Python side asks one question at a time and waits: each answer must be written before
// the next line is read.
func TestRulesAnswerBeforeTheNextLine(t *testing.T) {
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	done := make(chan error, 1)
	go func() { done <- rules(inR, outW); outW.Close() }()
	rd := bufio.NewReader(outR)
	for _, q := range []string{"path https://a.example/x", "target b.example/y:1"} {
		if _, err := io.WriteString(inW, q+"\n"); err != nil {
			t.Fatal(err)
		}
		line, err := rd.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		var a answer
		if err := json.Unmarshal([]byte(line), &a); err != nil || a.Ask != q || a.Value == "" {
			t.Fatalf("answer %q (%v) for %s", line, err, q)
		}
	}
	inW.Close()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

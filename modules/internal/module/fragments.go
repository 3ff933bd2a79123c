package module

import (
	"fmt"
	"reflect"
	"strings"
)

// Shared options: every module with the concept declares it through the functions below, so an
// option has one name, one type and one description across the collection, and a value set once
// in module_defaults means the same thing to every module that takes it. Each Fragment is
// documented once, in plugins/doc_fragments/<name>.py (make docs); a module's stub extends the
// fragments whose options it declares unchanged.

// Fragment is a set of options several modules share, documented once as a doc fragment.
type Fragment struct {
	Name        string // plugins/doc_fragments/<Name>.py, extended as airgap.kubespray.<Name>
	Description string // what the fragment is for (a comment in the generated file)
	Options     []Option
}

var caPath = Option{Name: "ca_path", Type: TypePath, Description: []string{
	"PEM file of extra CA certificates to trust beside the system ones (a private registry's or mirror's CA, a corporate proxy's CA).",
}}

var validateCerts = Option{Name: "validate_certs", Type: TypeBool, Default: true, Description: []string{
	"Verify TLS certificates (of registries and of file servers). Turn off only for a server you trust.",
}}

// RegistryAccessFragment is how a module reaches registries: credentials, trust, plain HTTP.
var RegistryAccessFragment = Fragment{
	Name:        "registry_access",
	Description: "How the image modules reach registries: credentials, trust, plain-HTTP hosts.",
	Options: []Option{
		{Name: "auth", Type: TypeRaw, Options: RegistryAuth, Description: []string{
			"Registry credentials: the path of a docker C(config.json) (its C(auths); credential helpers are not supported), or a list of C({registry, username, password}).",
			"Each registry gets only its own credentials. Passwords are masked in all output, also in the message about a malformed entry.",
		}},
		caPath,
		validateCerts,
		{Name: "insecure_registries", Type: TypeList, Elements: TypeStr, Default: []any{}, Description: []string{
			"Registry hosts (C(host[:port])) reached over plain HTTP; every other registry is reached over HTTPS.",
		}},
	},
}

// HTTPAccessFragment is how a module reaches HTTP servers: credentials, headers, trust.
// Proxies come from the environment (https_proxy, http_proxy, no_proxy).
var HTTPAccessFragment = Fragment{
	Name:        "http_access",
	Description: "How a module reaches HTTP servers: credentials, headers, trust.",
	Options: []Option{
		{Name: "url_username", Description: []string{
			"User name for HTTP basic authentication.",
			"Credentials and C(headers) are sent only to the hosts the items are fetched from (after C(url_mirrors)), never to a host a redirect leads to.",
		}},
		{Name: "url_password", NoLog: true, Description: []string{"Password for HTTP basic authentication."}},
		{Name: "headers", Type: TypeDict, NoLogValues: true, Description: []string{
			"Extra HTTP headers to send with every request.",
			"Every value is treated as a secret (a bearer token, an API key): masked in all output, the invocation shows the header names only.",
		}},
		caPath,
		validateCerts,
	},
}

// Default values of the transfer options, as TransferFragment documents them.
const (
	DefaultConcurrency = 4
	DefaultRetries     = 3
	DefaultTimeout     = 60
)

// Concurrency is the option of how many items a module works on at once; def is its default.
func Concurrency(def int) Option {
	return Option{Name: "concurrency", Type: TypeInt, Default: def, Short: "j", Description: []string{
		"How many items (files or images) are worked on at once.",
	}}
}

// SiteState is the option naming a site state file (airgap.kubespray.site_state writes it on
// the offline admin node): what the site already holds is left out of what a module fetches,
// pulls or counts, which makes the bundle a delta.
func SiteState() Option {
	return Option{Name: "site_state", Type: TypePath, Description: []string{
		"A site state file (written on the offline admin node by the C(airgap.kubespray.site_state) playbook, checked against the C(.sha256) file beside it): what the site already holds is left out, so that the bundle carries only what the site lacks (a delta).",
	}}
}

// Retries is the option of how often an item is retried; def is its default.
func Retries(def int) Option {
	return Option{Name: "retries", Type: TypeInt, Default: def, Description: []string{
		"How many times to retry an item after a transient failure (network error, HTTP 5xx, 408, 429, a stall), waiting 1s, 2s, 4s, ... in between.",
		"What was already transferred is kept (a partial file is resumed with an HTTP Range request, blobs stored or uploaded are not sent again), so a retry, or a rerun, resumes.",
	}}
}

// Timeout is the option of how long a module waits on a silent server; def is its default.
func Timeout(def int) Option {
	return Option{Name: "timeout", Type: TypeInt, Default: def, Description: []string{
		"Seconds to wait for a connection, for response headers, and for more data while reading a response; a server silent for longer counts as a failed attempt.",
	}}
}

// TransferFragment is how hard a module works and how long it waits.
var TransferFragment = Fragment{
	Name:        "transfer",
	Description: "How many transfers run at once, how often one is retried, how long a silent server is waited for.",
	Options:     []Option{Concurrency(DefaultConcurrency), Retries(DefaultRetries), Timeout(DefaultTimeout)},
}

// Fragments are every shared fragment, in the order a module's stub extends them.
var Fragments = []*Fragment{&RegistryAccessFragment, &HTTPAccessFragment, &TransferFragment}

// RegistryAccess returns the registry-access options (auth, ca_path, validate_certs,
// insecure_registries), for a module's Spec.
func RegistryAccess() []Option { return copyOptions(RegistryAccessFragment.Options) }

// HTTPAccess returns the HTTP-access options (url_username, url_password, headers, ca_path,
// validate_certs), for a module's Spec.
func HTTPAccess() []Option { return copyOptions(HTTPAccessFragment.Options) }

// Transfer returns concurrency, retries and timeout with their usual defaults.
func Transfer() []Option { return copyOptions(TransferFragment.Options) }

func copyOptions(opts []Option) []Option { return append([]Option(nil), opts...) }

// declares reports whether opts hold every option of f unchanged.
func (f *Fragment) declares(opts []Option) bool {
	for _, fo := range f.Options {
		found := false
		for _, o := range opts {
			if o.Name == fo.Name {
				found = reflect.DeepEqual(o, fo)
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// fragmentsOf returns the fragments opts declare unchanged, and the options left to document
// in the module's own stub.
func fragmentsOf(opts []Option) (names []string, rest []Option) {
	shared := map[string]bool{}
	for _, f := range Fragments {
		if f.declares(opts) {
			names = append(names, Collection+"."+f.Name)
			for _, o := range f.Options {
				shared[o.Name] = true
			}
		}
	}
	for _, o := range opts {
		if !shared[o.Name] {
			rest = append(rest, o)
		}
	}
	return names, rest
}

// FragmentByName returns the shared fragment called name.
func FragmentByName(name string) (*Fragment, error) {
	var known []string
	for _, f := range Fragments {
		if f.Name == name {
			return f, nil
		}
		known = append(known, f.Name)
	}
	return nil, fmt.Errorf("unknown doc fragment %q (known: %s)", name, strings.Join(known, ", "))
}

// DocFragment renders plugins/doc_fragments/<name>.py, the fragment's one documentation.
func (f *Fragment) DocFragment() (string, error) {
	docYAML, err := render(mapping("options", optionsNode(f.Options)))
	if err == nil {
		docYAML, err = foldYAML(docYAML, stubMaxLine)
	}
	if err != nil {
		return "", err
	}
	if strings.Contains(docYAML, "'''") {
		return "", fmt.Errorf("documentation of fragment %s contains ''' and cannot be a Python raw string", f.Name)
	}
	return fmt.Sprintf(`# -*- coding: utf-8 -*-
# Code generated by "make docs" from modules/internal/module/fragments.go; DO NOT EDIT.
# Copyright: airgap.kubespray contributors
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    # %[1]s
    DOCUMENTATION = r'''
%[2]s'''
`, f.Description, docYAML), nil
}

// Join concatenates a module's own options and the shared ones, in order, for its Spec.
func Join(groups ...[]Option) []Option {
	var out []Option
	for _, g := range groups {
		out = append(out, g...)
	}
	return out
}

// OfflineGroup is the options every module of the `offline` action group (meta/runtime.yml)
// takes, with one meaning: module_defaults: {group/airgap.kubespray.offline: {...}} may set any
// of them once for all its members. The group holds exactly the modules that declare the
// registry-access fragment (modules/airgap's TestOfflineActionGroup).
func OfflineGroup() []string {
	var names []string
	for _, o := range RegistryAccessFragment.Options {
		names = append(names, o.Name)
	}
	return append(names, "concurrency", "timeout")
}

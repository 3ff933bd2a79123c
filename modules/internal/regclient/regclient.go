// Package regclient turns the registry settings modules share (CA bundle, plain-HTTP hosts,
// credentials, docker config.json, timeout) into go-containerregistry options, over the one
// HTTP transport of package httpclient.
//
// Retries happen at one level only: the caller's, per image (imagepull, imagepush), with
// Permanent telling what not to retry. Requests made through a Client are sent once
// (go-containerregistry's own request retries are turned off), so that a module's
// "retries: N" means N+1 attempts in all for an image, never (N+1) times the transport's.
package regclient

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/httpclient"
)

// Credential is a user name and password for one registry host.
type Credential struct {
	Registry string `json:"registry"`
	Username string `json:"username"`
	Password string `json:"password"`
}

// Options describe how to reach registries. Zero values are safe defaults: TLS verified
// against the system CAs, anonymous access, proxies from the environment.
type Options struct {
	CAPath      string       // PEM file of extra CAs to trust
	SkipVerify  bool         // do not verify TLS certificates (validate_certs: false)
	Insecure    []string     // hosts (host[:port]) reached over plain HTTP
	Credentials []Credential // per registry host
	AuthFile    string       // a docker config.json with "auths"
	Jobs        int          // concurrent blob transfers per image; if <= 0, 4
	// Timeout bounds connecting, waiting for response headers and any silence while reading
	// a response body (a stalled registry or proxy); a big blob may take longer in total.
	// If <= 0, httpclient.DefaultTimeout.
	Timeout time.Duration
}

// Client holds what Options resolve to.
type Client struct {
	opts      Options
	transport http.RoundTripper
	keychain  authn.Keychain
}

// New checks the options (CA file, config.json) and builds a client.
func New(o Options) (*Client, error) {
	if o.Jobs <= 0 {
		o.Jobs = 4
	}
	tr, err := httpclient.Transport(httpclient.Options{Timeout: o.Timeout, CAPath: o.CAPath, Insecure: o.SkipVerify, MaxIdleConnsPerHost: 32})
	if err != nil {
		return nil, err
	}
	kc := &keychain{creds: map[string]authn.AuthConfig{}}
	if o.AuthFile != "" {
		if err := kc.load(o.AuthFile); err != nil {
			return nil, err
		}
	}
	for _, c := range o.Credentials {
		if c.Registry == "" {
			return nil, fmt.Errorf("a credential has no registry")
		}
		kc.creds[canonicalHost(c.Registry)] = authn.AuthConfig{Username: c.Username, Password: c.Password}
	}
	return &Client{opts: o, transport: tr, keychain: kc}, nil
}

// Reference parses an image reference, marking hosts listed as insecure for plain HTTP.
func (c *Client) Reference(ref string) (name.Reference, error) {
	var opts []name.Option
	if c.insecure(ref) {
		opts = append(opts, name.Insecure)
	}
	r, err := name.ParseReference(ref, opts...)
	if err != nil {
		return nil, fmt.Errorf("parsing image reference %q: %w", ref, err)
	}
	return r, nil
}

func (c *Client) insecure(ref string) bool {
	host, _, _ := strings.Cut(ref, "/")
	for _, h := range c.opts.Insecure {
		if strings.TrimSuffix(h, "/") == host {
			return true
		}
	}
	return false
}

// Remote returns go-containerregistry options for requests made under ctx. Requests are
// tried once: callers retry a whole image (with Permanent telling what not to retry), so
// that retries happen at one level and are never multiplied.
func (c *Client) Remote(ctx context.Context) []remote.Option {
	return []remote.Option{
		remote.WithContext(ctx),
		remote.WithTransport(c.transport),
		remote.WithAuthFromKeychain(c.keychain),
		remote.WithJobs(c.opts.Jobs),
		remote.WithUserAgent("airgap.kubespray"),
		remote.WithRetryBackoff(remote.Backoff{Duration: time.Second, Factor: 2, Steps: 1}),
	}
}

// keychain answers credentials from the module's options and a docker config.json; it never
// reads the user's ~/.docker unless that is the AuthFile given.
type keychain struct {
	creds map[string]authn.AuthConfig
}

func (k *keychain) Resolve(r authn.Resource) (authn.Authenticator, error) {
	if c, ok := k.creds[canonicalHost(r.RegistryStr())]; ok {
		return authn.FromConfig(c), nil
	}
	return authn.Anonymous, nil
}

// load reads the "auths" of a docker config.json: "auth" (base64 user:password), or
// "username"/"password", or "identitytoken". Credential helpers are not supported.
func (k *keychain) load(path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("reading auth file: %w", err)
	}
	var cfg struct {
		Auths map[string]struct {
			Auth          string `json:"auth"`
			Username      string `json:"username"`
			Password      string `json:"password"`
			IdentityToken string `json:"identitytoken"`
		} `json:"auths"`
	}
	if err := json.Unmarshal(b, &cfg); err != nil {
		return fmt.Errorf("parsing auth file %s: %w", path, err)
	}
	for host, a := range cfg.Auths {
		ac := authn.AuthConfig{Username: a.Username, Password: a.Password, IdentityToken: a.IdentityToken}
		if a.Auth != "" {
			raw, err := base64.StdEncoding.DecodeString(a.Auth)
			if err != nil {
				return fmt.Errorf("auth file %s: entry %s: auth is not base64", path, host)
			}
			user, pass, ok := strings.Cut(string(raw), ":")
			if !ok {
				return fmt.Errorf("auth file %s: entry %s: auth is not user:password", path, host)
			}
			ac.Username, ac.Password = user, pass
		}
		k.creds[canonicalHost(host)] = ac
	}
	return nil
}

// canonicalHost turns the spellings of a registry into one key: config.json's
// "https://index.docker.io/v1/" and "docker.io" are the same registry.
func canonicalHost(h string) string {
	h = strings.TrimPrefix(strings.TrimPrefix(h, "https://"), "http://")
	h, _, _ = strings.Cut(h, "/")
	switch h {
	case "docker.io", "index.docker.io", "registry-1.docker.io":
		return name.DefaultRegistry
	}
	return h
}

// Access is the registry-access options of every image module, decoded from the module's
// arguments (module.RegistryAccess documents them once): a module's args struct embeds it.
type Access struct {
	Auth               any      `json:"auth"`
	CAPath             string   `json:"ca_path"`
	ValidateCerts      bool     `json:"validate_certs"`
	InsecureRegistries []string `json:"insecure_registries"`
}

// Client builds the client these options describe; secret is called with every password
// (the module masks them), jobs and timeout are as in Options.
func (a Access) Client(secret func(string), jobs int, timeout time.Duration) (*Client, error) {
	authFile, creds, err := ParseAuth(a.Auth, secret)
	if err != nil {
		return nil, err
	}
	return New(Options{CAPath: a.CAPath, SkipVerify: !a.ValidateCerts, Insecure: a.InsecureRegistries,
		Credentials: creds, AuthFile: authFile, Jobs: jobs, Timeout: timeout})
}

// ParseAuth reads a module's auth option: a docker config.json path, or a list of
// {registry, username, password}. secret is called with every password found.
func ParseAuth(raw any, secret func(string)) (authFile string, creds []Credential, err error) {
	switch v := raw.(type) {
	case nil:
		return "", nil, nil
	case string:
		return v, nil, nil
	case []any:
		for i, e := range v {
			m, ok := e.(map[string]any)
			if !ok {
				return "", nil, fmt.Errorf("auth[%d]: want {registry, username, password}", i)
			}
			c := Credential{}
			for k, val := range m {
				s, ok := val.(string)
				if !ok {
					return "", nil, fmt.Errorf("auth[%d].%s: want a string", i, k)
				}
				switch k {
				case "registry":
					c.Registry = s
				case "username":
					c.Username = s
				case "password":
					c.Password = s
					secret(s)
				default:
					return "", nil, fmt.Errorf("auth[%d]: unknown key %q (want registry, username, password)", i, k)
				}
			}
			if c.Registry == "" {
				return "", nil, fmt.Errorf("auth[%d]: registry is missing", i)
			}
			creds = append(creds, c)
		}
		return "", creds, nil
	}
	return "", nil, fmt.Errorf("auth: want a docker config.json path or a list of {registry, username, password}")
}

// uploadState matches the opaque upload-session state distribution puts in upload URLs.
var uploadState = regexp.MustCompile(`\?_state=[^"\s]*`)

// Clean shortens a registry error for people: upload URLs lose their long opaque
// "?_state=..." query. The error's chain is kept.
func Clean(err error) error {
	if err == nil || !strings.Contains(err.Error(), "?_state=") {
		return err
	}
	return &cleaned{err: err, msg: uploadState.ReplaceAllString(err.Error(), "")}
}

type cleaned struct {
	err error
	msg string
}

func (c *cleaned) Error() string { return c.msg }
func (c *cleaned) Unwrap() error { return c.err }

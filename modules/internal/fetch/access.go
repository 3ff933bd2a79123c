package fetch

import (
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// Access is the HTTP-access options of the modules that reach file servers, decoded from a
// module's arguments (module.HTTPAccess documents them once): a module's args struct embeds it.
type Access struct {
	URLUsername   string         `json:"url_username"`
	URLPassword   string         `json:"url_password"`
	Headers       map[string]any `json:"headers"`
	CAPath        string         `json:"ca_path"`
	ValidateCerts bool           `json:"validate_certs"`
}

// Options returns the Options these access options describe (Client, Header, Username,
// Password), with timeout as the client's (ClientOptions.Timeout).
func (a Access) Options(timeout time.Duration) (Options, error) {
	client, err := NewHTTPClient(ClientOptions{Timeout: timeout, Insecure: !a.ValidateCerts, CAPath: a.CAPath})
	if err != nil {
		return Options{}, err
	}
	header := http.Header{}
	for k, v := range a.Headers {
		header.Set(k, headerValue(v))
	}
	return Options{Client: client, Header: header, Username: a.URLUsername, Password: a.URLPassword}, nil
}

// headerValue formats a header value; JSON numbers arrive as float64 and must not become "1e+06".
func headerValue(v any) string {
	if f, ok := v.(float64); ok {
		return strconv.FormatFloat(f, 'f', -1, 64)
	}
	return fmt.Sprint(v)
}

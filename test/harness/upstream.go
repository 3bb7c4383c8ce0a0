package harness

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// Echo is what the echo upstream answers: the request as it arrived.
type Echo struct {
	Echo    bool                `json:"echo"` // always true: the response came from the upstream
	Method  string              `json:"method"`
	URI     string              `json:"uri"`
	Host    string              `json:"host"`
	Headers map[string][]string `json:"headers"`
}

// Upstream starts the echo upstream: an HTTP server that answers every
// request with its method, URI and headers as JSON (an Echo). Closed at
// cleanup.
func Upstream(t testing.TB) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e := Echo{Echo: true, Method: r.Method, URI: r.RequestURI, Host: r.Host, Headers: map[string][]string(r.Header.Clone())}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Echo-Upstream", "1")
		_ = json.NewEncoder(w).Encode(e)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// UpstreamAddr is host:port of an httptest server, for reverse_proxy.
func UpstreamAddr(srv *httptest.Server) string {
	return strings.TrimPrefix(srv.URL, "http://")
}

// NormHeader lower-cases a header name and maps '_' to '-' (how CGI and
// PHP see it: Remote_User and remote-user are both REMOTE_USER).
func NormHeader(name string) string {
	return strings.ReplaceAll(strings.ToLower(name), "_", "-")
}

// Values returns every value the upstream received under any spelling of
// name (any case, '_' or '-'), keyed by the spelling that arrived.
func (e *Echo) Values(name string) map[string][]string {
	want := NormHeader(name)
	out := map[string][]string{}
	for k, v := range e.Headers {
		if NormHeader(k) == want {
			out[k] = v
		}
	}
	return out
}

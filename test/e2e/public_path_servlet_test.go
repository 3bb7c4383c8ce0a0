package e2e

import (
	"net/http"
	"testing"

	"github.com/caddyauth/gateway/test/harness"
)

// TestPublicPathServletAndIISForms (issue 9, item 4): with `public
// /public/*`, a path that a Servlet container (`;` parameters cut off each
// segment) or IIS (`\` read as `/`) resolves outside /public is not
// public: sent as is over the wire (raw backslash included), encoded,
// double-encoded and in mixed case, an anonymous client gets 401 and the
// upstream is not called. Ordinary public paths still pass.
func TestPublicPathServletAndIISForms(t *testing.T) {
	t.Parallel()
	g := newGateway(t, func(c *harness.GatewayConfig) {
		c.ProtectOptions = []string{"public /health /public/*"}
	})
	g.start()
	for _, p := range []string{
		"/public/..;/admin", "/public/..;jsessionid=x/admin", "/public/.;/admin", "/public/.;/../admin",
		"/public/..%3b/admin", "/public/..%3B/admin", "/public/%2e%2e;/admin", "/public/%2E%2e%3b/admin",
		"/public/..%5Cadmin", "/public/..%5cadmin", "/public/..\\x", "/public/..\\admin", "/public\\..\\admin",
		"/public/%252e%252e/admin", "/public/%252E%252E%252Fadmin", "/public/..%255cadmin", "/public/..%253b/admin",
		"/public/%25u002e%25u002e/admin", "/public/%EF%BC%8E%EF%BC%8E/admin", "/public/.../admin",
		"/public/..%20/admin", "/public/..%00/admin", "/public/%c0%ae%c0%ae/admin", "/public/%E2%80%A5/admin",
	} {
		r := rawGet(t, g, p, api...)
		if r.fromUpstream() {
			t.Errorf("anonymous GET %s reached the upstream as %q", p, r.echo(t).URI)
		} else if r.StatusCode != http.StatusUnauthorized || r.code() != "UNAUTHENTICATED" {
			t.Errorf("anonymous GET %s: %d %s, want 401 UNAUTHENTICATED", p, r.StatusCode, r.body)
		}
	}
	for _, p := range []string{"/health", "/public/app.css", "/public/x;v=1", "/public/a%20b", "/public/.well-known/x"} {
		if r := rawGet(t, g, p, api...); !r.fromUpstream() || r.StatusCode != http.StatusOK {
			t.Errorf("anonymous GET %s: %d %s, want the upstream", p, r.StatusCode, r.body)
		}
	}
}

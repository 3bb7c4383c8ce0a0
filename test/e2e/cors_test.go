package e2e

import (
	"net/http"
	"testing"

	"github.com/caddyauth/gateway/test/harness"
)

// TestCORS: through the binary, an allowed browser origin gets a cached
// preflight and can sign in with credentials; another origin cannot.
func TestCORS(t *testing.T) {
	t.Parallel()
	g := newGateway(t, func(c *harness.GatewayConfig) {
		c.AppOptions = append(c.AppOptions, "cors {", "\torigins https://spa.example.test", "}")
	})
	pw := newPassword()
	g.addUser("alice@example.test", "Alice", pw)
	g.start()
	c := g.client()

	pre := c.Do(c.NewRequest(http.MethodOptions, "/auth/login", nil,
		"Origin", "https://spa.example.test", "Access-Control-Request-Method", "POST", "Access-Control-Request-Headers", "content-type"))
	if pre.StatusCode != http.StatusNoContent || pre.Header.Get("Access-Control-Allow-Origin") != "https://spa.example.test" ||
		pre.Header.Get("Access-Control-Allow-Credentials") != "true" || pre.Header.Get("Access-Control-Max-Age") != "600" {
		t.Fatalf("preflight: %s", pre)
	}
	r := c.PostJSON("/auth/login", map[string]string{"email": "alice@example.test", "password": pw},
		"Origin", "https://spa.example.test", "Sec-Fetch-Site", "cross-site")
	expectStatus(t, r, http.StatusOK)
	if r.Header.Get("Access-Control-Allow-Origin") != "https://spa.example.test" {
		t.Fatalf("login response not readable by the allowed origin: %s", r)
	}
	r = c.PostJSON("/auth/logout", map[string]string{}, "Origin", "https://evil.test", "Sec-Fetch-Site", "cross-site")
	expectError(t, r, http.StatusForbidden, "CROSS_ORIGIN_REQUEST")
	if r.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Fatalf("foreign origin got CORS headers: %s", r)
	}
}

package e2e

import (
	"net/http"
	"strings"
	"testing"

	"github.com/caddyauth/gateway/test/harness"
)

// TestCORSCapitalisedOriginPut (issue 9): through the binary, an origin
// configured with capitals and its default port gets the preflight for
// the admin API's PUT (PUT allowed), and then the real requests from that
// origin pass the CSRF check: the sign-in POST, and the PUT itself.
// Spellings no browser sends are refused by both, never by one only.
func TestCORSCapitalisedOriginPut(t *testing.T) {
	t.Parallel()
	g := newGateway(t, func(c *harness.GatewayConfig) {
		c.AppOptions = append(c.AppOptions, "cors {", "\torigins https://SPA.Example.TEST:443", "}")
	})
	pw := newPassword()
	g.addUser("root@example.test", "Root", pw, "admin")
	g.start()
	c := g.client()
	const origin = "https://spa.example.test" // what a browser sends
	cross := []string{"Origin", origin, "Sec-Fetch-Site", "cross-site"}

	preflight := func(origin, method, path string) *harness.Response {
		return c.Do(c.NewRequest(http.MethodOptions, path, nil, "Origin", origin,
			"Access-Control-Request-Method", method, "Access-Control-Request-Headers", "content-type"))
	}
	pre := preflight(origin, "POST", "/auth/login")
	if pre.StatusCode != http.StatusNoContent || pre.Header.Get("Access-Control-Allow-Origin") != origin {
		t.Fatalf("login preflight: %s", pre)
	}
	r := c.PostJSON("/auth/login", map[string]string{"email": "root@example.test", "password": pw}, cross...)
	expectStatus(t, r, http.StatusOK)
	if r.Header.Get("Access-Control-Allow-Origin") != origin {
		t.Fatalf("login answer not readable by the origin: %s", r)
	}
	harness.Sensitive(c.Cookie(cookieName))
	enrolTOTP(t, c)

	pre = preflight(origin, "PUT", "/auth/admin/methods/password")
	if pre.StatusCode != http.StatusNoContent || !strings.Contains(pre.Header.Get("Access-Control-Allow-Methods"), "PUT") {
		t.Fatalf("PUT preflight: %s (allow methods %q)", pre, pre.Header.Get("Access-Control-Allow-Methods"))
	}
	req := c.NewRequest(http.MethodPut, "/auth/admin/methods/password", strings.NewReader(`{"enabled": true}`),
		append([]string{"Content-Type", "application/json", "Accept", "application/json"}, cross...)...)
	r = c.Do(req)
	expectStatus(t, r, http.StatusOK)
	if r.Header.Get("Access-Control-Allow-Origin") != origin {
		t.Fatalf("PUT answer not readable by the origin: %s", r)
	}

	for _, o := range []string{"https://SPA.example.test", "https://spa.example.test:443", "http://spa.example.test", "https://evil.test"} {
		if pre := preflight(o, "POST", "/auth/logout"); pre.StatusCode != http.StatusForbidden {
			t.Errorf("preflight from %s: %s", o, pre)
		}
		expectError(t, c.PostJSON("/auth/logout", map[string]string{}, "Origin", o, "Sec-Fetch-Site", "cross-site"),
			http.StatusForbidden, "CROSS_ORIGIN_REQUEST")
	}
}

package e2e

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/caddyauth/gateway/test/harness"
)

// TestProtectWithMatcher: DESIGN.md documents `protect [<matcher>]`, and
// that protect "also serves the portal routes under its base path, so a
// single site needs nothing else". With a matcher, the portal must still be
// served (otherwise the login form posts the password to the upstream app),
// and client-sent identity headers must still be stripped on the paths the
// matcher leaves public (the app trusts Remote-User on every path).
func TestProtectWithMatcher(t *testing.T) {
	t.Parallel()
	g := newGateway(t, func(c *harness.GatewayConfig) {
		c.ProtectMatcher = "/private/*"
		c.ProtectOptions = nil
	})
	pw := newPassword()
	id := g.addUser("alice@example.test", "Alice", pw)
	g.start()

	t.Run("matched paths are protected", func(t *testing.T) {
		c := g.client()
		r := c.Get("/private/x", browser...)
		expectStatus(t, r, http.StatusFound)
		if loc := r.Header.Get("Location"); loc != "/auth/login?rd="+url.QueryEscape("/private/x") {
			t.Errorf("Location %q", loc)
		}
		expectError(t, c.Get("/private/x", api...), http.StatusUnauthorized, "UNAUTHENTICATED")
	})

	t.Run("the portal is served, the password never reaches the upstream", func(t *testing.T) {
		c := g.client()
		page := c.Get("/auth/login?rd=%2Fprivate%2Fx", browser...)
		if page.FromUpstream() {
			t.Errorf("GET /auth/login was proxied to the upstream: the sign-in page the gateway redirects to does not exist")
		}
		r := c.PostJSON("/auth/login", map[string]string{"email": "alice@example.test", "password": pw})
		if r.FromUpstream() {
			t.Fatalf("POST /auth/login was proxied to the upstream app: it received the user's password")
		}
		expectStatus(t, r, http.StatusOK)
		r = c.Get("/private/x", api...)
		expectStatus(t, r, http.StatusOK)
		if got := r.Echo().Values("Remote-User")["Remote-User"]; len(got) != 1 || got[0] != id {
			t.Errorf("Remote-User = %v", got)
		}
	})

	t.Run("client-sent identity is stripped outside the matcher too", func(t *testing.T) {
		c := g.client()
		r := c.Get("/elsewhere", spoofed...)
		expectStatus(t, r, http.StatusOK)
		checkNoSpoof(t, r.Echo())
	})
}

package e2e

import (
	"net/http"
	"strings"
	"testing"

	"github.com/caddyauth/gateway/test/harness"
)

const trustCookieName = "__Host-caddyauth_trust"

// TestMatcherKeepsCredentialsFromApp (issue 9, item 1): with `protect
// /admin* { ... }`, the form the docs show, a request outside the matcher
// reaches the app without the session cookie, the trusted-device cookie
// and the trust header (both spellings; the server allows the underscore
// one), with the app's own cookies, and without the client's identity
// headers. With a site-wide protect written after it, the signed-in user
// still passes on the other paths (the second protect finds the session).
func TestMatcherKeepsCredentialsFromApp(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		siteWide bool
		email    string // subtests share the test's home and database
	}{{"protect /admin* alone", false, "root@example.test"}, {"protect /admin* then a site-wide protect", true, "root2@example.test"}} {
		t.Run(tc.name, func(t *testing.T) {
			// Not parallel: the subtests share the test's home (one
			// default SQLite database).
			g := newGateway(t, func(c *harness.GatewayConfig) {
				c.ProtectMatcher = "/admin*"
				c.ProtectOptions = []string{"allow group admins"}
				c.ServerOptions = []string{"expected_underscore_headers nest_auth_device_trust"}
				if tc.siteWide {
					c.SiteExtra = []string{"protect {", "\tpublic /health", "}"}
				}
			})
			pw := newPassword()
			id := g.addUser(tc.email, "Root", pw, "admins")
			g.start()
			c := g.client()
			c.Login(tc.email, pw)
			token := c.Cookie(cookieName)
			trust := "trust-" + harness.RandomSecret()
			// Not registered for the leak scan: Caddy's access log records
			// request headers and redacts only Cookie (docs/configuration.md,
			// trust_header).
			creds := []string{
				"Cookie", "theme=dark; " + cookieName + "=" + token + "; " + trustCookieName + "=" + trust,
				"Nest-Auth-Device-Trust", trust,
				"nest_auth_device_trust", trust,
			}
			for _, p := range []string{"/app", "/", "/health", "/other/admin", "/admin/x"} {
				r := rawGet(t, g, p, hdr(api, creds, spoofed)...)
				if !r.fromUpstream() {
					t.Errorf("GET %s: %d %s, want the upstream", p, r.StatusCode, r.body)
					continue
				}
				e := r.echo(t)
				checkNoSpoof(t, e)
				if got := e.Values("Cookie"); len(got) != 1 || len(got["Cookie"]) != 1 || got["Cookie"][0] != "theme=dark" {
					t.Errorf("GET %s: upstream Cookie %v, want only the app's theme=dark", p, got)
				}
				for k, v := range e.Headers {
					if s := strings.Join(v, ","); strings.Contains(s, token) || strings.Contains(s, trust) {
						t.Errorf("GET %s: a gateway credential reached the upstream in %s", p, k)
					}
				}
				wantUser := p == "/admin/x" || tc.siteWide && p != "/health"
				if got := e.Values("Remote-User"); wantUser != (len(got) == 1 && len(got["Remote-User"]) == 1 && got["Remote-User"][0] == id) || !wantUser && len(got) != 0 {
					t.Errorf("GET %s: upstream Remote-User %v, want identity %v", p, got, wantUser)
				}
			}
			// The session still works where it must, and is refused where
			// the matcher's rule says so.
			if tc.siteWide {
				expectError(t, g.client().Get("/app", api...), http.StatusUnauthorized, "UNAUTHENTICATED")
			}
			expectError(t, g.client().Get("/admin/x", api...), http.StatusUnauthorized, "UNAUTHENTICATED")
		})
	}
}

package e2e

import (
	"net/http"
	"testing"

	"github.com/caddyauth/gateway/test/harness"
)

// servletAdminVariants are paths outside /admin* for Caddy's path matcher
// (it cleans "." and ".." only) that a Servlet container (`;` parameters
// cut) or IIS (`\` is `/`) behind the gateway reads as /admin.
var servletAdminVariants = []string{
	"/x/..;/admin", "/x/..;jsessionid=1/admin/y", "/x/.;/../admin", "/x/..%3b/admin", "/x/%2e%2e;/admin",
	"/x/..%5cadmin", "/x/..%5Cadmin", "/x/..\\admin", "/x\\..\\admin", "/x/%252e%252e/admin", "/x/..%00/admin",
}

// TestProtectMatcherServletForms (issue 9, item 4, on the matcher side):
// with `protect /admin* { allow group admins }`, a path outside the
// matcher that the upstream may read as /admin gets the decision /admin
// gets: staff 403, anonymous 401, neither reaches the upstream; an
// administrator passes with the spelling as sent.
func TestProtectMatcherServletForms(t *testing.T) {
	t.Parallel()
	checkServletVariants(t, newGateway(t, func(c *harness.GatewayConfig) {
		c.ProtectMatcher = "/admin*"
		c.ProtectOptions = []string{"allow group admins"}
	}))
}

// TestProtectMatcherServletFormsAfterSiteWide: the same after a site-wide
// protect, which admits the staff user.
func TestProtectMatcherServletFormsAfterSiteWide(t *testing.T) {
	t.Parallel()
	checkServletVariants(t, newGateway(t, func(c *harness.GatewayConfig) {
		c.ProtectOptions = nil
		c.SiteExtra = []string{"protect /admin* {", "\tallow group admins", "}"}
	}))
}

func checkServletVariants(t *testing.T, g *gateway) {
	pw := newPassword()
	g.addUser("staff@example.test", "Staff", pw, "staff")
	g.addUser("root@example.test", "Root", pw, "admins")
	g.start()
	staff, admin := g.client(), g.client()
	staff.Login("staff@example.test", pw)
	admin.Login("root@example.test", pw)
	staffCookie := withCookie(staff.Cookie(cookieName))
	adminCookie := withCookie(admin.Cookie(cookieName))
	// The control: outside the matcher, a plain path passes for staff.
	if r := rawGet(t, g, "/x/admin", hdr(api, staffCookie)...); !r.fromUpstream() {
		t.Fatalf("staff GET /x/admin: %d %s", r.StatusCode, r.body)
	}
	for _, p := range servletAdminVariants {
		if r := rawGet(t, g, p, hdr(api, staffCookie)...); r.fromUpstream() {
			t.Errorf("staff GET %s reached the upstream as %q", p, r.echo(t).URI)
		} else if r.StatusCode != http.StatusForbidden || r.code() != "FORBIDDEN" {
			t.Errorf("staff GET %s: %d %s, want 403 FORBIDDEN", p, r.StatusCode, r.body)
		}
		if r := rawGet(t, g, p, api...); r.fromUpstream() {
			t.Errorf("anonymous GET %s reached the upstream as %q", p, r.echo(t).URI)
		} else if r.StatusCode != http.StatusUnauthorized || r.code() != "UNAUTHENTICATED" {
			t.Errorf("anonymous GET %s: %d %s, want 401 UNAUTHENTICATED", p, r.StatusCode, r.body)
		}
		if r := rawGet(t, g, p, hdr(api, adminCookie)...); !r.fromUpstream() || r.StatusCode != http.StatusOK {
			t.Errorf("admin GET %s: %d %s", p, r.StatusCode, r.body)
		} else if e := r.echo(t); len(e.Values("Remote-User")) != 1 {
			t.Errorf("admin GET %s: upstream identity %v", p, e.Values("Remote-User"))
		}
	}
}

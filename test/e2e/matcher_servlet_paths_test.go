package e2e

import (
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
	checkPathVariants(t, newGateway(t, func(c *harness.GatewayConfig) {
		c.ProtectMatcher = "/admin*"
		c.ProtectOptions = []string{"allow group admins"}
	}), "/x/admin", servletAdminVariants)
}

// TestProtectMatcherServletFormsAfterSiteWide: the same after a site-wide
// protect, which admits the staff user.
func TestProtectMatcherServletFormsAfterSiteWide(t *testing.T) {
	t.Parallel()
	checkPathVariants(t, newGateway(t, func(c *harness.GatewayConfig) {
		c.ProtectOptions = nil
		c.SiteExtra = []string{"protect /admin* {", "\tallow group admins", "}"}
	}), "/x/admin", servletAdminVariants)
}

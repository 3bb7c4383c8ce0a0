package e2e

import (
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/caddyauth/gateway/test/harness"
)

// TestUnknownMethodSwitch (issue 9): through the binary, a switch for a
// method this configuration does not offer, a typo of a provider
// (oauth:githb) or a flow that is not built (passwordless), is refused by
// the admin API (404 METHOD_UNKNOWN) and by the CLI (non-zero exit),
// stores and audits nothing, and github stays on. The admin API and
// `methods list` show exactly the configuration's methods.
func TestUnknownMethodSwitch(t *testing.T) {
	t.Parallel()
	g := newGateway(t, func(c *harness.GatewayConfig) {
		c.AppOptions = append(c.AppOptions, "oauth github {", "\tclient_id e2e-client", "\tclient_secret e2e-client-secret-value", "}")
	})
	harness.Sensitive("e2e-client-secret-value")
	pw := newPassword()
	g.addUser("root@example.test", "Root", pw, "admin")
	g.start()
	cfg := g.caddy.ConfigPath()
	root := g.client()
	root.Login("root@example.test", pw)
	harness.Sensitive(root.Cookie(cookieName))
	enrolTOTP(t, root)

	const want = `{"methods":[{"method":"oauth:github","enabled":true},{"method":"password","enabled":true}]}`
	list := func() string {
		r := root.Get("/auth/admin/methods", api...)
		expectStatus(t, r, http.StatusOK)
		return strings.TrimSpace(string(r.Body))
	}
	if got := list(); got != want {
		t.Fatalf("admin methods = %s, want %s", got, want)
	}
	for _, m := range []string{"oauth:githb", "oauth:GitHub", "passwordless", "registration"} {
		for _, verb := range []string{http.MethodPut, http.MethodPost} {
			r := adminCall(t, root, verb, "/auth/admin/methods/"+m, map[string]bool{"enabled": false})
			expectError(t, r, http.StatusNotFound, "METHOD_UNKNOWN")
			if !strings.Contains(string(r.Body), "oauth:github") {
				t.Errorf("%s %s: the refusal does not name what exists: %s", verb, m, r)
			}
		}
		for _, verb := range []string{"disable", "enable"} {
			out, errOut, code := g.cli("", "auth", "methods", verb, m, "--config", cfg)
			if code == 0 || !strings.Contains(errOut, "unknown auth method") || !strings.Contains(errOut, "oauth:github") {
				t.Errorf("methods %s %s: exit %d\n%s%s", verb, m, code, out, errOut)
			}
		}
	}
	if got := list(); got != want {
		t.Fatalf("admin methods after the refusals = %s, want %s", got, want)
	}
	out, errOut, code := g.cli("", "auth", "methods", "list", "--config", cfg)
	if code != 0 || !regexp.MustCompile(`(?m)^oauth:github\s+enabled\n^password\s+enabled\n*$`).MatchString(strings.SplitN(out, "\n", 2)[1]) {
		t.Errorf("methods list: exit %d\n%s%s", code, out, errOut)
	}
	out, _, _ = g.cli("", "auth", "audit", "tail", "-n", "100", "--config", cfg)
	if strings.Contains(out, "auth_method.") {
		t.Errorf("a refused switch was audited:\n%s", out)
	}
	// The real method still switches.
	expectStatus(t, adminCall(t, root, http.MethodPut, "/auth/admin/methods/oauth:github", map[string]bool{"enabled": false}), http.StatusOK)
	if got := list(); !strings.Contains(got, `{"method":"oauth:github","enabled":false}`) {
		t.Fatalf("admin methods after disabling github = %s", got)
	}
}

package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/caddyauth/gateway/test/harness"
)

// plainSite is a Caddyfile with one plain-http site whose block is body;
// global lines go in the global options, app lines in caddyauth.
func plainSite(t *testing.T, port int, global, app []string, body string) string {
	t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "{\n\tadmin 127.0.0.1:%d\n", harness.FreePort(t))
	for _, l := range global {
		fmt.Fprintf(&b, "\t%s\n", l)
	}
	fmt.Fprintf(&b, "\tcaddyauth {\n\t\tsecret %s\n\t\tsessions memory\n\t\trate_limit off\n", harness.RandomSecret())
	for _, l := range app {
		fmt.Fprintf(&b, "\t\t%s\n", l)
	}
	fmt.Fprintf(&b, "\t}\n}\n\nhttp://localhost:%d {\n%s\n}\n", port, body)
	return b.String()
}

// TestConfigPlainHTTPNeedsInsecure: `protect` or `auth_portal` on a
// plain-http site with the default (Secure, __Host-) cookie refuses to
// start, naming the directive, the site and the fixes, instead of answering
// logins with a cookie the browser drops (a silent login loop).
func TestConfigPlainHTTPNeedsInsecure(t *testing.T) {
	t.Parallel()
	bin := harness.BuildBinary(t)
	for _, tc := range []struct{ name, directive, body string }{
		{"protect", "protect", "\tprotect\n\trespond ok"},
		{"protect with a matcher", "protect", "\tprotect /admin*\n\trespond ok"},
		{"auth_portal", "auth_portal", "\tauth_portal\n\trespond ok"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			port := harness.FreePort(t)
			logs, _ := harness.RunCaddyExpectFailure(t, bin, plainSite(t, port, nil, nil, tc.body), 15*time.Second)
			logs = unescape(logs)
			for _, w := range []string{
				tc.directive + ": server srv0 (localhost; listening on :" + fmt.Sprint(port) + ") serves plain http",
				"cookie { insecure }", "over https", "trusted_proxies",
			} {
				if !strings.Contains(logs, w) {
					t.Errorf("caddy run output lacks %q:\n%s", w, logs)
				}
			}
			if strings.Contains(logs, "serving initial configuration") {
				t.Error("caddy served the configuration")
			}
		})
	}
}

// TestConfigPlainHTTPBehindTLSProxy: a plain-http site whose server lists
// trusted_proxies (a proxy in front terminates TLS) starts, and logins get
// the Secure __Host- cookie, which the browser receives over the proxy's
// https.
func TestConfigPlainHTTPBehindTLSProxy(t *testing.T) {
	t.Parallel()
	bin := harness.BuildBinary(t)
	port := harness.FreePort(t)
	cf := plainSite(t, port, []string{"servers {", "\ttrusted_proxies static 127.0.0.1/32", "}"}, nil, "\tprotect\n\trespond ok")
	pw := newPassword()
	harness.AddUser(t, bin, harness.WriteCaddyfile(t, cf), "alice@example.test", "Alice", pw)
	c := harness.StartCaddy(t, bin, cf)
	r := harness.NewClient(t, c.URL).PostJSON("/auth/login", map[string]string{"email": "alice@example.test", "password": pw},
		"X-Forwarded-Proto", "https")
	expectStatus(t, r, 200)
	raw := strings.ToLower(r.SetCookie(cookieName))
	if raw == "" || !strings.Contains(raw, "; secure") {
		t.Fatalf("login cookie behind a TLS proxy: %s", redactCookie(raw))
	}
}

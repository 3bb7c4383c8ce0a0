package e2e

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/caddyauth/gateway/test/harness"
)

// TestVerifyCaddyForwardAuth: a stock Caddy forward_auth site (the same
// binary, no protect) in front of the echo upstream, with the recipe of
// docs/forward-auth.md: the gateway's 302 reaches the browser, the 401
// the API client, copy_headers brings the identity, a client's own
// identity headers never arrive, policy per host, logout felt at once.
func TestVerifyCaddyForwardAuth(t *testing.T) {
	t.Parallel()
	up := harness.Upstream(t)
	fp := harness.FreePort(t)
	appHost, adminHost := fmt.Sprintf("app.example.test:%d", fp), fmt.Sprintf("admin.example.test:%d", fp)
	// The gateway's port is known only inside startVerifyGateway: the
	// recipe's gateway address is filled in there from this marker.
	site := recipe(t, "caddyfile", 1,
		"app.example.com {", fmt.Sprintf("http://%s, http://%s {", appHost, adminHost),
		"127.0.0.1:3000", harness.UpstreamAddr(up))
	g := startVerifyGatewayWith(t, appHost, adminHost, func(port int, authHost string) string {
		return strings.NewReplacer("127.0.0.1:9091", fmt.Sprintf("127.0.0.1:%d", port), "auth.example.com", authHost).Replace(site)
	})

	c := harness.NewClient(t, "http://"+appHost, harness.DialLoopback())
	page := "http://" + appHost + "/docs/a%20b?x=1&y=2"

	r := c.Get(page, browser...)
	expectStatus(t, r, http.StatusFound)
	want := "http://" + g.authHost + "/auth/login?rd=" + url.QueryEscape(page)
	if loc := r.Header.Get("Location"); loc != want || r.FromUpstream() {
		t.Fatalf("anonymous browser: Location %q, want %q", loc, want)
	}
	expectError(t, c.Get(page, api...), http.StatusUnauthorized, "UNAUTHENTICATED")

	g.login(t, c, "ada@example.test", g.adaPW, page)
	r = c.Get(page, hdr(api, []string{"Remote-User", "root", "Remote-Groups", "admins", "X-Forwarded-Host", adminHost})...)
	expectStatus(t, r, http.StatusOK)
	e := r.Echo()
	for name, want := range map[string]string{"Remote-User": g.adaID, "Remote-Email": "ada@example.test", "Remote-Groups": "staff"} {
		vals := e.Values(name)
		if len(vals) != 1 || strings.Join(vals[name], ",") != want {
			t.Fatalf("upstream %s = %v, want only %q", name, vals, want)
		}
	}

	r = c.Get("http://"+adminHost+"/", api...)
	expectError(t, r, http.StatusForbidden, "FORBIDDEN")
	root := harness.NewClient(t, "http://"+adminHost, harness.DialLoopback())
	g.login(t, root, "root@example.test", g.rootPW, "http://"+adminHost+"/")
	r = root.Get("http://"+adminHost+"/", api...)
	expectStatus(t, r, http.StatusOK)
	if got := r.Echo().Headers["Remote-User"]; len(got) != 1 || got[0] != g.rootID {
		t.Fatalf("admin host Remote-User = %v", got)
	}

	// The logged-out cookie, replayed, is dead at once.
	old := c.Cookie("caddyauth")
	g.logout(t, c)
	replay := harness.NewClient(t, "http://"+appHost, harness.DialLoopback())
	expectError(t, replay.Get(page, hdr(api, []string{"Cookie", "caddyauth=" + old})...), http.StatusUnauthorized, "SESSION_EXPIRED")
}

package e2e

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/caddyauth/gateway/test/harness"
)

// TestVerifyNginx: a real nginx doing auth_request to /auth/verify, with
// the recipe of docs/forward-auth.md, in front of the echo upstream:
// anonymous browsers are sent to sign in, API clients get 401, the
// upstream sees the identity and never a client's own identity headers,
// each host has its own policy, a host with no verify line is refused,
// and a logout is felt at the next request.
func TestVerifyNginx(t *testing.T) {
	t.Parallel()
	up := harness.Upstream(t)
	np := harness.FreePort(t)
	appHost, adminHost := fmt.Sprintf("app.example.test:%d", np), fmt.Sprintf("admin.example.test:%d", np)
	g := startVerifyGateway(t, appHost, adminHost)
	conf := recipe(t, "nginx", 0,
		"listen 8080;", fmt.Sprintf("listen 127.0.0.1:%d;", np),
		"server_name app.example.com admin.example.com;", "server_name app.example.test admin.example.test;",
		"127.0.0.1:9091", fmt.Sprintf("127.0.0.1:%d", g.port),
		"127.0.0.1:3000", harness.UpstreamAddr(up),
		"auth.example.com", g.authHost)
	harness.StartNginx(t, np, conf)

	c := harness.NewClient(t, "http://"+appHost, harness.DialLoopback())
	page := "http://" + appHost + "/reports/q3?tab=1"

	// Anonymous: a browser goes to sign in with the whole original URL,
	// an API client gets 401; neither reaches the app.
	r := c.Get(page, browser...)
	expectStatus(t, r, http.StatusFound)
	want := "http://" + g.authHost + "/auth/login?rd=" + url.QueryEscape(page)
	if loc := r.Header.Get("Location"); loc != want || r.FromUpstream() {
		t.Fatalf("anonymous browser: Location %q, want %q", loc, want)
	}
	r = c.Get(page, api...)
	if r.StatusCode != http.StatusUnauthorized || r.FromUpstream() {
		t.Fatalf("anonymous API client: %s", r)
	}
	// The sign-in page answers there.
	expectStatus(t, c.Get(want, browser...), http.StatusOK)

	// Signed in: the upstream sees the identity, and a client's own
	// identity headers, in any spelling, never arrive.
	g.login(t, c, "ada@example.test", g.adaPW, page)
	r = c.Get(page, hdr(browser, []string{"Remote-User", "root", "remote-email", "root@example.test", "Remote-Groups", "admins"})...)
	expectStatus(t, r, http.StatusOK)
	e := r.Echo()
	for name, want := range map[string]string{"Remote-User": g.adaID, "Remote-Email": "ada@example.test", "Remote-Name": "Ada Lovelace", "Remote-Groups": "staff"} {
		vals := e.Values(name)
		if len(vals) != 1 || strings.Join(vals[name], ",") != want {
			t.Fatalf("upstream %s = %v, want only %q", name, vals, want)
		}
	}
	if e.URI != "/reports/q3?tab=1" {
		t.Fatalf("upstream URI %q", e.URI)
	}
	// A POST is judged with its own method and passes (the verify
	// subrequest carries the original method and Origin).
	req := c.NewRequest("POST", page, strings.NewReader("x=1"), "Content-Type", "application/x-www-form-urlencoded", "Origin", "http://"+appHost)
	r = c.Do(req)
	if r.StatusCode != http.StatusOK || r.Echo().Method != "POST" {
		t.Fatalf("signed-in POST: %s", r)
	}

	// Policy per host: admin.example.test admits the admins group only.
	adminPage := "http://" + adminHost + "/"
	r = c.Get(adminPage, browser...)
	if r.StatusCode != http.StatusForbidden || r.FromUpstream() {
		t.Fatalf("ada on the admin host: %s", r)
	}
	root := harness.NewClient(t, "http://"+adminHost, harness.DialLoopback())
	g.login(t, root, "root@example.test", g.rootPW, adminPage)
	r = root.Get(adminPage, browser...)
	expectStatus(t, r, http.StatusOK)
	if got := r.Echo().Headers["Remote-User"]; len(got) != 1 || got[0] != g.rootID {
		t.Fatalf("admin host Remote-User = %v", got)
	}
	// A host nginx serves but no verify line names: refused.
	r = c.Get(fmt.Sprintf("http://other.example.test:%d/", np), browser...)
	if r.StatusCode != http.StatusForbidden || r.FromUpstream() {
		t.Fatalf("host without a verify line: %s", r)
	}

	// A bearer access token (bearer mode) works through nginx as the
	// cookie does: the same credential strategies decide.
	api2 := harness.NewClient(t, "http://"+g.authHost, harness.DialLoopback())
	r = api2.PostJSON("http://"+g.authHost+"/auth/login", map[string]string{"email": "ada@example.test", "password": g.adaPW}, "X-Access-Token-Type", "header")
	expectStatus(t, r, http.StatusOK)
	tok, _ := r.JSON()["access_token"].(string)
	if tok == "" || len(r.Cookies()) != 0 {
		t.Fatalf("bearer login: %s", r)
	}
	harness.Sensitive(tok)
	r = api2.Get(page, hdr(api, []string{"Authorization", "Bearer " + tok})...)
	expectStatus(t, r, http.StatusOK)
	if got := r.Echo().Headers["Remote-User"]; len(got) != 1 || got[0] != g.adaID {
		t.Fatalf("bearer through nginx: Remote-User %v", got)
	}
	r = api2.Get(page, hdr(api, []string{"Authorization", "Bearer " + tok[:len(tok)-4] + "AAAA"})...)
	if r.StatusCode != http.StatusUnauthorized || r.FromUpstream() {
		t.Fatalf("forged bearer through nginx: %s", r)
	}

	// Logout at the portal is felt at the next request, even by a
	// client that replays the old cookie.
	old := c.Cookie("caddyauth")
	if old == "" {
		t.Fatal("no session cookie for the app host")
	}
	g.logout(t, c)
	replay := harness.NewClient(t, "http://"+appHost, harness.DialLoopback())
	r = replay.Get(page, hdr(browser, []string{"Cookie", "caddyauth=" + old})...)
	if r.StatusCode != http.StatusFound || r.FromUpstream() {
		t.Fatalf("after logout: %s", r)
	}
}

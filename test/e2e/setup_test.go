package e2e

import (
	"bytes"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/caddyauth/gateway/test/harness"
)

// TestFirstRunSetup (k): with no user, the log carries a one-time setup
// link; it serves a form that creates the first administrator (group
// admin) and signs them in; afterwards the link is gone.
func TestFirstRunSetup(t *testing.T) {
	t.Parallel()
	g := newGateway(t, nil).start()
	entry := g.caddy.WaitLog("no user exists yet", 10*time.Second)
	link, _ := entry["setup_path"].(string)
	if !regexp.MustCompile(`^/auth/setup\?token=[A-Za-z0-9_-]{43}$`).MatchString(link) {
		t.Fatalf("setup_path = %q", link)
	}
	u, _ := url.Parse(link)
	token := u.Query().Get("token")

	c := g.client()
	// A wrong token is 404.
	expectError(t, c.Get("/auth/setup?token="+strings.Repeat("A", 43), api...), http.StatusNotFound, "NOT_FOUND")
	expectError(t, c.Get("/auth/setup", api...), http.StatusNotFound, "NOT_FOUND")

	r := c.Get(link, browser...)
	expectStatus(t, r, http.StatusOK)
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
		t.Errorf("setup page Content-Type %q", ct)
	}
	checkPortalHeaders(t, r)
	for _, want := range []string{`action="/auth/setup"`, `name="token"`, `name="email"`, `name="password"`} {
		if !bytes.Contains(r.Body, []byte(want)) {
			t.Errorf("setup page lacks %s:\n%s", want, r.Body)
		}
	}

	pw := newPassword()
	form := url.Values{"token": {token}, "email": {"Admin@Example.test"}, "name": {"First Admin"}, "password": {pw}, "confirm": {pw}}
	// A mistake in the form does not burn the link.
	bad := url.Values{"token": {token}, "email": {"admin@example.test"}, "password": {"too short"}, "confirm": {"too short"}}
	expectStatus(t, c.PostForm("/auth/setup", bad, browser...), http.StatusBadRequest)
	expectStatus(t, c.Get(link, browser...), http.StatusOK)

	r = c.PostForm("/auth/setup", form, browser...)
	expectStatus(t, r, http.StatusSeeOther)
	checkSessionCookie(t, r)
	if loc := r.Header.Get("Location"); !onSite(loc, strings.TrimPrefix(g.url(), "https://")) {
		t.Errorf("Location after setup %q", loc)
	}

	r = c.Get("/auth/session")
	expectStatus(t, r, http.StatusOK)
	user, _ := r.JSON()["user"].(map[string]any)
	groups, _ := user["groups"].([]any)
	if user["email"] != "admin@example.test" || user["name"] != "First Admin" || len(groups) != 1 || groups[0] != "admin" {
		t.Errorf("first administrator = %v", user)
	}
	r = c.Get("/app", api...)
	expectStatus(t, r, http.StatusOK)
	if got := r.Echo().Values("Remote-Groups")["Remote-Groups"]; len(got) != 1 || got[0] != "admin" {
		t.Errorf("upstream Remote-Groups = %v, want admin", got)
	}

	// The link is dead now, for GET and POST, and for other clients.
	expectStatus(t, c.Get(link, browser...), http.StatusNotFound)
	expectError(t, g.client().Get(link, api...), http.StatusNotFound, "NOT_FOUND")
	again := url.Values{"token": {token}, "email": {"second@example.test"}, "password": {pw}, "confirm": {pw}}
	expectError(t, g.client().PostForm("/auth/setup", again, api...), http.StatusNotFound, "NOT_FOUND")

	out, errOut, code := g.cli("", "auth", "user", "list", "--config", g.caddy.ConfigPath())
	if code != 0 || !regexp.MustCompile(`admin@example\.test\s+First Admin\s+admin\s+active`).MatchString(out) {
		t.Errorf("user list after setup: exit %d\n%s%s", code, out, errOut)
	}
	if strings.Contains(out, "second@") {
		t.Errorf("the dead link created a second user:\n%s", out)
	}
	// Signing in with the new account works.
	g.client().Login("admin@example.test", pw)
}

// TestNoSetupLinkWithUsers: once a user exists no setup link is logged.
func TestNoSetupLinkWithUsers(t *testing.T) {
	t.Parallel()
	g := newGateway(t, nil)
	g.addUser("alice@example.test", "", newPassword())
	g.start()
	// The link would be logged during start, before Caddy reports ready.
	g.caddy.WaitLog("caddyauth ready", 5*time.Second)
	if logs := g.caddy.Logs(); strings.Contains(logs, "setup?token=") {
		t.Errorf("a setup link was logged although a user exists")
	}
	expectError(t, g.client().Get("/auth/setup?token="+strings.Repeat("A", 43), api...), http.StatusNotFound, "NOT_FOUND")
}

// TestFirstRunSetupRace: two racing setup posts with the one link create
// exactly one administrator.
func TestFirstRunSetupRace(t *testing.T) {
	t.Parallel()
	g := newGateway(t, nil).start()
	link, _ := g.caddy.WaitLog("no user exists yet", 10*time.Second)["setup_path"].(string)
	u, err := url.Parse(link)
	if err != nil || u.Query().Get("token") == "" {
		t.Fatalf("setup_path %q", link)
	}
	token := u.Query().Get("token")
	pw := newPassword()
	type result struct {
		r   *harness.Response
		err error
	}
	results := make(chan result, 2)
	for _, email := range []string{"first@example.test", "second@example.test"} {
		c := g.client()
		form := url.Values{"token": {token}, "email": {email}, "password": {pw}, "confirm": {pw}}
		req := c.NewRequest(http.MethodPost, "/auth/setup", strings.NewReader(form.Encode()),
			"Content-Type", "application/x-www-form-urlencoded", "Accept", "application/json")
		go func() {
			r, err := c.TryDo(req)
			results <- result{r, err}
		}()
	}
	codes := map[int]int{}
	for range 2 {
		res := <-results
		if res.err != nil {
			t.Fatal(res.err)
		}
		codes[res.r.StatusCode]++
	}
	if codes[http.StatusOK] != 1 || codes[http.StatusNotFound] != 1 {
		t.Errorf("racing setup posts answered %v, want one 200 and one 404", codes)
	}
	out, _, _ := g.cli("", "auth", "user", "list", "--config", g.caddy.ConfigPath())
	if n := strings.Count(out, "@example.test"); n != 1 {
		t.Errorf("%d users after racing setup posts:\n%s", n, out)
	}
}

// TestFirstRunNoDefaultAccounts (SECURITY.md 6.3.2): a fresh gateway with
// no user has no default account: the usual default credentials, typed as
// email or username, are refused as any wrong password is, and the admin
// API needs credentials. The first administrator comes only from the
// one-time setup link (TestFirstRunSetup).
func TestFirstRunNoDefaultAccounts(t *testing.T) {
	t.Parallel()
	g := newGateway(t, nil).start()
	g.caddy.WaitLog("no user exists yet", 10*time.Second)
	c := g.client()
	for _, cred := range [][2]string{
		{"admin", "admin"},
		{"root", "root"},
		{"admin@localhost", "admin"},
		{"admin", "password"},
		{"admin@example.com", "admin"},
		{"caddy", "caddy"},
		{"admin", ""},
	} {
		for _, field := range []string{"email", "username"} {
			r := c.PostJSON("/auth/login", map[string]string{field: cred[0], "password": cred[1]})
			if cred[1] == "" {
				expectError(t, r, http.StatusBadRequest, "INVALID_INPUT")
				continue
			}
			expectError(t, r, http.StatusUnauthorized, "INVALID_CREDENTIALS")
			if r.SetCookie(cookieName) != "" {
				t.Errorf("%s %q: a session cookie was set", field, cred[0])
			}
		}
		// The form login refuses them the same way, without a session.
		r := c.PostForm("/auth/login", url.Values{"email": {cred[0]}, "password": {cred[1]}}, browser...)
		if r.StatusCode < 400 || r.SetCookie(cookieName) != "" || r.FromUpstream() {
			t.Errorf("form login %q: %s", cred[0], r)
		}
	}
	expectError(t, c.Get("/auth/session"), http.StatusUnauthorized, "UNAUTHENTICATED")
	expectError(t, c.Get("/auth/admin/users", api...), http.StatusUnauthorized, "UNAUTHENTICATED")
	expectError(t, c.Get("/app", api...), http.StatusUnauthorized, "UNAUTHENTICATED")
}

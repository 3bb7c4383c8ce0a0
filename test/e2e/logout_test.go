package e2e

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/caddyauth/gateway/test/harness"
)

// TestLogout (f): logout ends the session (a replayed cookie is refused),
// logout-all ends every session of the user, GET is refused, and a
// cross-origin POST is refused without touching the session.
func TestLogout(t *testing.T) {
	t.Parallel()
	g := newGateway(t, nil)
	pw := newPassword()
	bobPW := newPassword()
	g.addUser("alice@example.test", "Alice", pw)
	g.addUser("bob@example.test", "Bob", bobPW)
	g.start()

	t.Run("GET logout is 405", func(t *testing.T) {
		c := g.client()
		c.Login("alice@example.test", pw)
		r := c.Get("/auth/logout", api...)
		expectError(t, r, http.StatusMethodNotAllowed, "METHOD_NOT_ALLOWED")
		if a := r.Header.Get("Allow"); !strings.Contains(a, "POST") {
			t.Errorf("Allow = %q", a)
		}
		r = c.Get("/auth/logout", browser...)
		expectStatus(t, r, http.StatusMethodNotAllowed)
		expectStatus(t, c.Get("/app", api...), http.StatusOK)
	})

	t.Run("cross-origin logout is refused", func(t *testing.T) {
		c := g.client()
		c.Login("alice@example.test", pw)
		for _, h := range [][]string{
			{"Origin", "https://evil.test"},
			{"Origin", "null"},
			{"Sec-Fetch-Site", "cross-site"},
			{"Origin", "https://evil.test", "Sec-Fetch-Site", "cross-site"},
		} {
			r := c.PostForm("/auth/logout", url.Values{}, hdr(api, h)...)
			expectError(t, r, http.StatusForbidden, "CROSS_ORIGIN_REQUEST")
			if sc := r.Header.Get("Set-Cookie"); sc != "" {
				t.Errorf("refused logout still set a cookie: %s", redactCookie(sc))
			}
			r = c.PostForm("/auth/logout-all", url.Values{}, hdr(api, h)...)
			expectError(t, r, http.StatusForbidden, "CROSS_ORIGIN_REQUEST")
		}
		// A cross-origin login form post (login CSRF) is refused too.
		r := c.PostForm("/auth/login", url.Values{"email": {"bob@example.test"}, "password": {bobPW}}, hdr(api, []string{"Origin", "https://evil.test"})...)
		expectError(t, r, http.StatusForbidden, "CROSS_ORIGIN_REQUEST")
		r = c.Get("/app", api...)
		expectStatus(t, r, http.StatusOK)
		if got := r.Echo().Values("Remote-Email")["Remote-Email"]; len(got) != 1 || got[0] != "alice@example.test" {
			t.Errorf("session changed by a refused request: Remote-Email %v", got)
		}
	})

	t.Run("logout ends the session; the cookie replayed gets 401", func(t *testing.T) {
		c := g.client()
		c.Login("alice@example.test", pw)
		tok := c.Cookie(cookieName)
		expectStatus(t, c.Get("/app", api...), http.StatusOK)
		// A same-origin request (what a browser form sends) is accepted.
		r := c.PostForm("/auth/logout", url.Values{}, hdr(api, []string{"Origin", g.url(), "Sec-Fetch-Site", "same-origin"})...)
		expectStatus(t, r, http.StatusOK)
		if r.JSON()["signed_out"] != true {
			t.Errorf("logout body %s", r.Body)
		}
		sc := r.SetCookie(cookieName)
		if !strings.Contains(sc, "Max-Age=0") || !strings.HasPrefix(sc, cookieName+"=;") {
			t.Errorf("logout does not clear the cookie: %q", sc)
		}
		if c.Cookie(cookieName) != "" {
			t.Errorf("cookie still in the jar after logout")
		}
		replay := g.client()
		expectError(t, replay.Get("/app", hdr(api, withCookie(tok))...), http.StatusUnauthorized, "SESSION_EXPIRED")
		expectError(t, replay.Get("/auth/session", withCookie(tok)...), http.StatusUnauthorized, "SESSION_EXPIRED")
		r = replay.Get("/app", hdr(browser, withCookie(tok))...)
		expectStatus(t, r, http.StatusFound)
		if r.FromUpstream() {
			t.Fatal("replayed cookie reached the upstream")
		}
		// A browser form logout answers 303 to the login page.
		c.Login("alice@example.test", pw)
		r = c.PostForm("/auth/logout", url.Values{}, browser...)
		expectStatus(t, r, http.StatusSeeOther)
		if loc := r.Header.Get("Location"); loc != "/auth/login" {
			t.Errorf("Location after form logout = %q", loc)
		}
		// Logging out without a session is fine.
		expectStatus(t, g.client().PostJSON("/auth/logout", map[string]string{}), http.StatusOK)
	})

	t.Run("a user can end one of their other sessions, not someone else's", func(t *testing.T) {
		c1, c2, bob := g.client(), g.client(), g.client()
		c1.Login("alice@example.test", pw)
		c2.Login("alice@example.test", pw)
		bob.Login("bob@example.test", bobPW)
		id1, id2 := currentSessionID(t, c1), currentSessionID(t, c2)
		expectStatus(t, c2.Get("/app", api...), http.StatusOK)

		// Someone else's session id is not found; a cross-origin DELETE is refused.
		r := bob.Do(bob.NewRequest(http.MethodDelete, "/auth/sessions/"+id1, nil, api...))
		expectError(t, r, http.StatusNotFound, "NOT_FOUND")
		r = c1.Do(c1.NewRequest(http.MethodDelete, "/auth/sessions/"+id2, nil, hdr(api, []string{"Origin", "https://evil.test"})...))
		expectError(t, r, http.StatusForbidden, "CROSS_ORIGIN_REQUEST")
		expectStatus(t, c1.Get("/app", api...), http.StatusOK)
		expectStatus(t, c2.Get("/app", api...), http.StatusOK)

		r = c1.Do(c1.NewRequest(http.MethodDelete, "/auth/sessions/"+id2, nil, api...))
		expectStatus(t, r, http.StatusOK)
		expectError(t, c2.Get("/app", api...), http.StatusUnauthorized, "SESSION_EXPIRED")
		expectStatus(t, c1.Get("/app", api...), http.StatusOK)
		expectStatus(t, bob.Get("/app", api...), http.StatusOK)
	})

	t.Run("logout-all ends every session of the user only", func(t *testing.T) {
		var clients []*harness.Client
		var tokens []string
		for range 3 {
			c := g.client()
			c.Login("alice@example.test", pw)
			expectStatus(t, c.Get("/app", api...), http.StatusOK) // cached now
			clients = append(clients, c)
			tokens = append(tokens, c.Cookie(cookieName))
		}
		bob := g.client()
		bob.Login("bob@example.test", bobPW)

		r := clients[0].PostJSON("/auth/logout-all", map[string]string{})
		expectStatus(t, r, http.StatusOK)
		if n, _ := r.JSON()["sessions_ended"].(float64); n < 3 {
			t.Errorf("logout-all ended %v sessions, want >= 3: %s", n, r.Body)
		}
		// The instance that ran logout-all forgets the sessions at once.
		check := g.client()
		for _, tok := range tokens {
			expectError(t, check.Get("/app", hdr(api, withCookie(tok))...), http.StatusUnauthorized, "SESSION_EXPIRED")
		}
		expectStatus(t, bob.Get("/app", api...), http.StatusOK)
		expectError(t, clients[1].PostJSON("/auth/logout-all", map[string]string{}), http.StatusUnauthorized, "SESSION_EXPIRED")
	})
}

// TestMaxSessionsPerUser (g): with max_sessions_per_user 2 the third login
// evicts the first.
func TestMaxSessionsPerUser(t *testing.T) {
	t.Parallel()
	g := newGateway(t, func(c *harness.GatewayConfig) {
		c.AppOptions = append(c.AppOptions, "max_sessions_per_user 2")
	})
	pw := newPassword()
	g.addUser("alice@example.test", "Alice", pw)
	g.start()

	var cs []*harness.Client
	for range 3 {
		c := g.client()
		c.Login("alice@example.test", pw)
		expectStatus(t, c.Get("/app", api...), http.StatusOK) // cached on the instance
		cs = append(cs, c)
	}
	// The evicting instance forgets the session at once: no cache window.
	expectError(t, cs[0].Get("/app", api...), http.StatusUnauthorized, "SESSION_EXPIRED")
	expectStatus(t, cs[1].Get("/app", api...), http.StatusOK)
	expectStatus(t, cs[2].Get("/app", api...), http.StatusOK)

	r := cs[2].Get("/auth/sessions")
	expectStatus(t, r, http.StatusOK)
	list, _ := r.JSON()["sessions"].([]any)
	if len(list) != 2 {
		t.Errorf("GET /auth/sessions lists %d sessions, want 2: %s", len(list), r.Body)
	}

	// A fourth login evicts the second.
	c4 := g.client()
	c4.Login("alice@example.test", pw)
	expectError(t, cs[1].Get("/app", api...), http.StatusUnauthorized, "SESSION_EXPIRED")
	expectStatus(t, cs[2].Get("/app", api...), http.StatusOK)
	expectStatus(t, c4.Get("/app", api...), http.StatusOK)
}

// currentSessionID is the id GET /auth/sessions gives the client's own
// session.
func currentSessionID(t *testing.T, c *harness.Client) string {
	t.Helper()
	r := c.Get("/auth/sessions")
	expectStatus(t, r, http.StatusOK)
	list, _ := r.JSON()["sessions"].([]any)
	for _, s := range list {
		m, _ := s.(map[string]any)
		if m["current"] == true {
			id, _ := m["id"].(string)
			if id == "" || strings.Contains(r.String(), c.Cookie(cookieName)) {
				t.Fatalf("bad session listing: %s", r.Body)
			}
			return id
		}
	}
	t.Fatalf("no current session in %s", r.Body)
	return ""
}

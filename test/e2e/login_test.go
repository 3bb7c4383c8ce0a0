package e2e

import (
	"bytes"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/caddyauth/gateway/test/harness"
)

// TestAnonymousAndLogin walks (a) anonymous access, (b) login by form and by
// JSON, cookie attributes and the portal's security headers.
func TestAnonymousAndLogin(t *testing.T) {
	t.Parallel()
	g := newGateway(t, func(c *harness.GatewayConfig) { c.Debug = true })
	pw := newPassword()
	aliceID := g.addUser("alice@example.test", "Alice Liddell", pw, "dev", "ops")
	g.start()

	t.Run("anonymous browser is sent to login with the original URL", func(t *testing.T) {
		c := g.client()
		r := c.Get("/app/page?x=1&y=two", browser...)
		expectStatus(t, r, http.StatusFound)
		if loc := r.Header.Get("Location"); loc != "/auth/login?rd="+url.QueryEscape("/app/page?x=1&y=two") {
			t.Fatalf("Location = %q", loc)
		}
		if r.FromUpstream() {
			t.Fatal("anonymous request reached the upstream")
		}
		if cc := r.Header.Get("Cache-Control"); !strings.Contains(cc, "no-store") {
			t.Errorf("redirect to login Cache-Control = %q, want no-store", cc)
		}
	})

	t.Run("anonymous API client gets 401 UNAUTHENTICATED", func(t *testing.T) {
		c := g.client()
		expectError(t, c.Get("/api/items", api...), http.StatusUnauthorized, "UNAUTHENTICATED")
		// Form posts and requests without Accept are API-like too: never a redirect.
		expectError(t, c.PostForm("/api/items", url.Values{"a": {"b"}}), http.StatusUnauthorized, "UNAUTHENTICATED")
		expectError(t, c.Get("/api/items"), http.StatusUnauthorized, "UNAUTHENTICATED")
		// A garbage cookie is anonymous, not an error.
		expectError(t, c.Get("/api/items", hdr(api, withCookie("not-a-token"))...), http.StatusUnauthorized, "SESSION_EXPIRED")
	})

	t.Run("login page has the portal security headers", func(t *testing.T) {
		c := g.client()
		r := c.Get("/auth/login?rd="+url.QueryEscape("/app/page?x=1"), browser...)
		expectStatus(t, r, http.StatusOK)
		if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
			t.Errorf("Content-Type = %q", ct)
		}
		checkPortalHeaders(t, r)
		if !bytes.Contains(r.Body, []byte(`name="rd" value="/app/page?x=1"`)) {
			t.Errorf("login page does not carry the return URL:\n%s", r.Body)
		}
	})

	t.Run("portal error pages have the security headers too", func(t *testing.T) {
		c := g.client()
		r := c.Get("/auth/no-such-page", browser...)
		expectStatus(t, r, http.StatusNotFound)
		checkPortalHeaders(t, r)
		expectError(t, c.Get("/auth/no-such-page", api...), http.StatusNotFound, "NOT_FOUND")
	})

	t.Run("form login redirects to the validated rd with a secure cookie", func(t *testing.T) {
		c := g.client()
		r := c.Get("/app/page?x=1", browser...)
		expectStatus(t, r, http.StatusFound)
		loginURL, err := url.Parse(r.Header.Get("Location"))
		if err != nil {
			t.Fatal(err)
		}
		rd := loginURL.Query().Get("rd")
		r = c.PostForm("/auth/login", url.Values{"email": {"Alice@Example.test"}, "password": {pw}, "rd": {rd}}, browser...)
		expectStatus(t, r, http.StatusSeeOther)
		if loc := r.Header.Get("Location"); loc != "/app/page?x=1" {
			t.Fatalf("Location after login = %q, want /app/page?x=1", loc)
		}
		checkSessionCookie(t, r)
		checkHSTS(t, r)
		r = c.Get("/app/page?x=1", browser...)
		expectStatus(t, r, http.StatusOK)
		e := r.Echo()
		if e.URI != "/app/page?x=1" {
			t.Errorf("upstream saw URI %q", e.URI)
		}
		if got := e.Values("Remote-User"); len(got["Remote-User"]) != 1 || got["Remote-User"][0] != aliceID {
			t.Errorf("Remote-User = %v, want %s", got, aliceID)
		}
		checkHSTS(t, r)
		// Caddy's access log names the user ({http.auth.user.id}).
		// The access log line is written after the response is sent:
		// poll for it.
		found, _ := harness.Eventually(3*time.Second, 25*time.Millisecond, func() bool {
			for _, e := range g.caddy.LogEntries() {
				req, _ := e["request"].(map[string]any)
				if e["msg"] == "handled request" && req["uri"] == "/app/page?x=1" && e["user_id"] == aliceID {
					return true
				}
			}
			return false
		})
		if !found {
			t.Errorf("no access log entry for /app/page?x=1 with user_id %s", aliceID)
		}
	})

	t.Run("JSON login answers 200 with the user and no token", func(t *testing.T) {
		c := g.client(harness.HTTP2())
		r := c.PostJSON("/auth/login", map[string]string{"email": "alice@example.test", "password": pw, "rd": "/next"})
		expectStatus(t, r, http.StatusOK)
		if r.ProtoMajor != 2 {
			t.Errorf("HTTP/2 client negotiated %s", r.Proto)
		}
		checkSessionCookie(t, r)
		checkPortalHeaders(t, r)
		tok := c.Cookie(cookieName)
		if len(tok) != 43 {
			t.Fatalf("session cookie value %q: want 43 base64url characters", tok)
		}
		if bytes.Contains(r.Body, []byte(tok)) {
			t.Fatalf("JSON login body contains the session token: %s", r.Body)
		}
		body := r.JSON()
		if hasKeyLike(body, "token") {
			t.Fatalf("JSON login body has a token field: %s", r.Body)
		}
		if body["authenticated"] != true || body["redirect"] != "/next" {
			t.Errorf("login body = %s", r.Body)
		}
		user, _ := body["user"].(map[string]any)
		if user["id"] != aliceID || user["email"] != "alice@example.test" || user["name"] != "Alice Liddell" {
			t.Errorf("login body user = %v", user)
		}
		r = c.Get("/auth/session")
		expectStatus(t, r, http.StatusOK)
		if bytes.Contains(r.Body, []byte(tok)) {
			t.Fatalf("/auth/session body contains the session token: %s", r.Body)
		}
		who, _ := r.JSON()["user"].(map[string]any)
		if who["id"] != aliceID {
			t.Errorf("/auth/session user = %v", who)
		}
		expectStatus(t, c.Get("/api/items", api...), http.StatusOK)
	})

	t.Run("a second login rotates the session", func(t *testing.T) {
		c := g.client()
		c.Login("alice@example.test", pw)
		first := c.Cookie(cookieName)
		c.Login("alice@example.test", pw)
		second := c.Cookie(cookieName)
		if first == second || second == "" {
			t.Fatalf("login did not issue a fresh token")
		}
		replay := g.client()
		expectError(t, replay.Get("/api/items", hdr(api, withCookie(first))...), http.StatusUnauthorized, "SESSION_EXPIRED")
		expectStatus(t, c.Get("/api/items", api...), http.StatusOK)
	})
}

// TestInvalidCredentials (d): a wrong password and an unknown user get the
// same answer.
func TestInvalidCredentials(t *testing.T) {
	t.Parallel()
	g := newGateway(t, nil)
	pw := newPassword()
	g.addUser("alice@example.test", "Alice", pw)
	g.start()
	c := g.client()

	wrong := c.PostJSON("/auth/login", map[string]string{"email": "alice@example.test", "password": pw + "x"})
	unknown := c.PostJSON("/auth/login", map[string]string{"email": "nobody@example.test", "password": pw + "x"})
	for _, r := range []*harness.Response{wrong, unknown} {
		expectError(t, r, http.StatusUnauthorized, "INVALID_CREDENTIALS")
		if r.Header.Get("Set-Cookie") != "" {
			t.Errorf("failed login set a cookie: %s", r.Header.Get("Set-Cookie"))
		}
	}
	if !bytes.Equal(wrong.Body, unknown.Body) {
		t.Errorf("wrong password and unknown user differ:\n%s\n%s", wrong.Body, unknown.Body)
	}

	// The form (browser) variant: same status, and the page does not say
	// which part was wrong.
	fw := c.PostForm("/auth/login", url.Values{"email": {"alice@example.test"}, "password": {pw + "x"}}, browser...)
	fu := c.PostForm("/auth/login", url.Values{"email": {"nobody@example.test"}, "password": {pw + "x"}}, browser...)
	for _, r := range []*harness.Response{fw, fu} {
		expectStatus(t, r, http.StatusUnauthorized)
	}
	if strip := func(b []byte, s string) []byte { return bytes.ReplaceAll(b, []byte(s), nil) }; !bytes.Equal(strip(fw.Body, "alice@example.test"), strip(fu.Body, "nobody@example.test")) {
		t.Errorf("form answers for wrong password and unknown user differ")
	}

	// Same time: an unknown user is checked against a dummy hash. Alternate
	// the samples and compare medians with wide bounds (the bug this
	// catches, skipping the hash, is a factor of ~50).
	var tWrong, tUnknown []time.Duration
	for range 7 {
		for _, email := range []string{"alice@example.test", "nobody@example.test"} {
			start := time.Now()
			r := c.PostJSON("/auth/login", map[string]string{"email": email, "password": pw + "x"})
			took := time.Since(start)
			expectError(t, r, http.StatusUnauthorized, "INVALID_CREDENTIALS")
			if email == "nobody@example.test" {
				tUnknown = append(tUnknown, took)
			} else {
				tWrong = append(tWrong, took)
			}
		}
	}
	mw, mu := median(tWrong), median(tUnknown)
	t.Logf("median login failure: wrong password %s, unknown user %s", mw, mu)
	if mu*5 < mw*2 || mu > mw*5/2 {
		t.Errorf("unknown user (median %s) and wrong password (median %s) take different times", mu, mw)
	}

	expectError(t, c.PostJSON("/auth/login", map[string]string{"email": "alice@example.test"}), http.StatusBadRequest, "INVALID_INPUT")
	expectError(t, c.PostJSON("/auth/login", map[string]any{"email": "alice@example.test", "password": pw, "admin": true}), http.StatusBadRequest, "INVALID_INPUT")
	// The right password still works afterwards, also as "username".
	c.Login("alice@example.test", pw)
	expectStatus(t, c.PostJSON("/auth/login", map[string]string{"username": "alice@example.test", "password": pw}), http.StatusOK)
}

func median(ds []time.Duration) time.Duration {
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

// TestOpenRedirect (e): hostile return URLs never lead off-site.
func TestOpenRedirect(t *testing.T) {
	t.Parallel()
	g := newGateway(t, nil)
	pw := newPassword()
	g.addUser("alice@example.test", "Alice", pw)
	g.start()
	self := strings.TrimPrefix(g.url(), "https://")

	hostile := []string{
		"//evil.test",
		"//evil.test/path",
		`/\evil.test`,
		`\\evil.test`,
		"https:evil.test",
		"https:/evil.test",
		"javascript:alert(1)",
		"JavaScript:alert(1)",
		"data:text/html,<script>alert(1)</script>",
		"https://evil.test",
		"https://evil.test/",
		"http://evil.test",
		"%09//evil.test",
		"\t//evil.test",
		"/\t/evil.test",
		" //evil.test",
		"https://localhost@evil.test",
		"https://" + self + "@evil.test",
		"https://evil.test\\@" + self,
		"https://evil.test#@" + self,
		"https://localhost.evil.test",
		"///evil.test",
	}
	for _, rd := range hostile {
		t.Run(strconv.Quote(rd), func(t *testing.T) {
			c := g.client()
			r := c.PostForm("/auth/login", url.Values{"email": {"alice@example.test"}, "password": {pw}, "rd": {rd}}, browser...)
			expectStatus(t, r, http.StatusSeeOther)
			loc := r.Header.Get("Location")
			if !onSite(loc, self) {
				t.Fatalf("rd %q: Location %q leaves the site", rd, loc)
			}
			if loc != "/auth/login" {
				t.Errorf("rd %q: Location %q, want the /auth/login fallback", rd, loc)
			}
			j := c.PostJSON("/auth/login", map[string]string{"email": "alice@example.test", "password": pw, "rd": rd})
			expectStatus(t, j, http.StatusOK)
			if red := j.JSON()["redirect"]; red != "" {
				t.Errorf("rd %q: JSON redirect %q", rd, red)
			}
			page := c.Get("/auth/login?rd="+url.QueryEscape(rd), browser...)
			expectStatus(t, page, http.StatusOK)
			if bytes.Contains(bytes.ToLower(page.Body), []byte("evil.test")) || bytes.Contains(bytes.ToLower(page.Body), []byte("javascript:")) {
				t.Errorf("rd %q: login page echoes the hostile URL", rd)
			}
		})
	}

	t.Run("anonymous request to a scheme-relative looking path", func(t *testing.T) {
		c := g.client()
		r := c.Get("//evil.test/x", browser...)
		expectStatus(t, r, http.StatusFound)
		loc := r.Header.Get("Location")
		if !strings.HasPrefix(loc, "/auth/login?rd=") {
			t.Fatalf("Location %q", loc)
		}
		u, _ := url.Parse(loc)
		r = c.PostForm("/auth/login", url.Values{"email": {"alice@example.test"}, "password": {pw}, "rd": {u.Query().Get("rd")}}, browser...)
		expectStatus(t, r, http.StatusSeeOther)
		if loc := r.Header.Get("Location"); !onSite(loc, self) {
			t.Fatalf("Location %q leaves the site", loc)
		}
	})

	t.Run("odd but on-site return URLs stay on-site", func(t *testing.T) {
		for _, rd := range []string{"/.//evil.test", "/%2F%2Fevil.test", "/%5Cevil.test", "/a/..//evil.test", "/./\\evil.test"} {
			c := g.client()
			r := c.PostForm("/auth/login", url.Values{"email": {"alice@example.test"}, "password": {pw}, "rd": {rd}}, browser...)
			expectStatus(t, r, http.StatusSeeOther)
			if loc := r.Header.Get("Location"); !onSite(loc, self) {
				t.Errorf("rd %q: Location %q leaves the site", rd, loc)
			}
		}
	})

	t.Run("safe return URLs are kept", func(t *testing.T) {
		for _, rd := range []string{"/app?x=1#frag", "/", g.url() + "/deep/link?q=2"} {
			c := g.client()
			r := c.PostForm("/auth/login", url.Values{"email": {"alice@example.test"}, "password": {pw}, "rd": {rd}}, browser...)
			expectStatus(t, r, http.StatusSeeOther)
			if loc := r.Header.Get("Location"); loc != rd {
				t.Errorf("rd %q: Location %q", rd, loc)
			}
		}
	})
}

// onSite reports whether a Location value stays on host (host:port): a
// single-slash relative path, or an absolute http(s) URL to host.
func onSite(loc, host string) bool {
	if loc == "" {
		return false
	}
	for i := 0; i < len(loc); i++ {
		if b := loc[i]; b <= 0x20 || b == 0x7f || b == '\\' {
			return false
		}
	}
	if strings.HasPrefix(loc, "/") {
		return !strings.HasPrefix(loc, "//")
	}
	u, err := url.Parse(loc)
	if err != nil {
		return false
	}
	return (u.Scheme == "https" || u.Scheme == "http") && u.User == nil && u.Host == host
}

var maxAgeRE = regexp.MustCompile(`max-age=(\d+)`)

func checkHSTS(t *testing.T, r *harness.Response) {
	t.Helper()
	h := r.Header.Get("Strict-Transport-Security")
	m := maxAgeRE.FindStringSubmatch(h)
	if m == nil || len(m[1]) < 7 { // at least 1000000 s (the default is one year)
		t.Errorf("%s %s: Strict-Transport-Security = %q", r.Request.Method, r.Request.URL.Path, h)
	}
}

// checkPortalHeaders: HSTS, a strict CSP, no framing, no caching.
func checkPortalHeaders(t *testing.T, r *harness.Response) {
	t.Helper()
	checkHSTS(t, r)
	csp := r.Header.Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'none'", "frame-ancestors 'none'", "form-action"} {
		if !strings.Contains(csp, want) {
			t.Errorf("CSP %q lacks %q", csp, want)
		}
	}
	if strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "unsafe-eval") {
		t.Errorf("CSP %q allows unsafe sources", csp)
	}
	if cc := r.Header.Get("Cache-Control"); !strings.Contains(cc, "no-store") {
		t.Errorf("Cache-Control = %q, want no-store", cc)
	}
	if v := r.Header.Get("X-Frame-Options"); v != "DENY" {
		t.Errorf("X-Frame-Options = %q", v)
	}
	if v := r.Header.Get("X-Content-Type-Options"); v != "nosniff" {
		t.Errorf("X-Content-Type-Options = %q", v)
	}
}

// checkSessionCookie: __Host- name, HttpOnly, Secure, SameSite=Lax, Path=/,
// no Domain, a 43-character token.
func checkSessionCookie(t *testing.T, r *harness.Response) {
	t.Helper()
	raw := r.SetCookie(cookieName)
	if raw == "" {
		t.Fatalf("no %s cookie set; Set-Cookie: %q", cookieName, r.Header.Values("Set-Cookie"))
	}
	parts := strings.Split(raw, ";")
	val := strings.TrimPrefix(parts[0], cookieName+"=")
	if len(val) != 43 {
		t.Errorf("cookie value has %d characters, want 43", len(val))
	}
	attrs := map[string]string{}
	for _, p := range parts[1:] {
		k, v, _ := strings.Cut(strings.TrimSpace(p), "=")
		attrs[strings.ToLower(k)] = v
	}
	if _, ok := attrs["httponly"]; !ok {
		t.Errorf("cookie lacks HttpOnly: %s", redactCookie(raw))
	}
	if _, ok := attrs["secure"]; !ok {
		t.Errorf("cookie lacks Secure: %s", redactCookie(raw))
	}
	if v, ok := attrs["samesite"]; !ok || !strings.EqualFold(v, "lax") {
		t.Errorf("cookie SameSite = %q, want Lax: %s", v, redactCookie(raw))
	}
	if v := attrs["path"]; v != "/" {
		t.Errorf("cookie Path = %q, want /", v)
	}
	if _, ok := attrs["domain"]; ok {
		t.Errorf("__Host- cookie has a Domain: %s", redactCookie(raw))
	}
}

func redactCookie(raw string) string {
	name, rest, _ := strings.Cut(raw, "=")
	_, attrs, _ := strings.Cut(rest, ";")
	return name + "=<redacted>;" + attrs
}

// hasKeyLike reports whether any key of a JSON value contains sub
// (case-insensitive).
func hasKeyLike(v any, sub string) bool {
	switch x := v.(type) {
	case map[string]any:
		for k, vv := range x {
			if strings.Contains(strings.ToLower(k), sub) || hasKeyLike(vv, sub) {
				return true
			}
		}
	case []any:
		for _, vv := range x {
			if hasKeyLike(vv, sub) {
				return true
			}
		}
	}
	return false
}

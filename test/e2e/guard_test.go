package e2e

import (
	"bufio"
	"crypto/tls"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/caddyauth/gateway/test/harness"
)

// checkGuardHeaders: HSTS of at least a year with includeSubDomains
// (SECURITY.md 3.4.1) and Cache-Control no-store (14.3.2), for answers
// of the portal and the guard alike.
func checkGuardHeaders(t *testing.T, what string, h http.Header) {
	t.Helper()
	hsts := h.Get("Strict-Transport-Security")
	m := maxAgeRE.FindStringSubmatch(hsts)
	if age, _ := strconv.Atoi(func() string {
		if m == nil {
			return ""
		}
		return m[1]
	}()); age < 31536000 || !strings.Contains(hsts, "includeSubDomains") {
		t.Errorf("%s: Strict-Transport-Security = %q, want max-age >= 31536000; includeSubDomains", what, hsts)
	}
	if cc := h.Get("Cache-Control"); !strings.Contains(cc, "no-store") {
		t.Errorf("%s: Cache-Control = %q, want no-store", what, cc)
	}
}

// TestGuardAnswersHeaders: every answer the gateway itself gives on a TLS
// site (the guard's redirect to login, its 401 and 403, the portal's 401
// for a wrong password and 303 after a form logout) carries HSTS and
// no-store.
func TestGuardAnswersHeaders(t *testing.T) {
	t.Parallel()
	g := newGateway(t, func(c *harness.GatewayConfig) {
		c.ProtectOptions = []string{"public /health", "allow group admins"}
	})
	pw := newPassword()
	g.addUser("staff@example.test", "Staff", pw, "staff")
	g.start()

	c := g.client()
	r := c.Get("/app", browser...)
	expectStatus(t, r, http.StatusFound)
	checkGuardHeaders(t, "guard 302 to login", r.Header)

	r = c.Get("/app", api...)
	expectError(t, r, http.StatusUnauthorized, "UNAUTHENTICATED")
	checkGuardHeaders(t, "guard 401", r.Header)

	r = c.PostJSON("/auth/login", map[string]string{"email": "staff@example.test", "password": pw + "x"})
	expectError(t, r, http.StatusUnauthorized, "INVALID_CREDENTIALS")
	checkGuardHeaders(t, "POST /auth/login wrong password 401", r.Header)

	c.Login("staff@example.test", pw)
	tok := c.Cookie(cookieName)
	r = c.Get("/app", api...)
	expectError(t, r, http.StatusForbidden, "FORBIDDEN")
	checkGuardHeaders(t, "guard 403 (allow) JSON", r.Header)
	r = c.Get("/app", browser...)
	expectStatus(t, r, http.StatusForbidden)
	if r.FromUpstream() {
		t.Fatalf("403 page came from the upstream: %s", r)
	}
	checkGuardHeaders(t, "guard 403 (allow) page", r.Header)

	r = c.PostForm("/auth/logout", url.Values{}, browser...)
	expectStatus(t, r, http.StatusSeeOther)
	checkGuardHeaders(t, "POST /auth/logout 303", r.Header)

	// The ended session replayed: the guard's SESSION_EXPIRED 401.
	r = g.client().Get("/app", hdr(api, withCookie(tok))...)
	expectError(t, r, http.StatusUnauthorized, "SESSION_EXPIRED")
	checkGuardHeaders(t, "guard 401 SESSION_EXPIRED", r.Header)
}

// rawResponse is a response read off a hand-written HTTP/1.1 request.
type rawResponse struct {
	*http.Response
	body []byte
}

func (r *rawResponse) fromUpstream() bool { return r.Header.Get("X-Echo-Upstream") == "1" }

func (r *rawResponse) echo(t *testing.T) *harness.Echo {
	t.Helper()
	var e harness.Echo
	if err := json.Unmarshal(r.body, &e); err != nil || !e.Echo {
		t.Fatalf("not an echo upstream answer: %d %s", r.StatusCode, r.body)
	}
	return &e
}

func (r *rawResponse) code() string {
	var m struct {
		Code string `json:"code"`
	}
	_ = json.Unmarshal(r.body, &m)
	return m.Code
}

// rawGet sends `GET <target> HTTP/1.1` over TLS with target written
// exactly as given (Go's client would re-encode some spellings), and the
// header pairs given.
func rawGet(t *testing.T, g *gateway, target string, headers ...string) *rawResponse {
	t.Helper()
	u, err := url.Parse(g.url())
	if err != nil {
		t.Fatal(err)
	}
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 10 * time.Second}, "tcp", u.Host,
		&tls.Config{InsecureSkipVerify: true, NextProtos: []string{"http/1.1"}, ServerName: u.Hostname()}) //nolint:gosec // loopback test server
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(15 * time.Second))
	var b strings.Builder
	b.WriteString("GET " + target + " HTTP/1.1\r\nHost: " + u.Host + "\r\nConnection: close\r\n")
	for i := 0; i+1 < len(headers); i += 2 {
		b.WriteString(headers[i] + ": " + headers[i+1] + "\r\n")
	}
	b.WriteString("\r\n")
	if _, err := io.WriteString(conn, b.String()); err != nil {
		t.Fatal(err)
	}
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("GET %s: %v", target, err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return &rawResponse{Response: res, body: body}
}

// adminVariants are spellings of /admin that a path matcher or an upstream
// may treat as /admin (SECURITY.md 8.2.1; oauth2-proxy and Authelia have
// had bypasses of this shape).
var adminVariants = []string{
	"/admin", "/admin/", "/ADMIN", "/Admin/x", "//admin", "///admin", "/./admin", "/.//admin",
	"/%2e/admin", "/x/../admin", "/admin/../admin/x", "/admin/./x", "/admin%2F", "/ADMIN%2F",
	"/admin%2fx", "/%2Fadmin", "/admin;x", "/%61dmin", "/adm%69n/x", "/admin?x=1",
}

// TestProtectPathVariants (SECURITY.md 8.2.1): with `protect /admin* {
// allow group admins }`, every spelling of /admin gets the decision /admin
// gets: a signed-in staff user 403 FORBIDDEN, an anonymous API client 401,
// and neither reaches the upstream. An administrator reaches the upstream
// with the spelling as sent, which shows each request really arrived in
// that spelling (Go's client would re-encode some) and that the matcher,
// not a parse error, decided.
func TestProtectPathVariants(t *testing.T) {
	t.Parallel()
	checkPathVariants(t, newGateway(t, func(c *harness.GatewayConfig) {
		c.ProtectMatcher = "/admin*"
		c.ProtectOptions = []string{"allow group admins"}
	}), "/reports", adminVariants)
}

// TestProtectPathVariantsAfterSiteWide: the same with a site-wide protect
// first, which admits the staff user; the stricter protect /admin* after
// it must still refuse every spelling.
func TestProtectPathVariantsAfterSiteWide(t *testing.T) {
	t.Parallel()
	checkPathVariants(t, newGateway(t, func(c *harness.GatewayConfig) {
		c.ProtectOptions = nil
		c.SiteExtra = []string{"protect /admin* {", "\tallow group admins", "}"}
	}), "/reports", adminVariants)
}

// checkPathVariants: staff 403, anonymous 401, admin 200 with the
// spelling as sent (a raw backslash arrives as %5C), on every one of variants; control, outside the
// matcher, passes for staff.
func checkPathVariants(t *testing.T, g *gateway, control string, variants []string) {
	pw := newPassword()
	g.addUser("staff@example.test", "Staff", pw, "staff")
	g.addUser("root@example.test", "Root", pw, "admins")
	g.start()
	staff, admin := g.client(), g.client()
	staff.Login("staff@example.test", pw)
	admin.Login("root@example.test", pw)
	staffCookie := withCookie(staff.Cookie(cookieName))
	adminCookie := withCookie(admin.Cookie(cookieName))

	// Outside the matcher the staff user passes: the 403s below are the
	// allow rule, not a refusal of everyone.
	if r := rawGet(t, g, control, hdr(api, staffCookie)...); r.StatusCode != http.StatusOK || !r.fromUpstream() {
		t.Fatalf("staff GET %s: %d %s", control, r.StatusCode, r.body)
	}

	for _, p := range variants {
		r := rawGet(t, g, p, hdr(api, staffCookie)...)
		if r.fromUpstream() {
			t.Errorf("staff GET %s reached the upstream as %q", p, r.echo(t).URI)
		} else if r.StatusCode != http.StatusForbidden || r.code() != "FORBIDDEN" {
			t.Errorf("staff GET %s: %d %s, want 403 FORBIDDEN as for /admin", p, r.StatusCode, r.body)
		}

		r = rawGet(t, g, p, api...)
		if r.fromUpstream() {
			t.Errorf("anonymous GET %s reached the upstream as %q", p, r.echo(t).URI)
		} else if r.StatusCode != http.StatusUnauthorized || r.code() != "UNAUTHENTICATED" {
			t.Errorf("anonymous GET %s: %d %s, want 401 UNAUTHENTICATED", p, r.StatusCode, r.body)
		}

		r = rawGet(t, g, p, hdr(api, adminCookie)...)
		if r.StatusCode != http.StatusOK || !r.fromUpstream() {
			t.Errorf("admin GET %s: %d %s", p, r.StatusCode, r.body)
		} else if e := r.echo(t); e.URI != strings.ReplaceAll(p, `\`, "%5C") || len(e.Values("Remote-User")) != 1 {
			t.Errorf("admin GET %s: upstream got URI %q, identity %v", p, e.URI, e.Values("Remote-User"))
		}
	}
}

// TestForwardingHeadersIgnored (SECURITY.md 4.1.3): the gateway has no
// trusted_proxies, so a client's rewrite headers naming a public path do
// not make a protected path public, and its X-Forwarded-Host/-Proto (or
// Forwarded) do not steer the redirect to login, on the same site or to a
// portal on another host.
func TestForwardingHeadersIgnored(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		portal string
	}{{"portal on the site", ""}, {"portal on another host", "https://auth.example.test"}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			g := newGateway(t, func(c *harness.GatewayConfig) {
				if tc.portal != "" {
					c.ProtectOptions = append(c.ProtectOptions, "portal "+tc.portal)
				}
			})
			g.start()
			c := g.client()
			// The control: /health is public.
			if r := c.Get("/health", api...); !r.FromUpstream() {
				t.Fatalf("GET /health: %s", r)
			}
			wantLoc := "/auth/login?rd=" + url.QueryEscape("/app/x")
			if tc.portal != "" {
				wantLoc = tc.portal + "/auth/login?rd=" + url.QueryEscape(g.url()+"/app/x")
			}
			for _, h := range [][]string{
				{"X-Forwarded-Uri", "/health"},
				{"X-Original-URL", "/health"},
				{"X-Original-URI", "/health"},
				{"X-Rewrite-URL", "/health"},
				{"X-Forwarded-Path", "/health"},
				{"X-Forwarded-Prefix", "/health"},
				{"X-Forwarded-Host", "evil.test", "X-Forwarded-Proto", "http"},
				{"X-Forwarded-Host", "evil.test:443", "X-Forwarded-Proto", "https", "X-Forwarded-Port", "443"},
				{"X-Forwarded-Server", "evil.test", "X-Host", "evil.test"},
				{"Forwarded", "host=evil.test;proto=http"},
				{"X-Forwarded-For", "127.0.0.1", "X-Real-IP", "127.0.0.1"},
			} {
				expectError(t, c.Get("/app/x", hdr(api, h)...), http.StatusUnauthorized, "UNAUTHENTICATED")
				r := c.Get("/app/x", hdr(browser, h)...)
				expectStatus(t, r, http.StatusFound)
				if r.FromUpstream() {
					t.Fatalf("%v: the redirect came from the upstream", h)
				}
				loc := r.Header.Get("Location")
				if strings.Contains(loc, "evil") || strings.Contains(loc, "health") || loc != wantLoc {
					t.Errorf("%v: Location = %q, want %q", h, loc, wantLoc)
				}
			}
		})
	}
}

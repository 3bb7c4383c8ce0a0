package flows

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/caddyauth/gateway/internal/policy"
	"github.com/caddyauth/gateway/internal/ratelimit"
)

// proxyAddr is the test's trusted proxy (nginx, Caddy forward_auth).
const proxyAddr = "10.9.9.9:4000"

func trustProxy(r *http.Request) bool { return strings.HasPrefix(r.RemoteAddr, "10.9.9.9:") }

// verifyEnv is an env whose portal answers /auth/verify with rules.
func verifyEnv(t *testing.T, rules ...VerifyRule) (*env, http.Handler) {
	t.Helper()
	e := newEnv(t, Config{TrustedForwarder: trustProxy}, GuardConfig{})
	v, err := e.svc.NewVerifier("/auth", rules)
	if err != nil {
		t.Fatal(err)
	}
	return e, e.svc.PortalWith("/auth", v)
}

// forwarded is a verify request from the trusted proxy describing method
// scheme://host uri, in Caddy's / Traefik's headers.
func forwarded(method, scheme, host, uri string) *http.Request {
	r := httptest.NewRequest("GET", "http://auth.test/auth/verify", nil)
	r.RemoteAddr = proxyAddr
	r.Header.Set("X-Forwarded-Method", method)
	r.Header.Set("X-Forwarded-Proto", scheme)
	r.Header.Set("X-Forwarded-Host", host)
	r.Header.Set("X-Forwarded-Uri", uri)
	return r
}

func serve(h http.Handler, r *http.Request) *http.Response {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	return rec.Result()
}

func TestVerifyAnswers(t *testing.T) {
	e, h := verifyEnv(t,
		VerifyRule{Site: "app.test"},
		VerifyRule{Site: "app.test/admin", Guard: GuardConfig{Policy: policy.Policy{Allow: []policy.Rule{{Kind: "group", Values: []string{"admins"}}}}}},
		VerifyRule{Site: "app.test/admin/open", Guard: GuardConfig{Public: []string{"/admin/open/*"}}},
		VerifyRule{Site: "finance.test:8443", Guard: GuardConfig{Policy: policy.Policy{Allow: []policy.Rule{{Kind: "group", Values: []string{"finance"}}}}}},
	)
	c := e.login(alicePW)

	// Signed in: 200 with the identity headers for the proxy to copy; a
	// Remote-User the client sent is not echoed.
	r := forwarded("GET", "https", "app.test", "/page?q=1")
	r.AddCookie(c)
	r.Header.Set("Remote-User", "mallory")
	res := serve(h, r)
	if res.StatusCode != 200 || res.Header.Get("Remote-User") != e.alice.ID || res.Header.Get("Remote-Email") != e.alice.Email ||
		res.Header.Get("Remote-Groups") != "finance,staff" || res.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("signed in: %d %v", res.StatusCode, res.Header)
	}

	// Anonymous browser: 302 to the portal's sign-in with the original
	// absolute URL as rd.
	r = forwarded("GET", "https", "app.test", "/page?q=1")
	r.Header.Set("Accept", "text/html")
	res = serve(h, r)
	want := "https://auth.test/auth/login?rd=" + url.QueryEscape("https://app.test/page?q=1")
	if res.StatusCode != 302 || res.Header.Get("Location") != want {
		t.Fatalf("anonymous browser: %d %q, want %q", res.StatusCode, res.Header.Get("Location"), want)
	}
	// An API client: 401 JSON.
	r = forwarded("POST", "https", "app.test", "/api")
	r.Header.Set("Accept", "application/json")
	if got := decodeErr(t, serve(h, r)); got.Status != 401 || got.Code != CodeUnauthenticated {
		t.Fatalf("anonymous API: %+v", got)
	}

	// Policy per prefix: /admin needs the admins group (longest prefix
	// wins over the host-wide line), /admin/open is public.
	r = forwarded("GET", "https", "app.test", "/admin/users")
	r.AddCookie(c)
	if got := decodeErr(t, serve(h, r)); got.Status != 403 || got.Code != CodeForbidden {
		t.Fatalf("admin prefix: %+v", got)
	}
	r = forwarded("GET", "https", "app.test", "/admin/open/x")
	if res := serve(h, r); res.StatusCode != 200 || res.Header.Get("Remote-User") != "" {
		t.Fatalf("public prefix: %d %v", res.StatusCode, res.Header)
	}
	// /administrator is not under /admin.
	r = forwarded("GET", "https", "app.test", "/administrator")
	r.AddCookie(c)
	if res := serve(h, r); res.StatusCode != 200 {
		t.Fatalf("/administrator: %d", res.StatusCode)
	}
	// A dot segment cannot leave the prefix it names: /x/../admin is /admin.
	r = forwarded("GET", "https", "app.test", "/x/../admin/users")
	r.AddCookie(c)
	if res := serve(h, r); res.StatusCode != 403 {
		t.Fatalf("dot segment: %d", res.StatusCode)
	}
	// A path an upstream reads otherwise gets no prefix line at all.
	r = forwarded("GET", "https", "app.test", "/admin/open/..;/x")
	if res := serve(h, r); res.StatusCode != 403 {
		t.Fatalf("servlet path: %d", res.StatusCode)
	}

	// Per host and port: finance.test:8443 admits the finance group;
	// finance.test on another port has no line.
	r = forwarded("GET", "https", "finance.test:8443", "/")
	r.AddCookie(c)
	if res := serve(h, r); res.StatusCode != 200 {
		t.Fatalf("finance: %d", res.StatusCode)
	}
	r = forwarded("GET", "https", "finance.test", "/")
	r.AddCookie(c)
	if got := decodeErr(t, serve(h, r)); got.Status != 403 {
		t.Fatalf("finance default port: %+v", got)
	}
	// A host with no line: 403, signed in or not.
	r = forwarded("GET", "https", "other.test", "/")
	r.AddCookie(c)
	if got := decodeErr(t, serve(h, r)); got.Status != 403 || got.Code != CodeForbidden {
		t.Fatalf("unknown host: %+v", got)
	}
}

// TestVerifyNginxDialect: X-Original-URL (the nginx recipe) gets a 401
// with the sign-in URL in X-Auth-Redirect, never a 302 (auth_request
// would make it a 500).
func TestVerifyNginxDialect(t *testing.T) {
	e, h := verifyEnv(t, VerifyRule{Site: "app.test:8080"})
	r := httptest.NewRequest("GET", "http://auth.test/auth/verify", nil)
	r.RemoteAddr = proxyAddr
	r.Header.Set("X-Original-URL", "http://app.test:8080/a/b?c=d")
	r.Header.Set("Accept", "text/html")
	res := serve(h, r)
	want := "http://auth.test/auth/login?rd=" + url.QueryEscape("http://app.test:8080/a/b?c=d")
	if res.StatusCode != 401 || res.Header.Get(VerifyHeader) != want || res.Header.Get("Location") != "" {
		t.Fatalf("nginx anonymous: %d %v", res.StatusCode, res.Header)
	}
	r.AddCookie(e.login(alicePW))
	if res := serve(h, r); res.StatusCode != 200 || res.Header.Get("Remote-User") != e.alice.ID {
		t.Fatalf("nginx signed in: %d", res.StatusCode)
	}
}

// TestVerifyUntrustedForwarder: from anyone but a trusted proxy the
// forwarded headers are ignored and the verify request's own host is
// judged, so a client cannot borrow a laxer host.
func TestVerifyUntrustedForwarder(t *testing.T) {
	e, h := verifyEnv(t,
		VerifyRule{Site: "open.test", Guard: GuardConfig{Public: []string{"/*"}}},
		VerifyRule{Site: "auth.test", Guard: GuardConfig{Policy: policy.Policy{Allow: []policy.Rule{{Kind: "group", Values: []string{"admins"}}}}}},
	)
	c := e.login(alicePW)
	r := forwarded("GET", "https", "open.test", "/")
	r.RemoteAddr = "192.0.2.7:5555"
	r.AddCookie(c)
	if got := decodeErr(t, serve(h, r)); got.Status != 403 {
		t.Fatalf("untrusted client borrowed open.test: %+v", got)
	}
	// No forwarded headers from a trusted proxy: its own request too.
	r = httptest.NewRequest("GET", "http://open.test/auth/verify", nil)
	r.RemoteAddr = proxyAddr
	if res := serve(h, r); res.StatusCode != 200 {
		t.Fatalf("own request: %d", res.StatusCode)
	}
	// Malformed forwarded headers from a trusted proxy: 400, not a guess.
	r = forwarded("GET", "https", "app.test, open.test", "/")
	if got := decodeErr(t, serve(h, r)); got.Status != 400 || got.Code != CodeInvalidInput {
		t.Fatalf("ambiguous host: %+v", got)
	}
}

// TestVerifyHostIsRedirectHost: a verify host is where the login may send
// the browser back to.
func TestVerifyHostIsRedirectHost(t *testing.T) {
	e, h := verifyEnv(t, VerifyRule{Site: "app.test"})
	form := url.Values{"email": {e.alice.Email}, "password": {alicePW}, "rd": {"https://app.test/x"}}
	res := serve(h, formReq("http://auth.test/auth/login", form))
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "https://app.test/x" {
		t.Fatalf("login rd: %d %q", res.StatusCode, res.Header.Get("Location"))
	}
	form.Set("rd", "https://evil.test/x")
	res = serve(h, formReq("http://auth.test/auth/login", form))
	if res.Header.Get("Location") == "https://evil.test/x" {
		t.Fatal("login followed an unknown host")
	}
}

func TestVerifyStoreDownFailsClosed(t *testing.T) {
	e, h := verifyEnv(t, VerifyRule{Site: "app.test"})
	c := e.login(alicePW)
	e.ss.mu.Lock()
	e.ss.down = true
	e.ss.mu.Unlock()
	r := forwarded("GET", "https", "app.test", "/")
	r.Header.Set("Accept", "text/html")
	r.AddCookie(c)
	res := serve(h, r)
	if res.StatusCode != 503 || res.Header.Get("Location") != "" || res.Header.Get("Remote-User") != "" {
		t.Fatalf("store down: %d %v", res.StatusCode, res.Header)
	}
}

func TestVerifyLogoutFeltAtOnce(t *testing.T) {
	e, h := verifyEnv(t, VerifyRule{Site: "app.test"})
	c := e.login(alicePW)
	r := forwarded("GET", "https", "app.test", "/")
	r.AddCookie(c)
	if res := serve(h, r); res.StatusCode != 200 {
		t.Fatalf("before logout: %d", res.StatusCode)
	}
	lo := jsonReq("POST", "http://auth.test/auth/logout", "")
	lo.AddCookie(c)
	if res := serve(h, lo); res.StatusCode >= 300 {
		t.Fatalf("logout: %d", res.StatusCode)
	}
	r = forwarded("GET", "https", "app.test", "/")
	r.AddCookie(c)
	if got := decodeErr(t, serve(h, r)); got.Status != 401 || got.Code != CodeSessionExpired {
		t.Fatalf("after logout: %+v", got)
	}
}

func TestVerifyRuleErrors(t *testing.T) {
	e := newEnv(t, Config{}, GuardConfig{})
	for _, site := range []string{"", "app.test/a/../b", "app.test/*", "user@app.test", "app.test:0", "app.test:99999", "[::1]", "app test", "app.test/a;b"} {
		if _, err := e.svc.NewVerifier("/auth", []VerifyRule{{Site: site}}); err == nil {
			t.Errorf("verify %q accepted", site)
		}
	}
	if _, err := e.svc.NewVerifier("/auth", []VerifyRule{{Site: "a.test/x"}, {Site: "A.test/x/"}}); err == nil {
		t.Error("two lines for one host and prefix accepted")
	}
}

// TestVerifyRateLimit: verify is limited per client address, the
// address Caddy derives (here the test's ClientIP), not the proxy's.
func TestVerifyRateLimit(t *testing.T) {
	clientOf := func(r *http.Request) string { return r.Header.Get("X-Test-Client") }
	e := newEnv(t, Config{TrustedForwarder: trustProxy, ClientIP: clientOf, Limits: &Limits{Verify: ratelimit.Rate{N: 2, Per: time.Hour}}}, GuardConfig{})
	v, err := e.svc.NewVerifier("/auth", []VerifyRule{{Site: "app.test"}})
	if err != nil {
		t.Fatal(err)
	}
	h := e.svc.PortalWith("/auth", v)
	ask := func(client string) *http.Response {
		r := forwarded("GET", "https", "app.test", "/")
		r.Header.Set("X-Test-Client", client)
		return serve(h, r)
	}
	for i := 0; i < 2; i++ {
		if res := ask("198.51.100.1"); res.StatusCode != 401 {
			t.Fatalf("within budget: %d", res.StatusCode)
		}
	}
	res := ask("198.51.100.1")
	if got := decodeErr(t, res); got.Status != 429 || got.Code != CodeRateLimited || res.Header.Get("Retry-After") == "" {
		t.Fatalf("over budget: %+v %v", got, res.Header)
	}
	if res := ask("198.51.100.2"); res.StatusCode != 401 {
		t.Fatalf("another client shares the budget: %d", res.StatusCode)
	}
}

// TestVerifyLineOptions: a verify line's protect options shape the answer:
// require mfa steps a password-only session up, header removes or adds an
// identity header, assertion adds the signed assertion for the host.
func TestVerifyLineOptions(t *testing.T) {
	e, h := verifyEnv(t,
		VerifyRule{Site: "mfa.test", Guard: GuardConfig{RequireMFA: true}},
		VerifyRule{Site: "hdr.test", Guard: GuardConfig{
			Headers:   []HeaderTemplate{{Name: "Remote-Name"}, {Name: "X-User", Template: "u={http.auth.user.email}"}},
			Assertion: &AssertionConfig{},
		}},
	)
	c := e.login(alicePW)

	r := forwarded("GET", "https", "mfa.test", "/x")
	r.AddCookie(c)
	r.Header.Set("Accept", "text/html")
	res := serve(h, r)
	want := "https://auth.test/auth/mfa/challenge?rd=" + url.QueryEscape("https://mfa.test/x")
	if res.StatusCode != 302 || res.Header.Get("Location") != want {
		t.Fatalf("step-up browser: %d %q", res.StatusCode, res.Header.Get("Location"))
	}
	r = forwarded("GET", "https", "mfa.test", "/x")
	r.AddCookie(c)
	r.Header.Set("Accept", "application/json")
	if got := decodeErr(t, serve(h, r)); got.Status != 403 || got.Code != CodeMFARequired {
		t.Fatalf("step-up API: %+v", got)
	}

	r = forwarded("GET", "https", "hdr.test", "/")
	r.AddCookie(c)
	res = serve(h, r)
	if res.StatusCode != 200 || res.Header.Get("Remote-Name") != "" || res.Header.Get("X-User") != "u="+e.alice.Email ||
		res.Header.Get("Remote-User") != e.alice.ID {
		t.Fatalf("headers: %d %v", res.StatusCode, res.Header)
	}
	tok := res.Header.Get(DefaultAssertionHeader)
	if strings.Count(tok, ".") != 2 {
		t.Fatalf("no assertion: %q", tok)
	}
}

// TestVerifyPasswordChangeRequired: a user an operator requires to choose
// a new password passes no verify: an API client gets 403
// PASSWORD_CHANGE_REQUIRED, a browser goes to the portal's change-password
// page.
func TestVerifyPasswordChangeRequired(t *testing.T) {
	e, h := verifyEnv(t, VerifyRule{Site: "app.test"})
	c := e.login(alicePW)
	if err := e.mem.SetMustChangePassword(t.Context(), e.alice.ID, true); err != nil {
		t.Fatal(err)
	}
	r := forwarded("GET", "https", "app.test", "/api")
	r.Header.Set("Accept", "application/json")
	r.AddCookie(c)
	if got := decodeErr(t, serve(h, r)); got.Status != 403 || got.Code != CodePasswordChangeRequired {
		t.Fatalf("API client: %+v", got)
	}
	r = forwarded("GET", "https", "app.test", "/page")
	r.Header.Set("Accept", "text/html")
	r.AddCookie(c)
	res := serve(h, r)
	if res.StatusCode != 302 || res.Header.Get("Location") != "https://auth.test/auth/change-password" || res.Header.Get("Remote-User") != "" {
		t.Fatalf("browser: %d %q", res.StatusCode, res.Header.Get("Location"))
	}
}
